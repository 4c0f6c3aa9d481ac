"""SpooledWorker with transport="grpc" against an in-memory stand-in for SpooledGrpcClient:
reconnecting a broken stream, never running more than `concurrency` jobs when the stream
delivers more, lease fencing, renewals refused, and the transport's own rules."""

from __future__ import annotations

import asyncio
import queue
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from spooled import NetworkError, SpooledWorker
from spooled.grpc import GrpcFailResponse, GrpcJob
from spooled.worker import WorkerOptions
from spooled.worker._grpc import GrpcTransport
from spooled.worker.transport import check_transport

from .call_log import CallLog

DEADLINE = 10.0
_CANCELLED = object()


def job(job_id: str, **payload: Any) -> GrpcJob:
    return GrpcJob(id=job_id, queue_name="q", status="processing", payload=payload, max_retries=3,
                   lease_id=f"lease-{job_id}")


class FakeStream:
    """Yields what the test feeds it; an Exception item breaks it."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.cancelled = False

    def __iter__(self):
        while True:
            item = self.items.get()
            if item is _CANCELLED:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def cancel(self) -> None:
        self.cancelled = True
        self.items.put(_CANCELLED)


class FakeGrpc(CallLog):
    def __init__(self, renew_ok: bool = True):
        super().__init__()
        self.streams: list[FakeStream] = []
        self.opened = threading.Semaphore(0)
        self.renew_ok = renew_ok
        self.queue = SimpleNamespace(stream_jobs=self._stream_jobs, complete=self._complete, fail=self._fail,
                                     renew_lease=self._renew)
        self.workers = SimpleNamespace(register=self._register, heartbeat=self._heartbeat,
                                       deregister=self._deregister)

    def _stream_jobs(self, queue_name, worker_id, *, lease_duration_secs):
        self.record("stream", (queue_name, worker_id, lease_duration_secs))
        stream = FakeStream()
        self.streams.append(stream)
        self.opened.release()
        return stream

    def _register(self, queue_name, hostname, **kw):
        self.record("register", kw)
        return SimpleNamespace(worker_id="srv-1", heartbeat_interval_secs=10)

    def _complete(self, job_id, worker_id, result, *, lease_id):
        self.record("complete", (job_id, worker_id, lease_id, result))

    def _fail(self, job_id, worker_id, error, *, retry, lease_id):
        self.record("fail", (job_id, lease_id, retry))
        return GrpcFailResponse(success=True, will_retry=False, next_retry_delay_secs=0)

    def _renew(self, job_id, worker_id, extension_secs, *, lease_id):
        self.record("renew", (job_id, lease_id, extension_secs))
        return SimpleNamespace(success=self.renew_ok)

    def _heartbeat(self, worker_id, **kw):
        return SimpleNamespace(should_drain=False)

    def _deregister(self, worker_id):
        self.record("deregister", worker_id)


def make_worker(fake: FakeGrpc, **kw: Any) -> SpooledWorker:
    options = dict(concurrency=2, poll_interval=0.01, handle_signals=False, transport="grpc", grpc_client=fake)
    options.update(kw)
    return SpooledWorker(object(), "q", **options)


def run(worker: SpooledWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    return thread


def test_a_broken_stream_is_reopened_after_a_backoff():
    fake = FakeGrpc()
    worker = make_worker(fake)
    done = threading.Semaphore(0)
    errors: list[Any] = []
    worker.on("job:completed", lambda e: done.release())
    worker.on("error", lambda e: errors.append(e.error))
    worker.process(lambda ctx: {"id": ctx.job_id})
    thread = run(worker)
    assert fake.opened.acquire(timeout=DEADLINE)
    fake.streams[0].items.put(job("a"))
    assert done.acquire(timeout=DEADLINE)
    fake.streams[0].items.put(NetworkError("server stopping"))
    assert fake.opened.acquire(timeout=DEADLINE), "the stream was not reopened"
    fake.streams[1].items.put(job("b"))
    assert done.acquire(timeout=DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert [type(e) for e in errors] == [NetworkError]
    assert worker.worker_id == "srv-1" and fake.sent("stream")[0] == ("q", "srv-1", 30)
    assert fake.sent("complete") == [("a", "srv-1", "lease-a", {"id": "a"}), ("b", "srv-1", "lease-b", {"id": "b"})]
    assert fake.sent("deregister") == ["srv-1"] and fake.streams[1].cancelled
    assert fake.sent("register")[0]["max_concurrency"] == 2


def test_never_more_jobs_at_once_than_the_concurrency():
    fake = FakeGrpc()
    worker = make_worker(fake, concurrency=2)
    lock = threading.Lock()
    running, peak = 0, 0
    release = threading.Event()
    two_running = threading.Event()
    done = threading.Semaphore(0)
    worker.on("job:completed", lambda e: done.release())

    @worker.process
    def handle(ctx):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running == 2:
                two_running.set()
        release.wait(DEADLINE)
        with lock:
            running -= 1

    thread = run(worker)
    assert fake.opened.acquire(timeout=DEADLINE)
    for n in range(6):  # the stream over-delivers (say, after a reconnect)
        fake.streams[0].items.put(job(f"j{n}"))
    assert two_running.wait(DEADLINE)
    assert worker.active_job_count == 2
    release.set()
    for _ in range(6):
        assert done.acquire(timeout=DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert peak == 2 and sorted(c[0] for c in fake.sent("complete")) == [f"j{n}" for n in range(6)]


def test_a_refused_renewal_loses_the_lease_and_drops_the_result():
    fake = FakeGrpc(renew_ok=False)
    worker = make_worker(fake, lease_duration=5, heartbeat_fraction=0.02)  # renew every 0.1 s
    lost, finished = threading.Event(), threading.Event()
    worker.on("job:lease_lost", lambda e: lost.set())

    @worker.process
    def handle(ctx):
        assert ctx.signal.wait(DEADLINE)
        finished.set()
        return {"late": True}

    thread = run(worker)
    assert fake.opened.acquire(timeout=DEADLINE)
    fake.streams[0].items.put(job("a"))
    assert lost.wait(DEADLINE) and finished.wait(DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert fake.sent("renew")[0] == ("a", "lease-a", 5)
    assert fake.sent("complete") == [] and fake.sent("fail") == []


def test_failures_ask_for_a_retry():
    fake = FakeGrpc()
    worker = make_worker(fake)
    failed: list[Any] = []
    reported = threading.Event()
    worker.on("job:failed", lambda e: (failed.append(e), reported.set()))

    @worker.process
    def boom(ctx):
        raise ValueError("bad")

    thread = run(worker)
    assert fake.opened.acquire(timeout=DEADLINE)
    fake.streams[0].items.put(job("a"))
    assert reported.wait(DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert fake.sent("fail") == [("a", "lease-a", True)]
    assert failed[0].will_retry is False  # the server's answer wins over the local rule


def test_jobs_that_waited_past_their_lease_are_dropped():
    now = [0.0]
    options = WorkerOptions(queue_name="q", lease_duration=10)
    transport = GrpcTransport(FakeGrpc(), options, lambda: now[0])
    fresh, stale = ("job", job("fresh"), 95.0), ("job", job("stale"), 80.0)
    now[0] = 100.0
    assert [c.job.id for c in transport._take(stale, [fresh], 5)] == ["fresh"]
    with pytest.raises(NetworkError):
        transport._take(("error", NetworkError("gone")), [], 5)
    taken = transport._take(fresh, [("error", NetworkError("gone"))], 5)
    assert [c.job.id for c in taken] == ["fresh"] and taken[0].lease_started == 94.0  # one second of margin


def test_transport_names_are_checked():
    assert check_transport("grpc") == "grpc"
    with pytest.raises(ValueError):
        check_transport("carrier-pigeon")
    with pytest.raises(ValueError):
        SpooledWorker(object(), "q", transport="grpc")  # no gRPC client to be found


class AsyncFakeStream:
    def __init__(self) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue()
        self.cancelled = False

    async def __aiter__(self):
        while True:
            item = await self.items.get()
            if item is _CANCELLED:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def cancel(self) -> None:
        self.cancelled = True
        self.items.put_nowait(_CANCELLED)


class AsyncFakeGrpc(FakeGrpc):
    """FakeGrpc with coroutine calls and an asyncio stream."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.opened_async = asyncio.Event()
        sync_queue, sync_workers = self.queue, self.workers

        def wrap(fn):
            async def call(*a, **k):
                return fn(*a, **k)
            return call
        self.queue = SimpleNamespace(stream_jobs=self._async_stream, complete=wrap(sync_queue.complete),
                                     fail=wrap(sync_queue.fail), renew_lease=wrap(sync_queue.renew_lease))
        self.workers = SimpleNamespace(**{k: wrap(v) for k, v in vars(sync_workers).items()})

    def _async_stream(self, queue_name, worker_id, *, lease_duration_secs):
        self.record("stream", (queue_name, worker_id, lease_duration_secs))
        stream = AsyncFakeStream()
        self.streams.append(stream)  # type: ignore[arg-type]
        self.opened_async.set()
        return stream


async def _opened(fake: AsyncFakeGrpc, count: int) -> None:
    while len(fake.streams) < count:
        fake.opened_async.clear()
        await fake.opened_async.wait()


async def test_async_worker_reconnects_and_loses_refused_leases():
    from spooled.worker import AsyncSpooledWorker
    fake = AsyncFakeGrpc(renew_ok=False)
    worker = AsyncSpooledWorker(object(), "q", concurrency=2, poll_interval=0.01, lease_duration=5,
                                heartbeat_fraction=0.02, handle_signals=False, transport="grpc", grpc_client=fake)
    completed, lost = asyncio.Event(), asyncio.Event()
    errors: list[Any] = []
    worker.on("job:completed", lambda e: completed.set())
    worker.on("job:lease_lost", lambda e: lost.set())
    worker.on("error", lambda e: errors.append(e.error))

    @worker.process
    async def handle(ctx):
        if ctx.payload.get("hang"):
            await ctx.signal.wait()
            return {"late": True}
        return {"ok": True}

    runner = asyncio.create_task(worker.start())
    await asyncio.wait_for(_opened(fake, 1), DEADLINE)
    fake.streams[0].items.put_nowait(NetworkError("dropped"))
    await asyncio.wait_for(_opened(fake, 2), DEADLINE)
    fake.streams[1].items.put_nowait(job("ok"))
    fake.streams[1].items.put_nowait(job("hang", hang=True))
    await asyncio.wait_for(asyncio.gather(completed.wait(), lost.wait()), DEADLINE)
    await asyncio.wait_for(worker.stop(), DEADLINE)
    await asyncio.wait_for(runner, DEADLINE)
    assert [type(e) for e in errors] == [NetworkError]
    assert [c[0] for c in fake.sent("complete")] == ["ok"] and fake.sent("fail") == []
    assert fake.sent("deregister") == ["srv-1"] and fake.streams[1].cancelled
    assert worker.state == "stopped"


class StructOnlyGrpc(FakeGrpc):
    """Builds the real CompleteRequest, so a result a protobuf Struct cannot hold fails as it does
    against a server."""

    def _complete(self, job_id, worker_id, result, *, lease_id):
        from spooled.grpc import GrpcCompleteRequest
        GrpcCompleteRequest(job_id, worker_id, result=result, lease_id=lease_id).to_proto()
        super()._complete(job_id, worker_id, result, lease_id=lease_id)


def test_a_result_grpc_cannot_carry_fails_the_job_instead_of_leaving_it_to_expire():
    fake = StructOnlyGrpc()
    worker = make_worker(fake)
    failed: list[Any] = []
    reported = threading.Event()
    worker.on("job:failed", lambda e: (failed.append(e), reported.set()))
    worker.process(lambda ctx: ["not", "an", "object"])
    thread = run(worker)
    assert fake.opened.acquire(timeout=DEADLINE)
    fake.streams[0].items.put(job("a"))
    assert reported.wait(DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert fake.sent("complete") == [] and fake.sent("fail") == [("a", "lease-a", True)]
    assert "must be a dict" in failed[0].error
