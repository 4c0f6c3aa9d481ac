"""Returns jobs whose lease expired to the queue (or the DLQ when retries are exhausted)."""

from __future__ import annotations

import asyncpg

from ..metrics import REGISTRY
from ..store import jobs as job_store
from .base import Loop

BATCH = 1000


class LeaseReaper(Loop):
    name = "lease-reaper"

    def __init__(self, pool: asyncpg.Pool, interval: float):
        super().__init__(interval)
        self.pool = pool

    async def run_once(self) -> int:
        total = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                rows = await job_store.reap_expired_leases(conn, BATCH)
                dead = [r["id"] for r in rows if r["status"] == "deadletter"]
                if dead:
                    await job_store.cancel_descendants(conn, dead, "Parent job failed or was deadlettered")
            # Not len(rows) - len(dead): a job of a cancelled workflow ends cancelled, not retried.
            REGISTRY.inc("spooled_jobs_retried_total", sum(1 for r in rows if r["status"] == "pending"))
            REGISTRY.inc("spooled_jobs_deadlettered_total", len(dead))
            total += len(rows)
            if len(rows) < BATCH:
                return total
