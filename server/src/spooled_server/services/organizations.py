"""Organizations: creation with their first API key, and lookups."""

from __future__ import annotations

from typing import Any

import asyncpg

from ..errors import Conflict
from ..store import api_keys as key_store
from ..store import organizations as org_store
from .auth import new_api_key

INITIAL_KEY_NAME = "Initial Admin Key"

RESERVED_SLUGS = frozenset({
    "admin", "api", "app", "auth", "dashboard", "docs", "help", "internal", "login", "logout",
    "metrics", "root", "settings", "signup", "status", "support", "system", "test", "www"})


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
