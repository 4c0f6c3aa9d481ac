"""The gRPC transport of the workers (see transport.py for the contract).

Jobs arrive on QueueService.StreamJobs rather than ProcessJobs, because on our server:
- StreamJobs is push: the server claims for the stream when a NOTIFY says the queue has work,
  so a job reaches an idle worker at once without any polling. ProcessJobs is a stream of
  dequeue requests, so the worker would still poll, and an empty dequeue has no answer at all,
  which leaves a client unable to tell "nothing ready" from "answer still coming".
- StreamJobs applies back-pressure: it keeps at most the worker's registered max_concurrency
  jobs unsettled, which is exactly the worker's concurrency.
- Settling is unary Complete/Fail/RenewLease: each running job settles on its own, concurrently,
  and a settle reaching the stream's server process frees the stream's window at once.
  Completes that pile up while one is in flight go out together as one CompleteBatch
  (_complete_batcher.py), so a busy worker sends one message for many jobs.

A reader (thread, or task for the async worker) moves stream messages into a local inbox;
claim() takes at most `limit` from it, so the worker never runs more than its concurrency even
if the server's window and the worker's count briefly disagree (after a lost lease, or a
reconnect). A job that waited in the inbox past its lease is dropped (the server hands it out
again). When the stream breaks, claim() raises the stream's error; the worker backs off and
the next claim() opens a new stream.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any, Callable

from ..errors import LeaseExpiredError, NetworkError, SpooledError
from ..grpc.requests import GrpcCompleteRequest
from ._complete_batcher import AsyncCompleteBatcher, CompleteBatcher
from .options import WorkerOptions
from .transport import Claimed, Registration, metadata_strings

# How long one claim() waits for a job before returning [] (the worker then re-checks stop).
CLAIM_WAIT_SECS = 5.0
# The server started the lease a network hop before the job was read; counting the lease from
# this much earlier keeps the local estimate on the safe side of the server's.
LEASE_CLOCK_MARGIN_SECS = 1.0
_WAKE = ("wake",)


def _lease_refused() -> LeaseExpiredError:
    return LeaseExpiredError("The server refused to renew the lease: this worker no longer holds it",
                             status_code=409, code="LEASE_EXPIRED")


def _stream_ended() -> NetworkError:
    return NetworkError("the job stream ended; reconnecting")


class _GrpcBase:
    def __init__(self, grpc_client: Any, options: WorkerOptions, clock: Callable[[], float], owns_client: bool):
        self.grpc = grpc_client
        self.options = options
        self.clock = clock
        self.owns_client = owns_client
        self.worker_id = ""

    def _register_args(self) -> dict[str, Any]:
        o = self.options
        return dict(worker_type=o.worker_type, max_concurrency=o.concurrency, version=o.version,
                    metadata=metadata_strings(o.metadata))

    def _fresh(self, received_at: float) -> bool:
        """Whether a job received at `received_at` may still be leased to us (with a margin of
        one heartbeat tick, so it is not started just to be lost)."""
        margin = LEASE_CLOCK_MARGIN_SECS + min(1.0, self.options.heartbeat_every / 2)
        return self.clock() < received_at + self.options.lease_duration - margin

    def _take(self, first: tuple, rest: list[tuple], limit: int) -> list[Claimed]:
        """Turns inbox items into claims; an error item is raised after the jobs before it."""
        taken: list[Claimed] = []
        for item in [first, *rest]:
            if item[0] == "job" and self._fresh(item[2]):
                taken.append(Claimed(item[1], item[2] - LEASE_CLOCK_MARGIN_SECS))
            elif item[0] == "error":
                self._stream_failed()
                if taken:
                    return taken  # run these; the next claim() reconnects
                raise item[1]
        return taken[:limit]

    def _stream_failed(self) -> None:
        raise NotImplementedError

    @staticmethod
    def _complete_request(ctx: Any, result: Any) -> GrpcCompleteRequest:
        return GrpcCompleteRequest(job_id=ctx.job_id, worker_id=ctx.worker_id, result=result, lease_id=ctx.lease_id)


class GrpcTransport(_GrpcBase):
    """Blocking gRPC transport over a SpooledGrpcClient."""

    def __init__(self, grpc_client: Any, options: WorkerOptions, clock: Callable[[], float], *,
                 owns_client: bool = False):
        super().__init__(grpc_client, options, clock, owns_client)
        self._inbox: queue.Queue[tuple] = queue.Queue()
        self._stream: Any = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._completes = CompleteBatcher(
            lambda r: self.grpc.queue.complete(r.job_id, r.worker_id, r.result, lease_id=r.lease_id),
            lambda requests: self.grpc.queue.complete_batch(requests))

    def register(self) -> Registration:
        answer = self.grpc.workers.register(self.options.queue_name, self.options.hostname, **self._register_args())
        self.worker_id = answer.worker_id
        return Registration(answer.worker_id, answer.heartbeat_interval_secs)

    # -- receiving --
    def _open(self) -> None:
        with self._lock:
            if self._stream is not None:
                return
            stream = self.grpc.queue.stream_jobs(self.options.queue_name, self.worker_id,
                                                 lease_duration_secs=self.options.lease_duration)
            self._stream = stream
            self._reader = threading.Thread(target=self._read, args=(stream,), name="spooled-grpc-stream",
                                            daemon=True)
            self._reader.start()

    def _read(self, stream: Any) -> None:
        try:
            for job in stream:
                self._inbox.put(("job", job, self.clock()))
        except SpooledError as exc:
            self._inbox.put(("error", exc))
            return
        except Exception as exc:  # anything else still ends this stream, never the worker
            self._inbox.put(("error", NetworkError(f"job stream failed: {exc}")))
            return
        if self._stream is stream:  # ended without our cancel(): reconnect
            self._inbox.put(("error", _stream_ended()))

    def _stream_failed(self) -> None:
        with self._lock:
            self._stream = None

    def claim(self, limit: int) -> list[Claimed]:
        self._open()
        deadline = time.monotonic() + CLAIM_WAIT_SECS
        while True:
            try:
                first = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return []
            if first is _WAKE:
                return []
            rest: list[tuple] = []
            while len(rest) + 1 < limit:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is _WAKE:
                    break
                rest.append(item)
            taken = self._take(first, rest, limit)
            if taken or time.monotonic() >= deadline:
                return taken

    def interrupt(self) -> None:
        self._inbox.put(_WAKE)

    # -- settling --
    def complete(self, ctx: Any, result: Any) -> Any:
        return self._completes.complete(self._complete_request(ctx, result))

    def fail(self, ctx: Any, message: str) -> Any:
        return self.grpc.queue.fail(ctx.job_id, ctx.worker_id, message, retry=True, lease_id=ctx.lease_id)

    def renew(self, ctx: Any) -> None:
        answer = self.grpc.queue.renew_lease(ctx.job_id, ctx.worker_id, self.options.lease_duration,
                                             lease_id=ctx.lease_id)
        if not answer.success:
            raise _lease_refused()

    def report(self, current_jobs: int, status: str) -> bool:
        return self.grpc.workers.heartbeat(self.worker_id, current_jobs=current_jobs, status=status).should_drain

    def deregister(self) -> None:
        self.grpc.workers.deregister(self.worker_id)

    def stop_receiving(self) -> None:
        """Cancels the stream: the server leases nothing more to this worker."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.cancel()
        if self._reader is not None:
            self._reader.join(5)

    def close(self) -> None:
        self.stop_receiving()
        if self.owns_client:
            self.grpc.close()


class AsyncGrpcTransport(_GrpcBase):
    """asyncio gRPC transport over an AsyncSpooledGrpcClient."""

    def __init__(self, grpc_client: Any, options: WorkerOptions, clock: Callable[[], float], *,
                 owns_client: bool = False):
        super().__init__(grpc_client, options, clock, owns_client)
        self._inbox: asyncio.Queue[tuple] | None = None
        self._stream: Any = None
        self._reader: asyncio.Task[Any] | None = None
        self._completes = AsyncCompleteBatcher(
            lambda r: self.grpc.queue.complete(r.job_id, r.worker_id, r.result, lease_id=r.lease_id),
            lambda requests: self.grpc.queue.complete_batch(requests))

    def _queue(self) -> asyncio.Queue[tuple]:
        if self._inbox is None:
            self._inbox = asyncio.Queue()
        return self._inbox

    async def register(self) -> Registration:
        answer = await self.grpc.workers.register(self.options.queue_name, self.options.hostname,
                                                  **self._register_args())
        self.worker_id = answer.worker_id
        return Registration(answer.worker_id, answer.heartbeat_interval_secs)

    def _open(self) -> None:
        if self._stream is not None:
            return
        stream = self.grpc.queue.stream_jobs(self.options.queue_name, self.worker_id,
                                             lease_duration_secs=self.options.lease_duration)
        self._stream = stream
        self._reader = asyncio.create_task(self._read(stream), name="spooled-grpc-stream")

    async def _read(self, stream: Any) -> None:
        inbox = self._queue()
        try:
            async for job in stream:
                inbox.put_nowait(("job", job, self.clock()))
        except SpooledError as exc:
            inbox.put_nowait(("error", exc))
            return
        except asyncio.CancelledError:
            return
        except Exception as exc:
            inbox.put_nowait(("error", NetworkError(f"job stream failed: {exc}")))
            return
        if self._stream is stream:
            inbox.put_nowait(("error", _stream_ended()))

    def _stream_failed(self) -> None:
        self._stream = None

    async def claim(self, limit: int) -> list[Claimed]:
        self._open()
        inbox = self._queue()
        deadline = time.monotonic() + CLAIM_WAIT_SECS
        while True:
            try:
                first = await asyncio.wait_for(inbox.get(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return []
            if first is _WAKE:
                return []
            rest: list[tuple] = []
            while len(rest) + 1 < limit and not inbox.empty():
                item = inbox.get_nowait()
                if item is _WAKE:
                    break
                rest.append(item)
            taken = self._take(first, rest, limit)
            if taken or time.monotonic() >= deadline:
                return taken

    def interrupt(self) -> None:
        self._queue().put_nowait(_WAKE)

    async def complete(self, ctx: Any, result: Any) -> Any:
        return await self._completes.complete(self._complete_request(ctx, result))

    async def fail(self, ctx: Any, message: str) -> Any:
        return await self.grpc.queue.fail(ctx.job_id, ctx.worker_id, message, retry=True, lease_id=ctx.lease_id)

    async def renew(self, ctx: Any) -> None:
        answer = await self.grpc.queue.renew_lease(ctx.job_id, ctx.worker_id, self.options.lease_duration,
                                                   lease_id=ctx.lease_id)
        if not answer.success:
            raise _lease_refused()

    async def report(self, current_jobs: int, status: str) -> bool:
        answer = await self.grpc.workers.heartbeat(self.worker_id, current_jobs=current_jobs, status=status)
        return answer.should_drain

    async def deregister(self) -> None:
        await self.grpc.workers.deregister(self.worker_id)

    async def stop_receiving(self) -> None:
        """Cancels the stream: the server leases nothing more to this worker."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.cancel()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass

    async def close(self) -> None:
        await self.stop_receiving()
        if self.owns_client:
            await self.grpc.close()


def _pick(client: Any, grpc_client: Any) -> Any:
    from ..grpc import AsyncSpooledGrpcClient, SpooledGrpcClient
    if grpc_client is not None:
        return grpc_client
    if isinstance(client, (SpooledGrpcClient, AsyncSpooledGrpcClient)):
        return client
    found = getattr(client, "grpc", None)
    if found is None:
        raise ValueError("transport='grpc' needs grpc_client=SpooledGrpcClient(...) (or AsyncSpooledGrpcClient), "
                         "or a client that has a .grpc property")
    return found


def sync_grpc_client(client: Any, grpc_client: Any) -> Any:
    """The SpooledGrpcClient a SpooledWorker uses: `grpc_client`, else the client itself when it
    is one, else `client.grpc`. The worker never closes a client it was given."""
    from ..grpc import AsyncSpooledGrpcClient
    picked = _pick(client, grpc_client)
    if isinstance(picked, AsyncSpooledGrpcClient):
        raise TypeError("SpooledWorker needs a SpooledGrpcClient; use AsyncSpooledWorker with AsyncSpooledGrpcClient")
    return picked


def find_grpc_client(client: Any, grpc_client: Any) -> Any:
    """The gRPC client an AsyncSpooledWorker was given (checked when the worker is built)."""
    return _pick(client, grpc_client)


def async_grpc_client(picked: Any) -> tuple[Any, bool]:
    """(AsyncSpooledGrpcClient, owned) for an AsyncSpooledWorker. A blocking SpooledGrpcClient
    (what `client.grpc` returns) is mirrored by an asyncio client on the same target and key,
    which the worker owns and closes; call this inside the worker's event loop."""
    from ..grpc import AsyncSpooledGrpcClient, SpooledGrpcClient
    if isinstance(picked, SpooledGrpcClient):
        return AsyncSpooledGrpcClient.from_config(picked.config, timeout=picked.timeout), True
    return picked, False
