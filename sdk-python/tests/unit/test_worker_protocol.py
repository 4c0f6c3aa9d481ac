"""SpooledWorker and AsyncSpooledWorker against an in-memory stand-in for the client.

The fake records every call, so the tests check exactly what the worker sends: results,
failures, heartbeats, nothing for a lost lease, deregistration on stop. Tests wait on events
with deadlines; they never sleep.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from spooled import LeaseExpiredError, SpooledWorker
from spooled.worker import AsyncSpooledWorker

from .call_log import CallLog

DEADLINE = 10.0


def claimed(job_id: str, **kw: Any) -> SimpleNamespace:
    return SimpleNamespace(id=job_id, queue_name="q", payload=kw.get("payload", {"n": job_id}),
                           retry_count=kw.get("retry_count", 0), max_retries=kw.get("max_retries", 3),
                           lease_id=f"lease-{job_id}")


class FakeClient(CallLog):
    """Hands out the queued jobs once, then nothing; heartbeats may be made to fail."""

    def __init__(self, jobs: list[SimpleNamespace], heartbeat_error: Exception | None = None):
        super().__init__()
        self.queue = list(jobs)
        self.heartbeat_error = heartbeat_error
        self.jobs = SimpleNamespace(claim=self._claim, complete=self._complete, fail=self._fail,
                                    heartbeat=self._heartbeat)
        self.workers = SimpleNamespace(register=self._register, heartbeat=self._liveness,
                                       deregister=self._deregister)

    def _register(self, params):
        self.record("register", params)
        return SimpleNamespace(id=params["worker_id"], heartbeat_interval_secs=10, lease_duration_secs=30)

    def _claim(self, params):
        self.record("claim", params)
        with self.lock:
            take, self.queue = self.queue[: params["limit"]], self.queue[params["limit"]:]
        return SimpleNamespace(jobs=take)

    def _complete(self, job_id, params):
        self.record("complete", (job_id, params))
        return SimpleNamespace(success=True)

    def _fail(self, job_id, params):
        self.record("fail", (job_id, params))
        return SimpleNamespace(success=True, will_retry=True)

    def _heartbeat(self, job_id, params):
        self.record("heartbeat", (job_id, params))
        if self.heartbeat_error is not None:
            raise self.heartbeat_error
        return SimpleNamespace(success=True)

    def _liveness(self, worker_id, params):
        self.record("liveness", params)

    def _deregister(self, worker_id):
        self.record("deregister", worker_id)


class AsyncFake(FakeClient):
    """The same stand-in with coroutine methods."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        wrap = lambda fn: (lambda *a: asyncio.sleep(0, fn(*a)))  # noqa: E731
        self.jobs = SimpleNamespace(**{k: wrap(v) for k, v in vars(self.jobs).items()})
        self.workers = SimpleNamespace(**{k: wrap(v) for k, v in vars(self.workers).items()})


def run_in_thread(worker: SpooledWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    return thread


def make_worker(client, **kw: Any) -> SpooledWorker:
    options = dict(concurrency=2, claim_wait=0, poll_interval=0.01, handle_signals=False, worker_id="w1")
    options.update(kw)
    return SpooledWorker(client, "q", **options)


def test_results_and_failures_are_reported_with_the_lease():
    client = FakeClient([claimed("a"), claimed("b", payload={"boom": True}), claimed("c", payload=object())])
    worker = make_worker(client)
    settled = threading.Semaphore(0)
    events: list[str] = []
    worker.on("job:completed", lambda e: (events.append(f"done:{e.job_id}"), settled.release()))
    worker.on("job:failed", lambda e: (events.append(f"failed:{e.job_id}:{e.will_retry}"), settled.release()))

    @worker.process
    def handle(ctx):
        if isinstance(ctx.payload, dict) and ctx.payload.get("boom"):
            raise ValueError("bad payload")
        return ctx.payload  # the object() payload is not JSON: reported as a failure

    thread = run_in_thread(worker)
    for _ in range(3):
        assert settled.acquire(timeout=DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert worker.state == "stopped"
    assert client.sent("complete") == [("a", {"worker_id": "w1", "lease_id": "lease-a", "result": {"n": "a"}})]
    failures = dict(client.sent("fail"))
    assert failures["b"] == {"worker_id": "w1", "lease_id": "lease-b", "error": "ValueError: bad payload"}
    assert "not JSON-serializable" in failures["c"]["error"]
    assert sorted(events) == ["done:a", "failed:b:True", "failed:c:True"]
    assert client.sent("register")[0]["max_concurrency"] == 2
    assert client.sent("deregister") == ["w1"]
    assert all(params["lease_duration_secs"] == 30 and params["limit"] >= 1 for params in client.sent("claim"))


def test_a_lost_lease_cancels_the_handler_and_its_result_is_dropped():
    gone = LeaseExpiredError("Lease is no longer held", status_code=409, code="LEASE_EXPIRED")
    client = FakeClient([claimed("a")], heartbeat_error=gone)
    worker = make_worker(client, lease_duration=5, heartbeat_fraction=0.02)  # heartbeat every 0.1 s
    lost = threading.Event()
    worker.on("job:lease_lost", lambda e: lost.set())
    finished = threading.Event()

    @worker.process
    def handle(ctx):
        assert ctx.signal.wait(DEADLINE), "signal never set"
        finished.set()
        return {"late": True}

    thread = run_in_thread(worker)
    assert lost.wait(DEADLINE) and finished.wait(DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert client.sent("heartbeat")[0] == ("a", {"worker_id": "w1", "lease_id": "lease-a", "lease_duration_secs": 5})
    assert client.sent("complete") == [] and client.sent("fail") == []


def test_shutdown_signals_handlers_and_does_not_fail_interrupted_jobs():
    client = FakeClient([claimed("a"), claimed("b")])
    worker = make_worker(client, shutdown_timeout=5)
    running = threading.Semaphore(0)
    stopped = []
    worker.on("stopped", stopped.append)

    @worker.process
    def handle(ctx):
        running.release()
        assert ctx.signal.wait(DEADLINE)
        if ctx.job_id == "a":
            return {"finished": "anyway"}  # a result within the grace period is still reported
        raise InterruptedError("stopping")   # gives the job back instead of failing it

    thread = run_in_thread(worker)
    assert running.acquire(timeout=DEADLINE) and running.acquire(timeout=DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert [job for job, _ in client.sent("complete")] == ["a"]
    assert client.sent("fail") == []
    assert client.sent("deregister") == ["w1"] and stopped[0].reason == "graceful"


def test_handlers_past_the_grace_period_are_abandoned():
    client = FakeClient([claimed("a")])
    worker = make_worker(client, shutdown_timeout=0)
    started, release = threading.Event(), threading.Event()

    @worker.process
    def stubborn(ctx):
        started.set()
        release.wait(DEADLINE)  # ignores ctx.signal
        return {"too": "late"}

    thread = run_in_thread(worker)
    assert started.wait(DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    release.set()
    assert client.sent("deregister") == ["w1"]
    assert client.sent("complete") == []


def test_handler_rules():
    worker = make_worker(FakeClient([]))
    with pytest.raises(RuntimeError):
        worker.start()  # no handler

    async def coro(ctx):
        return None
    with pytest.raises(TypeError):
        worker.process(coro)


def test_the_blocking_worker_refuses_async_listeners_it_would_never_await():
    worker = make_worker(FakeClient([]))

    async def listener(event):
        return None
    with pytest.raises(TypeError):
        worker.on("job:completed", listener)
    with pytest.raises(TypeError):
        worker.on("job:completed")(listener)
    with pytest.raises(ValueError):
        worker.on("no-such-event")
    assert worker.on("job:completed", print) is print


async def test_async_worker_processes_and_handles_lost_leases():
    gone = LeaseExpiredError("gone", status_code=409, code="LEASE_EXPIRED")
    client = AsyncFake([claimed("ok"), claimed("lost", payload={"hang": True})], heartbeat_error=gone)
    worker = AsyncSpooledWorker(client, "q", concurrency=2, claim_wait=0, poll_interval=0.01, lease_duration=5,
                                heartbeat_fraction=0.02, handle_signals=False, worker_id="w1")
    completed, lost = asyncio.Event(), asyncio.Event()
    worker.on("job:completed", lambda e: completed.set())

    @worker.on("job:lease_lost")
    async def on_lost(event):
        lost.set()

    @worker.process
    async def handle(ctx):
        if ctx.payload.get("hang"):
            await ctx.signal.wait()
            return {"late": True}
        return {"ok": True}

    runner = asyncio.create_task(worker.start())
    await asyncio.wait_for(asyncio.gather(completed.wait(), lost.wait()), DEADLINE)
    await asyncio.wait_for(worker.stop(), DEADLINE)
    await asyncio.wait_for(runner, DEADLINE)
    assert [job for job, _ in client.sent("complete")] == ["ok"]
    assert client.sent("fail") == [] and client.sent("deregister") == ["w1"]
    assert worker.state == "stopped"


def test_a_server_that_refuses_wait_ms_is_polled_instead():
    from spooled import ValidationError

    class OldServer(FakeClient):
        def _claim(self, params):
            if "wait_ms" in params:
                self.record("refused", params)
                raise ValidationError("unknown field wait_ms", status_code=400, code="VALIDATION_ERROR")
            return super()._claim(params)

    client = OldServer([claimed("a")])
    worker = make_worker(client, claim_wait=2)
    done = threading.Event()
    worker.on("job:completed", lambda e: done.set())
    worker.process(lambda ctx: {"ok": True})
    thread = run_in_thread(worker)
    assert done.wait(DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    assert len(client.sent("refused")) == 1
    assert all("wait_ms" not in params for params in client.sent("claim"))
