"""Gauges for /metrics read from PostgreSQL at scrape time, across every organization.

Reading them from the database (not from process memory) makes every replica report the
same queue figures. If the database cannot answer, the scrape still succeeds with the
in-process counters and the pool gauge, so an outage is visible rather than a failed scrape.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from ..db import DATABASE_UNAVAILABLE
from ..store import platform as store
from .core import Core

log = logging.getLogger("spooled.metrics")

_SCRAPE_TIMEOUT = 5.0
_DB_GAUGES = ("jobs_pending", "jobs_processing", "job_max_age_seconds", "workers_active",
              "workers_healthy", "jobs_dead_tuple_ratio")


def _connections_in_use(pool: asyncpg.Pool) -> int:
    return pool.get_size() - pool.get_idle_size()


async def collect(core: Core) -> dict[str, float]:
    gauges: dict[str, float] = {}
    try:
        async with asyncio.timeout(_SCRAPE_TIMEOUT):
            async with core.pool.acquire() as conn:
                row = await store.queue_gauges(conn)
        gauges.update({f"spooled_{name}": float(row[name] or 0) for name in _DB_GAUGES})
    except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE) as err:
        log.warning("metrics: database gauges unavailable: %s", err)
    gauges["spooled_database_connections_active"] = float(_connections_in_use(core.pool))
    # This process's long-poll claims and job streams waiting for work (per process).
    gauges["spooled_claims_waiting"] = float(core.wake.waiting())
    # 1 while this process LISTENs for new work; 0 means waiting claims fall back to re-checks.
    gauges["spooled_wake_listener_connected"] = 1.0 if core.wake.connected.is_set() else 0.0
    return gauges
