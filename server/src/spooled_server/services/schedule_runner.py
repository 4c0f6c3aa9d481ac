"""Firing due schedules: the work behind the cron scheduler loop.

Exactly once per due time, with any number of scheduler processes:
- "now" is the database's clock; no process clock takes part.
- Due rows are claimed FOR UPDATE SKIP LOCKED, so processes split the work.
- The run row is inserted first, keyed UNIQUE (schedule_id, fire_time); only the transaction
  that inserted it creates the job. A process that somehow sees an already-fired due time
  (a stale read, a replayed tick) inserts nothing.
- The job, the run row and the advanced next_run_at commit together or not at all.

next_run_at moves to the first fire strictly after the database's now, so fires missed while
no scheduler ran collapse into the one catch-up run (the reference: "skip missed fires, run
once now").
"""

from __future__ import annotations

import asyncpg

from ..store import jobs as job_store
from ..store import schedules as store
from . import cron
from .jobs import stored_error
from .schedules import job_from_template

BATCH = 100


async def fire_due(pool: asyncpg.Pool, batch: int = BATCH) -> tuple[int, int]:
    """Fires up to `batch` due schedules in one transaction; returns (fired, claimed)."""
    async with pool.acquire() as conn, conn.transaction():
        now = await store.db_now(conn)
        due = await store.claim_due(conn, batch)
        fired = 0
        for schedule in due:
            fired += await _fire(conn, schedule, now)
    return fired, len(due)


async def _fire(conn: asyncpg.Connection, schedule: asyncpg.Record, now) -> int:
    try:
        following = cron.next_fire(schedule["cron_expression"], schedule["timezone"], now)
        problem = None
    except ValueError as err:
        # Written under rules that no longer hold, or a zone the host's tz database lost:
        # record why and stop firing (next_run_at NULL) rather than fail every tick.
        following, problem = None, f"schedule cannot be evaluated: {err}"
    run_id = await store.start_run(conn, schedule)
    if run_id is not None:
        job_id, error = (None, problem) if problem else await _enqueue(conn, schedule)
        await store.finish_run(conn, run_id, job_id=job_id, error=error)
    await store.advance(conn, schedule["id"], following, fired=run_id is not None)
    return 1 if run_id is not None else 0


async def _enqueue(conn: asyncpg.Connection, schedule: asyncpg.Record) -> tuple[str | None, str | None]:
    """Creates the job (no plan checks, no idempotency key, as in the reference); on failure
    returns the error so the run is recorded as failed and the schedule still advances."""
    job = job_from_template(schedule)
    try:
        # A savepoint: a failed insert must not abort the batch's transaction.
        async with conn.transaction():
            inserted = await job_store.insert_many(conn, schedule["organization_id"], [job],
                                                   schedule["max_retries"], schedule["timeout_seconds"])
    except asyncpg.PostgresError as err:
        return None, stored_error(f"could not enqueue the job: {err}")
    if job["id"] not in inserted:
        return None, "could not enqueue the job: the insert was skipped"
    return job["id"], None
