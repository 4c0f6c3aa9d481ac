"""Releases (or cancels) waiting jobs whose dependencies settled while no release pass ran.

A completion commits first and releases dependents in a second statement (store/jobs.py,
COMPLETE_MANY), so a crash between the two could leave a child waiting on parents that are all
done. This loop finds such children and finishes the job; normally it finds nothing.
"""

from __future__ import annotations

import asyncpg

from ..store import jobs as job_store
from .base import Loop

BATCH = 500


class DependencyHealer(Loop):
    name = "dependency-healer"

    def __init__(self, pool: asyncpg.Pool, interval: float):
        super().__init__(interval)
        self.pool = pool

    async def run_once(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            released, dead_parents = await job_store.heal_blocked(conn, BATCH)
            cancelled = await job_store.cancel_descendants(
                conn, dead_parents, "Parent job failed or was deadlettered") if dead_parents else []
        return len(released) + len(cancelled)
