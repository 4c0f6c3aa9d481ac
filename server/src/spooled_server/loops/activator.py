"""Moves due scheduled jobs to pending and wakes claimers of queues whose delayed jobs came due."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..store import jobs as job_store
from .base import Loop

# Scheduled jobs made pending per statement.
ACTIVATE_BATCH = 5000


class DueJobActivator(Loop):
    name = "due-activator"

    def __init__(self, pool: asyncpg.Pool, interval: float, batch: int = ACTIVATE_BATCH):
        super().__init__(interval)
        self.pool = pool
        self.batch = batch
        self._since: datetime | None = None

    async def run_once(self) -> int:
        """Activates everything due, a batch per statement, so a million jobs due at the same
        second become claimable in short transactions instead of one long one. Returns how many
        jobs it activated."""
        async with self.pool.acquire() as conn:
            now, _, activated, last = await job_store.activate_due(conn, self._since, self.batch)
            total = activated
            while activated == self.batch:
                # since=now: the first statement already woke the queues of pending jobs whose
                # delay ended; jobs a skipped lock kept back are picked up next tick.
                _, _, activated, last = await job_store.activate_due(conn, now, self.batch, now, after=last)
                total += activated
        self._since = now
        return total
