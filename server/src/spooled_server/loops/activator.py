"""Moves due scheduled jobs to pending and wakes claimers of queues whose delayed jobs came due."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..store import jobs as job_store
from .base import Loop


class DueJobActivator(Loop):
    name = "due-activator"

    def __init__(self, pool: asyncpg.Pool, interval: float):
        super().__init__(interval)
        self.pool = pool
        self._since: datetime | None = None

    async def run_once(self) -> int:
        async with self.pool.acquire() as conn:
            self._since, rows = await job_store.activate_due(conn, self._since)
        return len(rows)
