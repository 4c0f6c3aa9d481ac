"""Job dependencies: inspect a job's edges, and make a waiting job wait on other jobs."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, NotFound
from ..store import dependencies as store
from ..store import jobs as job_store
from .core import Core

DEFAULT_DEPENDENCY_TYPE = "success"
BLOCKED_REASON = "Dependency failed or was cancelled"


def _item(row) -> dict[str, Any]:
    return {"job_id": row["job_id"], "queue_name": row["queue_name"], "status": row["status"],
            "dependency_type": row["dependency_type"], "completed": row["status"] == "completed"}


async def get(core: Core, org_id: str, job_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        job = await job_store.get(conn, org_id, job_id)
        if job is None:
            raise NotFound("Job not found")
        dependencies = await store.dependencies_of(conn, org_id, job_id)
        dependents = await store.dependents_of(conn, org_id, job_id)
    return {"job_id": job_id, "status": job["status"], "dependency_mode": job["dependency_mode"],
            "dependencies_met": job["dependencies_met"],
            "dependencies": [_item(r) for r in dependencies],
            "dependents": [_item(r) for r in dependents]}


def _never_runnable(mode: str, total: int, done: int, dead: int) -> bool:
    """Whether the job's dependencies can no longer be satisfied.

    `all` needs every dependency completed, so one dead dependency is enough; `any` needs one
    completed, so it is blocked only when every dependency is dead.
    """
    if total == 0:
        return False
    if mode == "any":
        return done == 0 and dead == total
    return dead > 0


async def add(core: Core, org_id: str, job_id: str, depends_on: list[str], *, mode: str | None,
              dependency_type: str | None) -> dict[str, Any]:
    wanted = list(dict.fromkeys(depends_on))
    async with core.pool.acquire() as conn, conn.transaction():
        # One dependency edit per organization at a time, so the cycle check below holds.
        await store.lock_graph(conn, org_id)
        # Dependencies before the job: complete/fail lock a job before its dependents, so
        # taking them in the same order cannot deadlock.
        found = await store.lock_existing(conn, org_id, wanted)
        job = await store.lock_job(conn, org_id, job_id)
        if job is None:
            raise NotFound("Job not found")
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFound("Dependency job not found", {"field": "depends_on", "missing": missing})
        if job["status"] not in ("pending", "scheduled"):
            raise Conflict("Dependencies can only be added to pending or scheduled jobs",
                           {"job_id": job_id, "status": job["status"]})
        # Self edges and edges that would close a cycle are skipped, not refused (reference).
        candidates = [i for i in wanted if i != job_id]
        closers = await store.cycle_closers(conn, job_id, candidates) if candidates else set()
        candidates = [i for i in candidates if i not in closers]
        added = (await store.insert_edges(conn, job_id, candidates, dependency_type or DEFAULT_DEPENDENCY_TYPE)
                 if candidates else [])
        state = await store.refresh_job(conn, org_id, job_id, mode)
        status = state["status"]
        met = state["dependencies_met"]
        if _never_runnable(state["dependency_mode"], state["total"], state["done"], state["dead"]):
            # A dependency that is already dead (deadletter, failed, cancelled) can never
            # complete, so this job could never run. Left alone it would sit in the queue
            # forever, invisible to claims; instead it is cancelled now, together with
            # everything that waits on it, exactly as if the dependency had died afterwards.
            await store.cancel_job(conn, org_id, job_id, BLOCKED_REASON)
            await job_store.cancel_descendants(conn, [job_id], BLOCKED_REASON)
            status, met = "cancelled", False
        all_ids = await store.dependency_ids(conn, job_id)
    count = len(added)
    # The same count under every key some client reads.
    return {"job_id": job_id, "dependencies_added": count, "added": count, "added_count": count,
            "dependencies_met": met, "dependencies": all_ids, "status": status, "success": True}
