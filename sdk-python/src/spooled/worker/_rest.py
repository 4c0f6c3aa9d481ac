"""The REST transport of the workers (see transport.py for the contract).

Jobs are claimed with POST /jobs/claim and a long-poll `wait_ms`; a server that refuses
`wait_ms` is polled every poll_interval instead, and an empty answer that came at once is
followed by a poll_interval pause, so an idle worker never spins. Completes that pile up while
one is in flight go out together as one POST /jobs/complete (_complete_batcher.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable

from ..errors import ValidationError
from . import _outcome as outcome
from ._complete_batcher import AsyncCompleteBatcher, CompleteBatcher, rest_route_missing
from .options import WorkerOptions
from .transport import Claimed, Registration

log = logging.getLogger("spooled.worker")


class _RestBase:
    def __init__(self, client: Any, options: WorkerOptions, clock: Callable[[], float]):
        self.client = client
        self.options = options
        self.clock = clock
        self.worker_id = options.worker_id or ""
        self.wait_ms = int(options.claim_wait * 1000)

    def _register_params(self) -> dict[str, Any]:
        o = self.options
        return {"queue_name": o.queue_name, "hostname": o.hostname, "worker_id": self.worker_id,
                "worker_type": o.worker_type, "max_concurrency": o.concurrency, "metadata": o.metadata,
                "version": o.version}

    def _claim_params(self, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"queue_name": self.options.queue_name, "worker_id": self.worker_id,
                                  "limit": limit, "lease_duration_secs": self.options.lease_duration}
        if self.wait_ms:
            params["wait_ms"] = self.wait_ms
        return params

    def _refused_wait(self) -> bool:
        """A server without long polling may refuse wait_ms: fall back to plain polling."""
        if not self.wait_ms:
            return False
        log.info("spooled: server refused wait_ms; polling every %ss instead", self.options.poll_interval)
        self.wait_ms = 0
        return True

    def _answered_at_once(self, jobs: list[Any], started: float) -> bool:
        """An empty answer that came at once: the server does not long-poll (or another worker
        won the job), so wait before asking again."""
        return not jobs and (self.wait_ms == 0 or self.clock() - started < self.options.claim_wait / 2)

    def _heartbeat_params(self) -> dict[str, Any]:
        return {"worker_id": self.worker_id, "lease_duration_secs": self.options.lease_duration}

    @staticmethod
    def _complete_item(ctx: Any, result: Any) -> dict[str, Any]:
        return {"job_id": ctx.job_id, **outcome.complete_params(ctx, result)}

    @staticmethod
    def _alone(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k != "job_id"}


class RestTransport(_RestBase):
    """Blocking REST transport over a SpooledClient."""

    def __init__(self, client: Any, options: WorkerOptions, clock: Callable[[], float]):
        super().__init__(client, options, clock)
        self._interrupted = threading.Event()
        self._completes = CompleteBatcher(
            lambda item: self.client.jobs.complete(item["job_id"], self._alone(item)),
            lambda items: self.client.jobs.complete_batch({"jobs": items}), rest_route_missing)

    def register(self) -> Registration:
        answer = self.client.workers.register(self._register_params())
        return Registration(self.worker_id, answer.heartbeat_interval_secs)

    def claim(self, limit: int) -> list[Claimed]:
        started = self.clock()
        try:
            jobs = self.client.jobs.claim(self._claim_params(limit)).jobs
        except ValidationError:
            if not self._refused_wait():
                raise
            return self.claim(limit)
        if self._answered_at_once(jobs, started):
            self._interrupted.wait(self.options.poll_interval)
        return [Claimed(job, started) for job in jobs]

    def interrupt(self) -> None:
        self._interrupted.set()

    def complete(self, ctx: Any, result: Any) -> Any:
        return self._completes.complete(self._complete_item(ctx, result))

    def fail(self, ctx: Any, message: str) -> Any:
        return self.client.jobs.fail(ctx.job_id, outcome.fail_params(ctx, message))

    def renew(self, ctx: Any) -> None:
        self.client.jobs.heartbeat(ctx.job_id, {**self._heartbeat_params(), "lease_id": ctx.lease_id})

    def report(self, current_jobs: int, status: str) -> bool:
        answer = self.client.workers.heartbeat(self.worker_id, {"current_jobs": current_jobs, "status": status})
        return getattr(answer, "should_drain", False) is True

    def deregister(self) -> None:
        self.client.workers.deregister(self.worker_id)

    def stop_receiving(self) -> None:
        """Nothing is pushed over REST: claims simply stop."""

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""


class AsyncRestTransport(_RestBase):
    """asyncio REST transport over an AsyncSpooledClient."""

    def __init__(self, client: Any, options: WorkerOptions, clock: Callable[[], float]):
        super().__init__(client, options, clock)
        self._interrupted: asyncio.Event | None = None
        self._completes = AsyncCompleteBatcher(
            lambda item: self.client.jobs.complete(item["job_id"], self._alone(item)),
            lambda items: self.client.jobs.complete_batch({"jobs": items}), rest_route_missing)

    def _event(self) -> asyncio.Event:
        if self._interrupted is None:
            self._interrupted = asyncio.Event()
        return self._interrupted

    async def register(self) -> Registration:
        answer = await self.client.workers.register(self._register_params())
        return Registration(self.worker_id, answer.heartbeat_interval_secs)

    async def claim(self, limit: int) -> list[Claimed]:
        started = self.clock()
        try:
            jobs = (await self.client.jobs.claim(self._claim_params(limit))).jobs
        except ValidationError:
            if not self._refused_wait():
                raise
            return await self.claim(limit)
        if self._answered_at_once(jobs, started):
            try:
                await asyncio.wait_for(self._event().wait(), self.options.poll_interval)
            except asyncio.TimeoutError:
                pass
        return [Claimed(job, started) for job in jobs]

    def interrupt(self) -> None:
        self._event().set()

    async def complete(self, ctx: Any, result: Any) -> Any:
        return await self._completes.complete(self._complete_item(ctx, result))

    async def fail(self, ctx: Any, message: str) -> Any:
        return await self.client.jobs.fail(ctx.job_id, outcome.fail_params(ctx, message))

    async def renew(self, ctx: Any) -> None:
        await self.client.jobs.heartbeat(ctx.job_id, {**self._heartbeat_params(), "lease_id": ctx.lease_id})

    async def report(self, current_jobs: int, status: str) -> bool:
        answer = await self.client.workers.heartbeat(self.worker_id, {"current_jobs": current_jobs, "status": status})
        return getattr(answer, "should_drain", False) is True

    async def deregister(self) -> None:
        await self.client.workers.deregister(self.worker_id)

    async def stop_receiving(self) -> None:
        """Nothing is pushed over REST: claims simply stop."""

    async def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""
