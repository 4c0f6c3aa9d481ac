"""Workflows: DAGs of jobs created together, whose progress is read back from those jobs.

Releasing a job once its dependencies complete, and cancelling everything below a job that
died, happen in the jobs engine (store/jobs.py) in the same statement or transaction as the
change that causes them. This module only creates, inspects, cancels, retries and deletes
whole workflows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..errors import BadRequest, Conflict, NotFound, PayloadTooLarge, QuotaExceeded
from ..store import jobs as job_store
from ..store import organizations as org_store
from ..store import workflows as store
from . import usage
from .core import Core
from .jobs import HARD_PAYLOAD_LIMIT, payload_size
from .workflow_dag import Step, plan

DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT_SECONDS = 300
# last_error of jobs outside a workflow that waited on jobs its cancel cancelled.
CANCELLED_DEPENDENCY_REASON = "Dependency was cancelled"


@dataclass
class WorkflowJob:
    """One job of a new workflow, with the contract's defaults."""

    key: str
    queue_name: str
    payload: Any
    depends_on: list[str] = field(default_factory=list)
    dependency_mode: str = "all"
    priority: int = 0
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


@dataclass
class NewWorkflow:
    name: str
    jobs: list[WorkflowJob]
    description: str | None = None
    metadata: dict[str, Any] | None = None


def _check_payloads(jobs: list[WorkflowJob]) -> None:
    for i, job in enumerate(jobs):
        size = payload_size(job.payload)
        if size > HARD_PAYLOAD_LIMIT:
            raise PayloadTooLarge(f"Payload of job '{job.key}' is {size} bytes; the limit is {HARD_PAYLOAD_LIMIT} bytes",
                                  {"field": f"jobs.{i}.payload", "size": size, "limit": HARD_PAYLOAD_LIMIT})


async def _check_plan(conn: asyncpg.Connection, org_id: str, limits: dict[str, Any], adding_jobs: int) -> None:
    """The plan's workflow cap, and its job caps for the jobs the workflow adds (429).

    Runs under the organization's row lock, so concurrent creates are counted one by one.
    """
    if not await org_store.lock(conn, org_id):
        raise NotFound("Organization not found")
    if limits["max_workflows"] is not None:
        if limits["max_workflows"] == 0:
            raise QuotaExceeded(
                f"Workflows are not available on the {limits['tier']} plan",
                {"resource": "workflows", "current": 0, "limit": 0, "plan": limits["tier"],
                 "upgrade_to": usage.upgrade_to(limits["tier"])})
        usage.ensure_room(limits, "workflows", await store.count_unfinished(conn, org_id))
    await usage.ensure_job_room(conn, org_id, limits, adding_jobs)


async def create(core: Core, org_id: str, new: NewWorkflow) -> dict[str, Any]:
    """Validates everything first (graph 400, payload 413, plan 429), then writes the workflow,
    its jobs and their edges in one transaction. Jobs without dependencies are ready at once."""
    dag = plan([Step(j.key, tuple(j.depends_on)) for j in new.jobs])
    _check_payloads(new.jobs)
    limits = await core.limits.for_org(org_id)
    capped = any(limits[k] is not None for k in ("max_workflows", "max_jobs_per_day", "max_active_jobs"))
    workflow_id = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in new.jobs]
    rows = [{"id": ids[i], "queue_name": j.queue_name, "payload": j.payload, "priority": j.priority,
             "max_retries": j.max_retries, "timeout_seconds": j.timeout_seconds, "step": i, "key": j.key,
             "mode": j.dependency_mode, "met": not j.depends_on} for i, j in enumerate(new.jobs)]
    async with core.pool.acquire() as conn, conn.transaction():
        if capped:
            await _check_plan(conn, org_id, limits, len(rows))
        await store.insert(conn, org_id, workflow_id, name=new.name, description=new.description,
                           metadata=new.metadata, total_jobs=len(rows))
        await store.insert_jobs(conn, org_id, workflow_id, rows)
        if dag.edges:
            await store.insert_edges(conn, [ids[c] for c, _ in dag.edges], [ids[p] for _, p in dag.edges])
        if capped:
            await org_store.add_jobs_today(conn, org_id, len(rows))
    return {"workflow_id": workflow_id, "job_ids": [{"key": j.key, "job_id": ids[i]} for i, j in enumerate(new.jobs)],
            "status": "pending"}


def _response(row: asyncpg.Record) -> dict[str, Any]:
    total, completed = row["total_jobs"], row["completed_jobs"]
    return {"id": row["id"], "name": row["name"], "description": row["description"], "status": row["status"],
            "total_jobs": total, "completed_jobs": completed, "failed_jobs": row["failed_jobs"],
            "progress_percent": completed / total * 100.0 if total else 0.0,
            "created_at": row["created_at"], "started_at": row["started_at"],
            "completed_at": row["completed_at"], "metadata": row["metadata"]}


def _stale(row: asyncpg.Record) -> bool:
    return ((row["status"], row["total_jobs"], row["completed_jobs"], row["failed_jobs"],
             row["started_at"], row["completed_at"])
            != (row["stored_status"], row["stored_total"], row["stored_completed"], row["stored_failed"],
                row["stored_started_at"], row["stored_completed_at"]))


async def _refresh_stale(conn: asyncpg.Connection, org_id: str, rows: list[asyncpg.Record]) -> None:
    # Keeps the stored copy (read by plan usage) in step; a write only when something changed.
    stale = [r["id"] for r in rows if _stale(r)]
    if stale:
        await store.refresh(conn, org_id, stale)


async def _get(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> asyncpg.Record:
    row = await store.get(conn, org_id, workflow_id)
    if row is None:
        raise NotFound("Workflow not found")
    return row


async def get(core: Core, org_id: str, workflow_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await _get(conn, org_id, workflow_id)
        await _refresh_stale(conn, org_id, [row])
    return _response(row)


async def list_workflows(core: Core, org_id: str, *, status: str | None, limit: int,
                         offset: int) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        rows = await store.page(conn, org_id, status=status, limit=limit, offset=offset)
        await _refresh_stale(conn, org_id, rows)
    return [_response(r) for r in rows]


async def cancel(core: Core, org_id: str, workflow_id: str) -> dict[str, Any]:
    """Cancels the waiting jobs (running ones finish) and whatever outside the workflow
    waits on them; the workflow is cancelled from then on."""
    async with core.pool.acquire() as conn:
        async with conn.transaction():
            if not await store.lock(conn, org_id, workflow_id):
                raise NotFound("Workflow not found")
            cancelled = await store.cancel(conn, org_id, workflow_id)
            if cancelled:
                await job_store.cancel_descendants(conn, cancelled, CANCELLED_DEPENDENCY_REASON)
        row = await _get(conn, org_id, workflow_id)
        await _refresh_stale(conn, org_id, [row])
    return _response(row)


async def retry(core: Core, org_id: str, workflow_id: str) -> dict[str, Any]:
    """Re-runs a failed workflow: every job that ended without completing is pending again
    (as new), and jobs whose dependencies are all completed are claimable at once."""
    async with core.pool.acquire() as conn:
        async with conn.transaction():
            if not await store.lock(conn, org_id, workflow_id):
                raise NotFound("Workflow not found")
            # Nothing is active in a failed workflow, so no job can change under us here.
            status = (await _get(conn, org_id, workflow_id))["status"]
            if status != "failed":
                raise BadRequest(f"Only failed workflows can be retried; this workflow is {status}",
                                 {"status": status})
            await store.revive_unfinished(conn, org_id, workflow_id)
        row = await _get(conn, org_id, workflow_id)
        await _refresh_stale(conn, org_id, [row])
    return _response(row)


async def delete(core: Core, org_id: str, workflow_id: str) -> None:
    """Deletes a finished workflow with its jobs; 409 while any of its jobs may still run."""
    async with core.pool.acquire() as conn, conn.transaction():
        if not await store.lock(conn, org_id, workflow_id):
            raise NotFound("Workflow not found")
        active = [r["id"] for r in await store.lock_jobs(conn, org_id, workflow_id) if r["status"] in store.ACTIVE]
        if active:
            raise Conflict(f"Workflow has {len(active)} pending, scheduled or processing jobs; "
                           "cancel it or wait for them to finish", {"active_jobs": len(active)})
        await store.delete(conn, org_id, workflow_id)


async def _require(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> None:
    if not await store.exists(conn, org_id, workflow_id):
        raise NotFound("Workflow not found")


async def list_jobs(core: Core, org_id: str, workflow_id: str) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        await _require(conn, org_id, workflow_id)
        return [dict(r) for r in await store.jobs(conn, org_id, workflow_id)]


async def job_statuses(core: Core, org_id: str, workflow_id: str) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        await _require(conn, org_id, workflow_id)
        return [dict(r) for r in await store.job_statuses(conn, org_id, workflow_id)]


async def get_job(core: Core, org_id: str, workflow_id: str, job_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        await _require(conn, org_id, workflow_id)
        row = await store.job(conn, org_id, workflow_id, job_id)
    if row is None:
        raise NotFound("Job not found in this workflow")
    return dict(row)
