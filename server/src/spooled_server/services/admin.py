"""Operator actions across organizations (the /api/v1/admin routes, guarded by admin_key)."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..store import api_keys as key_store
from ..store import organizations as org_store
from ..store import platform as platform_store
from ..store import usage as usage_store
from . import api_keys, plans, system, usage
from .core import Core
from .organizations import create_with_key, forget_organization, organization_view

# What the organization list can filter and sort by, and which custom_limits keys mean something.
LISTED_TIERS = (*plans.PLAN_ORDER, "deleted")
SORT_KEYS = tuple(org_store.SORT_COLUMNS)
LIMIT_KEYS = frozenset(k for k in plans.plan_limits("free") if k not in ("tier", "display_name"))

_LIST_USAGE = ("jobs_today", "active_jobs", "queues", "workers", "api_keys")
_LIST_FIELDS = ("id", "name", "slug", "plan_tier", "billing_email", "created_at", "updated_at")


async def list_organizations(core: Core, *, plan_tier: str | None, search: str | None, sort_by: str,
                             descending: bool, limit: int, offset: int) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        rows = await org_store.admin_page(conn, plan_tier=plan_tier, search=search, sort_by=sort_by,
                                          descending=descending, limit=limit, offset=offset)
        total = await org_store.admin_count(conn, plan_tier=plan_tier, search=search)
        counts = await usage_store.counts_for(conn, [r["id"] for r in rows])
    organizations = []
    for row in rows:
        item = {k: row[k] for k in _LIST_FIELDS}
        found = counts.get(row["id"])  # None only if deleted between the two statements
        item["usage"] = {k: (found[k] if found else 0) for k in _LIST_USAGE}
        organizations.append(item)
    return {"organizations": organizations, "total": total, "limit": limit, "offset": offset}


async def create_organization(core: Core, *, name: str, slug: str, billing_email: str | None,
                              plan_tier: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        return await create_with_key(conn, name=name, slug=slug, plan_tier=plan_tier,
                                     billing_email=billing_email, production=core.settings.is_production)


async def get_organization(core: Core, org_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await org_store.get(conn, org_id)
        if row is None:
            raise NotFound("Organization not found")
        usage_info = await usage.usage_of(conn, org_id)
        total_jobs = await usage_store.total_jobs(conn, org_id)
    detail = {k: row[k] for k in ("id", "name", "slug", "plan_tier", "billing_email", "settings",
                                  "custom_limits", "created_at", "updated_at")}
    detail.update(usage_info=usage_info, api_keys_count=usage_info["usage"]["api_keys"]["current"],
                  total_jobs=total_jobs)
    return detail


async def update_organization(core: Core, org_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Sets plan_tier / billing_email / settings / custom_limits (each replaced as given)."""
    async with core.pool.acquire() as conn:
        row = await org_store.update(conn, org_id, changes)
    if row is None:
        raise NotFound("Organization not found")
    core.limits.forget(org_id)
    return organization_view(row)


async def delete_organization(core: Core, org_id: str, *, hard: bool) -> None:
    """Soft delete marks the plan `deleted` (reversible by setting a plan again); hard delete
    removes the organization and everything it owns, even while work is in flight."""
    async with core.pool.acquire() as conn:
        if not hard:
            row = await org_store.update(conn, org_id, {"plan_tier": "deleted"})
            key_ids: list[str] = []
        else:
            key_ids = await key_store.ids_for_org(conn, org_id)
            row = await org_store.delete(conn, org_id)
    if not row:
        raise NotFound("Organization not found")
    forget_organization(core, org_id, key_ids)


async def create_api_key(core: Core, org_id: str, *, name: str, queues: list[str]) -> dict[str, Any]:
    """An operator-minted key: not counted against the plan's key cap."""
    async with core.pool.acquire() as conn, conn.transaction():
        if not await org_store.lock(conn, org_id):
            raise NotFound("Organization not found")
        return await api_keys.mint(conn, org_id, name=name, queues=queues, rate_limit=None,
                                   expires_at=None, production=core.settings.is_production)


async def reset_usage(core: Core, org_id: str) -> None:
    async with core.pool.acquire() as conn:
        if not await org_store.reset_jobs_today(conn, org_id):
            raise NotFound("Organization not found")


async def stats(core: Core) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        orgs = await platform_store.organization_figures(conn)
        by_plan = await platform_store.organizations_by_plan(conn)
        jobs = await platform_store.job_figures(conn)
        workers = await platform_store.worker_figures(conn)
    return {"organizations": {**dict(orgs), "by_plan": [dict(r) for r in by_plan]},
            "jobs": dict(jobs), "workers": dict(workers),
            "system": {"api_version": "v1", "uptime_seconds": system.uptime_seconds()}}


def list_plans() -> list[dict[str, Any]]:
    return plans.all_plans()
