"""Outgoing webhooks: subscriptions (with the plan cap and the SSRF guard), their delivery
history, manual retry and the synchronous test request."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any, Literal, get_args

import httpx
import orjson

from ..errors import NotFound
from ..store import organizations as org_store
from ..store import webhooks as store
from . import ssrf, usage, webhook_sender
from .core import Core

Event = Literal["job.created", "job.started", "job.completed", "job.failed", "job.cancelled", "queue.paused",
                "queue.resumed", "worker.registered", "worker.deregistered", "schedule.triggered"]
EVENTS: tuple[str, ...] = get_args(Event)


def _public(row) -> dict[str, Any]:
    return {**dict(row), "events": list(row["events"])}


async def _ensure_room(conn, limits: dict[str, Any], org_id: str, excluding: str | None = None) -> None:
    """Charges one more enabled webhook against the plan; the organization row is locked so
    concurrent creates cannot both take the last slot. (`limits` is read before the connection
    is taken, so a request never holds one pooled connection while waiting for another.)"""
    if limits["max_webhooks"] is None:
        return
    await org_store.lock(conn, org_id)
    current = await store.count_enabled(conn, org_id, excluding)
    usage.ensure_room(limits, "webhooks", current)


async def check_url(core: Core, url: str) -> None:
    await ssrf.validate_for_save(url, allow_loopback=core.settings.spooled_webhook_allow_loopback)


async def list_webhooks(core: Core, org_id: str) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        return [_public(r) for r in await store.list_for_org(conn, org_id)]


async def get(core: Core, org_id: str, webhook_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.get(conn, org_id, webhook_id)
    if row is None:
        raise NotFound("Webhook not found")
    return _public(row)


async def create(core: Core, org_id: str, *, name: str, url: str, events: list[str], secret: str | None,
                 enabled: bool) -> dict[str, Any]:
    await check_url(core, url)
    limits = await core.limits.for_org(org_id)
    async with core.pool.acquire() as conn, conn.transaction():
        if enabled:
            await _ensure_room(conn, limits, org_id)
        row = await store.insert(conn, org_id, name=name, url=url, events=list(dict.fromkeys(events)),
                                 secret=secret, enabled=enabled)
    return _public(row)


async def update(core: Core, org_id: str, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` holds only the keys the caller sent; secret None means "clear"."""
    if "url" in changes:
        await check_url(core, changes["url"])
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    limits = await core.limits.for_org(org_id) if changes.get("enabled") is True else None
    async with core.pool.acquire() as conn, conn.transaction():
        current = await store.get(conn, org_id, webhook_id)
        if current is None:
            raise NotFound("Webhook not found")
        if changes.get("enabled") is True and not current["enabled"]:
            await _ensure_room(conn, limits, org_id, excluding=webhook_id)
        row = await store.update(conn, org_id, webhook_id, changes)
    if row is None:
        raise NotFound("Webhook not found")
    return _public(row)


async def delete(core: Core, org_id: str, webhook_id: str) -> None:
    async with core.pool.acquire() as conn:
        if not await store.delete(conn, org_id, webhook_id):
            raise NotFound("Webhook not found")


async def deliveries(core: Core, org_id: str, webhook_id: str, *, status: str | None = None,
                     limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Newest first, optionally one status, paged by limit/offset (the contract's parameters)."""
    async with core.pool.acquire() as conn:
        if await store.get(conn, org_id, webhook_id) is None:
            raise NotFound("Webhook not found")
        rows = await store.deliveries(conn, org_id, webhook_id, limit, status=status, offset=offset)
        return [dict(r) for r in rows]


async def retry_delivery(core: Core, org_id: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        if await store.get(conn, org_id, webhook_id) is None:
            raise NotFound("Webhook not found")
        row = await store.requeue(conn, org_id, webhook_id, delivery_id)
    if row is None:
        raise NotFound("Delivery not found")
    requeued = row["status"] == "pending"
    message = "Delivery queued for retry" if requeued else f"Delivery is {row['status']}, not failed; nothing to retry"
    return {"success": requeued, "delivery_id": row["id"], "status": row["status"], "message": message,
            **({} if requeued else {"error": message})}


async def send_test(core: Core, org_id: str, webhook_id: str,
                    resolver: ssrf.Resolver | None = None) -> dict[str, Any]:
    """One signed POST now, not recorded as a delivery; always a 200-shaped summary."""
    async with core.pool.acquire() as conn:
        row = await store.get_with_secret(conn, org_id, webhook_id)
    if row is None:
        raise NotFound("Webhook not found")
    body = orjson.dumps({
        "event": "webhook.test", "webhook_id": webhook_id, "organization_id": org_id,
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"), "test": True,
        "message": "This is a test delivery from Spooled"})
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        outcome = await webhook_sender.send(
            client, row["url"], event="webhook.test", body=body, secret=row["secret"], attempt=1,
            delivery_id=str(uuid.uuid4()), allow_loopback=core.settings.spooled_webhook_allow_loopback,
            resolver=resolver, clock=time.time)
    return {"success": outcome.success, "status_code": outcome.status_code,
            "response_time_ms": outcome.response_time_ms, "error": outcome.error}
