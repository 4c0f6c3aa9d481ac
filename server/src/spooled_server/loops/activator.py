"""Moves due scheduled jobs to pending and wakes claimers of queues whose delayed jobs came due."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import asyncpg

from ..store import jobs as job_store
from .base import Loop

# Scheduled jobs made pending per statement.
ACTIVATE_BATCH = 5000


class DueJobActivator(Loop):
    name = "due-activator"

    def __init__(self, pool: asyncpg.Pool, interval: float, batch: int = ACTIVATE_BATCH,
                 due_at: Callable[[], datetime] | None = None):
        """`due_at` fixes the time jobs count as due at (tests); by default the database's now()."""
        super().__init__(interval)
        self.pool = pool
        self.batch = batch
        self.due_at = due_at
        self._since: datetime | None = None

    async def run_once(self) -> int:
        """Activates everything due, a batch per statement, so a million jobs due at the same
        second become claimable in short transactions instead of one long one."""
        async with self.pool.acquire() as conn:
            now, woken, activated = await job_store.activate_due(
                conn, self._since, self.batch, self.due_at() if self.due_at else None)
            total = activated
            while activated == self.batch:
                _, more, activated = await job_store.activate_due(conn, self._since, self.batch, now)
                woken += more
                total += activated
        self._since = now
        return total or len(woken)
