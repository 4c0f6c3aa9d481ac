"""Each organization's effective plan limits, cached briefly (plans change rarely)."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from ..errors import NotFound
from . import plans

CACHE_TTL = 2.0


class LimitsCache:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool
        self._cache: dict[str, tuple[dict[str, Any], float]] = {}

    async def for_org(self, org_id: str) -> dict[str, Any]:
        now = time.monotonic()
        hit = self._cache.get(org_id)
        if hit and hit[1] > now:
            return hit[0]
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT plan_tier, custom_limits FROM organizations WHERE id = $1", org_id)
        if row is None:
            raise NotFound("Organization not found")
        limits = plans.plan_limits(row["plan_tier"], row["custom_limits"])
        self._cache[org_id] = (limits, now + CACHE_TTL)
        return limits

    def forget(self, org_id: str) -> None:
        self._cache.pop(org_id, None)
