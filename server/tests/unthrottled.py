"""For tests of other free-plan limits (active jobs, usage warnings) that send more requests
than the free plan's request rate allows (burst 10, 5/s): lifts that one limit for an
organization, the same way the self-hosted bootstrap organization runs (custom_limits null)."""

from __future__ import annotations

import asyncpg

from spooled_server.cli import BOOTSTRAP_CUSTOM_LIMITS


async def lift_rate_limit(pool: asyncpg.Pool, org_id: str) -> None:
    """Call before the organization's first request: the server caches plan limits for 2 s."""
    async with pool.acquire() as conn:
        await conn.execute("UPDATE organizations SET custom_limits = coalesce(custom_limits, '{}'::jsonb)"
                           " || $2::jsonb WHERE id = $1", org_id, BOOTSTRAP_CUSTOM_LIMITS)
