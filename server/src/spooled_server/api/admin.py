"""/api/v1/admin: operator routes. Every route needs `X-Admin-Key` (checked before anything else)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..errors import ValidationFailed
from ..services import admin as service
from ..services import admin_key
from .body import read_body
from .deps import client_address, core_of
from .fields import MAX_OFFSET, ApiKeyQueues, Email, OrgName, SettingsObject, check_path_id
from .responses import json, no_content

PlanTier = Literal["free", "starter", "pro", "enterprise"]
# The admin slug rule is the reference's looser one: digits may lead, reserved names allowed.
_ADMIN_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
MAX_SEARCH_LENGTH = 200


def _admin_slug(value: str) -> str:
    if not 3 <= len(value) <= 50 or not _ADMIN_SLUG.fullmatch(value):
        raise ValueError("slug must be 3-50 lowercase letters, digits or hyphens, "
                         "not starting or ending with a hyphen")
    return value


def _custom_limits(value: dict[str, Any]) -> dict[str, Any]:
    # Known limits must be non-negative integers (or null); other keys are kept but unused.
    for key, item in value.items():
        if key in service.LIMIT_KEYS and item is not None and (
                not isinstance(item, int) or isinstance(item, bool) or not 0 <= item < 2**63):
            raise ValueError(f"custom_limits.{key} must be a non-negative integer or null")
    return value


async def require_admin(request: Request) -> None:
    admin_key.verify(core_of(request), request.headers.get("x-admin-key"), client_address(request))


router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateOrganizationBody(Body):
    name: OrgName
    slug: Annotated[str, AfterValidator(_admin_slug)]
    billing_email: Email | None = None
    plan_tier: PlanTier = "free"


class UpdateOrganizationBody(Body):
    # A JSON null counts as absent (keep); `custom_limits: {}` removes every override.
    plan_tier: PlanTier | None = None
    billing_email: Email | None = None
    settings: SettingsObject | None = None
    custom_limits: Annotated[SettingsObject, AfterValidator(_custom_limits)] | None = None


class CreateApiKeyBody(Body):
    name: str = Field(min_length=1, max_length=100)
    queues: ApiKeyQueues | None = None


def _bad_query(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [{"field": field, "message": message, "code": "invalid"}])


@router.get("/organizations", operation_id="admin.listOrganizations")
async def list_organizations(
        request: Request, plan_tier: str | None = None, search: str | None = None,
        limit: int = Query(50), offset: int = Query(0, ge=0, le=MAX_OFFSET),
        sort_by: str = "created_at", sort_order: str = "desc"):
    if plan_tier is not None and plan_tier not in service.LISTED_TIERS:
        raise _bad_query("plan_tier", f"plan_tier must be one of {', '.join(service.LISTED_TIERS)}")
    if search is not None and (len(search) > MAX_SEARCH_LENGTH or "\x00" in search):
        raise _bad_query("search", f"search must be at most {MAX_SEARCH_LENGTH} characters, without NUL")
    if sort_by not in service.SORT_KEYS:
        raise _bad_query("sort_by", f"sort_by must be one of {', '.join(service.SORT_KEYS)}")
    if sort_order not in ("asc", "desc"):
        raise _bad_query("sort_order", "sort_order must be asc or desc")
    page = await service.list_organizations(
        core_of(request), plan_tier=plan_tier, search=search or None, sort_by=sort_by,
        descending=sort_order == "desc", limit=max(1, min(limit, 100)), offset=offset)
    return json(page)


@router.post("/organizations", operation_id="admin.createOrganization")
async def create_organization(request: Request):
    body = await read_body(request, CreateOrganizationBody)
    created = await service.create_organization(core_of(request), name=body.name, slug=body.slug,
                                                billing_email=body.billing_email, plan_tier=body.plan_tier)
    return json(created, 201)


@router.get("/organizations/{org_id}", operation_id="admin.getOrganization")
async def get_organization(org_id: str, request: Request):
    return json(await service.get_organization(core_of(request), check_path_id(org_id, "Organization")))


async def _update(org_id: str, request: Request):
    check_path_id(org_id, "Organization")
    body = await read_body(request, UpdateOrganizationBody)
    return json(await service.update_organization(core_of(request), org_id, body.model_dump(exclude_none=True)))


@router.patch("/organizations/{org_id}", operation_id="admin.updateOrganization")
async def update_organization(org_id: str, request: Request):
    return await _update(org_id, request)


@router.put("/organizations/{org_id}", operation_id="admin.updateOrganizationAlt")
async def update_organization_alt(org_id: str, request: Request):
    return await _update(org_id, request)


@router.delete("/organizations/{org_id}", operation_id="admin.deleteOrganization")
async def delete_organization(org_id: str, request: Request, hard_delete: bool = False):
    await service.delete_organization(core_of(request), check_path_id(org_id, "Organization"),
                                      hard=hard_delete)
    return no_content()


@router.post("/organizations/{org_id}/api-keys", operation_id="admin.createApiKey")
async def create_api_key(org_id: str, request: Request):
    check_path_id(org_id, "Organization")
    body = await read_body(request, CreateApiKeyBody)
    created = await service.create_api_key(core_of(request), org_id, name=body.name,
                                           queues=body.queues if body.queues is not None else ["*"])
    return json(created, 201)


@router.post("/organizations/{org_id}/reset-usage", operation_id="admin.resetUsage")
async def reset_usage(org_id: str, request: Request):
    await service.reset_usage(core_of(request), check_path_id(org_id, "Organization"))
    return no_content()


@router.get("/stats", operation_id="admin.getStats")
async def stats(request: Request):
    return json(await service.stats(core_of(request)))


@router.get("/plans", operation_id="admin.listPlans")
async def list_plans():
    return json(service.list_plans())
