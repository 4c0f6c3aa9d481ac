"""SpooledWorker: receives jobs over REST or gRPC and runs a sync handler on threads.

    worker = SpooledWorker(client, "emails", concurrency=10)

    @worker.process
    def send(ctx):
        deliver(ctx.payload)
        return {"sent": True}

    worker.start()   # blocks until stop(), SIGTERM or SIGINT

With auto_start=True the worker starts itself on a background thread as soon as the handler is
set, and start() is not called; stop() ends it. The thread is not a daemon: like the reference
SDK's, it keeps the process alive until the worker stops. Start failures reach the "error"
event. SIGTERM/SIGINT are not handled then (signal handlers belong to the main thread).

One loop claims while slots are free; each job runs on its own thread; a lease keeper renews
leases every lease_duration x heartbeat_fraction seconds and reports liveness. A renewal or a
result refused as LEASE_EXPIRED means another worker may own the job: the handler's signal is
set and its result is dropped. On stop the worker claims nothing more, signals running
handlers, gives them shutdown_timeout seconds, then deregisters, which hands unfinished jobs
back to the queue without using one of their retries.

How requests travel is the transport's business (transport.py): "rest" (the default) claims
with POST /jobs/claim and a long-poll wait; "grpc" receives jobs pushed on
QueueService.StreamJobs and settles them with unary gRPC calls. Everything above is the same
for both.
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading
import time
from typing import Any, Callable

from .._version import __version__
from ..errors import SpooledError
from . import _outcome as outcome
from ._grpc import GrpcTransport, sync_grpc_client
from ._leases import Lease, LeaseBook
from ._rest import RestTransport
from .context import JobContext
from .events import (ErrorEventData, EventEmitter, JobClaimedEventData, JobCompletedEventData, JobFailedEventData,
                     JobLeaseLostEventData, JobStartedEventData, StartedEventData, StoppedEventData)
from .options import WorkerOptions
from .transport import Claimed, TransportName, check_transport, liveness_every

log = logging.getLogger("spooled.worker")
JobHandler = Callable[[JobContext], Any]


class SpooledWorker:
    """A blocking worker for one queue. See the module docstring and WorkerOptions.

    transport: "rest" (default) or "grpc". With "grpc" the worker talks to `grpc_client` (a
    SpooledGrpcClient), else to `client` itself if it is one, else to `client.grpc`; the
    server assigns the worker id at registration (`worker_id` is ignored).
    auto_start: start on a background thread once a handler is set (see the module docstring).
    """

    def __init__(self, client: Any, queue_name: str, *, concurrency: int = 5, lease_duration: int = 30,
                 heartbeat_fraction: float = 0.5, claim_wait: float = 5.0, poll_interval: float = 1.0,
                 shutdown_timeout: float = 30.0, hostname: str | None = None, worker_id: str | None = None,
                 worker_type: str = "python", version: str = __version__, metadata: dict[str, Any] | None = None,
                 handle_signals: bool = True, clock: Callable[[], float] = time.monotonic,
                 transport: TransportName = "rest", grpc_client: Any = None, auto_start: bool = False):
        extra: dict[str, Any] = {"hostname": hostname} if hostname is not None else {}
        self.options = WorkerOptions(
            queue_name=queue_name, concurrency=concurrency, lease_duration=lease_duration,
            heartbeat_fraction=heartbeat_fraction, claim_wait=claim_wait, poll_interval=poll_interval,
            shutdown_timeout=shutdown_timeout, worker_id=worker_id, worker_type=worker_type, version=version,
            metadata=metadata, handle_signals=handle_signals, auto_start=auto_start, **extra)
        self._client = client
        self._clock = clock
        self.transport_name = check_transport(transport)
        if transport == "grpc":
            self._transport: Any = GrpcTransport(sync_grpc_client(client, grpc_client), self.options, clock)
        else:
            self._transport = RestTransport(client, self.options, clock)
        self._worker_id: str | None = None
        self._events = EventEmitter(awaits_listeners=False)
        self._handler: JobHandler | None = None
        self._state = "idle"
        self._book = LeaseBook(lease_duration, self.options.heartbeat_every, clock)
        self._stop_requested = threading.Event()
        self._force = threading.Event()
        self._keeper_stop = threading.Event()
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._runner: threading.Thread | None = None
        self._worker_heartbeat_every = 10.0
        self._start_lock = threading.RLock()  # re-entrant: a signal handler may call stop()
        # auto_start: the worker starts when @worker.process sets the handler (it runs after
        # construction), on a non-daemon thread, so a script that returns from main keeps
        # running its worker as the reference SDK's does; stop() before that cancels it.
        self._auto_start_cancelled = False
        self._auto_starter: threading.Thread | None = None

    # -- public surface --
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

    def process(self, handler: JobHandler) -> JobHandler:
        """Sets the job handler (use as a decorator). It receives a JobContext and returns the
        job's result (any JSON value, or None); raising fails the job."""
        if self._state != "idle":
            raise RuntimeError("the handler must be set before start()")
        if not callable(handler):
            raise TypeError("handler must be callable")
        if inspect.iscoroutinefunction(handler):
            raise TypeError("async handlers need AsyncSpooledWorker")
        self._handler = handler
        with self._start_lock:
            if self.options.auto_start and not self._auto_start_cancelled and self._auto_starter is None:
                self._auto_starter = threading.Thread(target=self._auto_start, name="spooled-worker-autostart")
                self._auto_starter.start()
        return handler

    def on(self, event: str, handler: Callable[[Any], Any] | None = None) -> Any:
        """Listens to a lifecycle event (decorator when `handler` is omitted): started, stopped,
        error, job:claimed, job:started, job:completed, job:failed, job:lease_lost. Listeners are
        plain functions: nothing here awaits a coroutine (AsyncSpooledWorker does)."""
        return self._events.on(event, handler)

    def off(self, event: str, handler: Callable[[Any], Any]) -> None:
        """Removes a listener added with `on`."""
        self._events.off(event, handler)

    def start(self) -> None:
        """Registers the worker and processes jobs until stopped; returns after a graceful
        shutdown and raises if the worker had to stop on an error."""
        self._start(auto=False)

    def _start(self, auto: bool) -> None:
        with self._start_lock:  # the auto-start thread and the caller may race here
            if auto and (self._auto_start_cancelled or self._state != "idle"):
                return  # stopped before it began, or start() was called by hand first
            if self._state != "idle":
                raise RuntimeError(f"start() needs an idle worker (state is {self._state})")
            if self._handler is None:
                raise RuntimeError("set a handler with @worker.process before start()")
            self._state, self._runner = "starting", threading.current_thread()
        try:
            registered = self._transport.register()
            self._worker_id = registered.worker_id
            self._worker_heartbeat_every = liveness_every(registered)
        except Exception as exc:
            self._state = "error"
            self._events.emit("error", ErrorEventData(exc))
            self._transport.close()
            self._stopped.set()
            raise
        restore_signals = self._install_signal_handlers()
        keeper = threading.Thread(target=self._keep_leases, name="spooled-lease-keeper", daemon=True)
        keeper.start()
        self._state = "running"
        self._events.emit("started", StartedEventData(self.worker_id, self.options.queue_name))
        failure: BaseException | None = None
        try:
            self._claim_loop()
        except Exception as exc:
            failure = exc
            self._events.emit("error", ErrorEventData(exc))
        finally:
            self._shutdown(keeper, "error" if failure else "graceful")
            restore_signals()
        if failure is not None:
            raise failure

    def stop(self, timeout: float | None = None) -> None:
        """Asks a started worker to stop (no-op before start). From another thread it also waits (up to `timeout`, default
        shutdown_timeout plus the claim wait and a margin) until the worker has stopped."""
        with self._start_lock:
            if self._state == "idle":
                self._auto_start_cancelled = True  # a pending auto start must not run after stop()
                return
        self._stop_requested.set()
        self._wake.set()
        self._transport.interrupt()
        if self._runner is not None and threading.current_thread() is not self._runner:
            limit = timeout if timeout is not None else (
                self.options.shutdown_timeout + self.options.claim_wait + 15)
            self._stopped.wait(limit)

    def _auto_start(self) -> None:
        try:
            self._start(auto=True)
        except Exception as exc:
            if self._state != "error":  # start() already emitted the failures that put it there
                self._events.emit("error", ErrorEventData(exc))
            log.error("spooled: worker %s stopped on an error: %s", self.worker_id, exc)

    # -- claiming --
    def _claim_loop(self) -> None:
        failures = 0
        while not self._stop_requested.is_set():
            free = self.options.concurrency - self._book.count()
            if free <= 0:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                claimed = self._transport.claim(free)
                failures = 0
            except SpooledError as exc:
                if outcome.fatal(exc):
                    raise
                failures += 1
                self._events.emit("error", ErrorEventData(exc))
                self._stop_requested.wait(outcome.claim_backoff(self.options.poll_interval, failures))
                continue
            for item in claimed[:free]:  # a transport never returns more; belt and braces
                self._dispatch(item)

    def _dispatch(self, item: Claimed) -> None:
        job = item.job
        ctx = JobContext(job_id=job.id, queue_name=job.queue_name, payload=job.payload,
                         retry_count=job.retry_count, max_retries=job.max_retries, lease_id=job.lease_id,
                         worker_id=self.worker_id)
        lease = self._book.add(ctx, item.lease_started)
        self._events.emit("job:claimed", JobClaimedEventData(job.id, job.queue_name))
        threading.Thread(target=self._run, args=(lease,), name=f"spooled-job-{job.id[:8]}", daemon=True).start()

    # -- running and settling --
    def _run(self, lease: Lease) -> None:
        ctx = lease.ctx
        try:
            self._events.emit("job:started", JobStartedEventData(ctx.job_id, ctx.queue_name))
            try:
                result, error = self._handler(ctx), None  # type: ignore[misc]
            except Exception as exc:
                result, error = None, exc
            if error is None and (problem := outcome.unserializable(
                    result, object_only=self.transport_name == "grpc")) is not None:
                error = TypeError(problem)
            self._settle(lease, result, error)
        finally:
            self._book.remove(ctx.job_id)
            self._wake.set()

    def _settle(self, lease: Lease, result: Any, error: BaseException | None) -> None:
        ctx = lease.ctx
        if lease.settled_elsewhere:
            return  # lost: another worker may own it; abandoned: the server took it back
        if error is not None and ctx.cancel_reason == "shutdown":
            return  # interrupted by shutdown: deregistering hands it back without using a retry
        try:
            if error is None:
                self._transport.complete(ctx, result)
                self._events.emit("job:completed", JobCompletedEventData(ctx.job_id, ctx.queue_name, result))
            else:
                message = outcome.failure_message(error)
                answer = self._transport.fail(ctx, message)
                self._events.emit("job:failed", JobFailedEventData(
                    ctx.job_id, ctx.queue_name, message, outcome.will_retry(answer, ctx.retry_count, ctx.max_retries)))
        except Exception as exc:  # reported, never allowed to kill the job thread
            if outcome.lease_gone(exc):
                self._lose(lease, f"server refused the result: {exc}")
            else:
                # The lease will expire and the server will hand the job out again.
                self._events.emit("error", ErrorEventData(exc))

    def _lose(self, lease: Lease, reason: str) -> None:
        if self._book.mark_lost(lease):
            lease.ctx._cancel("lease_lost")
            self._events.emit("job:lease_lost", JobLeaseLostEventData(lease.job_id, lease.ctx.queue_name, reason))

    # -- leases and liveness --
    def _keep_leases(self) -> None:
        tick = max(0.05, min(0.5, self.options.heartbeat_every / 2))
        next_liveness = self._clock() + self._worker_heartbeat_every
        while not self._keeper_stop.wait(tick):
            now = self._clock()
            for lease in self._book.expired(now):
                self._lose(lease, "lease expired before it could be renewed")
            for lease in self._book.due(now):
                self._renew(lease)
            if now >= next_liveness:
                next_liveness = now + self._worker_heartbeat_every
                self._report_liveness()

    def _renew(self, lease: Lease) -> None:
        sent_at = self._clock()
        try:
            self._transport.renew(lease.ctx)
        except Exception as exc:  # the keeper must survive anything a single call throws
            if outcome.lease_gone(exc):
                self._lose(lease, f"heartbeat refused: {exc}")
            else:
                self._book.retry_soon(lease, self._clock())
                self._events.emit("error", ErrorEventData(exc))
        else:
            self._book.renewed(lease, sent_at)

    def _report_liveness(self) -> None:
        status = "draining" if self._stop_requested.is_set() else "healthy"
        try:
            drain = self._transport.report(self._book.count(), status)
        except Exception as exc:
            self._events.emit("error", ErrorEventData(exc))
            return
        if drain and not self._stop_requested.is_set():
            log.info("spooled: server asked worker %s to drain; stopping", self.worker_id)
            self._stop_requested.set()
            self._transport.interrupt()

    # -- stopping --
    def _shutdown(self, keeper: threading.Thread, reason: str) -> None:
        self._state = "stopping"
        try:
            self._transport.stop_receiving()
        except Exception as exc:
            self._events.emit("error", ErrorEventData(exc))
        for lease in self._book.all():
            lease.ctx._cancel("shutdown")
        deadline = self._clock() + self.options.shutdown_timeout
        while self._book.count() and not self._force.is_set() and self._clock() < deadline:
            self._wake.wait(min(0.1, max(0.0, deadline - self._clock())))
            self._wake.clear()
        for lease in self._book.all():
            lease.abandoned = True  # a late result from these is not reported
        self._keeper_stop.set()
        keeper.join(5)
        try:
            self._transport.deregister()
        except Exception as exc:
            self._events.emit("error", ErrorEventData(exc))
        try:
            self._transport.close()
        except Exception as exc:
            self._events.emit("error", ErrorEventData(exc))
        self._state = "error" if reason == "error" else "stopped"
        self._stopped.set()
        self._events.emit("stopped", StoppedEventData(self.worker_id, reason))

    def _install_signal_handlers(self) -> Callable[[], None]:
        if not self.options.handle_signals or threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_signal(signum: int, frame: Any) -> None:
            if self._stop_requested.is_set():
                self._force.set()  # a second signal stops waiting for running jobs
            log.info("spooled: signal %s received, stopping worker %s", signum, self.worker_id)
            self.stop()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return restore
