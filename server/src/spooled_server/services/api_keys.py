"""API keys of an organization: mint (secret shown once), list, edit, revoke.

Every change to a key drops this process's cached view of it, so a revoked or narrowed key
is refused from the very next request (other processes follow within AUTH_CACHE_TTL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from ..errors import NotFound
from ..store import api_keys as key_store
from ..store import organizations as org_store
from . import plans, usage
from .auth import new_api_key
from .core import Core


async def mint(conn: asyncpg.Connection, org_id: str, *, name: str, queues: list[str],
               rate_limit: int | None, expires_at: datetime | None, production: bool) -> dict[str, Any]:
    """Creates a key; the returned `key` is the only copy of the secret that will ever exist."""
    raw, key_hash, prefix = new_api_key(production)
    row = await key_store.insert(conn, org_id=org_id, key_hash=key_hash, key_prefix=prefix, name=name,
                                 queues=queues, rate_limit=rate_limit, expires_at=expires_at)
    return {"id": row["id"], "key": raw, "name": row["name"], "created_at": row["created_at"],
            "expires_at": row["expires_at"]}


async def _locked_limits(conn: asyncpg.Connection, org_id: str) -> dict[str, Any]:
    # The organization row lock makes concurrent creates count active keys one at a time.
    if not await org_store.lock(conn, org_id):
        raise NotFound("Organization not found")
    org = await org_store.get(conn, org_id)
    return plans.plan_limits(org["plan_tier"], org["custom_limits"])


async def create(core: Core, org_id: str, *, name: str, queues: list[str], rate_limit: int | None,
                 expires_at: datetime | None) -> dict[str, Any]:
    """Mints a key within the plan's max_api_keys (429 QUOTA_EXCEEDED beyond it)."""
    async with core.pool.acquire() as conn, conn.transaction():
        limits = await _locked_limits(conn, org_id)
        usage.ensure_room(limits, "api_keys", await key_store.count_active(conn, org_id))
        return await mint(conn, org_id, name=name, queues=queues, rate_limit=rate_limit,
                          expires_at=expires_at, production=core.settings.is_production)


async def list_keys(core: Core, org_id: str) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        return [dict(r) for r in await key_store.list_for_org(conn, org_id)]


async def get(core: Core, org_id: str, key_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await key_store.get(conn, org_id, key_id)
    if row is None:
        raise NotFound("API key not found")
    return dict(row)


async def update(core: Core, org_id: str, key_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Changes name / queues / rate_limit / is_active; re-activating a key counts against the cap."""
    async with core.pool.acquire() as conn, conn.transaction():
        limits = await _locked_limits(conn, org_id)
        current = await key_store.get(conn, org_id, key_id)
        if current is None:
            raise NotFound("API key not found")
        if changes.get("is_active") and not current["is_active"]:
            usage.ensure_room(limits, "api_keys", await key_store.count_active(conn, org_id))
        row = await key_store.update(conn, org_id, key_id, changes)
    core.auth.forget_key(key_id)
    return dict(row)


async def revoke(core: Core, org_id: str, key_id: str) -> None:
    """Soft revoke: the key stays listed with is_active false and never authenticates again."""
    async with core.pool.acquire() as conn:
        found = await key_store.revoke(conn, org_id, key_id)
    if not found:
        raise NotFound("API key not found")
    core.auth.forget_key(key_id)
