"""SpooledWorker and AsyncSpooledWorker end to end against the live server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from spooled import AsyncSpooledClient, SpooledClient, SpooledWorker
from spooled.worker import AsyncSpooledWorker

from .async_worker_run import complete_jobs
from .conftest import start_in_thread, wait_for
from .server_fixture import Org

DEADLINE = 20.0


def quick_worker(client: SpooledClient, queue: str, **kw: Any) -> SpooledWorker:
    options: dict[str, Any] = dict(concurrency=4, claim_wait=1, poll_interval=0.1, handle_signals=False)
    options.update(kw)
    return SpooledWorker(client, queue, **options)


def test_worker_processes_jobs_and_reports_results_and_failures(client: SpooledClient):
    ids = [client.jobs.create({"queue_name": "e2e", "payload": {"n": n}, "max_retries": 1}).id for n in range(8)]
    worker = quick_worker(client, "e2e")
    events: dict[str, list[Any]] = {"job:completed": [], "job:failed": [], "started": [], "stopped": []}
    for name, seen in events.items():
        worker.on(name, seen.append)

    @worker.process
    def square(ctx):
        if ctx.payload["n"] == 5 and ctx.retry_count == 0:
            raise RuntimeError("first attempt fails")
        return {"square": ctx.payload["n"] ** 2}

    thread = start_in_thread(worker)
    wait_for(lambda: bool(events["started"]), what="worker registered")
    assert client.workers.get(worker.worker_id).status == "healthy"
    wait_for(lambda: len(events["job:completed"]) == 7, DEADLINE, "seven results")
    assert [(e.job_id, e.will_retry) for e in events["job:failed"]] == [(ids[5], True)]
    worker.stop()
    thread.join(DEADLINE)
    assert worker.state == "stopped" and events["started"] and events["stopped"][0].reason == "graceful"
    for n, job_id in enumerate(ids):
        job = client.jobs.get(job_id)
        if n == 5:  # retried later with backoff, so still waiting
            assert job.status in ("pending", "scheduled") and job.last_error == "RuntimeError: first attempt fails"
        else:
            assert (job.status, job.result) == ("completed", {"square": n * n})
    assert client.workers.get(worker.worker_id).status == "offline"


def test_a_job_whose_lease_was_taken_over_is_not_completed_by_the_old_worker(client: SpooledClient, sql):
    job_id = client.jobs.create({"queue_name": "takeover", "payload": {}, "max_retries": 3}).id
    worker = quick_worker(client, "takeover", concurrency=1, lease_duration=5, heartbeat_fraction=0.1)
    started, lost, thief_has_it = threading.Event(), threading.Event(), threading.Event()
    sent_results: list[str] = []
    real_complete = client.jobs.complete
    client.jobs.complete = lambda jid, params: (sent_results.append(jid), real_complete(jid, params))[1]
    completed: list[Any] = []
    worker.on("job:completed", completed.append)
    worker.on("job:lease_lost", lambda e: lost.set())
    cancel_reasons: list[str] = []

    @worker.process
    def slow(ctx):
        started.set()
        assert ctx.signal.wait(DEADLINE)
        cancel_reasons.append(ctx.cancel_reason)
        thief_has_it.wait(DEADLINE)
        return {"from": "old worker"}

    thread = start_in_thread(worker)
    assert started.wait(DEADLINE)
    # The old worker stalls past its lease (simulated by expiring it); the server's reaper puts
    # the job back and another worker claims it.
    sql("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", job_id)
    assert lost.wait(DEADLINE), "the heartbeat should have reported LEASE_EXPIRED"
    wait_for(lambda: client.jobs.get(job_id).status == "pending", DEADLINE, "reaper returned the job")
    thief = client.jobs.claim({"queue_name": "takeover", "worker_id": "thief"}).jobs[0]
    thief_has_it.set()
    wait_for(lambda: worker.active_job_count == 0, DEADLINE, "old handler returned")
    job = client.jobs.get(job_id)
    assert (job.status, job.assigned_worker_id, job.result) == ("processing", "thief", None)
    assert sent_results == [] and completed == [] and cancel_reasons == ["lease_lost"]
    client.jobs.complete(job_id, {"worker_id": "thief", "lease_id": thief.lease_id, "result": {"from": "thief"}})
    worker.stop()
    thread.join(DEADLINE)
    assert client.jobs.get(job_id).result == {"from": "thief"}


def test_shutdown_hands_unfinished_jobs_back_without_using_a_retry(client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "drain", "payload": {}}).id
    worker = quick_worker(client, "drain", shutdown_timeout=0.5)
    started, release = threading.Event(), threading.Event()

    @worker.process
    def stubborn(ctx):
        started.set()
        release.wait(DEADLINE)  # ignores the shutdown signal
        return {"too": "late"}

    thread = start_in_thread(worker)
    assert started.wait(DEADLINE)
    worker.stop()
    thread.join(DEADLINE)
    job = client.jobs.get(job_id)
    assert (job.status, job.retry_count, job.assigned_worker_id) == ("pending", 0, None)
    release.set()
    wait_for(lambda: worker.active_job_count == 0, DEADLINE, "stubborn handler returned")
    assert client.jobs.get(job_id).status == "pending"  # its late result was not reported


def test_sigterm_stops_the_worker_gracefully(org: Org, live_server, client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "signals", "payload": {}}).id
    script = textwrap.dedent(f"""
        import sys
        from spooled import SpooledClient, SpooledWorker
        client = SpooledClient({org.api_key!r}, base_url={live_server.url!r})
        worker = SpooledWorker(client, "signals", claim_wait=1, poll_interval=0.1, shutdown_timeout=10)

        @worker.process
        def handle(ctx):
            print("started", flush=True)
            ctx.signal.wait(30)
            return {{"stopped_by": ctx.cancel_reason}}

        worker.start()
        print("exited", worker.state, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(DEADLINE) == 0
        assert proc.stdout.read().strip() == "exited stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
    job = client.jobs.get(job_id)
    assert (job.status, job.result) == ("completed", {"stopped_by": "shutdown"})


async def test_async_worker_end_to_end(org: Org, live_server):
    async with AsyncSpooledClient(org.api_key, base_url=live_server.url) as client:
        ids = [(await client.jobs.create({"queue_name": "aio", "payload": {"n": n}})).id for n in range(5)]
        worker = AsyncSpooledWorker(client, "aio", concurrency=3, claim_wait=1, poll_interval=0.1,
                                    handle_signals=False)
        done = await complete_jobs(worker, len(ids))
        assert sorted(done) == sorted(ids)
        results = [(await client.jobs.get(i)).result for i in ids]
        assert results == [{"n": n} for n in range(5)]
        assert (await client.workers.get(worker.worker_id)).status == "offline"


def test_worker_with_a_revoked_key_stops_with_the_error(client: SpooledClient, live_server):
    key = client.api_keys.create({"name": "short lived"})
    with SpooledClient(key.key, base_url=live_server.url) as doomed:
        worker = quick_worker(doomed, "revoked")
        worker.process(lambda ctx: None)
        errors: list[Any] = []
        worker.on("error", errors.append)
        client.api_keys.delete(key.id)
        with pytest.raises(Exception) as caught:
            worker.start()
        assert caught.value.__class__.__name__ == "AuthenticationError" and worker.state == "error"
