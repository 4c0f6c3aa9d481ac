"""Marks workers offline when their heartbeats stop, and hands their jobs back."""

from __future__ import annotations

import asyncpg

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
            return await worker_store.sweep_stale(conn, self.stale_after)
