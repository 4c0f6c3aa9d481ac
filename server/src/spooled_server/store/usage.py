"""Read-only counts of what an organization holds, across its tables, for plan usage.

Each count is what a plan limit measures (see services/plans.py): active jobs are pending,
scheduled or processing; queues are queue_config rows; workers are healthy or degraded;
API keys are active; schedules are active; workflows are pending or running; webhooks are
enabled.
"""

from __future__ import annotations

import asyncpg

# One column per counted resource, for the organization aliased `o` in the enclosing query.
_COUNTS = """
    CASE WHEN o.usage_day = (now() AT TIME ZONE 'utc')::date THEN o.jobs_created_today ELSE 0 END
        AS jobs_today,
    (SELECT count(*) FROM jobs j WHERE j.organization_id = o.id
        AND j.status IN ('pending', 'scheduled', 'processing')) AS active_jobs,
    (SELECT count(*) FROM queue_config q WHERE q.organization_id = o.id) AS queues,
    (SELECT count(*) FROM workers w WHERE w.organization_id = o.id
        AND w.status IN ('healthy', 'degraded')) AS workers,
    (SELECT count(*) FROM api_keys k WHERE k.organization_id = o.id AND k.is_active) AS api_keys,
    (SELECT count(*) FROM schedules s WHERE s.organization_id = o.id AND s.is_active) AS schedules,
    (SELECT count(*) FROM workflows f WHERE f.organization_id = o.id
        AND f.status IN ('pending', 'running')) AS workflows,
    (SELECT count(*) FROM outgoing_webhooks h WHERE h.organization_id = o.id AND h.enabled) AS webhooks"""


async def counts(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record | None:
    """jobs_today, active_jobs, queues, workers, api_keys, schedules, workflows; None for an
    unknown org."""
    return await conn.fetchrow(f"SELECT {_COUNTS} FROM organizations o WHERE o.id = $1", org_id)


async def counts_for(conn: asyncpg.Connection, org_ids: list[str]) -> dict[str, asyncpg.Record]:
    """The same counts for a page of organizations, in one statement."""
    rows = await conn.fetch(
        f"SELECT o.id, {_COUNTS} FROM organizations o WHERE o.id = ANY($1::text[])", org_ids)
    return {r["id"]: r for r in rows}


async def total_jobs(conn: asyncpg.Connection, org_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1", org_id)


async def busy_with(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record:
    """Work that must finish (or be paused) before the organization may be deleted: an active
    schedule would keep creating jobs for it."""
    return await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM jobs WHERE organization_id = $1
                AND status IN ('pending', 'scheduled', 'processing')) AS active_jobs,
             (SELECT count(*) FROM workers WHERE organization_id = $1
                AND status IN ('healthy', 'degraded', 'draining')) AS live_workers,
             (SELECT count(*) FROM schedules WHERE organization_id = $1 AND is_active) AS active_schedules""",
        org_id)
