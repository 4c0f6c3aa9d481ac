"""The group-commit coalescer: batching, ordering, per-item errors, no added latency."""

from __future__ import annotations

import asyncio

import pytest

from spooled_server.services.coalescer import Coalescer


async def test_first_call_flushes_alone_and_later_calls_share_a_flush():
    seen: list[list[int]] = []
    gate = asyncio.Event()

    async def flush(items):
        seen.append(list(items))
        if len(seen) == 1:
            await gate.wait()  # hold the first flush so later calls pile up
        return [i * 10 for i in items]

    c = Coalescer(flush, max_inflight=1)
    first = asyncio.create_task(c.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(c.submit(i)) for i in range(2, 6)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == 10
    assert [await t for t in rest] == [20, 30, 40, 50]
    assert seen == [[1], [2, 3, 4, 5]]


async def test_per_item_errors_reach_only_their_caller():
    async def flush(items):
        return [ValueError(i) if i % 2 else i for i in items]

    c = Coalescer(flush, max_inflight=1)
    results = await asyncio.gather(*(c.submit(i) for i in range(4)), return_exceptions=True)
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], ValueError) and isinstance(results[3], ValueError)


async def test_a_failed_flush_fails_its_callers_and_the_next_flush_still_runs():
    calls = 0

    async def flush(items):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        return items

    c = Coalescer(flush, max_inflight=1)
    with pytest.raises(RuntimeError):
        await c.submit("a")
    assert await c.submit("b") == "b"


async def test_batches_respect_max_batch():
    sizes: list[int] = []

    async def flush(items):
        sizes.append(len(items))
        await asyncio.sleep(0)
        return items

    c = Coalescer(flush, max_batch=3, max_inflight=1)
    assert await asyncio.gather(*(c.submit(i) for i in range(10))) == list(range(10))
    assert max(sizes) <= 3 and sum(sizes) == 10


def test_options_are_validated():
    with pytest.raises(ValueError):
        Coalescer(lambda items: items, max_batch=0)
