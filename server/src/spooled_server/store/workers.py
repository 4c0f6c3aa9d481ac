"""The workers table."""

from __future__ import annotations

from typing import Any

import asyncpg

from .jobs import IN_CANCELLED_WORKFLOW, wake_queues

DETAIL = """id, organization_id, queue_name, queue_names, hostname, worker_type,
    max_concurrency, current_jobs, status, last_heartbeat, metadata, version, registered_at, updated_at"""
SUMMARY = "id, queue_name, hostname, status, current_jobs, max_concurrency, last_heartbeat"


async def owner_of(conn: asyncpg.Connection, worker_id: str) -> str | None:
    return await conn.fetchval("SELECT organization_id FROM workers WHERE id = $1", worker_id)


async def upsert(conn: asyncpg.Connection, *, worker_id: str, org_id: str, queue_name: str,
                 hostname: str, worker_type: str | None, max_concurrency: int,
                 metadata: dict[str, Any], version: str | None) -> asyncpg.Record:
    """Registers a worker, or re-registers the same id (the caller checked the owner)."""
    return await conn.fetchrow(
        f"""INSERT INTO workers (id, organization_id, queue_name, queue_names, hostname, worker_type,
                                 max_concurrency, metadata, version)
            VALUES ($1, $2, $3, ARRAY[$3], $4, $5, $6, $7, $8)
            ON CONFLICT (id) DO UPDATE SET queue_name = EXCLUDED.queue_name,
                queue_names = EXCLUDED.queue_names, hostname = EXCLUDED.hostname,
                worker_type = EXCLUDED.worker_type, max_concurrency = EXCLUDED.max_concurrency,
                metadata = EXCLUDED.metadata, version = EXCLUDED.version, status = 'healthy',
                last_heartbeat = now(), updated_at = now()
            WHERE workers.organization_id = EXCLUDED.organization_id
            RETURNING {DETAIL}""",
        worker_id, org_id, queue_name, hostname, worker_type, max_concurrency, metadata, version)


async def list_for_org(conn: asyncpg.Connection, org_id: str, limit: int = 100) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {SUMMARY} FROM workers WHERE organization_id = $1 ORDER BY last_heartbeat DESC LIMIT $2",
        org_id, limit)


async def get(conn: asyncpg.Connection, org_id: str, worker_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {DETAIL} FROM workers WHERE organization_id = $1 AND id = $2",
                               org_id, worker_id)


async def heartbeat(conn: asyncpg.Connection, org_id: str, worker_id: str, current_jobs: int,
                    status: str, metadata: dict[str, Any] | None) -> bool:
    return bool(await conn.fetchval(
        """UPDATE workers SET current_jobs = $3, status = $4, last_heartbeat = now(), updated_at = now(),
                  metadata = COALESCE($5, metadata)
           WHERE organization_id = $1 AND id = $2 RETURNING true""",
        org_id, worker_id, current_jobs, status, metadata))


async def mark_offline(conn: asyncpg.Connection, org_id: str, worker_id: str) -> bool:
    return bool(await conn.fetchval(
        """UPDATE workers SET status = 'offline', current_jobs = 0, updated_at = now()
           WHERE organization_id = $1 AND id = $2 RETURNING true""", org_id, worker_id))


async def count_live(conn: asyncpg.Connection, org_id: str) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM workers WHERE organization_id = $1 AND status IN ('healthy', 'degraded')", org_id)


async def sweep_stale(conn: asyncpg.Connection, stale_after_secs: int) -> asyncpg.Record:
    """Workers silent for longer than the threshold go offline; their jobs retry or dead-letter
    (or end cancelled when their workflow was cancelled, as an expired lease does). Returns
    `workers` and `jobs` (how many went offline / were released), `retried`, and `dead` (ids of
    the dead-lettered jobs, for the caller to cancel their dependents in the same transaction)."""
    return await conn.fetchrow(
        f"""WITH stale AS (
                UPDATE workers SET status = 'offline', updated_at = now()
                WHERE status IN ('healthy', 'degraded', 'draining')
                  AND last_heartbeat < now() - make_interval(secs => $1)
                RETURNING id, organization_id
            ), released AS (
                UPDATE jobs j SET
                    status = CASE WHEN {IN_CANCELLED_WORKFLOW} THEN 'cancelled'
                                  WHEN retry_count < max_retries THEN 'pending' ELSE 'deadletter' END,
                    retry_count = CASE WHEN retry_count < max_retries THEN retry_count + 1 ELSE retry_count END,
                    last_error = 'Worker went offline',
                    completed_at = CASE WHEN retry_count < max_retries THEN NULL ELSE now() END,
                    lease_id = NULL, lease_expires_at = NULL, updated_at = now()
                FROM stale WHERE j.organization_id = stale.organization_id
                  AND j.assigned_worker_id = stale.id AND j.status = 'processing'
                RETURNING j.id, j.organization_id, j.queue_name, j.status
            ), wake AS (
                {wake_queues("released WHERE status = 'pending'")}
            )
            SELECT (SELECT count(*) FROM stale) AS workers, (SELECT count(*) FROM released) AS jobs,
                   (SELECT count(*) FROM released WHERE status = 'pending') AS retried,
                   ARRAY(SELECT id FROM released WHERE status = 'deadletter') AS dead,
                   (SELECT count(*) FROM wake) AS woken""", float(stale_after_secs))


async def lock_registrations(conn: asyncpg.Connection, org_id: str) -> None:
    """Serialises new-worker registration per organization until the transaction ends, so two
    concurrent registrations cannot both pass the plan's max_workers check."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('spooled.workers'), hashtext($1))", org_id)
