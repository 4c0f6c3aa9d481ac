"""The workflows table and the workflow columns of jobs.

A workflow's status and counters are derived from its jobs whenever it is read (PROGRESS
below), so they cannot drift from the jobs and the hot complete/fail path never touches this
table. The stored columns are only a cache, refreshed when a read finds them stale, for
readers that look at the table alone (plan usage). Only `cancelled` is authoritative there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import asyncpg

from .jobs import DEPENDENCIES_MET, wake_queues
from .json_arrays import json_texts

ACTIVE = ("pending", "scheduled", "processing")

# One row per workflow `w` with its status and counters derived from its jobs. Any job that
# ended without completing (failed, dead-lettered, or cancelled because a dependency died)
# means the workflow failed once nothing is left to run. `{where}` filters workflows `w`.
PROGRESS = """
SELECT w.id, w.name, w.description, w.metadata, w.created_at,
       p.total_jobs, p.completed_jobs, p.failed_jobs,
       CASE WHEN w.status = 'cancelled' THEN 'cancelled'
            WHEN p.active_jobs = 0 AND p.failed_jobs + p.cancelled_jobs = 0 THEN 'completed'
            WHEN p.active_jobs = 0 THEN 'failed'
            WHEN p.started_at IS NOT NULL OR p.completed_jobs > 0 THEN 'running'
            ELSE 'pending' END AS status,
       p.started_at,
       CASE WHEN w.status = 'cancelled' THEN w.completed_at
            WHEN p.active_jobs = 0 THEN p.finished_at END AS completed_at,
       w.status AS stored_status, w.total_jobs AS stored_total, w.completed_jobs AS stored_completed,
       w.failed_jobs AS stored_failed, w.started_at AS stored_started_at,
       w.completed_at AS stored_completed_at
FROM workflows w
CROSS JOIN LATERAL (
    SELECT count(*)::int AS total_jobs,
           count(*) FILTER (WHERE j.status = 'completed')::int AS completed_jobs,
           count(*) FILTER (WHERE j.status IN ('failed', 'deadletter'))::int AS failed_jobs,
           count(*) FILTER (WHERE j.status = 'cancelled')::int AS cancelled_jobs,
           count(*) FILTER (WHERE j.status IN ('pending', 'scheduled', 'processing'))::int AS active_jobs,
           min(j.started_at) AS started_at,
           -- Cancelled jobs have no completed_at; the moment they were cancelled stands in.
           max(COALESCE(j.completed_at, j.updated_at)) AS finished_at
    FROM jobs j WHERE j.workflow_id = w.id
) p
WHERE {where}"""


async def insert(conn: asyncpg.Connection, org_id: str, workflow_id: str, *, name: str,
                 description: str | None, metadata: Any, total_jobs: int) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO workflows (id, organization_id, name, description, metadata, total_jobs)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at""",
        workflow_id, org_id, name, description, metadata, total_jobs)


_INSERT_JOBS = f"""
WITH ins AS (
    INSERT INTO jobs (id, organization_id, queue_name, status, payload, priority, max_retries,
                      timeout_seconds, workflow_id, workflow_step, workflow_key, dependency_mode,
                      dependencies_met)
    SELECT s.id, $1, s.queue_name, 'pending', s.payload::jsonb, s.priority, s.max_retries,
           s.timeout_seconds, $2, s.step, s.key, s.mode, s.met
    FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[], $9::int[],
                $10::text[], $11::text[], $12::bool[])
         AS s(id, queue_name, payload, priority, max_retries, timeout_seconds, step, key, mode, met)
    RETURNING queue_name, dependencies_met
), wake AS (
    {wake_queues("ins WHERE dependencies_met", org="$1")}
)
SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT count(*) FROM wake) AS woken"""


async def insert_jobs(conn: asyncpg.Connection, org_id: str, workflow_id: str,
                      rows: Sequence[dict[str, Any]]) -> int:
    """Inserts the workflow's jobs in one statement, jobs without dependencies ready at once,
    and wakes (on commit) the claimers of every queue that got a ready job."""
    cols = ("id", "queue_name", "payload", "priority", "max_retries", "timeout_seconds", "step",
            "key", "mode", "met")
    arrays = [json_texts(row[c] for row in rows) if c == "payload" else [row[c] for row in rows]
              for c in cols]
    record = await conn.fetchrow(_INSERT_JOBS, org_id, workflow_id, *arrays)
    return record["inserted"]


async def insert_edges(conn: asyncpg.Connection, waiting: list[str], waited_on: list[str]) -> None:
    """All dependency edges of a new workflow, in one statement."""
    await conn.execute(
        """INSERT INTO job_dependencies (job_id, depends_on_job_id)
           SELECT * FROM unnest($1::text[], $2::text[])""", waiting, waited_on)


async def get(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(PROGRESS.format(where="w.organization_id = $1 AND w.id = $2"),
                               org_id, workflow_id)


async def page(conn: asyncpg.Connection, org_id: str, *, status: str | None, limit: int,
               offset: int) -> list[asyncpg.Record]:
    """Newest first; the status filter applies to the derived status."""
    return await conn.fetch(
        f"""SELECT * FROM ({PROGRESS.format(where="w.organization_id = $1")}) d
            WHERE $2::text IS NULL OR d.status = $2
            ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4""",
        org_id, status, limit, offset)


async def exists(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM workflows WHERE organization_id = $1 AND id = $2", org_id, workflow_id))


async def lock(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> bool:
    """Row-locks the workflow until the transaction ends (serialises cancel, retry, delete)."""
    return bool(await conn.fetchval(
        "SELECT true FROM workflows WHERE organization_id = $1 AND id = $2 FOR UPDATE", org_id, workflow_id))


_STALE = """(w.status, w.total_jobs, w.completed_jobs, w.failed_jobs, w.started_at, w.completed_at)
    IS DISTINCT FROM (d.status, d.total_jobs, d.completed_jobs, d.failed_jobs, d.started_at, d.completed_at)"""


async def refresh(conn: asyncpg.Connection, org_id: str, workflow_ids: list[str]) -> None:
    """Copies the derived status and counters into the stored columns where they differ."""
    await conn.execute(
        f"""UPDATE workflows w SET status = d.status, total_jobs = d.total_jobs,
                   completed_jobs = d.completed_jobs, failed_jobs = d.failed_jobs,
                   started_at = d.started_at, completed_at = d.completed_at, updated_at = now()
            FROM ({PROGRESS.format(where="w.organization_id = $1 AND w.id = ANY($2::text[])")}) d
            WHERE w.id = d.id AND {_STALE}""", org_id, workflow_ids)


async def count_unfinished(conn: asyncpg.Connection, org_id: str) -> int:
    """Workflows still pending or running (what the plan's max_workflows caps), after
    refreshing the stored status of those that finished since it was last written."""
    rows = await conn.fetch(
        "SELECT id FROM workflows WHERE organization_id = $1 AND status IN ('pending', 'running')", org_id)
    ids = [r["id"] for r in rows]
    if not ids:
        return 0
    await refresh(conn, org_id, ids)
    return await conn.fetchval(
        "SELECT count(*) FROM workflows WHERE organization_id = $1 AND status IN ('pending', 'running')", org_id)


async def cancel(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> list[str]:
    """Marks the workflow cancelled and cancels its waiting jobs (running ones finish);
    returns the ids of the jobs cancelled."""
    await conn.execute(
        """UPDATE workflows SET status = 'cancelled', completed_at = COALESCE(completed_at, now()),
                  updated_at = now()
           WHERE organization_id = $1 AND id = $2 AND status <> 'cancelled'""", org_id, workflow_id)
    rows = await conn.fetch(
        """UPDATE jobs SET status = 'cancelled', last_error = 'Workflow cancelled', updated_at = now()
           WHERE workflow_id = $1 AND organization_id = $2 AND status IN ('pending', 'scheduled')
           RETURNING id""", workflow_id, org_id)
    return [r["id"] for r in rows]


async def revive_unfinished(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> int:
    """Puts every job that ended without completing back to pending as if new (retry count,
    error, lease and result cleared), then recomputes which of the workflow's waiting jobs
    are ready, and wakes their queues on commit. Returns how many jobs were revived."""
    revived = await conn.fetchval(
        """WITH r AS (
               UPDATE jobs SET status = 'pending', retry_count = 0, last_error = NULL, result = NULL,
                      completed_at = NULL, scheduled_at = NULL, lease_id = NULL,
                      lease_expires_at = NULL, assigned_worker_id = NULL, updated_at = now()
               WHERE workflow_id = $1 AND organization_id = $2
                 AND status IN ('failed', 'deadletter', 'cancelled')
               RETURNING 1)
           SELECT count(*) FROM r""", workflow_id, org_id)
    # A separate statement: it must see the revived rows (a CTE sees the snapshot before them).
    await conn.execute(
        f"""WITH ready AS (
                UPDATE jobs c SET updated_at = now(), dependencies_met =
                    NOT EXISTS (SELECT 1 FROM job_dependencies d WHERE d.job_id = c.id) OR {DEPENDENCIES_MET}
                WHERE c.workflow_id = $1 AND c.organization_id = $2 AND c.status IN ('pending', 'scheduled')
                RETURNING c.queue_name, c.dependencies_met
            )
            SELECT count(*) FROM ({wake_queues("ready WHERE dependencies_met", org="$2")}) n""",
        workflow_id, org_id)
    return revived


async def lock_jobs(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> list[asyncpg.Record]:
    """Row-locks every job of the workflow, so none can change state until the transaction ends."""
    return await conn.fetch(
        """SELECT id, status FROM jobs WHERE workflow_id = $1 AND organization_id = $2
           ORDER BY id FOR UPDATE""", workflow_id, org_id)


async def delete(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> None:
    """Deletes the workflow's jobs (their dependency edges go with them), then the workflow."""
    await conn.execute("DELETE FROM jobs WHERE workflow_id = $1 AND organization_id = $2", workflow_id, org_id)
    await conn.execute("DELETE FROM workflows WHERE organization_id = $1 AND id = $2", org_id, workflow_id)


async def delete_finished_before(conn: asyncpg.Connection, org_ids: list[str], cutoff: datetime,
                                 batch: int) -> int:
    """Retention: deletes up to `batch` workflows of `org_ids` created before `cutoff` whose
    jobs all finished before it, with those jobs. One that a waiting job elsewhere still
    depends on is kept."""
    return len(await conn.fetch(
        """WITH old AS (
               SELECT w.id FROM workflows w
               WHERE w.organization_id = ANY($1::text[]) AND w.created_at < $2
                 AND NOT EXISTS (
                     SELECT 1 FROM jobs j WHERE j.workflow_id = w.id
                       AND (j.status NOT IN ('completed', 'cancelled', 'deadletter')
                            OR coalesce(j.completed_at, j.updated_at) >= $2
                            OR EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs c ON c.id = d.job_id
                                       WHERE d.depends_on_job_id = j.id
                                         AND c.status NOT IN ('completed', 'cancelled', 'deadletter'))))
               LIMIT $3 FOR UPDATE SKIP LOCKED
           ), gone_jobs AS (
               DELETE FROM jobs j USING old WHERE j.workflow_id = old.id RETURNING j.id
           )
           DELETE FROM workflows w USING old WHERE w.id = old.id
           RETURNING w.id, (SELECT count(*) FROM gone_jobs) AS jobs""", org_ids, cutoff, batch))


# -- the jobs of one workflow ------------------------------------------------------------------

_JOB = """
SELECT j.id, j.workflow_id, j.workflow_key AS key, j.queue_name, j.status, j.payload, j.result,
       j.last_error AS error,
       -- Keys of the dependencies inside this workflow, in definition order.
       ARRAY(SELECT p.workflow_key FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on_job_id
             WHERE d.job_id = j.id AND p.workflow_id = j.workflow_id
             ORDER BY p.workflow_step) AS depends_on,
       j.dependency_mode, j.priority, j.max_retries, j.retry_count AS attempt, j.timeout_seconds,
       j.created_at, j.started_at, j.completed_at
FROM jobs j
WHERE j.workflow_id = $2 AND j.organization_id = $1"""


async def jobs(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(_JOB + " ORDER BY j.workflow_step", org_id, workflow_id)


async def job(conn: asyncpg.Connection, org_id: str, workflow_id: str, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_JOB + " AND j.id = $3", org_id, workflow_id, job_id)


async def job_statuses(conn: asyncpg.Connection, org_id: str, workflow_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id AS job_id, workflow_key AS key, status FROM jobs
           WHERE workflow_id = $2 AND organization_id = $1 ORDER BY workflow_step""", org_id, workflow_id)
