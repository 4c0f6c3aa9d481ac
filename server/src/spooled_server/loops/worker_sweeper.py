"""Marks workers offline when their heartbeats stop, and hands their jobs back.

Jobs it dead-letters take their waiting dependents with them in the same transaction, as the
lease reaper's do (loops/reaper.py), instead of leaving them to the dependency healer.
"""

from __future__ import annotations

import asyncpg

from ..metrics import REGISTRY
from ..store import jobs as job_store
from ..store import workers as worker_store
from .base import Loop


class StaleWorkerSweeper(Loop):
    name = "stale-workers"

    def __init__(self, pool: asyncpg.Pool, interval: float, stale_after_secs: int):
        super().__init__(interval)
        self.pool = pool
        self.stale_after = stale_after_secs

    async def run_once(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            swept = await worker_store.sweep_stale(conn, self.stale_after)
            if swept["dead"]:
                await job_store.cancel_descendants(conn, swept["dead"], "Parent job failed or was deadlettered")
        REGISTRY.inc("spooled_jobs_retried_total", swept["retried"])
        REGISTRY.inc("spooled_jobs_deadlettered_total", len(swept["dead"]))
        return swept["workers"] + swept["jobs"]
