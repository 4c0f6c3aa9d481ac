"""Queues: configuration rows, pause/resume, and live statistics.

Queues are implicit (a job naming a queue creates it); only `queue_config` rows are listed,
counted against the plan's max_queues, and deletable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import Conflict, NotFound
from ..store import queues as store
from . import usage
from .core import Core


@dataclass
class QueueConfigInput:
    """A config upsert; None means "the server default" (the row is replaced, not merged)."""

    max_retries: int | None = None
    default_timeout: int | None = None
    rate_limit: int | None = None
    enabled: bool | None = None
    settings: dict[str, Any] | None = None


async def _check_quota(conn, org_id: str, name: str, limits: dict[str, Any]) -> None:
    """429 when `name` would be a new config row beyond the plan's max_queues.

    Runs inside the caller's transaction; the advisory lock makes concurrent creates count
    one after another, and is skipped entirely for unlimited plans. (Limits are read before
    the connection is taken, so a request never holds one pooled connection waiting for another.)
    """
    cap = limits["max_queues"]
    if cap is None:
        return
    await store.lock_creations(conn, org_id)
    if await store.exists(conn, org_id, name):
        return
    usage.ensure_room(limits, "queues", await store.count_for_org(conn, org_id))


async def list_configs(core: Core, org_id: str) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        return [dict(r) for r in await store.list_for_org(conn, org_id)]


async def get_config(core: Core, org_id: str, name: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.get(conn, org_id, name)
    if row is None:
        raise NotFound("Queue not found")
    return dict(row)


async def put_config(core: Core, org_id: str, name: str, cfg: QueueConfigInput) -> dict[str, Any]:
    defaults = core.settings
    limits = await core.limits.for_org(org_id)
    async with core.pool.acquire() as conn, conn.transaction():
        await _check_quota(conn, org_id, name, limits)
        row = await store.upsert(
            conn, org_id, name,
            max_retries=defaults.queue_default_max_retries if cfg.max_retries is None else cfg.max_retries,
            default_timeout=defaults.queue_default_timeout_secs if cfg.default_timeout is None else cfg.default_timeout,
            rate_limit=cfg.rate_limit,
            enabled=True if cfg.enabled is None else cfg.enabled,
            settings=cfg.settings or {})
        if row["enabled"]:
            # An upsert may re-enable a paused queue: long-polling claimers must notice.
            await store.wake(conn, org_id, name)
    return dict(row)


async def pause(core: Core, org_id: str, name: str, reason: str | None) -> dict[str, Any]:
    defaults = (core.settings.queue_default_max_retries, core.settings.queue_default_timeout_secs)
    limits = await core.limits.for_org(org_id)
    async with core.pool.acquire() as conn, conn.transaction():
        await _check_quota(conn, org_id, name, limits)
        row = await store.pause(conn, org_id, name, reason, defaults)
    return {"queue_name": name, "paused": True, "paused_at": row["paused_at"], "reason": reason}


def _paused_seconds(paused_at: str | None, resumed_at: datetime) -> int:
    # paused_at lives in the free-form settings object, which callers may overwrite with
    # anything: an unparsable value means "unknown", reported as 0, never an error.
    if not isinstance(paused_at, str):
        return 0
    try:
        since = datetime.fromisoformat(paused_at.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return max(0, int((resumed_at - since).total_seconds()))


async def resume(core: Core, org_id: str, name: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.resume(conn, org_id, name)
    if row is None:
        raise NotFound("Queue not found")
    return {"queue_name": name, "resumed": True,
            "paused_duration_secs": _paused_seconds(row["paused_at"], row["resumed_at"])}


async def delete(core: Core, org_id: str, name: str) -> None:
    """Deletes the config row only; jobs are untouched. Refused while work is in flight."""
    async with core.pool.acquire() as conn, conn.transaction():
        if await store.has_open_jobs(conn, org_id, name):
            raise Conflict("Queue has pending or processing jobs")
        if not await store.delete(conn, org_id, name):
            raise NotFound("Queue not found")


async def stats(core: Core, org_id: str, name: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.stats(conn, org_id, name)
    avg = row["avg_processing_time_ms"]
    age = row["max_job_age_seconds"]
    # extract() yields numeric (Decimal); the wire wants a float and an integer.
    return {"queue_name": name, "pending_jobs": row["pending_jobs"],
            "processing_jobs": row["processing_jobs"], "completed_jobs_24h": row["completed_jobs_24h"],
            "failed_jobs_24h": row["failed_jobs_24h"],
            "avg_processing_time_ms": None if avg is None else round(float(avg), 3),
            "max_job_age_seconds": None if age is None else max(0, int(age)),
            "active_workers": row["active_workers"]}
