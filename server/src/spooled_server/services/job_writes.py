"""The job engine's coalesced write paths (see coalescer.py): creates, completes, heartbeats.

Each flush is one set-based statement (plus, for completes, the dependents' release) in one
transaction, so N concurrent callers cost one commit instead of N. Fencing and idempotency
are still decided per item by the statements themselves.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from ..db import DATABASE_UNAVAILABLE
from ..settings import Settings
from ..store import jobs as store
from .coalescer import Coalescer

log = logging.getLogger("spooled.jobs")

# Transient conflicts between concurrent flushes are retried this many times.
_ATTEMPTS = 3
_TRANSIENT = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)


async def _with_retries(work):
    for attempt in range(_ATTEMPTS):
        try:
            return await work()
        except _TRANSIENT:
            if attempt == _ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.005 * (attempt + 1))


def _settle_duplicates(rows: list[asyncpg.Record], items: list[dict[str, Any]], done_status: str) -> list[dict]:
    """Two calls for the same job and lease in one batch: the one the statement applied wins,
    and the other is answered as the repeat it is (not as a lease conflict)."""
    out = [dict(r) for r in rows]
    applied = {(items[i]["job_id"], items[i].get("lease_id")): out[i] for i in range(len(out))
               if out[i]["id"] is not None}
    for i, row in enumerate(out):
        twin = applied.get((items[i]["job_id"], items[i].get("lease_id")))
        if row["id"] is None and twin is not None and items[i].get("lease_id") is not None:
            out[i] = {**twin, "prior_status": done_status}
    return out


class JobWrites:
    def __init__(self, pool: asyncpg.Pool, settings: Settings):
        self.pool = pool
        self.defaults = (settings.queue_default_max_retries, settings.queue_default_timeout_secs)
        self.creates: Coalescer[dict, bool] = Coalescer(self._flush_creates)
        self.completes: Coalescer[dict, dict] = Coalescer(self._flush_completes)
        self.heartbeats: Coalescer[dict, dict] = Coalescer(self._flush_heartbeats)

    async def _flush_creates(self, rows: list[dict]) -> list[bool | BaseException]:
        """Per row: True if inserted, False if its idempotency key already existed."""
        async with self.pool.acquire() as conn:
            try:
                inserted = await store.insert_rows(conn, rows, *self.defaults)
            except asyncpg.PostgresError:
                if len(rows) == 1:
                    raise
                # One bad row must not fail its neighbours: apply them one by one.
                results: list[bool | BaseException] = []
                for row in rows:
                    try:
                        results.append(bool(await store.insert_rows(conn, [row], *self.defaults)))
                    except asyncpg.PostgresError as err:
                        results.append(err)
                return results
        return [row["id"] in inserted for row in rows]

    async def _flush_completes(self, items: list[dict]) -> list[dict]:
        # One statement, committed on its own: a complete stays one round trip. Only jobs
        # with dependents take the second, lock-then-check pass (see release_dependents).
        async with self.pool.acquire() as conn:
            rows = await _with_retries(lambda: store.complete_many(conn, items))
            parents = [r["id"] for r in rows if r["id"] is not None and r["has_dependents"]]
            if parents:
                await self._release_dependents(conn, parents)
        return _settle_duplicates(rows, items, "completed")

    @staticmethod
    async def _release_dependents(conn: asyncpg.Connection, parents: list[str]) -> None:
        """The completions are committed: a failure here must not answer them as failed (nor,
        retried whole, re-run them as repeats that skip this pass). It is retried on its own,
        and if it still fails, loops/dependency_healer.py releases the dependents later."""
        async def release():
            async with conn.transaction():
                await store.release_dependents(conn, parents)
        try:
            await _with_retries(release)
        except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE) as err:
            log.warning("releasing the dependents of %d completed jobs failed; the dependency healer "
                        "will: %s", len(parents), err)

    async def _flush_heartbeats(self, items: list[dict]) -> list[dict]:
        async def work():
            async with self.pool.acquire() as conn:
                return await store.heartbeat_many(conn, items)
        return _settle_duplicates(await _with_retries(work), items, "processing")
