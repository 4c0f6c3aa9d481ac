"""Fires due cron schedules; safe with any number of replicas (see services/schedule_runner)."""

from __future__ import annotations

import asyncpg

from ..services import schedule_runner
from .base import Loop

# One tick stops after this many full batches, so a backlog cannot starve the other loops'
# share of the pool; the next tick carries on.
MAX_BATCHES_PER_TICK = 50


class CronScheduler(Loop):
    name = "cron-scheduler"

    def __init__(self, pool: asyncpg.Pool, interval: float, batch: int = schedule_runner.BATCH):
        super().__init__(interval)
        if batch < 1:
            raise ValueError("batch must be positive")
        self.pool = pool
        self.batch = batch

    async def run_once(self) -> int:
        """Fires every schedule due by the database's clock; returns how many fired."""
        fired = 0
        for _ in range(MAX_BATCHES_PER_TICK):
            batch_fired, claimed = await schedule_runner.fire_due(self.pool, self.batch)
            fired += batch_fired
            if claimed < self.batch:
                break
        return fired
