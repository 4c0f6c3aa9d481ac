"""Read-only figures for one organization's dashboard (jobs, queues, workers)."""

from __future__ import annotations

import asyncpg


async def job_figures(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record:
    """Counts by state, 24 h and 1 h activity, and average wait / processing times in ms.

    Wait is measured from when a job became due (its scheduled_at, if later than creation).
    """
    return await conn.fetchrow(
        """SELECT
             count(*) AS total,
             count(*) FILTER (WHERE status = 'pending') AS pending,
             count(*) FILTER (WHERE status = 'processing') AS processing,
             count(*) FILTER (WHERE status = 'deadletter') AS deadletter,
             count(*) FILTER (WHERE status = 'completed' AND completed_at > now() - interval '24 hours')
                 AS completed_24h,
             count(*) FILTER (WHERE status IN ('failed', 'deadletter')
                              AND updated_at > now() - interval '24 hours') AS failed_24h,
             count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS created_1h,
             count(*) FILTER (WHERE status = 'completed' AND completed_at > now() - interval '1 hour')
                 AS completed_1h,
             count(*) FILTER (WHERE status IN ('failed', 'deadletter')
                              AND updated_at > now() - interval '1 hour') AS failed_1h,
             (avg(extract(epoch FROM started_at - GREATEST(created_at, scheduled_at)))
                 FILTER (WHERE started_at > now() - interval '24 hours') * 1000)::float8 AS avg_wait_time_ms,
             (avg(extract(epoch FROM completed_at - started_at))
                 FILTER (WHERE status = 'completed' AND completed_at > now() - interval '24 hours')
                 * 1000)::float8 AS avg_processing_time_ms
           FROM jobs WHERE organization_id = $1""", org_id)


async def busiest_queues(conn: asyncpg.Connection, org_id: str, limit: int = 20) -> list[asyncpg.Record]:
    """Queues with open work or a configuration row, busiest first."""
    return await conn.fetch(
        """WITH work AS (
               SELECT queue_name, count(*) FILTER (WHERE status = 'pending') AS pending,
                      count(*) FILTER (WHERE status = 'processing') AS processing
               FROM jobs WHERE organization_id = $1 AND status IN ('pending', 'processing')
               GROUP BY queue_name),
           config AS (SELECT queue_name, NOT enabled AS paused FROM queue_config WHERE organization_id = $1)
           SELECT COALESCE(w.queue_name, c.queue_name) AS name, COALESCE(w.pending, 0) AS pending,
                  COALESCE(w.processing, 0) AS processing, COALESCE(c.paused, false) AS paused
           FROM work w FULL JOIN config c ON c.queue_name = w.queue_name
           ORDER BY COALESCE(w.pending, 0) + COALESCE(w.processing, 0) DESC, 1
           LIMIT $2""", org_id, limit)


async def worker_figures(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record:
    """All registered workers, and those not offline that beat within the last minute."""
    return await conn.fetchrow(
        """SELECT count(*) AS total,
                  count(*) FILTER (WHERE status <> 'offline'
                                   AND last_heartbeat > now() - interval '1 minute') AS healthy
           FROM workers WHERE organization_id = $1""", org_id)
