"""AsyncSpooledWorker: the asyncio twin of SpooledWorker, over an AsyncSpooledClient.

    worker = AsyncSpooledWorker(client, "emails", concurrency=50)

    @worker.process
    async def send(ctx):
        await deliver(ctx.payload)
        return {"sent": True}

    await worker.start()   # runs until await worker.stop(), SIGTERM or SIGINT

Same protocol, transports ("rest" or "grpc", see transport.py) and guarantees as SpooledWorker
(see worker.py). Differences: handlers are
coroutines (a sync handler runs in a thread), a pending long-poll claim is abandoned at once on
stop (jobs it may have leased are handed back by the deregistration), and handlers still running
when shutdown_timeout ends are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import threading
import time
from typing import Any, Awaitable, Callable

from .._version import __version__
from ..errors import SpooledError
from . import _outcome as outcome
from ._grpc import AsyncGrpcTransport, async_grpc_client, find_grpc_client
from ._leases import Lease, LeaseBook
from ._rest import AsyncRestTransport
from .context import AsyncJobContext
from .events import (ErrorEventData, EventEmitter, JobClaimedEventData, JobCompletedEventData, JobFailedEventData,
                     JobLeaseLostEventData, JobStartedEventData, StartedEventData, StoppedEventData)
from .options import WorkerOptions
from .transport import Claimed, TransportName, check_transport, liveness_every

log = logging.getLogger("spooled.worker")
AsyncJobHandler = Callable[[AsyncJobContext], Awaitable[Any]]


class AsyncSpooledWorker:
    """An asyncio worker for one queue; arguments as SpooledWorker. With transport="grpc",
    `grpc_client` (or `client.grpc`) may be an AsyncSpooledGrpcClient, used as is, or a
    SpooledGrpcClient, mirrored by an asyncio client the worker opens and closes itself."""

    def __init__(self, client: Any, queue_name: str, *, concurrency: int = 5, lease_duration: int = 30,
                 heartbeat_fraction: float = 0.5, claim_wait: float = 5.0, poll_interval: float = 1.0,
                 shutdown_timeout: float = 30.0, hostname: str | None = None, worker_id: str | None = None,
                 worker_type: str = "python", version: str = __version__, metadata: dict[str, Any] | None = None,
                 handle_signals: bool = True, clock: Callable[[], float] = time.monotonic,
                 transport: TransportName = "rest", grpc_client: Any = None):
        extra: dict[str, Any] = {"hostname": hostname} if hostname is not None else {}
        self.options = WorkerOptions(
            queue_name=queue_name, concurrency=concurrency, lease_duration=lease_duration,
            heartbeat_fraction=heartbeat_fraction, claim_wait=claim_wait, poll_interval=poll_interval,
            shutdown_timeout=shutdown_timeout, worker_id=worker_id, worker_type=worker_type, version=version,
            metadata=metadata, handle_signals=handle_signals, **extra)
        self._client = client
        self._clock = clock
        self.transport_name = check_transport(transport)
        self._grpc_client = find_grpc_client(client, grpc_client) if transport == "grpc" else None
        self._transport: Any = None  # built in start(): a grpc.aio channel belongs to the running loop
        self._worker_id: str | None = None
        self._events = EventEmitter()
        self._handler: Callable[[AsyncJobContext], Any] | None = None
        self._state = "idle"
        self._book = LeaseBook(lease_duration, self.options.heartbeat_every, clock)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_requested: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None
        self._slot_freed: asyncio.Event | None = None
        self._runner: asyncio.Task[Any] | None = None
        self._worker_heartbeat_every = 10.0

    @property
    def state(self) -> str:
        """idle, starting, running, stopping, stopped or error."""
        return self._state

    @property
    def worker_id(self) -> str:
        """The id this worker claims under (over gRPC: the one the server assigned)."""
        return self._worker_id or self.options.worker_id  # type: ignore[return-value]

    @property
    def active_job_count(self) -> int:
        """Jobs claimed and not yet settled."""
        return self._book.count()

    def process(self, handler: Callable[[AsyncJobContext], Any]) -> Callable[[AsyncJobContext], Any]:
        """Sets the job handler (a coroutine function, or a sync function run in a thread)."""
        if self._state != "idle":
            raise RuntimeError("the handler must be set before start()")
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._handler = handler
        return handler

    def on(self, event: str, handler: Callable[[Any], Any] | None = None) -> Any:
        """Listens to a lifecycle event; async listeners are awaited. See SpooledWorker.on."""
        return self._events.on(event, handler)

    def off(self, event: str, handler: Callable[[Any], Any]) -> None:
        """Removes a listener added with `on`."""
        self._events.off(event, handler)

    async def start(self) -> None:
        """Registers the worker and processes jobs until stopped."""
        if self._state != "idle":
            raise RuntimeError(f"start() needs an idle worker (state is {self._state})")
        if self._handler is None:
            raise RuntimeError("set a handler with @worker.process before start()")
        self._state, self._runner = "starting", asyncio.current_task()
        self._stop_requested, self._stopped, self._slot_freed = asyncio.Event(), asyncio.Event(), asyncio.Event()
        try:
            self._transport = self._make_transport()
            registered = await self._transport.register()
            self._worker_id = registered.worker_id
            self._worker_heartbeat_every = liveness_every(registered)
        except Exception as exc:
            self._state = "error"
            await self._emit("error", ErrorEventData(exc))
            if self._transport is not None:
                with contextlib.suppress(Exception):
                    await self._transport.close()
            self._stopped.set()
            raise
        restore_signals = self._install_signal_handlers()
        keeper = asyncio.create_task(self._keep_leases(), name="spooled-lease-keeper")
        self._state = "running"
        await self._emit("started", StartedEventData(self.worker_id, self.options.queue_name))
        failure: BaseException | None = None
        try:
            await self._claim_loop()
        except Exception as exc:
            failure = exc
            await self._emit("error", ErrorEventData(exc))
        finally:
            await self._shutdown(keeper, "error" if failure else "graceful")
            restore_signals()
        if failure is not None:
            raise failure

    def _make_transport(self) -> Any:
        if self.transport_name == "grpc":
            grpc_client, owned = async_grpc_client(self._grpc_client)
            return AsyncGrpcTransport(grpc_client, self.options, self._clock, owns_client=owned)
        return AsyncRestTransport(self._client, self.options, self._clock)

    async def stop(self) -> None:
        """Asks the worker to stop and, unless called from inside it, waits until it has."""
        if self._stop_requested is None or self._stopped is None:
            return
        self._stop_requested.set()
        if self._transport is not None:
            self._transport.interrupt()
        if asyncio.current_task() is not self._runner:
            await self._stopped.wait()

    # -- claiming --
    async def _claim_loop(self) -> None:
        assert self._stop_requested is not None and self._slot_freed is not None
        failures = 0
        while not self._stop_requested.is_set():
            free = self.options.concurrency - self._book.count()
            if free <= 0:
                self._slot_freed.clear()
                await self._until_stop(self._slot_freed.wait(), 0.5)
                continue
            try:
                claimed = await self._until_stop(self._transport.claim(free))
                failures = 0
            except SpooledError as exc:
                if outcome.fatal(exc):
                    raise
                failures += 1
                await self._emit("error", ErrorEventData(exc))
                await self._until_stop(asyncio.sleep(outcome.claim_backoff(self.options.poll_interval, failures)))
                continue
            for item in (claimed or [])[:free]:
                await self._dispatch(item)

    async def _until_stop(self, awaitable: Awaitable[Any], timeout: float | None = None) -> Any:
        """Awaits `awaitable` unless stop() comes first (then it is cancelled and None returned)."""
        assert self._stop_requested is not None
        work = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({work, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if work.done():
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        return None

    async def _dispatch(self, item: Claimed) -> None:
        job = item.job
        ctx = AsyncJobContext(job_id=job.id, queue_name=job.queue_name, payload=job.payload,
                              retry_count=job.retry_count, max_retries=job.max_retries, lease_id=job.lease_id,
                              worker_id=self.worker_id)
        lease = self._book.add(ctx, item.lease_started)
        await self._emit("job:claimed", JobClaimedEventData(job.id, job.queue_name))
        task = asyncio.create_task(self._run(lease), name=f"spooled-job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- running and settling --
    async def _run(self, lease: Lease) -> None:
        ctx = lease.ctx
        try:
            await self._emit("job:started", JobStartedEventData(ctx.job_id, ctx.queue_name))
            try:
                result, error = await self._call_handler(ctx), None
            except Exception as exc:
                result, error = None, exc
            if error is None and (problem := outcome.unserializable(
                    result, object_only=self.transport_name == "grpc")) is not None:
                error = TypeError(problem)
            await self._settle(lease, result, error)
        finally:
            self._book.remove(ctx.job_id)
            if self._slot_freed is not None:
                self._slot_freed.set()

    async def _call_handler(self, ctx: AsyncJobContext) -> Any:
        assert self._handler is not None
        if inspect.iscoroutinefunction(self._handler):
            return await self._handler(ctx)
        result = await asyncio.to_thread(self._handler, ctx)
        return await result if inspect.isawaitable(result) else result

    async def _settle(self, lease: Lease, result: Any, error: BaseException | None) -> None:
        ctx = lease.ctx
        if lease.settled_elsewhere or (error is not None and ctx.cancel_reason == "shutdown"):
            return  # see SpooledWorker._settle
        try:
            if error is None:
                await self._transport.complete(ctx, result)
                await self._emit("job:completed", JobCompletedEventData(ctx.job_id, ctx.queue_name, result))
            else:
                message = outcome.failure_message(error)
                answer = await self._transport.fail(ctx, message)
                await self._emit("job:failed", JobFailedEventData(
                    ctx.job_id, ctx.queue_name, message, outcome.will_retry(answer, ctx.retry_count, ctx.max_retries)))
        except Exception as exc:  # reported, never allowed to kill the job task
            if outcome.lease_gone(exc):
                await self._lose(lease, f"server refused the result: {exc}")
            else:
                await self._emit("error", ErrorEventData(exc))

    async def _lose(self, lease: Lease, reason: str) -> None:
        if self._book.mark_lost(lease):
            lease.ctx._cancel("lease_lost")
            await self._emit("job:lease_lost", JobLeaseLostEventData(lease.job_id, lease.ctx.queue_name, reason))

    # -- leases and liveness --
    async def _keep_leases(self) -> None:
        tick = max(0.05, min(0.5, self.options.heartbeat_every / 2))
        next_liveness = self._clock() + self._worker_heartbeat_every
        while True:
            await asyncio.sleep(tick)
            now = self._clock()
            for lease in self._book.expired(now):
                await self._lose(lease, "lease expired before it could be renewed")
            for lease in self._book.due(now):
                await self._renew(lease)
            if now >= next_liveness:
                next_liveness = now + self._worker_heartbeat_every
                await self._report_liveness()

    async def _renew(self, lease: Lease) -> None:
        sent_at = self._clock()
        try:
            await self._transport.renew(lease.ctx)
        except Exception as exc:  # the keeper must survive anything a single call throws
            if outcome.lease_gone(exc):
                await self._lose(lease, f"heartbeat refused: {exc}")
            else:
                self._book.retry_soon(lease, self._clock())
                await self._emit("error", ErrorEventData(exc))
        else:
            self._book.renewed(lease, sent_at)

    async def _report_liveness(self) -> None:
        status = "draining" if self._stop_requested is not None and self._stop_requested.is_set() else "healthy"
        try:
            drain = await self._transport.report(self._book.count(), status)
        except Exception as exc:
            await self._emit("error", ErrorEventData(exc))
            return
        if drain and self._stop_requested is not None and not self._stop_requested.is_set():
            log.info("spooled: server asked worker %s to drain; stopping", self.worker_id)
            self._stop_requested.set()

    # -- stopping --
    async def _shutdown(self, keeper: asyncio.Task[Any], reason: str) -> None:
        self._state = "stopping"
        try:
            await self._transport.stop_receiving()
        except Exception as exc:
            await self._emit("error", ErrorEventData(exc))
        for lease in self._book.all():
            lease.ctx._cancel("shutdown")
        running = set(self._tasks)
        if running:
            await asyncio.wait(running, timeout=self.options.shutdown_timeout)
        for lease in self._book.all():
            lease.abandoned = True
        for task in self._tasks:
            task.cancel()  # past the grace period: the server takes these jobs back on deregister
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        try:
            await self._transport.deregister()
        except Exception as exc:
            await self._emit("error", ErrorEventData(exc))
        try:
            await self._transport.close()
        except Exception as exc:
            await self._emit("error", ErrorEventData(exc))
        self._state = "error" if reason == "error" else "stopped"
        assert self._stopped is not None
        self._stopped.set()
        await self._emit("stopped", StoppedEventData(self.worker_id, reason))

    async def _emit(self, event: str, data: Any) -> None:
        for pending in self._events.emit(event, data):
            try:
                await pending
            except Exception:
                log.exception("async listener for %s raised", event)

    def _install_signal_handlers(self) -> Callable[[], None]:
        if not self.options.handle_signals or threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # e.g. Windows event loops
                pass

        def restore() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)
        return restore

    def _on_signal(self, signum: int) -> None:
        log.info("spooled: signal %s received, stopping worker %s", signum, self.worker_id)
        if self._stop_requested is not None:
            self._stop_requested.set()
