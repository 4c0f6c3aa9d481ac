"""Workers: registration (with plan caps and stable ids), heartbeats and deregistration."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, NotFound
from ..store import jobs as job_store
from ..store import workers as store
from . import usage
from .core import Core

STATUSES = ("healthy", "degraded", "draining", "offline")


@dataclass
class Registration:
    queue_name: str
    hostname: str
    worker_type: str | None = None
    max_concurrency: int = 5
    metadata: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    # A stable id chosen by the worker; None mints a fresh UUID.
    worker_id: str | None = None


async def register(core: Core, org_id: str, reg: Registration) -> dict[str, Any]:
    """Registers a worker, or re-registers a known id of this organization.

    A re-registration is not a new worker, so it is not charged against max_workers again.
    An id held by another organization is a conflict, never a takeover.
    """
    limits = await core.limits.for_org(org_id)
    cap = limits["max_workers"]
    worker_id = reg.worker_id or str(uuid.uuid4())
    async with core.pool.acquire() as conn, conn.transaction():
        owner = await store.owner_of(conn, worker_id) if reg.worker_id else None
        if owner is not None and owner != org_id:
            raise Conflict("This worker_id is already registered by another organization")
        if owner is None and cap is not None:
            await store.lock_registrations(conn, org_id)
            usage.ensure_room(limits, "workers", await store.count_live(conn, org_id))
        row = await store.upsert(conn, worker_id=worker_id, org_id=org_id, queue_name=reg.queue_name,
                                 hostname=reg.hostname, worker_type=reg.worker_type,
                                 max_concurrency=reg.max_concurrency, metadata=reg.metadata,
                                 version=reg.version)
        if row is None:
            # Another organization inserted this id between our check and our insert.
            raise Conflict("This worker_id is already registered by another organization")
    return {"id": row["id"], "queue_name": row["queue_name"],
            "lease_duration_secs": core.settings.worker_lease_duration_secs,
            "heartbeat_interval_secs": core.settings.worker_heartbeat_interval_secs}


async def list_workers(core: Core, org_id: str) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        return [dict(r) for r in await store.list_for_org(conn, org_id)]


async def get(core: Core, org_id: str, worker_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.get(conn, org_id, worker_id)
    if row is None:
        raise NotFound("Worker not found")
    worker = dict(row)
    # Older clients read created_at; it is the registration time.
    worker["created_at"] = worker["registered_at"]
    return worker


async def heartbeat(core: Core, org_id: str, worker_id: str, *, current_jobs: int, status: Any,
                    metadata: dict[str, Any] | None) -> None:
    """Records liveness. An unrecognised status is recorded as healthy (reference behaviour)."""
    status = status if status in STATUSES else "healthy"
    async with core.pool.acquire() as conn:
        if not await store.heartbeat(conn, org_id, worker_id, current_jobs, status, metadata):
            raise NotFound("Worker not found")


async def deregister(core: Core, org_id: str, worker_id: str) -> None:
    """Marks the worker offline and hands its jobs back at once (no attempt is counted:
    the worker left cleanly, the job did not fail)."""
    async with core.pool.acquire() as conn, conn.transaction():
        if not await store.mark_offline(conn, org_id, worker_id):
            raise NotFound("Worker not found")
        await job_store.release_worker_jobs(conn, org_id, worker_id)
