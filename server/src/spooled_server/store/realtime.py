"""Reads the real-time streams need: one job's status, one queue's counts."""

from __future__ import annotations

import asyncpg


async def job_status(conn: asyncpg.Connection, org_id: str, job_id: str) -> tuple[str, str] | None:
    """(status, queue_name) of one of the organization's jobs, or None."""
    row = await conn.fetchrow(
        "SELECT status, queue_name FROM jobs WHERE organization_id = $1 AND id = $2", org_id, job_id)
    return (row["status"], row["queue_name"]) if row else None


async def queue_counts(conn: asyncpg.Connection, org_id: str, queue_name: str) -> dict[str, int]:
    """QueueStats counts in one pass: pending includes scheduled, failed includes deadletter."""
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE status IN ('pending', 'scheduled')) AS pending,
                  count(*) FILTER (WHERE status = 'processing') AS processing,
                  count(*) FILTER (WHERE status = 'completed') AS completed,
                  count(*) FILTER (WHERE status IN ('failed', 'deadletter')) AS failed
           FROM jobs WHERE organization_id = $1 AND queue_name = $2""", org_id, queue_name)
    return {k: int(row[k]) for k in ("pending", "processing", "completed", "failed")}
