"""The incoming-webhook token kept in organizations.settings.webhook_token.

When set, `/api/v1/webhooks/{org_id}/*` requires it in `X-Webhook-Token`; when absent,
ingestion for the organization is open.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..errors import NotFound
from ..store import organizations as org_store
from .core import Core


def _view(org_id: str, settings: dict[str, Any] | None, base_url: str) -> dict[str, Any]:
    token = (settings or {}).get("webhook_token")
    return {"webhook_token": token if isinstance(token, str) else None,
            "webhook_url": f"{base_url.rstrip('/')}/api/v1/webhooks/{org_id}/custom"}


async def get(core: Core, org_id: str, base_url: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await org_store.get(conn, org_id)
    if row is None:
        raise NotFound("Organization not found")
    return _view(org_id, row["settings"], base_url)


async def _set(core: Core, org_id: str, token: str | None, base_url: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await org_store.set_webhook_token(conn, org_id, token)
    if row is None:
        raise NotFound("Organization not found")
    return _view(org_id, row["settings"], base_url)


async def regenerate(core: Core, org_id: str, base_url: str) -> dict[str, Any]:
    """Replaces the token with 32 fresh random bytes; the old one stops working at once."""
    return await _set(core, org_id, secrets.token_urlsafe(32), base_url)


async def clear(core: Core, org_id: str, base_url: str) -> dict[str, Any]:
    return await _set(core, org_id, None, base_url)
