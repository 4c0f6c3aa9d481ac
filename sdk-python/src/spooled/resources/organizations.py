"""client.organizations: the caller's organization, its usage, members and helpers."""

from __future__ import annotations

# `builtins.list` in annotations below a `list` method: there a bare `list` names the method
# (type checkers resolve annotations in the class's scope).
import builtins

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body
from ..generated.models import (CheckSlugResponse, CreateOrganizationRequest, CreateOrganizationResponse,
                                GenerateSlugResponse, Organization, OrganizationMember, OrganizationSummary,
                                UpdateOrganizationRequest, UsageInfo, WebhookTokenResponse)
from ._base import Params, Resource


class OrganizationsResource(Resource):
    """Organizations: /api/v1/organizations and the routes under it."""

    def create(self, params: Params) -> CreateOrganizationResponse:
        """Creates an organization and its first API key (POST /organizations): name, slug,
        billing_email. Public unless the server closed registration; then the client's
        admin_key is sent."""
        return self._call(Call("POST", path("/organizations"), model_reader(CreateOrganizationResponse),
                               body=to_body(CreateOrganizationRequest, params), auth="public"))

    def list(self) -> list[OrganizationSummary]:
        """The caller's organization, as a one-item list (GET /organizations)."""
        return self._call(Call("GET", path("/organizations"), list_reader(OrganizationSummary)))

    def get(self, org_id: str) -> Organization:
        """The caller's organization (GET /organizations/{id}); other ids are NotFoundError."""
        return self._call(Call("GET", path("/organizations/{}", org_id), model_reader(Organization)))

    def update(self, org_id: str, params: Params) -> Organization:
        """Changes name, billing_email or settings (PUT /organizations/{id})."""
        return self._call(Call("PUT", path("/organizations/{}", org_id), model_reader(Organization),
                               body=to_body(UpdateOrganizationRequest, params)))

    def delete(self, org_id: str) -> None:
        """Deletes the organization when nothing is running (DELETE /organizations/{id})."""
        return self._call(Call("DELETE", path("/organizations/{}", org_id), read_nothing))

    def get_usage(self) -> UsageInfo:
        """Plan limits, current usage and warnings (GET /organizations/usage)."""
        return self._call(Call("GET", path("/organizations/usage"), model_reader(UsageInfo)))

    def get_members(self, org_id: str) -> builtins.list[OrganizationMember]:
        """Members, one per active API key (GET /organizations/{id}/members)."""
        return self._call(Call("GET", path("/organizations/{}/members", org_id), list_reader(OrganizationMember)))

    def check_slug(self, slug: str) -> CheckSlugResponse:
        """Whether a slug is valid and free (GET /organizations/check-slug?slug=)."""
        return self._call(Call("GET", path("/organizations/check-slug"), model_reader(CheckSlugResponse),
                               query={"slug": slug}))

    def generate_slug(self, name: str) -> GenerateSlugResponse:
        """A free slug derived from a name (POST /organizations/generate-slug)."""
        return self._call(Call("POST", path("/organizations/generate-slug"), model_reader(GenerateSlugResponse),
                               body={"name": name}, replay_safe=True))

    def get_webhook_token(self) -> WebhookTokenResponse:
        """The incoming-webhook token and URL (GET /organizations/webhook-token)."""
        return self._call(Call("GET", path("/organizations/webhook-token"), model_reader(WebhookTokenResponse)))

    def regenerate_webhook_token(self) -> WebhookTokenResponse:
        """Replaces the incoming-webhook token (POST /organizations/webhook-token/regenerate)."""
        return self._call(Call("POST", path("/organizations/webhook-token/regenerate"),
                               model_reader(WebhookTokenResponse)))

    def clear_webhook_token(self) -> WebhookTokenResponse:
        """Removes the incoming-webhook token (POST /organizations/webhook-token/clear)."""
        return self._call(Call("POST", path("/organizations/webhook-token/clear"), model_reader(WebhookTokenResponse),
                               body={"confirm": True}, replay_safe=True))
