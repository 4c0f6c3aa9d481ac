"""/api/v1/organizations: registration, the caller's organization, usage and helpers.

Fixed paths (usage, check-slug, generate-slug, webhook-token) are declared before /{id},
which would otherwise capture them.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..services import organizations as service
from ..services import slugs, usage, webhook_tokens
from ..services.auth import Caller
from .body import read_body
from .deps import caller, client_address, core_of
from .fields import Email, OrgName, OrgSlug, SettingsObject
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/organizations", tags=["organizations"])


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateOrganizationBody(Body):
    name: OrgName
    slug: OrgSlug
    billing_email: Email | None = None


class UpdateOrganizationBody(Body):
    name: OrgName | None = None
    billing_email: Email | None = None
    settings: SettingsObject | None = None


class GenerateSlugBody(Body):
    name: str = Field(min_length=1, max_length=100)


class ClearWebhookTokenBody(Body):
    confirm: StrictBool | None = None


async def registration_gate(request: Request) -> None:
    """Runs before the body is read, so a refused caller learns nothing about validation."""
    await service.ensure_registration_allowed(core_of(request), request.headers.get("x-admin-key"),
                                              client_address(request))


@router.post("", operation_id="organizations.create", dependencies=[Depends(registration_gate)])
async def create_organization(request: Request):
    body = await read_body(request, CreateOrganizationBody)
    created = await service.register(core_of(request), name=body.name, slug=body.slug,
                                     billing_email=body.billing_email)
    return json(created, 201)


@router.get("", operation_id="organizations.list")
async def list_organizations(request: Request, who: Caller = Depends(caller)):
    return json(await service.list_visible(core_of(request), who.org_id))


@router.get("/usage", operation_id="organizations.getUsage")
async def get_usage(request: Request, who: Caller = Depends(caller)):
    return json(await usage.report(core_of(request), who.org_id))


@router.get("/check-slug", operation_id="organizations.checkSlug")
async def check_slug(request: Request, slug: str = Query(..., max_length=200)):
    return json(await slugs.check(core_of(request), slug))


@router.post("/generate-slug", operation_id="organizations.generateSlug")
async def generate_slug(request: Request):
    body = await read_body(request, GenerateSlugBody)
    return json(await slugs.generate(core_of(request), body.name))


def _base_url(request: Request) -> str:
    return str(request.base_url)


@router.get("/webhook-token", operation_id="organizations.getWebhookToken")
async def get_webhook_token(request: Request, who: Caller = Depends(caller)):
    return json(await webhook_tokens.get(core_of(request), who.org_id, _base_url(request)))


@router.post("/webhook-token/regenerate", operation_id="organizations.regenerateWebhookToken")
async def regenerate_webhook_token(request: Request, who: Caller = Depends(caller)):
    return json(await webhook_tokens.regenerate(core_of(request), who.org_id, _base_url(request)))


@router.post("/webhook-token/clear", operation_id="organizations.clearWebhookToken")
async def clear_webhook_token(request: Request, who: Caller = Depends(caller)):
    # SDKs send nothing or {"confirm": true}; the body is checked for shape, then ignored.
    await read_body(request, ClearWebhookTokenBody, empty_ok=True)
    return json(await webhook_tokens.clear(core_of(request), who.org_id, _base_url(request)))


@router.get("/{org_id}", operation_id="organizations.get")
async def get_organization(org_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get(core_of(request), who.org_id, org_id))


@router.put("/{org_id}", operation_id="organizations.update")
async def update_organization(org_id: str, request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, UpdateOrganizationBody)
    # name and settings cannot be null, so a null means "leave as is"; billing_email: null clears it.
    changes = {k: getattr(body, k) for k in body.model_fields_set
               if getattr(body, k) is not None or k == "billing_email"}
    return json(await service.update(core_of(request), who.org_id, org_id, changes))


@router.delete("/{org_id}", operation_id="organizations.delete")
async def delete_organization(org_id: str, request: Request, who: Caller = Depends(caller)):
    await service.delete(core_of(request), who.org_id, org_id)
    return no_content()


@router.get("/{org_id}/members", operation_id="organizations.listMembers")
async def list_members(org_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.members(core_of(request), who.org_id, org_id))
