"""Group commit: concurrent single-item writes applied as one set-based statement.

The first call flushes at once, so an idle server adds no latency. Calls that arrive while
`max_inflight` flushes are running wait and go together in the next flush, so batches grow
exactly as fast as the database falls behind. Each caller is answered only after the flush
that carried its item has committed, with its own result or its own error.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# A flush returns one entry per item, in order: a result, or an exception for that item alone.
Flush = Callable[[list[T]], Awaitable[list["R | BaseException"]]]


class Coalescer(Generic[T, R]):
    def __init__(self, flush: Flush, *, max_batch: int = 200, max_inflight: int = 2):
        if max_batch < 1 or max_inflight < 1:
            raise ValueError("max_batch and max_inflight must be positive")
        self._flush = flush
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self._pending: list[tuple[T, asyncio.Future]] = []
        self._inflight = 0
        self.batches = 0  # flushes run, for metrics and tests
        self.items = 0

    async def submit(self, item: T) -> R:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._inflight < self.max_inflight:
            self._start()
        return await future

    def _start(self) -> None:
        batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
        self._inflight += 1
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError("flush returned the wrong number of results")
        except BaseException as err:  # the whole statement failed: every caller sees it
            results = [err] * len(batch)
        finally:
            self._inflight -= 1
            self.batches += 1
            self.items += len(batch)
            if self._pending and self._inflight < self.max_inflight:
                self._start()
        for (_, future), result in zip(batch, results):
            if future.done():  # the caller went away (request cancelled)
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
