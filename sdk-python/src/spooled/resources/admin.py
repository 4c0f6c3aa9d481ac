"""client.admin: operator endpoints, authenticated with the server's ADMIN_API_KEY.

Construct the client with admin_key=...; without one (or with a wrong one) the server answers 401,
raised as AuthenticationError (conformance: auth/admin-key-required).
"""

from __future__ import annotations

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body, to_query
from ..generated.models import (AdminCreateApiKeyRequest, AdminCreateOrganizationRequest, AdminOrganizationDetail,
                                AdminOrganizationList, AdminStats, AdminUpdateOrganizationRequest,
                                CreatedApiKey, CreateOrganizationResponse, Organization, PlanLimits)
from ._base import Params, Resource

LIST_QUERY = frozenset({"plan_tier", "search", "limit", "offset", "sort_by", "sort_order"})


class AdminResource(Resource):
    """Admin: /api/v1/admin/* with X-Admin-Key."""

    def list_organizations(self, params: Params | None = None) -> AdminOrganizationList:
        """Every organization with usage (GET /admin/organizations): plan_tier, search, limit,
        offset, sort_by, sort_order. The answer is enveloped: `.organizations`, `.total`."""
        return self._call(Call("GET", path("/admin/organizations"), model_reader(AdminOrganizationList),
                               query=to_query(params, LIST_QUERY), auth="admin"))

    def get_organization(self, org_id: str) -> AdminOrganizationDetail:
        """One organization with usage and counts (GET /admin/organizations/{id})."""
        return self._call(Call("GET", path("/admin/organizations/{}", org_id), model_reader(AdminOrganizationDetail),
                               auth="admin"))

    def create_organization(self, params: Params) -> CreateOrganizationResponse:
        """Creates an organization and its first key (POST /admin/organizations): name, slug,
        billing_email, plan_tier."""
        return self._call(Call("POST", path("/admin/organizations"), model_reader(CreateOrganizationResponse),
                               body=to_body(AdminCreateOrganizationRequest, params), auth="admin"))

    def update_organization(self, org_id: str, params: Params) -> Organization:
        """Changes plan_tier, billing_email, settings or custom_limits (PATCH /admin/organizations/{id})."""
        return self._call(Call("PATCH", path("/admin/organizations/{}", org_id), model_reader(Organization),
                               body=to_body(AdminUpdateOrganizationRequest, params), auth="admin",
                               replay_safe=True))

    def delete_organization(self, org_id: str, hard: bool = False) -> None:
        """Soft-deletes (plan "deleted") or, with hard=True, removes an organization
        (DELETE /admin/organizations/{id}?hard_delete=true)."""
        query = {"hard_delete": "true"} if hard else None
        return self._call(Call("DELETE", path("/admin/organizations/{}", org_id), read_nothing, query=query,
                               auth="admin"))

    def create_api_key(self, org_id: str, params: Params) -> CreatedApiKey:
        """Mints a key for any organization (POST /admin/organizations/{id}/api-keys): name, queues."""
        return self._call(Call("POST", path("/admin/organizations/{}/api-keys", org_id), model_reader(CreatedApiKey),
                               body=to_body(AdminCreateApiKeyRequest, params), auth="admin"))

    def reset_usage(self, org_id: str) -> None:
        """Zeroes the organization's jobs-today counter (POST /admin/organizations/{id}/reset-usage)."""
        return self._call(Call("POST", path("/admin/organizations/{}/reset-usage", org_id), read_nothing,
                               auth="admin", replay_safe=True))

    def get_stats(self) -> AdminStats:
        """Platform-wide counts (GET /admin/stats)."""
        return self._call(Call("GET", path("/admin/stats"), model_reader(AdminStats), auth="admin"))

    def list_plans(self) -> list[PlanLimits]:
        """Limits of every plan (GET /admin/plans)."""
        return self._call(Call("GET", path("/admin/plans"), list_reader(PlanLimits), auth="admin"))
