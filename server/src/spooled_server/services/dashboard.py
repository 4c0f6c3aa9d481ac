"""The one-call overview of the caller's organization (GET /api/v1/dashboard)."""

from __future__ import annotations

from typing import Any

from ..store import dashboard as store
from . import system
from .core import Core


async def overview(core: Core, org_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        jobs = await store.job_figures(conn, org_id)
        queues = await store.busiest_queues(conn, org_id)
        workers = await store.worker_figures(conn, org_id)
    return {
        "system": {
            "version": system.VERSION, "uptime_seconds": system.uptime_seconds(),
            "started_at": system.STARTED_AT,
            # Reaching this line took a database round trip, so the database is up.
            "database_status": "healthy",
            # There is no cache tier: every replica reads PostgreSQL directly.
            "cache_status": "not_configured",
            "environment": core.settings.rust_env,
        },
        "jobs": {k: jobs[k] for k in ("total", "pending", "processing", "completed_24h", "failed_24h",
                                      "deadletter", "avg_wait_time_ms", "avg_processing_time_ms")},
        "queues": [dict(q) for q in queues],
        "workers": {"total": workers["total"], "healthy": workers["healthy"],
                    "unhealthy": workers["total"] - workers["healthy"]},
        "recent_activity": {"jobs_created_1h": jobs["created_1h"], "jobs_completed_1h": jobs["completed_1h"],
                            "jobs_failed_1h": jobs["failed_1h"]},
    }
