"""Ages out finished work by each organization's plan: terminal jobs and finished workflows
after `job_retention_days`, schedule runs and webhook delivery records after
`history_retention_days` (custom_limits apply). Deletes in batches, each its own transaction,
rows picked with SKIP LOCKED, so replicas share the work and no lock is held for long.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Awaitable, Callable

import asyncpg

from ..services.plans import plan_limits
from ..store import jobs as job_store
from ..store import schedules as schedule_store
from ..store import webhooks as webhook_store
from ..store import workflows as workflow_store
from .base import Loop

BATCH = 1000
# Batches per table per tick: a large backlog is worked off over several ticks.
MAX_BATCHES = 50

Deleter = Callable[[asyncpg.Connection, list[str], datetime, int], Awaitable[int]]


def retention_days(tier: str, custom_limits: dict | None) -> tuple[int, int]:
    """(job days, history days) of one organization, at least 1 each."""
    limits = plan_limits(tier, custom_limits)
    return max(1, int(limits["job_retention_days"])), max(1, int(limits["history_retention_days"]))


class RetentionLoop(Loop):
    name = "retention"

    def __init__(self, pool: asyncpg.Pool, interval: float, batch: int = BATCH):
        super().__init__(interval)
        self.pool = pool
        self.batch = batch

    async def run_once(self) -> int:
        async with self.pool.acquire() as conn:
            now = await conn.fetchval("SELECT now()")
            orgs = await conn.fetch("SELECT id, plan_tier, custom_limits FROM organizations")
        by_days: dict[tuple[int, int], list[str]] = defaultdict(list)
        for org in orgs:
            by_days[retention_days(org["plan_tier"], org["custom_limits"])].append(org["id"])
        deleted = 0
        for (job_days, history_days), org_ids in by_days.items():
            job_cutoff, history_cutoff = now - timedelta(days=job_days), now - timedelta(days=history_days)
            # Workflows first: their jobs go with them, standalone jobs after.
            deleted += await self._drain(workflow_store.delete_finished_before, org_ids, job_cutoff)
            deleted += await self._drain(job_store.delete_finished_before, org_ids, job_cutoff)
            deleted += await self._drain(schedule_store.delete_runs_before, org_ids, history_cutoff)
            deleted += await self._drain(webhook_store.delete_history_before, org_ids, history_cutoff)
        return deleted

    async def _drain(self, delete: Deleter, org_ids: list[str], cutoff: datetime) -> int:
        total = 0
        for _ in range(MAX_BATCHES):
            async with self.pool.acquire() as conn, conn.transaction():
                count = await delete(conn, org_ids, cutoff, self.batch)
            total += count
            if count < self.batch:
                break
        return total
