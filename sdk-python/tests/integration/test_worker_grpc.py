"""SpooledWorker and AsyncSpooledWorker with transport="grpc" against the live server."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from spooled import AsyncSpooledClient, SpooledClient, SpooledWorker
from spooled.grpc import AsyncSpooledGrpcClient, SpooledGrpcClient
from spooled.worker import AsyncSpooledWorker

from .async_worker_run import complete_jobs
from .conftest import start_in_thread, wait_for
from .server_fixture import LiveServer, Org

DEADLINE = 20.0


def grpc_worker(grpc_client: SpooledGrpcClient, queue: str, **kw: Any) -> SpooledWorker:
    options: dict[str, Any] = dict(concurrency=4, handle_signals=False, poll_interval=0.1, transport="grpc")
    options.update(kw)
    return SpooledWorker(grpc_client, queue, **options)


def test_grpc_worker_runs_each_job_exactly_once_within_its_concurrency(
        grpc_client: SpooledGrpcClient, client: SpooledClient):
    ids = [grpc_client.queue.enqueue("many", {"n": n}).job_id for n in range(8)]
    worker = grpc_worker(grpc_client, "many", concurrency=3)
    runs: Counter[str] = Counter()
    lock = threading.Lock()
    running, peak = 0, 0
    gate = threading.Barrier(3, timeout=DEADLINE)  # proves three really run at once
    completed: list[str] = []
    worker.on("job:completed", lambda e: completed.append(e.job_id))

    @worker.process
    def handle(ctx):
        nonlocal running, peak
        with lock:
            runs[ctx.job_id] += 1
            running += 1
            peak = max(peak, running)
        try:
            if ctx.payload["n"] < 3:
                gate.wait()
            return {"double": ctx.payload["n"] * 2}
        finally:
            with lock:
                running -= 1

    thread = start_in_thread(worker)
    wait_for(lambda: len(completed) == len(ids), DEADLINE, "every job completed")
    late = grpc_client.queue.enqueue("many", {"n": 99}).job_id  # pushed to the idle stream
    wait_for(lambda: late in completed, DEADLINE, "job enqueued while idle completed")
    worker.stop()
    thread.join(DEADLINE)
    assert worker.state == "stopped"
    assert sorted(runs) == sorted(ids + [late]) and set(runs.values()) == {1}
    assert peak == 3
    for n, job_id in enumerate(ids):
        job = client.jobs.get(job_id)
        assert (job.status, job.result, job.assigned_worker_id) == ("completed", {"double": 2 * n}, worker.worker_id)
    assert client.workers.get(worker.worker_id).status == "offline"


def test_grpc_worker_reports_failures_for_retry(grpc_client: SpooledGrpcClient, client: SpooledClient):
    job_id = grpc_client.queue.enqueue("flaky", {}, max_retries=2).job_id
    worker = grpc_worker(grpc_client, "flaky")
    failed: list[Any] = []
    worker.on("job:failed", failed.append)

    @worker.process
    def boom(ctx):
        raise RuntimeError("nope")

    thread = start_in_thread(worker)
    wait_for(lambda: bool(failed), DEADLINE, "failure reported")
    worker.stop()
    thread.join(DEADLINE)
    assert (failed[0].job_id, failed[0].will_retry) == (job_id, True)
    job = client.jobs.get(job_id)
    assert job.retry_count == 1 and job.last_error == "RuntimeError: nope"


def test_a_lost_lease_signals_the_handler_and_drops_its_result(grpc_client: SpooledGrpcClient,
                                                               client: SpooledClient, sql):
    job_id = grpc_client.queue.enqueue("taken", {}, max_retries=3).job_id
    worker = grpc_worker(grpc_client, "taken", concurrency=1, lease_duration=5, heartbeat_fraction=0.1)
    started, lost, thief_has_it = threading.Event(), threading.Event(), threading.Event()
    reasons: list[str] = []
    completed: list[Any] = []
    worker.on("job:completed", completed.append)
    worker.on("job:lease_lost", lambda e: lost.set())

    @worker.process
    def slow(ctx):
        started.set()
        assert ctx.signal.wait(DEADLINE)
        reasons.append(ctx.cancel_reason)
        thief_has_it.wait(DEADLINE)
        return {"from": "old worker"}

    thread = start_in_thread(worker)
    assert started.wait(DEADLINE)
    # Another worker takes the job over: the old lease id no longer matches.
    sql("UPDATE jobs SET lease_id = gen_random_uuid()::text, assigned_worker_id = 'thief' WHERE id = $1", job_id)
    assert lost.wait(DEADLINE), "RenewLease should have been refused"
    thief_has_it.set()
    wait_for(lambda: worker.active_job_count == 0, DEADLINE, "old handler returned")
    job = client.jobs.get(job_id)
    assert (job.status, job.result, job.assigned_worker_id) == ("processing", None, "thief")
    assert completed == [] and reasons == ["lease_lost"]
    worker.stop()
    thread.join(DEADLINE)


def test_graceful_stop_finishes_or_hands_back_jobs(grpc_client: SpooledGrpcClient, client: SpooledClient):
    quick = grpc_client.queue.enqueue("drain", {"kind": "quick"}).job_id
    stubborn = grpc_client.queue.enqueue("drain", {"kind": "stubborn"}).job_id
    worker = grpc_worker(grpc_client, "drain", concurrency=2, shutdown_timeout=1)
    both, release = threading.Barrier(3, timeout=DEADLINE), threading.Event()
    stopped: list[Any] = []
    worker.on("stopped", stopped.append)

    @worker.process
    def handle(ctx):
        both.wait()
        if ctx.payload["kind"] == "quick":
            assert ctx.signal.wait(DEADLINE)
            return {"finished": ctx.cancel_reason}  # within the grace period: still reported
        release.wait(DEADLINE)  # ignores the signal past the grace period
        return {"too": "late"}

    thread = start_in_thread(worker)
    both.wait()
    worker.stop()
    thread.join(DEADLINE)
    assert worker.state == "stopped" and stopped[0].reason == "graceful"
    assert client.jobs.get(quick).result == {"finished": "shutdown"}
    job = client.jobs.get(stubborn)
    assert (job.status, job.retry_count, job.assigned_worker_id) == ("pending", 0, None)
    release.set()
    wait_for(lambda: worker.active_job_count == 0, DEADLINE, "stubborn handler returned")
    assert client.jobs.get(stubborn).status == "pending"


def test_a_bad_key_stops_the_grpc_worker(live_server: LiveServer):
    import pytest

    from spooled import AuthenticationError
    with SpooledGrpcClient(live_server.grpc_target, "sp_test_" + "z" * 40) as stranger:
        worker = grpc_worker(stranger, "nope")
        worker.process(lambda ctx: None)
        with pytest.raises(AuthenticationError):
            worker.start()
        assert worker.state == "error"


async def test_async_grpc_worker(org: Org, live_server: LiveServer):
    async with AsyncSpooledClient(org.api_key, base_url=live_server.url) as rest, \
            AsyncSpooledGrpcClient(live_server.grpc_target, org.api_key) as aio:
        ids = [(await aio.queue.enqueue("aio-grpc", {"n": n})).job_id for n in range(6)]
        worker = AsyncSpooledWorker(rest, "aio-grpc", concurrency=3, handle_signals=False, transport="grpc",
                                    grpc_client=aio)
        done = await complete_jobs(worker, len(ids))
        assert sorted(done) == sorted(ids)
        assert [(await rest.jobs.get(i)).result for i in ids] == [{"n": n} for n in range(6)]
        assert (await rest.workers.get(worker.worker_id)).status == "offline"


async def test_async_worker_mirrors_a_blocking_grpc_client(org: Org, live_server: LiveServer):
    blocking = SpooledGrpcClient(live_server.grpc_target, org.api_key)
    try:
        job_id = blocking.queue.enqueue("mirror", {}).job_id
        worker = AsyncSpooledWorker(blocking, "mirror", handle_signals=False, transport="grpc")
        done = asyncio.Event()
        worker.on("job:completed", lambda e: done.set())
        worker.process(lambda ctx: {"sync": True})  # a sync handler runs in a thread
        runner = asyncio.create_task(worker.start())
        await asyncio.wait_for(done.wait(), DEADLINE)
        await asyncio.wait_for(worker.stop(), DEADLINE)
        await runner
        assert blocking.queue.get_job(job_id).job.result == {"sync": True}
    finally:
        blocking.close()
