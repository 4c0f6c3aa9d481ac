"""Organizations: registration with a first API key, and the caller's own organization."""

from __future__ import annotations

from typing import Any

import asyncpg

from ..errors import AccessDenied, Conflict, NotFound
from ..store import api_keys as key_store
from ..store import organizations as org_store
from ..store import usage as usage_store
from . import admin_key
from .auth import new_api_key
from .core import Core
from .slugs import RESERVED_SLUGS  # noqa: F401  (re-exported: the slug rules live in slugs.py)

INITIAL_KEY_NAME = "Initial Admin Key"


def organization_view(row: asyncpg.Record | dict) -> dict[str, Any]:
    """The public Organization object (billing fields are always null when self-hosted)."""
    org = {k: row[k] for k in ("id", "name", "slug", "plan_tier", "billing_email", "settings",
                               "custom_limits", "created_at", "updated_at")}
    org.update(stripe_customer_id=None, stripe_subscription_id=None, stripe_subscription_status=None,
               stripe_current_period_end=None, stripe_cancel_at_period_end=None)
    return org


async def create_with_key(conn: asyncpg.Connection, *, name: str, slug: str, plan_tier: str,
                          billing_email: str | None, production: bool,
                          key_queues: list[str] | None = None) -> dict[str, Any]:
    """Creates an organization and its initial key in one transaction; 409 on a taken slug."""
    async with conn.transaction():
        row = await org_store.insert(conn, name=name, slug=slug, plan_tier=plan_tier,
                                     billing_email=billing_email)
        if row is None:
            raise Conflict(f"The slug '{slug}' is already taken")
        raw, key_hash, prefix = new_api_key(production)
        key = await key_store.insert(conn, org_id=row["id"], key_hash=key_hash, key_prefix=prefix,
                                     name=INITIAL_KEY_NAME, queues=key_queues or ["*"],
                                     rate_limit=None, expires_at=None)
    return {"organization": organization_view(row),
            "api_key": {"id": key["id"], "key": raw, "name": key["name"], "created_at": key["created_at"]}}


def summary_view(row: asyncpg.Record | dict) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "name", "slug", "plan_tier", "created_at")}


def _own(caller_org: str, org_id: str) -> None:
    # Only the caller's own organization exists as far as it can tell.
    if org_id != caller_org:
        raise NotFound("Organization not found")


async def ensure_registration_allowed(core: Core, admin_header: str | None, client: str) -> None:
    """REGISTRATION_MODE: open lets anyone register; closed needs the admin key; invite refuses."""
    mode = core.settings.registration_mode
    if mode == "open":
        return
    if mode == "closed" and admin_key.matches(core, admin_header, client):
        return
    if mode == "closed":
        raise AccessDenied("Registration is closed; creating an organization needs the X-Admin-Key header")
    raise AccessDenied("Registration is by invitation only on this server")


async def register(core: Core, *, name: str, slug: str, billing_email: str | None) -> dict[str, Any]:
    """A new organization on the free plan, with the only copy of its first key."""
    async with core.pool.acquire() as conn:
        return await create_with_key(conn, name=name, slug=slug, plan_tier="free",
                                     billing_email=billing_email, production=core.settings.is_production)


async def list_visible(core: Core, caller_org: str) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        row = await org_store.get(conn, caller_org)
    return [summary_view(row)] if row else []


async def get(core: Core, caller_org: str, org_id: str) -> dict[str, Any]:
    _own(caller_org, org_id)
    async with core.pool.acquire() as conn:
        row = await org_store.get(conn, org_id)
    if row is None:
        raise NotFound("Organization not found")
    return organization_view(row)


async def update(core: Core, caller_org: str, org_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Applies name / billing_email / settings (whole object, webhook_token kept)."""
    _own(caller_org, org_id)
    columns = {k: changes[k] for k in ("name", "billing_email") if k in changes}
    async with core.pool.acquire() as conn, conn.transaction():
        row = await org_store.update(conn, org_id, columns)
        if row is not None and "settings" in changes:
            row = await org_store.replace_settings(conn, org_id, changes["settings"])
    if row is None:
        raise NotFound("Organization not found")
    return organization_view(row)


async def delete(core: Core, caller_org: str, org_id: str) -> None:
    """Hard-deletes the organization and all it owns, unless work is still in flight (409)."""
    _own(caller_org, org_id)
    async with core.pool.acquire() as conn, conn.transaction():
        if not await org_store.lock(conn, org_id):
            raise NotFound("Organization not found")
        busy = await usage_store.busy_with(conn, org_id)
        if any(busy.values()):
            raise Conflict("The organization still has active jobs, live workers or active schedules; "
                           "finish, cancel or pause them before deleting it", dict(busy))
        key_ids = await key_store.ids_for_org(conn, org_id)
        await org_store.delete(conn, org_id)
    forget_organization(core, org_id, key_ids)


def forget_organization(core: Core, org_id: str, key_ids: list[str]) -> None:
    """Drops this process's cached credentials and limits of a deleted organization."""
    for key_id in key_ids:
        core.auth.forget_key(key_id)
    core.limits.forget(org_id)


async def members(core: Core, caller_org: str, org_id: str) -> list[dict[str, Any]]:
    """One member per active key: there are no user accounts on a self-hosted server."""
    _own(caller_org, org_id)
    async with core.pool.acquire() as conn:
        org = await org_store.get(conn, org_id)
        if org is None:
            raise NotFound("Organization not found")
        keys = await key_store.list_active_members(conn, org_id)
    return [{"id": k["id"], "user_id": k["id"], "email": org["billing_email"] or "", "name": k["name"],
             "role": "owner" if not k["queues"] or "*" in k["queues"] else "member",
             "joined_at": k["created_at"], "invited_by": None} for k in keys]
