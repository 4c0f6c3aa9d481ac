"""store.jobs.wake_queues: the one wake-up SQL every statement that readies jobs embeds."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from spooled_server.store.jobs import WAKE_CHANNEL, wake_queues


async def _notified(pool: asyncpg.Pool, sql: str, *args) -> list[str]:
    """Runs `sql` and returns the wake-ups it sent (payloads starting "t-"; the test server's
    own wake-ups share the channel), in arrival order, ended by a marker."""
    got: asyncio.Queue[str] = asyncio.Queue()
    marker = f"end-{uuid.uuid4()}"

    def on_notify(_conn, _pid, _channel, payload: str) -> None:
        got.put_nowait(payload)

    async with pool.acquire() as listener:
        await listener.add_listener(WAKE_CHANNEL, on_notify)
        try:
            async with pool.acquire() as conn:
                await conn.fetchval(sql, *args)
                await conn.execute("SELECT pg_notify($1, $2)", WAKE_CHANNEL, marker)
            seen = []
            while (payload := await asyncio.wait_for(got.get(), 10)) != marker:
                if payload.startswith("t-"):
                    seen.append(payload)
            return seen
        finally:
            await listener.remove_listener(WAKE_CHANNEL, on_notify)


async def test_one_wake_per_distinct_queue_of_each_organization(pool: asyncpg.Pool):
    sql = f"""WITH rel AS (
                  SELECT * FROM (VALUES ('t-o1', 'a', true), ('t-o1', 'a', true), ('t-o2', 'a', true),
                                        ('t-o1', 'b', false)) v(organization_id, queue_name, ready)
              ), wake AS ({wake_queues("rel WHERE ready")})
              SELECT count(*) FROM wake"""
    assert sorted(await _notified(pool, sql)) == ["t-o1/a", "t-o2/a"]


async def test_one_organization_given_as_a_parameter(pool: asyncpg.Pool):
    sql = f"""WITH rel AS (SELECT * FROM (VALUES ('a'), ('b'), ('a')) v(queue_name)),
              wake AS ({wake_queues("rel", org="$1")})
              SELECT count(*) FROM wake"""
    assert sorted(await _notified(pool, sql, "t-org")) == ["t-org/a", "t-org/b"]
