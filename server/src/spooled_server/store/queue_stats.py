"""Per-queue job counts by status (read-only SQL over the jobs table).

Kept apart from store/jobs.py, which holds the hot paths; this is a dashboard-grade read.
"""

from __future__ import annotations

import asyncpg

# "Waiting" means claimable now apart from the queue being paused: pending or scheduled and due
# (a failed job waiting out its backoff is pending with a future scheduled_at, so not waiting).
COUNTS = """
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'scheduled') AS scheduled,
       count(*) FILTER (WHERE status = 'processing') AS processing,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'deadletter') AS deadletter,
       count(*) AS total,
       COALESCE(floor(1000 * extract(epoch FROM now() - min(created_at) FILTER (
           WHERE status IN ('pending', 'scheduled')
             AND (scheduled_at IS NULL OR scheduled_at <= now())))), 0)::bigint AS max_age_ms
FROM jobs WHERE organization_id = $1 AND queue_name = $2"""


async def counts(conn: asyncpg.Connection, org_id: str, queue_name: str) -> asyncpg.Record:
    """One row; every count is 0 for a queue with no jobs."""
    return await conn.fetchrow(COUNTS, org_id, queue_name)
