"""The dead-letter queue: list, retry and purge jobs whose status is 'deadletter'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import BadRequest
from ..store import dependencies as dep_store
from ..store import dlq as store
from .core import Core

RETRY_DEFAULT_LIMIT = 100
PURGE_DEFAULT_LIMIT = 10_000


async def list_jobs(core: Core, org_id: str, *, queue_name: str | None, limit: int,
                    offset: int) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        rows = await store.list_summaries(conn, org_id, queue_name=queue_name, limit=limit, offset=offset)
    return [dict(r) for r in rows]


async def retry(core: Core, org_id: str, *, job_ids: list[str] | None, queue_name: str | None,
                limit: int | None) -> dict[str, Any]:
    """Selection precedence: job_ids (no limit), else queue_name, else the whole organization;
    oldest first. An empty job_ids list selects nothing rather than everything."""
    if job_ids is not None:
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return {"retried_count": 0, "retried_jobs": []}
        queue_name, limit = None, len(ids)
    else:
        ids = None
        limit = limit or RETRY_DEFAULT_LIMIT
    async with core.pool.acquire() as conn, conn.transaction():
        rows = await store.retry(conn, org_id, job_ids=ids, queue_name=queue_name, limit=limit)
        retried = [r["id"] for r in rows]
        if retried:
            # Jobs waiting on a retried job must wait again until it completes.
            await dep_store.refresh_dependents(conn, retried)
    return {"retried_count": len(retried), "retried_jobs": retried}


async def purge(core: Core, org_id: str, *, confirm: bool | None, queue_name: str | None,
                older_than: datetime | None, limit: int | None) -> dict[str, Any]:
    if confirm is not True:
        raise BadRequest("Purging deletes jobs permanently; send \"confirm\": true to proceed",
                         [{"field": "confirm", "message": "must be true", "code": "confirm_required"}])
    async with core.pool.acquire() as conn:
        count = await store.purge(conn, org_id, queue_name=queue_name, older_than=older_than,
                                  limit=limit or PURGE_DEFAULT_LIMIT)
    return {"purged_count": count}
