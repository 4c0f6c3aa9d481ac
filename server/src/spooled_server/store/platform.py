"""Read-only figures across every organization: admin statistics and /metrics gauges."""

from __future__ import annotations

import asyncpg


async def organization_figures(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT count(*) AS total,
                  count(*) FILTER (WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'utc')
                                                       AT TIME ZONE 'utc') AS created_today,
                  count(*) FILTER (WHERE created_at > now() - interval '7 days') AS created_this_week
           FROM organizations""")


async def organizations_by_plan(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT plan_tier AS plan, count(*) AS count FROM organizations GROUP BY plan_tier ORDER BY plan_tier")


async def job_figures(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT
             count(*) FILTER (WHERE status IN ('pending', 'scheduled', 'processing')) AS total_active,
             count(*) FILTER (WHERE status = 'pending') AS pending,
             count(*) FILTER (WHERE status = 'processing') AS processing,
             count(*) FILTER (WHERE status = 'completed' AND completed_at > now() - interval '24 hours')
                 AS completed_24h,
             count(*) FILTER (WHERE status IN ('failed', 'deadletter')
                              AND updated_at > now() - interval '24 hours') AS failed_24h
           FROM jobs""")


async def worker_figures(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT count(*) AS total, count(*) FILTER (WHERE status = 'healthy') AS healthy,
                  count(*) FILTER (WHERE status = 'degraded') AS degraded
           FROM workers""")


async def queue_gauges(conn: asyncpg.Connection) -> asyncpg.Record:
    """Queue depth, age of the oldest ready job, live workers and the jobs table's bloat.

    A ready job is pending, due and free of unmet dependencies; its age counts from when it
    became due. The dead-tuple ratio comes from the statistics collector (slightly delayed).
    """
    return await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM jobs WHERE status = 'pending') AS jobs_pending,
             (SELECT count(*) FROM jobs WHERE status = 'processing') AS jobs_processing,
             (SELECT COALESCE(extract(epoch FROM now() - min(GREATEST(created_at, scheduled_at))), 0)
                FROM jobs WHERE status = 'pending' AND dependencies_met
                  AND (scheduled_at IS NULL OR scheduled_at <= now()))::float8 AS job_max_age_seconds,
             (SELECT count(*) FROM workers WHERE status IN ('healthy', 'degraded', 'draining'))
                 AS workers_active,
             (SELECT count(*) FROM workers WHERE status = 'healthy') AS workers_healthy,
             (SELECT CASE WHEN n_live_tup + n_dead_tup > 0
                          THEN n_dead_tup::float8 / (n_live_tup + n_dead_tup) ELSE 0 END
                FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass) AS jobs_dead_tuple_ratio""")
