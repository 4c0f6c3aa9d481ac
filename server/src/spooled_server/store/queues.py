"""The queue_config table. Queues themselves are implicit: they exist once a job names them."""

from __future__ import annotations

from typing import Any

import asyncpg

from .jobs import WAKE_CHANNEL

FULL = ("id, organization_id, queue_name, max_retries, default_timeout, rate_limit, enabled, "
        "settings, created_at, updated_at")
SUMMARY = "queue_name, max_retries, default_timeout, rate_limit, enabled"


async def list_for_org(conn: asyncpg.Connection, org_id: str, limit: int = 100) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {SUMMARY} FROM queue_config WHERE organization_id = $1 ORDER BY queue_name LIMIT $2",
        org_id, limit)


async def get(conn: asyncpg.Connection, org_id: str, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {FULL} FROM queue_config WHERE organization_id = $1 AND queue_name = $2", org_id, name)


async def upsert(conn: asyncpg.Connection, org_id: str, name: str, *, max_retries: int,
                 default_timeout: int, rate_limit: int | None, enabled: bool,
                 settings: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO queue_config (organization_id, queue_name, max_retries, default_timeout,
                                      rate_limit, enabled, settings)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (organization_id, queue_name) DO UPDATE SET
                max_retries = EXCLUDED.max_retries, default_timeout = EXCLUDED.default_timeout,
                rate_limit = EXCLUDED.rate_limit, enabled = EXCLUDED.enabled,
                settings = EXCLUDED.settings, updated_at = now()
            RETURNING {FULL}""",
        org_id, name, max_retries, default_timeout, rate_limit, enabled, settings)


async def pause(conn: asyncpg.Connection, org_id: str, name: str, reason: str | None,
                defaults: tuple[int, int]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO queue_config (organization_id, queue_name, max_retries, default_timeout, enabled, settings)
            VALUES ($1, $2, $4, $5, false,
                    jsonb_build_object('paused', true, 'paused_at', to_jsonb(now()), 'paused_reason', $3::text))
            ON CONFLICT (organization_id, queue_name) DO UPDATE SET enabled = false,
                settings = queue_config.settings || jsonb_build_object(
                    'paused', true, 'paused_at', to_jsonb(now()), 'paused_reason', $3::text),
                updated_at = now()
            RETURNING {FULL}, now() AS paused_at""", org_id, name, reason, defaults[0], defaults[1])


async def resume(conn: asyncpg.Connection, org_id: str, name: str) -> asyncpg.Record | None:
    """Re-enables a queue; returns the stored paused_at text (None if unknown), None if no row.

    The NOTIFY rides in the same statement, so long-polling claimers wake when it commits.
    """
    return await conn.fetchrow(
        f"""WITH old AS (SELECT settings->>'paused_at' AS paused_at FROM queue_config
                         WHERE organization_id = $1 AND queue_name = $2 FOR UPDATE)
            UPDATE queue_config q SET enabled = true,
                   settings = q.settings - 'paused' - 'paused_at' - 'paused_reason', updated_at = now()
            FROM old WHERE q.organization_id = $1 AND q.queue_name = $2
            RETURNING old.paused_at, now() AS resumed_at,
                      pg_notify('{WAKE_CHANNEL}', $1 || '/' || $2) IS NULL AS woken""", org_id, name)


async def delete(conn: asyncpg.Connection, org_id: str, name: str) -> bool:
    return bool(await conn.fetchval(
        "DELETE FROM queue_config WHERE organization_id = $1 AND queue_name = $2 RETURNING true", org_id, name))


async def count_for_org(conn: asyncpg.Connection, org_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM queue_config WHERE organization_id = $1", org_id)


async def has_open_jobs(conn: asyncpg.Connection, org_id: str, name: str) -> bool:
    return bool(await conn.fetchval(
        """SELECT 1 FROM jobs WHERE organization_id = $1 AND queue_name = $2
             AND status IN ('pending', 'processing') LIMIT 1""", org_id, name))


async def stats(conn: asyncpg.Connection, org_id: str, name: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT
             count(*) FILTER (WHERE status IN ('pending', 'scheduled')) AS pending_jobs,
             count(*) FILTER (WHERE status = 'processing') AS processing_jobs,
             count(*) FILTER (WHERE status = 'completed' AND completed_at > now() - interval '24 hours')
                 AS completed_jobs_24h,
             count(*) FILTER (WHERE status = 'failed' AND updated_at > now() - interval '24 hours')
                 AS failed_jobs_24h,
             avg(extract(epoch FROM completed_at - started_at) * 1000)
                 FILTER (WHERE status = 'completed' AND completed_at > now() - interval '24 hours')
                 AS avg_processing_time_ms,
             extract(epoch FROM now() - min(created_at) FILTER (WHERE status IN ('pending', 'scheduled')))
                 AS max_job_age_seconds,
             (SELECT count(*) FROM workers w WHERE w.organization_id = $1 AND w.status = 'healthy'
                AND (w.queue_name = $2 OR $2 = ANY(w.queue_names))) AS active_workers
           FROM jobs WHERE organization_id = $1 AND queue_name = $2""", org_id, name)


async def exists(conn: asyncpg.Connection, org_id: str, name: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM queue_config WHERE organization_id = $1 AND queue_name = $2", org_id, name))


async def lock_creations(conn: asyncpg.Connection, org_id: str) -> None:
    """Serialises config-row creation per organization until the transaction ends, so two
    concurrent creates cannot both pass the plan's max_queues check."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('spooled.queue_config'), hashtext($1))", org_id)


async def wake(conn: asyncpg.Connection, org_id: str, name: str) -> None:
    """Wakes claimers of the queue (delivered when the surrounding transaction commits)."""
    await conn.execute("SELECT pg_notify($1, $2 || '/' || $3)", WAKE_CHANNEL, org_id, name)
