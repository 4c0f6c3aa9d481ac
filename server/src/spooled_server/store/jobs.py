"""The jobs table: the queue itself. Hot paths are single statements.

Every function scopes by organization_id; an id from another organization behaves as unknown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import asyncpg

from .json_arrays import json_texts

# Notification channel: payload "<org_id>/<queue_name>" when ready work appears in a queue.
WAKE_CHANNEL = "spooled_jobs"


def wake_queues(rows: str, *, org: str = "organization_id") -> str:
    """SQL for a CTE body that sends one wake-up per distinct queue in `rows` (a CTE's name,
    optionally with a WHERE), delivered when the statement's transaction commits. `rows` has
    queue_name, and organization_id unless `org` names the one organization (a parameter, "$1")."""
    return (f"SELECT pg_notify('{WAKE_CHANNEL}', q.org || '/' || q.queue_name) "
            f"FROM (SELECT DISTINCT {org}::text AS org, queue_name FROM {rows}) q")

# Whether leased job `j` belongs to a cancelled workflow: an attempt that fails, or whose lease
# or worker is lost, then ends cancelled like its siblings instead of retrying or dead-lettering.
IN_CANCELLED_WORKFLOW = """j.workflow_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM workflows w WHERE w.id = j.workflow_id AND w.status = 'cancelled')"""

FULL = """id, organization_id, queue_name, status, payload, result, retry_count, max_retries,
    last_error, created_at, scheduled_at, started_at, completed_at, expires_at, priority, tags,
    timeout_seconds, parent_job_id, completion_webhook, assigned_worker_id, lease_id,
    lease_expires_at, idempotency_key, updated_at, workflow_id, dependency_mode, dependencies_met"""

SUMMARY = "id, queue_name, status, priority, retry_count, created_at, scheduled_at, started_at, completed_at"

INSERT_MANY = f"""
WITH ins AS (
    INSERT INTO jobs (id, organization_id, queue_name, status, payload, priority, max_retries,
                      timeout_seconds, scheduled_at, expires_at, idempotency_key, tags,
                      parent_job_id, completion_webhook)
    SELECT s.id, s.organization_id, s.queue_name,
           CASE WHEN s.scheduled_at > now() THEN 'scheduled' ELSE 'pending' END,
           s.payload::jsonb, s.priority,
           -- Unset retries/timeout come from the queue's config, else the server default.
           COALESCE(s.max_retries, qc.max_retries, $14), COALESCE(s.timeout_seconds, qc.default_timeout, $15),
           s.scheduled_at, s.expires_at, s.idempotency_key, s.tags::jsonb, s.parent_job_id, s.completion_webhook
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[],
                $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[], $12::text[],
                $13::text[])
         AS s(organization_id, id, queue_name, payload, priority, max_retries, timeout_seconds,
              scheduled_at, expires_at, idempotency_key, tags, parent_job_id, completion_webhook)
    LEFT JOIN queue_config qc ON qc.organization_id = s.organization_id AND qc.queue_name = s.queue_name
    ON CONFLICT (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, organization_id, queue_name, status
), wake AS (
    {wake_queues("ins WHERE status = 'pending'")}
)
SELECT id, (SELECT count(*) FROM wake) AS woken FROM ins"""

_INSERT_COLUMNS = ("organization_id", "id", "queue_name", "payload", "priority", "max_retries",
                   "timeout_seconds", "scheduled_at", "expires_at", "idempotency_key", "tags",
                   "parent_job_id", "completion_webhook")


async def insert_rows(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]],
                      default_max_retries: int, default_timeout: int) -> set[str]:
    """Inserts jobs (ids and organization chosen by the caller, per row); returns the ids
    actually inserted. Rows whose idempotency key already exists are skipped, never
    duplicated: the unique index decides, so concurrent duplicates cannot both insert."""
    arrays = [json_texts(row.get(c) for row in rows) if c in ("payload", "tags")
              else [row.get(c) for row in rows] for c in _INSERT_COLUMNS]
    records = await conn.fetch(INSERT_MANY, *arrays, default_max_retries, default_timeout)
    return {r["id"] for r in records}


async def insert_many(conn: asyncpg.Connection, org_id: str, rows: Sequence[dict[str, Any]],
                      default_max_retries: int, default_timeout: int) -> set[str]:
    """insert_rows for jobs of one organization."""
    return await insert_rows(conn, [{**row, "organization_id": org_id} for row in rows],
                             default_max_retries, default_timeout)


async def ids_by_idempotency_key(conn: asyncpg.Connection, org_id: str, keys: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT idempotency_key, id FROM jobs WHERE organization_id = $1 AND idempotency_key = ANY($2::text[])",
        org_id, keys)
    return {r["idempotency_key"]: r["id"] for r in rows}


async def touch_many(conn: asyncpg.Connection, org_id: str, ids: list[str]) -> None:
    """An idempotent hit bumps updated_at only."""
    await conn.execute("UPDATE jobs SET updated_at = now() WHERE organization_id = $1 AND id = ANY($2::text[])",
                       org_id, ids)


async def exists(conn: asyncpg.Connection, org_id: str, job_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM jobs WHERE organization_id = $1 AND id = $2", org_id, job_id))


async def get(conn: asyncpg.Connection, org_id: str, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {FULL} FROM jobs WHERE organization_id = $1 AND id = $2", org_id, job_id)


async def list_summaries(conn: asyncpg.Connection, org_id: str, *, queue_name: str | None,
                         status: str | None, tag: str | None, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {SUMMARY} FROM jobs
            WHERE organization_id = $1
              AND ($2::text IS NULL OR queue_name = $2)
              AND ($3::text IS NULL OR status = $3)
              AND ($4::text IS NULL OR (jsonb_typeof(tags) = 'object' AND tags ? $4))
            ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6""",
        org_id, queue_name, status, tag, limit, offset)


async def count_active(conn: asyncpg.Connection, org_id: str, cap: int) -> int:
    """Active (pending, scheduled, processing) jobs, counting no further than `cap`."""
    return await conn.fetchval(
        """SELECT count(*) FROM (SELECT 1 FROM jobs WHERE organization_id = $1
             AND status IN ('pending', 'scheduled', 'processing') LIMIT $2) a""", org_id, cap)


async def stats(conn: asyncpg.Connection, org_id: str) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM jobs WHERE organization_id = $1 GROUP BY status",
                            org_id)
    return {r["status"]: r["n"] for r in rows}


async def batch_status(conn: asyncpg.Connection, org_id: str, ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, status, queue_name, retry_count, created_at, completed_at FROM jobs
           WHERE organization_id = $1 AND id = ANY($2::text[])""", org_id, ids)


async def cancel(conn: asyncpg.Connection, org_id: str, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE jobs SET status = 'cancelled', updated_at = now()
           WHERE organization_id = $1 AND id = $2 AND status IN ('pending', 'scheduled')
           RETURNING id, queue_name""", org_id, job_id)


async def retry(conn: asyncpg.Connection, org_id: str, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE jobs SET status = 'pending', retry_count = retry_count + 1, last_error = NULL,
                   completed_at = NULL, lease_id = NULL, lease_expires_at = NULL,
                   assigned_worker_id = NULL, updated_at = now()
            WHERE organization_id = $1 AND id = $2 AND status IN ('failed', 'deadletter')
            RETURNING {FULL}""", org_id, job_id)


async def set_priority(conn: asyncpg.Connection, org_id: str, job_id: str, priority: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE jobs j SET priority = $3, updated_at = now()
           FROM (SELECT id, priority AS old_priority FROM jobs
                 WHERE organization_id = $1 AND id = $2 AND status IN ('pending', 'scheduled')
                 FOR UPDATE) old
           WHERE j.id = old.id RETURNING j.id, old.old_priority, j.priority""", org_id, job_id, priority)


# -- the worker protocol -----------------------------------------------------------------------

CLAIM = """
WITH picked AS (
    SELECT id FROM jobs
    WHERE organization_id = $1 AND queue_name = $2
      AND status IN ('pending', 'scheduled') AND dependencies_met
      AND (scheduled_at IS NULL OR scheduled_at <= now())
      AND (expires_at IS NULL OR expires_at > now())
      AND NOT EXISTS (SELECT 1 FROM queue_config q
                      WHERE q.organization_id = $1 AND q.queue_name = $2 AND NOT q.enabled)
    ORDER BY priority DESC, created_at ASC
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET status = 'processing', assigned_worker_id = $4, lease_id = gen_random_uuid()::text,
       lease_expires_at = now() + make_interval(secs => $5), started_at = now(), updated_at = now()
FROM picked WHERE j.id = picked.id
RETURNING j.id, j.queue_name, j.payload, j.retry_count, j.max_retries, j.timeout_seconds,
          j.lease_expires_at, j.lease_id, j.status, j.priority, j.created_at,
          -- for gRPC's Job message (REST picks its own fields)
          j.started_at, j.scheduled_at, j.idempotency_key, j.last_error"""


async def claim(conn: asyncpg.Connection, org_id: str, queue_name: str, worker_id: str,
                limit: int, lease_secs: float) -> list[asyncpg.Record]:
    """Leases up to `limit` ready jobs to `worker_id` atomically (SKIP LOCKED: no double claims)."""
    rows = await conn.fetch(CLAIM, org_id, queue_name, limit, worker_id, float(lease_secs))
    return sorted(rows, key=lambda r: (-r["priority"], r["created_at"]))


async def release_claims(conn: asyncpg.Connection, org_id: str, leases: list[str]) -> None:
    """Hands just-claimed jobs straight back (the answer would have been too large to send, or
    its caller is gone): pending again, no attempt counted, and the queues' waiting claimers
    woken."""
    await conn.execute(
        f"""WITH rel AS (
                UPDATE jobs SET status = 'pending', lease_id = NULL, lease_expires_at = NULL,
                       assigned_worker_id = NULL, started_at = NULL, updated_at = now()
                WHERE organization_id = $1 AND lease_id = ANY($2::text[]) AND status = 'processing'
                RETURNING queue_name
            )
            {wake_queues("rel", org="$1")}""",
        org_id, leases)


# Lease calls arrive in batches (group commit). Each batch first locks its jobs by primary key
# alone, in id order (no deadlocks between concurrent batches): with the fence conditions in
# the same WHERE the planner may walk a partial index of every processing job instead. The
# fence is then checked per item on the locked rows: the lease token when given, else the
# assigned worker (legacy clients). The expiry instant belongs to the reaper: at or after
# lease_expires_at nothing is accepted. Every item gets an outcome row, including the locked
# row's state when the fence refused it, so rejections need no second round trip.
_LEASE_INPUT = """input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
        WITH ORDINALITY AS i(org_id, job_id, lease_id, worker_id, n)
), target AS MATERIALIZED (
    SELECT id, organization_id, status, lease_id, assigned_worker_id,
           lease_expires_at > now() AS live
    FROM jobs WHERE id = ANY($2::text[]) ORDER BY id FOR UPDATE
), fenced AS (
    SELECT DISTINCT ON (t.id) t.id, i.n FROM input i JOIN target t ON t.id = i.job_id
    WHERE t.organization_id = i.org_id AND t.status = 'processing' AND t.live
      AND (CASE WHEN i.lease_id IS NOT NULL THEN t.lease_id = i.lease_id
                ELSE t.assigned_worker_id = i.worker_id END)
    ORDER BY t.id, i.n
)"""

_LEASE_OUTCOME = """SELECT i.n, t.id IS NOT NULL AND t.organization_id = i.org_id AS visible,
       t.status AS prior_status, t.lease_id AS prior_lease, d.*
FROM input i LEFT JOIN target t ON t.id = i.job_id LEFT JOIN done d ON d.id = i.job_id AND d.n = i.n
ORDER BY i.n"""

COMPLETE_MANY = f"""
WITH {_LEASE_INPUT}, results AS (
    SELECT result::jsonb AS result, n FROM unnest($5::text[]) WITH ORDINALITY AS r(result, n)
), done AS (
    UPDATE jobs j SET status = 'completed', result = r.result, completed_at = now(),
                      updated_at = now(), lease_expires_at = NULL
    FROM fenced f JOIN results r ON r.n = f.n
    WHERE j.id = f.id
    RETURNING j.id, f.n, j.organization_id, j.queue_name, j.workflow_id, j.started_at, j.completed_at,
              EXISTS (SELECT 1 FROM job_dependencies dep WHERE dep.depends_on_job_id = j.id) AS has_dependents
), released AS (
    -- Dependents whose other dependencies were already complete become claimable in this very
    -- statement. (A sibling completing concurrently is invisible to this snapshot; the caller's
    -- release_dependents pass covers that case, and loops/dependency_healer.py a crash before it.)
    UPDATE jobs c SET dependencies_met = true, updated_at = now()
    WHERE c.id IN (SELECT dep.job_id FROM job_dependencies dep JOIN done ON dep.depends_on_job_id = done.id)
      AND NOT c.dependencies_met AND c.status IN ('pending', 'scheduled')
      AND (c.dependency_mode = 'any' OR NOT EXISTS (
            SELECT 1 FROM job_dependencies d2 JOIN jobs p ON p.id = d2.depends_on_job_id
            WHERE d2.job_id = c.id AND p.status <> 'completed' AND p.id NOT IN (SELECT id FROM done)))
    RETURNING c.organization_id, c.queue_name
), wake AS (
    {wake_queues("released")}
)
SELECT o.*, (SELECT count(*) FROM wake) AS woken FROM ({_LEASE_OUTCOME}) o ORDER BY 1"""


def _lease_arrays(items: Sequence[dict[str, Any]]) -> list[list]:
    return [[it["org_id"] for it in items], [it["job_id"] for it in items],
            [it.get("lease_id") for it in items], [it.get("worker_id") for it in items]]


async def complete_many(conn: asyncpg.Connection, items: Sequence[dict[str, Any]]) -> list[asyncpg.Record]:
    """Completes jobs held under each caller's lease, in one statement: one outcome row per
    item, in order (visible false: no such job; id NULL: the fence refused, see prior_*).
    Dependents already due are released by the statement; for rows with has_dependents, call
    release_dependents afterwards to cover siblings that completed concurrently."""
    return await conn.fetch(COMPLETE_MANY, *_lease_arrays(items), json_texts(it.get("result") for it in items))


HEARTBEAT_MANY = f"""
WITH {_LEASE_INPUT}, secs AS (
    SELECT * FROM unnest($5::float8[]) WITH ORDINALITY AS s(lease_secs, n)
), done AS (
    UPDATE jobs j SET lease_expires_at = now() + make_interval(secs => s.lease_secs), updated_at = now()
    FROM fenced f JOIN secs s ON s.n = f.n
    WHERE j.id = f.id
    RETURNING j.id, f.n, j.lease_expires_at
)
{_LEASE_OUTCOME}"""


async def heartbeat_many(conn: asyncpg.Connection, items: Sequence[dict[str, Any]]) -> list[asyncpg.Record]:
    """Extends the leases of jobs held by each caller; one outcome row per item, in order."""
    return await conn.fetch(HEARTBEAT_MANY, *_lease_arrays(items),
                            [float(it["lease_secs"]) for it in items])


FAIL = f"""
WITH {_LEASE_INPUT}, done AS (
    UPDATE jobs j SET
       status = CASE WHEN {IN_CANCELLED_WORKFLOW} THEN 'cancelled'
                     WHEN $6 AND retry_count < max_retries THEN 'pending' ELSE 'deadletter' END,
       scheduled_at = CASE WHEN $6 AND retry_count < max_retries
           THEN now() + make_interval(secs => least(power(2, retry_count), 60) * $7)
           ELSE scheduled_at END,
       completed_at = CASE WHEN $6 AND retry_count < max_retries THEN NULL ELSE now() END,
       retry_count = CASE WHEN $6 AND retry_count < max_retries THEN retry_count + 1 ELSE retry_count END,
       last_error = $5, lease_expires_at = NULL, updated_at = now()
    FROM fenced f WHERE j.id = f.id
    RETURNING j.id, f.n, j.queue_name, j.status, j.retry_count, j.scheduled_at, j.workflow_id,
              extract(epoch FROM j.scheduled_at - now()) AS delay_secs
)
{_LEASE_OUTCOME}"""


async def fail(conn: asyncpg.Connection, org_id: str, job_id: str, lease_id: str | None,
               worker_id: str | None, error: str, allow_retry: bool,
               backoff_unit_secs: float) -> asyncpg.Record:
    """Fails a leased job: back to pending after the documented backoff, or to the DLQ.

    Delay = min(2^retry_count, 60) backoff units, retry_count taken before the increment.
    """
    arrays = _lease_arrays([{"org_id": org_id, "job_id": job_id, "lease_id": lease_id, "worker_id": worker_id}])
    return await conn.fetchrow(FAIL, *arrays, error, allow_retry, float(backoff_unit_secs))


async def release_dependents(conn: asyncpg.Connection, parent_ids: list[str]) -> list[asyncpg.Record]:
    """Makes claimable the waiting dependents of just-completed jobs whose dependencies are now
    met. Lock first, decide in a second statement: the second statement's fresh snapshot sees a
    sibling parent completed by a concurrent transaction that held the lock before us, so two
    parents completing at once can never both leave their child blocked."""
    children = await conn.fetch(
        """SELECT c.id FROM jobs c
           WHERE c.id IN (SELECT job_id FROM job_dependencies WHERE depends_on_job_id = ANY($1::text[]))
             AND NOT c.dependencies_met AND c.status IN ('pending', 'scheduled')
           ORDER BY c.id FOR UPDATE""", parent_ids)
    if not children:
        return []
    return await conn.fetch(
        f"""WITH rel AS (
                UPDATE jobs c SET dependencies_met = true, updated_at = now()
                WHERE c.id = ANY($1::text[]) AND NOT c.dependencies_met
                  AND c.status IN ('pending', 'scheduled') AND {DEPENDENCIES_MET}
                RETURNING c.id, c.organization_id, c.queue_name
            ), wake AS (
                {wake_queues("rel")}
            )
            SELECT id, queue_name, (SELECT count(*) FROM wake) AS woken FROM rel""",
        [r["id"] for r in children])


# Whether waiting job `c` can never run, from its dependencies' current statuses: 'all' once
# any one is dead, 'any' once every one is. Read now, not assumed from the caller: a
# dead-lettered parent can be retried from the DLQ before a late pass (the healer) gets here.
_DEPENDENCIES_DEAD = """CASE c.dependency_mode
        WHEN 'all' THEN EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on_job_id
                                WHERE d.job_id = c.id AND p.status IN ('cancelled', 'deadletter', 'failed'))
        ELSE NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on_job_id
                         WHERE d.job_id = c.id AND p.status NOT IN ('cancelled', 'deadletter', 'failed')) END"""

_CANCEL_BLOCKED = f"""
UPDATE jobs c SET status = 'cancelled', last_error = $2, updated_at = now()
WHERE c.id IN (SELECT d.job_id FROM job_dependencies d WHERE d.depends_on_job_id = ANY($1::text[]))
  AND c.status IN ('pending', 'scheduled')
  AND {_DEPENDENCIES_DEAD}
RETURNING c.id, c.queue_name, c.workflow_id"""


async def cancel_descendants(conn: asyncpg.Connection, job_ids: list[str], reason: str) -> list[asyncpg.Record]:
    """Cancels every waiting job that can no longer run because `job_ids` died, level by level
    down the dependency graph (a DAG, so this ends). Run inside the transaction that killed
    them. Each level is locked before it is judged, for the reason given in release_dependents."""
    cancelled: list[asyncpg.Record] = []
    frontier = job_ids
    while frontier:
        waiting = await conn.fetch(
            """SELECT 1 FROM jobs WHERE status IN ('pending', 'scheduled') AND id IN
                 (SELECT job_id FROM job_dependencies WHERE depends_on_job_id = ANY($1::text[]))
               ORDER BY id FOR UPDATE""", frontier)
        if not waiting:  # nothing waits on this level (the usual case): no second round trip
            break
        rows = await conn.fetch(_CANCEL_BLOCKED, frontier, reason)
        cancelled += rows
        frontier = [r["id"] for r in rows]
    return cancelled


# -- maintenance -------------------------------------------------------------------------------

# Whether waiting job `c` (which has at least one dependency) may run, from its dependencies'
# current statuses: 'all' = every one completed, 'any' = at least one. Shared with the other
# statements that recompute dependencies_met (store/dependencies.py, store/workflows.py).
DEPENDENCIES_MET = """CASE c.dependency_mode
        WHEN 'any' THEN EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on_job_id
                                WHERE d.job_id = c.id AND p.status = 'completed')
        ELSE NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on_job_id
                         WHERE d.job_id = c.id AND p.status <> 'completed') END"""


async def heal_blocked(conn: asyncpg.Connection, batch: int) -> tuple[list[asyncpg.Record], list[str]]:
    """The backstop for a crash between a completion and its release pass (see COMPLETE_MANY):
    waiting jobs whose dependencies are in fact met are released, and the dead parents of
    waiting jobs that can never run are returned for cancel_descendants. Completed and dead are
    final states, so what an older snapshot shows as met or dead stays so."""
    released = await conn.fetch(
        f"""WITH stuck AS (
                SELECT c.id FROM jobs c
                WHERE NOT c.dependencies_met AND c.status IN ('pending', 'scheduled') AND {DEPENDENCIES_MET}
                ORDER BY c.created_at LIMIT $1 FOR UPDATE SKIP LOCKED
            ), rel AS (
                UPDATE jobs c SET dependencies_met = true, updated_at = now()
                FROM stuck WHERE c.id = stuck.id
                RETURNING c.id, c.organization_id, c.queue_name
            ), wake AS (
                {wake_queues("rel")}
            )
            SELECT id, queue_name, (SELECT count(*) FROM wake) AS woken FROM rel""", batch)
    dead_parents = await conn.fetch(
        f"""SELECT DISTINCT d.depends_on_job_id AS id FROM jobs c
            JOIN job_dependencies d ON d.job_id = c.id
            JOIN jobs p ON p.id = d.depends_on_job_id AND p.status IN ('cancelled', 'deadletter', 'failed')
            WHERE NOT c.dependencies_met AND c.status IN ('pending', 'scheduled') AND {_DEPENDENCIES_DEAD}
            LIMIT $1""", batch)
    return released, [r["id"] for r in dead_parents]


_TERMINAL = "('completed', 'cancelled', 'deadletter')"


async def delete_finished_before(conn: asyncpg.Connection, org_ids: list[str], cutoff: datetime,
                                 batch: int) -> int:
    """Retention: deletes up to `batch` standalone jobs of `org_ids` that finished before
    `cutoff` (workflow jobs go with their workflow). A finished job that a waiting job still
    depends on is kept, so no dependency check ever loses its parent."""
    return len(await conn.fetch(
        f"""DELETE FROM jobs WHERE id IN (
                SELECT j.id FROM jobs j
                WHERE j.organization_id = ANY($1::text[]) AND j.created_at < $2 AND j.workflow_id IS NULL
                  AND j.status IN {_TERMINAL} AND coalesce(j.completed_at, j.updated_at) < $2
                  AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs c ON c.id = d.job_id
                                  WHERE d.depends_on_job_id = j.id AND c.status NOT IN {_TERMINAL})
                LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING id""", org_ids, cutoff, batch))

async def reap_expired_leases(conn: asyncpg.Connection, batch: int) -> list[asyncpg.Record]:
    """Returns jobs whose lease expired: retry (no backoff) while retries remain, else DLQ."""
    return await conn.fetch(
        f"""WITH expired AS (
                SELECT id FROM jobs WHERE status = 'processing' AND lease_expires_at <= now()
                ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
            ), reaped AS (
                UPDATE jobs j SET
                    status = CASE WHEN {IN_CANCELLED_WORKFLOW} THEN 'cancelled'
                                  WHEN retry_count < max_retries THEN 'pending' ELSE 'deadletter' END,
                    retry_count = CASE WHEN retry_count < max_retries THEN retry_count + 1 ELSE retry_count END,
                    last_error = CASE WHEN retry_count < max_retries THEN 'Lease expired (worker timeout)'
                                      ELSE 'Max retries exceeded after lease expiration' END,
                    completed_at = CASE WHEN retry_count < max_retries THEN NULL ELSE now() END,
                    scheduled_at = NULL, lease_id = NULL, lease_expires_at = NULL, updated_at = now()
                FROM expired WHERE j.id = expired.id
                RETURNING j.id, j.organization_id, j.queue_name, j.status
            ), wake AS (
                {wake_queues("reaped WHERE status = 'pending'")}
            )
            SELECT id, organization_id, queue_name, status, (SELECT count(*) FROM wake) AS woken FROM reaped""",
        batch)


async def release_worker_jobs(conn: asyncpg.Connection, org_id: str, worker_id: str) -> list[asyncpg.Record]:
    """A deregistering worker hands its jobs back: pending, lease cleared, attempt not counted."""
    return await conn.fetch(
        f"""WITH rel AS (
                UPDATE jobs SET status = 'pending', lease_id = NULL, lease_expires_at = NULL,
                       assigned_worker_id = NULL, updated_at = now()
                WHERE organization_id = $1 AND assigned_worker_id = $2 AND status = 'processing'
                RETURNING id, queue_name
            ), wake AS (
                {wake_queues("rel", org="$1")}
            )
            SELECT id, queue_name, (SELECT count(*) FROM wake) AS woken FROM rel""", org_id, worker_id)


async def activate_due(conn: asyncpg.Connection, since: datetime | None, batch: int,
                       now: datetime | None = None, after: datetime | None = None,
                       ) -> tuple[datetime, list[asyncpg.Record], int, datetime | None]:
    """Marks up to `batch` due scheduled jobs pending, oldest due first from `after` on (rows
    another activator holds are skipped, not waited for), and wakes the queues they are in and
    the queues of pending jobs whose delay ended since `since`. Returns the due time used, the
    woken queues, how many jobs it activated (a full batch means more may be due) and the
    latest due time among them (the next batch's `after`: the index scan then starts past the
    jobs this tick already activated instead of walking them again)."""
    now = now or await conn.fetchval("SELECT now()")
    rows = await conn.fetch(
        f"""WITH act AS (
                UPDATE jobs SET status = 'pending', updated_at = now()
                WHERE id IN (SELECT id FROM jobs WHERE status = 'scheduled' AND scheduled_at <= $1
                               AND ($4::timestamptz IS NULL OR scheduled_at >= $4)
                             ORDER BY scheduled_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING organization_id, queue_name, scheduled_at
            ), due AS (
                SELECT organization_id, queue_name FROM act
                UNION
                SELECT organization_id, queue_name FROM jobs
                WHERE status = 'pending' AND scheduled_at IS NOT NULL
                  AND scheduled_at <= $1 AND ($2::timestamptz IS NULL OR scheduled_at > $2)
            )
            SELECT organization_id, queue_name, pg_notify('{WAKE_CHANNEL}', organization_id || '/' || queue_name),
                   (SELECT count(*) FROM act) AS activated, (SELECT max(scheduled_at) FROM act) AS last_due
            FROM due""", now, since, batch, after)
    if not rows:
        return now, rows, 0, None
    return now, rows, rows[0]["activated"], rows[0]["last_due"]
