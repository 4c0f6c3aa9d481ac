"""The dead-letter queue: jobs whose status is 'deadletter' (there is no separate table).

Every function scopes by organization_id; ids of other organizations are simply not matched.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from .jobs import SUMMARY, wake_queues


async def list_summaries(conn: asyncpg.Connection, org_id: str, *, queue_name: str | None,
                         limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {SUMMARY} FROM jobs
            WHERE organization_id = $1 AND status = 'deadletter'
              AND ($2::text IS NULL OR queue_name = $2)
            ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4""",
        org_id, queue_name, limit, offset)


# Rows are picked oldest first and locked with SKIP LOCKED, so two concurrent retries never
# both move the same job. The job starts over: attempt counter, error, backoff and lease reset.
RETRY = f"""
WITH picked AS (
    SELECT id FROM jobs
    WHERE organization_id = $1 AND status = 'deadletter'
      AND ($2::text[] IS NULL OR id = ANY($2::text[]))
      AND ($3::text IS NULL OR queue_name = $3)
    ORDER BY created_at ASC, id ASC
    LIMIT $4
    FOR UPDATE SKIP LOCKED
), retried AS (
    UPDATE jobs j SET status = 'pending', retry_count = 0, last_error = NULL, scheduled_at = NULL,
           completed_at = NULL, lease_id = NULL, lease_expires_at = NULL, assigned_worker_id = NULL,
           updated_at = now()
    FROM picked WHERE j.id = picked.id
    RETURNING j.id, j.queue_name, j.created_at
), wake AS (
    {wake_queues("retried", org="$1")}
)
SELECT id, queue_name, created_at, (SELECT count(*) FROM wake) AS woken FROM retried"""


async def retry(conn: asyncpg.Connection, org_id: str, *, job_ids: list[str] | None,
                queue_name: str | None, limit: int) -> list[asyncpg.Record]:
    """Sends dead-lettered jobs back to pending (filtered by ids, else by queue, else all)."""
    rows = await conn.fetch(RETRY, org_id, job_ids, queue_name, limit)
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]))


async def purge(conn: asyncpg.Connection, org_id: str, *, queue_name: str | None,
                older_than: datetime | None, limit: int) -> int:
    """Deletes up to `limit` dead-lettered jobs, oldest first; returns how many went."""
    return await conn.fetchval(
        """WITH doomed AS (
               SELECT id FROM jobs
               WHERE organization_id = $1 AND status = 'deadletter'
                 AND ($2::text IS NULL OR queue_name = $2)
                 AND ($3::timestamptz IS NULL OR created_at < $3)
               ORDER BY created_at ASC, id ASC
               LIMIT $4
               FOR UPDATE SKIP LOCKED
           ), gone AS (
               DELETE FROM jobs j USING doomed WHERE j.id = doomed.id RETURNING 1
           )
           SELECT count(*) FROM gone""", org_id, queue_name, older_than, limit)
