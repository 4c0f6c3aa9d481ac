"""SpooledGrpcClient and AsyncSpooledGrpcClient against the live server's gRPC port."""

from __future__ import annotations

import queue
import threading
from datetime import datetime, timedelta, timezone

import pytest

from spooled import (AuthenticationError, ConflictError, LeaseExpiredError, NotFoundError, SpooledClient,
                     ValidationError)
from spooled.grpc import (AsyncSpooledGrpcClient, GrpcCompleteBatchRequest, GrpcCompleteRequest, GrpcDequeueRequest,
                          ProcessRequest, SpooledGrpcClient)

from .server_fixture import LiveServer, Org

DEADLINE = 15.0
STALE_LEASE = "00000000-0000-4000-8000-000000000000"


def test_connection_state(grpc_client: SpooledGrpcClient):
    assert grpc_client.wait_for_ready(DEADLINE) is True
    assert grpc_client.get_state() == "ready"
    assert grpc_client.use_tls is False  # 127.0.0.1 is plaintext by default


def test_queue_service_round_trip(grpc_client: SpooledGrpcClient, client: SpooledClient):
    q = grpc_client.queue
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    first = q.enqueue("rpc", {"n": 1, "nested": {"ok": True}, "list": [1, "a"]}, priority=5, max_retries=2,
                      timeout_seconds=60, idempotency_key="rpc-1", tags={"team": "a"})
    assert first.created is True
    again = q.enqueue("rpc", {"n": 1}, idempotency_key="rpc-1")
    assert (again.job_id, again.created) == (first.job_id, False)
    scheduled = q.enqueue("rpc", {}, scheduled_at=later)

    job = q.get_job(first.job_id).job
    assert job is not None and (job.status, job.payload, job.priority, job.max_retries) == (
        "pending", {"n": 1, "nested": {"ok": True}, "list": [1, "a"]}, 5, 2)
    assert job.idempotency_key == "rpc-1" and job.created_at is not None and job.created_at.tzinfo is not None
    assert q.get_job(scheduled.job_id).job.status == "scheduled"
    assert q.get_job(STALE_LEASE).job is None

    leased = q.dequeue("rpc", "w1", batch_size=5, lease_duration_secs=20).jobs
    assert [j.id for j in leased] == [first.job_id]  # the scheduled job is not due
    assert leased[0].lease_id and leased[0].lease_expires_at is not None
    renewed = q.renew_lease(first.job_id, "w1", 60, lease_id=leased[0].lease_id)
    assert renewed.success and renewed.new_expires_at > leased[0].lease_expires_at
    assert q.renew_lease(first.job_id, "w2", 60, lease_id=STALE_LEASE).success is False
    assert q.complete(first.job_id, "w1", {"done": 1}, lease_id=leased[0].lease_id).success
    assert client.jobs.get(first.job_id).result == {"done": 1}

    doomed = q.enqueue("rpc-fail", {}, max_retries=3).job_id
    lease = q.dequeue("rpc-fail", "w1").jobs[0].lease_id
    answer = q.fail(doomed, "w1", "x" * 5000, retry=False, lease_id=lease)
    assert (answer.success, answer.will_retry, answer.next_retry_delay_secs) == (True, False, 0)
    assert q.get_job(doomed).job.status == "deadletter"

    retried = q.enqueue("rpc-fail", {}, max_retries=3).job_id
    lease = q.dequeue("rpc-fail", "w1").jobs[0].lease_id
    answer = q.fail(retried, "w1", "try again", lease_id=lease)
    assert answer.will_retry is True and answer.next_retry_delay_secs >= 0

    stats = q.get_queue_stats("rpc")
    assert (stats.queue_name, stats.completed, stats.scheduled, stats.total) == ("rpc", 1, 1, 2)
    assert q.get_queue_stats("rpc-fail").deadletter == 1


def test_worker_service_round_trip(grpc_client: SpooledGrpcClient, client: SpooledClient):
    w = grpc_client.workers
    registered = w.register("wq", "host-1", max_concurrency=3, metadata={"zone": "a"})
    assert registered.worker_id and registered.heartbeat_interval_secs > 0
    assert client.workers.get(registered.worker_id).status == "healthy"
    beat = w.heartbeat(registered.worker_id, current_jobs=2)
    assert (beat.acknowledged, beat.should_drain) == (True, False)
    assert w.heartbeat(STALE_LEASE).acknowledged is False
    assert w.deregister(registered.worker_id).success is True
    assert client.workers.get(registered.worker_id).status == "offline"
    assert w.deregister(STALE_LEASE).success is False


def test_errors_are_typed(grpc_client: SpooledGrpcClient, live_server: LiveServer):
    with SpooledGrpcClient(live_server.grpc_target, "sp_test_" + "x" * 40) as stranger:
        with pytest.raises(AuthenticationError) as caught:
            stranger.queue.enqueue("q", {})
    assert caught.value.status_code == 401 and caught.value.code == "UNAUTHORIZED"
    assert caught.value.grpc_status == "UNAUTHENTICATED" and "Invalid" in caught.value.message
    with pytest.raises(ValidationError) as invalid:
        grpc_client.queue.enqueue("", {})
    assert invalid.value.code == "VALIDATION_ERROR"
    with pytest.raises(ValidationError):
        grpc_client.queue.dequeue("q", "")
    with pytest.raises(NotFoundError):
        grpc_client.queue.complete(STALE_LEASE, "w1", lease_id=STALE_LEASE)


def test_a_stale_lease_is_a_conflict_and_changes_nothing(grpc_client: SpooledGrpcClient):
    job_id = grpc_client.queue.enqueue("stale", {}).job_id
    grpc_client.queue.dequeue("stale", "w1")
    with pytest.raises(ConflictError) as caught:
        grpc_client.queue.complete(job_id, "w1", {"x": 1}, lease_id=STALE_LEASE)
    assert isinstance(caught.value, LeaseExpiredError) and caught.value.code == "LEASE_EXPIRED"
    with pytest.raises(LeaseExpiredError):
        grpc_client.queue.fail(job_id, "w1", "no", lease_id=STALE_LEASE)
    job = grpc_client.queue.get_job(job_id).job
    assert (job.status, job.result) == ("processing", None)


def test_stream_delivers_jobs_enqueued_after_it_opened(grpc_client: SpooledGrpcClient):
    received: queue.Queue = queue.Queue()
    first = grpc_client.queue.enqueue("live", {"n": 0}).job_id
    stream = grpc_client.queue.stream_jobs("live", "streamer", lease_duration_secs=30)

    def read() -> None:
        try:
            for job in stream:
                received.put(job)
        except Exception as exc:  # surfaced by the assertions below
            received.put(exc)

    threading.Thread(target=read, daemon=True).start()
    try:
        # Receiving the first job proves the stream is open and idle before the next enqueue.
        assert received.get(timeout=DEADLINE).id == first
        later = grpc_client.queue.enqueue("live", {"n": 1}).job_id
        job = received.get(timeout=DEADLINE)
        assert (job.id, job.payload, job.assigned_worker_id) == (later, {"n": 1}, "streamer")
        assert job.lease_id and grpc_client.queue.complete(later, "streamer", lease_id=job.lease_id).success
    finally:
        stream.cancel()


def test_process_jobs_stream(grpc_client: SpooledGrpcClient):
    job_id = grpc_client.queue.enqueue("bidi", {"n": 7}).job_id
    ended: list[bool] = []
    from spooled.grpc import StreamOptions
    stream = grpc_client.queue.process_jobs(StreamOptions(on_end=lambda: ended.append(True)))
    answers = stream.receive()
    stream.send(ProcessRequest(dequeue=GrpcDequeueRequest("bidi", "w1", batch_size=1)))
    job = next(answers).job
    assert (job.id, job.payload) == (job_id, {"n": 7})
    stream.send(ProcessRequest(complete=GrpcCompleteRequest(job_id, "w1", {"ok": True}, lease_id=STALE_LEASE)))
    refused = next(answers)
    assert refused.kind == "error" and isinstance(refused.error.to_exception(), LeaseExpiredError)
    stream.send(ProcessRequest(complete=GrpcCompleteRequest(job_id, "w1", {"ok": True}, lease_id=job.lease_id)))
    assert next(answers).complete.success is True
    stream.end()
    assert list(answers) == [] and ended == [True]
    assert grpc_client.queue.get_job(job_id).job.result == {"ok": True}


def test_complete_batch_unary_and_on_the_stream(grpc_client: SpooledGrpcClient):
    """The server's CompleteBatch extension: one outcome per job, in order, failures as outcomes."""
    ids = [grpc_client.queue.enqueue("batch", {"n": n}).job_id for n in range(3)]
    jobs = {j.id: j for j in grpc_client.queue.dequeue("batch", "w1", batch_size=3).jobs}
    answer = grpc_client.queue.complete_batch([
        GrpcCompleteRequest(ids[0], "w1", {"n": 0}, lease_id=jobs[ids[0]].lease_id),
        {"job_id": ids[1], "lease_id": STALE_LEASE},
    ])
    assert [(o.job_id, o.success) for o in answer.results] == [(ids[0], True), (ids[1], False)]
    assert answer.results[1].error.code == "LEASE_EXPIRED" and answer.results[0].error is None
    assert (answer.success_count, answer.failure_count) == (1, 1)
    assert isinstance(answer.results[1].error.to_exception(), LeaseExpiredError)

    stream = grpc_client.queue.process_jobs()
    answers = stream.receive()
    stream.send(ProcessRequest(complete_batch=GrpcCompleteBatchRequest((
        GrpcCompleteRequest(ids[1], "w1", lease_id=jobs[ids[1]].lease_id),
        GrpcCompleteRequest(ids[2], "w1", lease_id=jobs[ids[2]].lease_id)))))
    reply = next(answers)
    assert reply.kind == "complete_batch" and [o.success for o in reply.complete_batch.results] == [True, True]
    stream.end()
    assert list(answers) == []
    assert [grpc_client.queue.get_job(i).job.status for i in ids] == ["completed"] * 3
    with pytest.raises(ValidationError):
        grpc_client.queue.complete_batch([])


async def test_async_client(org: Org, live_server: LiveServer):
    async with AsyncSpooledGrpcClient(live_server.grpc_target, org.api_key) as aio:
        assert await aio.wait_for_ready(DEADLINE)
        first = (await aio.queue.enqueue("aio", {"n": 0})).job_id
        stream = aio.queue.stream_jobs("aio", "aio-worker")
        jobs = stream.__aiter__()
        job = await jobs.__anext__()
        assert job.id == first
        later = (await aio.queue.enqueue("aio", {"n": 1})).job_id
        job2 = await jobs.__anext__()
        assert (job2.id, job2.payload) == (later, {"n": 1})
        stream.cancel()
        for j in (job, job2):
            assert (await aio.queue.complete(j.id, "aio-worker", lease_id=j.lease_id)).success
        assert (await aio.queue.get_queue_stats("aio")).completed == 2
        bidi = aio.queue.process_jobs()
        await bidi.send(ProcessRequest(dequeue=GrpcDequeueRequest("aio", "w")))
        await bidi.end()
        assert [r async for r in bidi.receive()] == []  # nothing ready: no answer at all
        registered = await aio.workers.register("aio", "host-a")
        assert (await aio.workers.deregister(registered.worker_id)).success
    async with AsyncSpooledGrpcClient(live_server.grpc_target, "sp_test_" + "y" * 40) as stranger:
        with pytest.raises(AuthenticationError):
            await stranger.queue.get_queue_stats("aio")
