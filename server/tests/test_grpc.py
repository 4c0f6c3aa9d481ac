"""spooled.v1 QueueService unary RPCs against a real server process, with the real grpcio client
and the generated stubs: happy paths, zero-means-default, documented status codes, the lease
fence, auth and plan limits. Workers, reliability scenarios and streams have their own files."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
import pytest

pytest.register_assert_rewrite("grpc_harness")

from conftest import Org  # noqa: E402
from grpc_harness import dequeue_one, enqueue, expect_status, key  # noqa: E402
from spooled_server.generated import spooled_pb2 as pb  # noqa: E402
from unthrottled import lift_rate_limit  # noqa: E402

pytest_plugins = ["grpc_harness"]

S = grpc.StatusCode
MIB = 1024 * 1024


def struct_dict(struct) -> dict:
    from google.protobuf.json_format import MessageToDict
    return MessageToDict(struct)


# -- Enqueue -----------------------------------------------------------------------------------

async def test_enqueue_zero_values_mean_defaults(queues, org: Org):
    job_id = await enqueue(queues, org, "defaults", payload={"n": 1})
    got = (await queues.GetJob(pb.GetJobRequest(job_id=job_id), metadata=key(org))).job
    assert got.id == job_id and got.organization_id == org.id and got.queue_name == "defaults"
    assert got.status == pb.JOB_STATUS_PENDING
    assert (got.max_retries, got.timeout_seconds, got.priority) == (3, 300, 0)
    assert got.idempotency_key == "" and not got.HasField("scheduled_at") and got.HasField("created_at")
    rest = (await org.client.get(f"/jobs/{job_id}")).json()
    # Struct numbers are doubles; integral ones are stored as integers.
    assert rest["payload"] == {"n": 1} and isinstance(rest["payload"]["n"], int)
    assert rest["idempotency_key"] is None and rest["scheduled_at"] is None


async def test_enqueue_zero_takes_the_queue_config_first(queues, org: Org):
    r = await org.client.put("/queues/configured/config", json={"max_retries": 7, "default_timeout": 42})
    assert r.status_code == 200, r.text
    job_id = await enqueue(queues, org, "configured")
    got = (await queues.GetJob(pb.GetJobRequest(job_id=job_id), metadata=key(org))).job
    assert (got.max_retries, got.timeout_seconds) == (7, 42)
    explicit = await enqueue(queues, org, "configured", max_retries=2, timeout_seconds=9, priority=-5)
    got = (await queues.GetJob(pb.GetJobRequest(job_id=explicit), metadata=key(org))).job
    assert (got.max_retries, got.timeout_seconds, got.priority) == (2, 9, -5)


async def test_enqueue_all_fields_round_trip(queues, org: Org):
    when = datetime.now(timezone.utc) + timedelta(hours=1)
    request = pb.EnqueueRequest(queue_name="full", priority=9, idempotency_key="k-full",
                                tags={"team": "billing"})
    request.payload.update({"s": "x", "f": 1.5, "b": True, "none": None, "list": [1, "two", {"three": 3}]})
    request.scheduled_at.FromDatetime(when)
    reply = await queues.Enqueue(request, metadata=key(org))
    assert reply.created is True
    got = (await queues.GetJob(pb.GetJobRequest(job_id=reply.job_id), metadata=key(org))).job
    assert got.status == pb.JOB_STATUS_SCHEDULED and got.idempotency_key == "k-full"
    assert abs(got.scheduled_at.ToDatetime(tzinfo=timezone.utc) - when) < timedelta(milliseconds=1)
    assert struct_dict(got.payload)["list"][2] == {"three": 3.0}
    rest = (await org.client.get(f"/jobs/{reply.job_id}")).json()
    assert rest["payload"] == {"s": "x", "f": 1.5, "b": True, "none": None, "list": [1, "two", {"three": 3}]}
    assert rest["tags"] == {"team": "billing"}
    # Not due yet: nothing to lease.
    empty = await queues.Dequeue(pb.DequeueRequest(queue_name="full", worker_id="w"), metadata=key(org))
    assert list(empty.jobs) == []


@pytest.mark.parametrize("fields", [
    {"queue_name": ""},
    {"queue_name": "bad/name"},
    {"queue_name": ".hidden"},
    {"queue_name": "q" * 101},  # REST's limit, deliberately stricter than the reference's 255
    {"queue_name": "q", "priority": 101},
    {"queue_name": "q", "max_retries": -1},
    {"queue_name": "q", "max_retries": 101},
    {"queue_name": "q", "timeout_seconds": -5},
    {"queue_name": "q", "idempotency_key": "k" * 256},
    {"queue_name": "q", "idempotency_key": "nul\x00key"},
    {"queue_name": "q", "tags": {"a": "nul\x00"}},
])
async def test_enqueue_validation_is_invalid_argument(queues, org: Org, fields):
    await expect_status(queues.Enqueue(pb.EnqueueRequest(**fields), metadata=key(org)),
                        S.INVALID_ARGUMENT, "VALIDATION_ERROR")


@pytest.mark.parametrize("seconds", [10 ** 12, -10 ** 12])
async def test_enqueue_unrepresentable_scheduled_at_is_invalid_argument(queues, org: Org, seconds):
    request = pb.EnqueueRequest(queue_name="q")
    request.scheduled_at.seconds = seconds
    await expect_status(queues.Enqueue(request, metadata=key(org)), S.INVALID_ARGUMENT)


@pytest.mark.parametrize("payload", [{"s": "nul\x00"}, {"nan": float("nan")}, {"inf": float("inf")}])
async def test_enqueue_unstorable_payload_is_invalid_argument(queues, org: Org, payload):
    request = pb.EnqueueRequest(queue_name="q")
    request.payload.update(payload)
    await expect_status(queues.Enqueue(request, metadata=key(org)), S.INVALID_ARGUMENT)


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_nesting_protobuf_cannot_decode_is_invalid_argument_not_unknown(queues, org: Org):
    fine = await enqueue(queues, org, "deep", payload=nested(30))
    assert (await org.client.get(f"/jobs/{fine}")).json()["payload"] == nested(30)
    request = pb.EnqueueRequest(queue_name="deep")
    request.payload.update(nested(80))  # beyond protobuf's decoding depth on the server
    await expect_status(queues.Enqueue(request, metadata=key(org)), S.INVALID_ARGUMENT, "VALIDATION_ERROR")


async def test_enqueue_reused_key_returns_existing_job(queues, org: Org):
    first = await queues.Enqueue(pb.EnqueueRequest(queue_name="q", idempotency_key="same"), metadata=key(org))
    again = await queues.Enqueue(pb.EnqueueRequest(queue_name="other", idempotency_key="same"), metadata=key(org))
    assert (first.created, again.created) == (True, False) and again.job_id == first.job_id
    # Whichever protocol created it (conformance grpc/enqueue-idempotent).
    rest = await org.client.post("/jobs", json={"queue_name": "q", "payload": {}, "idempotency_key": "via-rest"})
    over_grpc = await queues.Enqueue(pb.EnqueueRequest(queue_name="q", idempotency_key="via-rest"), metadata=key(org))
    assert (over_grpc.job_id, over_grpc.created) == (rest.json()["id"], False)


async def test_plan_limits_are_resource_exhausted(queues, make_org, pool):
    free = await make_org(plan="free")  # at most 10 active jobs
    await lift_rate_limit(pool, free.id)  # 11 calls; the request rate has its own tests
    for _ in range(10):
        await enqueue(queues, free)
    err = await expect_status(queues.Enqueue(pb.EnqueueRequest(queue_name="q"), metadata=key(free)),
                              S.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED")
    assert "10/10" in err.details()


# -- auth ----------------------------------------------------------------------------------------

async def test_missing_or_bad_key_is_unauthenticated(queues, workers):
    request = pb.EnqueueRequest(queue_name="q")
    await expect_status(queues.Enqueue(request), S.UNAUTHENTICATED, "UNAUTHORIZED")
    await expect_status(queues.Enqueue(request, metadata=(("x-api-key", "sp_test_" + "x" * 43),)),
                        S.UNAUTHENTICATED)
    await expect_status(queues.Enqueue(request, metadata=(("x-api-key", ""),)), S.UNAUTHENTICATED)
    await expect_status(queues.Enqueue(request, metadata=(("authorization", "Basic abc"),)), S.UNAUTHENTICATED)
    await expect_status(queues.GetJob(pb.GetJobRequest(job_id="x")), S.UNAUTHENTICATED)
    await expect_status(workers.Heartbeat(pb.HeartbeatRequest(worker_id="x")), S.UNAUTHENTICATED)


async def test_bearer_key_and_jwt_are_accepted(queues, org: Org):
    bearer = (("authorization", f"Bearer {org.api_key}"),)
    reply = await queues.Enqueue(pb.EnqueueRequest(queue_name="q"), metadata=bearer)
    assert reply.created
    tokens = (await org.client.post("/auth/login", json={"api_key": org.api_key})).json()
    jwt = (("authorization", f"Bearer {tokens['access_token']}"),)
    got = await queues.GetJob(pb.GetJobRequest(job_id=reply.job_id), metadata=jwt)
    assert got.job.id == reply.job_id


async def test_key_limited_to_other_queues_is_permission_denied(queues, org: Org, base_url: str):
    r = await org.client.post("/api-keys", json={"name": "scoped", "queues": ["allowed"]})
    scoped = (("x-api-key", r.json()["key"]),)
    assert (await queues.Enqueue(pb.EnqueueRequest(queue_name="allowed"), metadata=scoped)).created
    await expect_status(queues.Enqueue(pb.EnqueueRequest(queue_name="other"), metadata=scoped),
                        S.PERMISSION_DENIED, "ACCESS_DENIED")
    await expect_status(queues.Dequeue(pb.DequeueRequest(queue_name="other", worker_id="w"), metadata=scoped),
                        S.PERMISSION_DENIED)


# -- Dequeue -------------------------------------------------------------------------------------

async def test_dequeue_honours_batch_size_and_priority_order(queues, org: Org):
    for n, priority in ((1, 1), (2, 9), (3, 5), (4, 0), (5, 0)):
        await enqueue(queues, org, "batch", payload={"n": n}, priority=priority)
    reply = await queues.Dequeue(pb.DequeueRequest(queue_name="batch", worker_id="w1", batch_size=3),
                                 metadata=key(org))
    assert [struct_dict(j.payload)["n"] for j in reply.jobs] == [2, 3, 1]
    for job in reply.jobs:
        assert job.status == pb.JOB_STATUS_PROCESSING and job.lease_id and job.assigned_worker_id == "w1"
        assert job.organization_id == org.id and job.HasField("lease_expires_at")
        assert job.HasField("started_at") and job.HasField("created_at")  # what GetJob would say
    rest = await queues.Dequeue(pb.DequeueRequest(queue_name="batch", worker_id="w1", batch_size=500),
                                metadata=key(org))
    assert [struct_dict(j.payload)["n"] for j in rest.jobs] == [4, 5]


async def test_dequeue_zero_values_mean_one_job_and_default_lease(queues, org: Org):
    for _ in range(2):
        await enqueue(queues, org, "zeros")
    before = datetime.now(timezone.utc)
    job = await dequeue_one(queues, org, "zeros")
    lease = job.lease_expires_at.ToDatetime(tzinfo=timezone.utc) - before
    assert timedelta(seconds=25) < lease < timedelta(seconds=40)  # the 30 s default
    short = await dequeue_one(queues, org, "zeros", lease_duration_secs=1)
    lease = short.lease_expires_at.ToDatetime(tzinfo=timezone.utc) - before
    assert timedelta(seconds=3) < lease < timedelta(seconds=15)  # clamped up to 5 s


async def test_dequeue_empty_worker_is_invalid_and_empty_queue_is_no_jobs(queues, org: Org):
    await expect_status(queues.Dequeue(pb.DequeueRequest(queue_name="q"), metadata=key(org)),
                        S.INVALID_ARGUMENT)
    await expect_status(queues.Dequeue(pb.DequeueRequest(queue_name="q", worker_id="w", batch_size=-1),
                                       metadata=key(org)), S.INVALID_ARGUMENT)
    reply = await queues.Dequeue(pb.DequeueRequest(queue_name="nothing-here", worker_id="w"), metadata=key(org))
    assert list(reply.jobs) == []


async def test_dequeue_skips_a_paused_queue(queues, org: Org):
    await enqueue(queues, org, "paused")
    assert (await org.client.post("/queues/paused/pause")).status_code == 200
    reply = await queues.Dequeue(pb.DequeueRequest(queue_name="paused", worker_id="w"), metadata=key(org))
    assert list(reply.jobs) == []
    assert (await org.client.post("/queues/paused/resume")).status_code == 200
    await dequeue_one(queues, org, "paused")


# -- Complete, Fail, RenewLease: the lease fence -------------------------------------------------

async def test_complete_stores_the_result(queues, org: Org):
    job_id = await enqueue(queues, org)
    job = await dequeue_one(queues, org)
    request = pb.CompleteRequest(job_id=job_id, worker_id="w1", lease_id=job.lease_id)
    request.result.update({"ok": True, "count": 2})
    assert (await queues.Complete(request, metadata=key(org))).success
    rest = (await org.client.get(f"/jobs/{job_id}")).json()
    assert rest["status"] == "completed" and rest["result"] == {"ok": True, "count": 2}
    got = (await queues.GetJob(pb.GetJobRequest(job_id=job_id), metadata=key(org))).job
    assert got.status == pb.JOB_STATUS_COMPLETED and got.HasField("completed_at")


async def test_complete_with_worker_id_only_checks_the_assigned_worker(queues, org: Org):
    job_id = await enqueue(queues, org)
    await dequeue_one(queues, org, worker="legacy")
    await expect_status(queues.Complete(pb.CompleteRequest(job_id=job_id, worker_id="someone-else"),
                                        metadata=key(org)), S.FAILED_PRECONDITION)
    assert (await queues.Complete(pb.CompleteRequest(job_id=job_id, worker_id="legacy"), metadata=key(org))).success


async def test_complete_stale_lease_is_failed_precondition_and_changes_nothing(queues, org: Org):
    job_id = await enqueue(queues, org)
    job = await dequeue_one(queues, org)
    stale = pb.CompleteRequest(job_id=job_id, worker_id="w1", lease_id="00000000-0000-4000-8000-000000000000")
    await expect_status(queues.Complete(stale, metadata=key(org)), S.FAILED_PRECONDITION, "LEASE_EXPIRED")
    rest = (await org.client.get(f"/jobs/{job_id}")).json()
    assert rest["status"] == "processing" and rest["lease_id"] == job.lease_id and rest["result"] is None


async def test_complete_errors(queues, org: Org):
    await expect_status(queues.Complete(pb.CompleteRequest(job_id="no-such-job", worker_id="w"),
                                        metadata=key(org)), S.NOT_FOUND, "NOT_FOUND")
    await expect_status(queues.Complete(pb.CompleteRequest(job_id="nul\x00id", worker_id="w"),
                                        metadata=key(org)), S.NOT_FOUND)
    job_id = await enqueue(queues, org)
    await expect_status(queues.Complete(pb.CompleteRequest(job_id=job_id), metadata=key(org)),
                        S.INVALID_ARGUMENT)
    job = await dequeue_one(queues, org)
    big = pb.CompleteRequest(job_id=job_id, lease_id=job.lease_id)
    big.result.update({"blob": "x" * (MIB + 10)})  # under the message cap, over the 1 MiB result limit
    await expect_status(queues.Complete(big, metadata=key(org)), S.RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE")


async def test_complete_batch_judges_each_job_alone(queues, org: Org):
    """Extension: CompleteBatch completes what it may and says why for the rest, in order."""
    ids = [await enqueue(queues, org, "cb", payload={"i": i}) for i in range(4)]
    leased = {j.id: j for j in (await queues.Dequeue(pb.DequeueRequest(queue_name="cb", worker_id="w1", batch_size=4),
                                                     metadata=key(org))).jobs}
    good = pb.CompleteRequest(job_id=ids[0], lease_id=leased[ids[0]].lease_id)
    good.result.update({"n": 0})
    request = pb.CompleteBatchRequest(jobs=[
        good,
        pb.CompleteRequest(job_id=ids[1], lease_id="00000000-0000-4000-8000-000000000000"),  # stale
        pb.CompleteRequest(job_id="no-such-job", worker_id="w1"),
        pb.CompleteRequest(job_id=ids[2]),  # neither worker_id nor lease_id
        pb.CompleteRequest(job_id=ids[3], worker_id="w1"),
    ])
    reply = await queues.CompleteBatch(request, metadata=key(org))
    assert [(o.job_id, o.success, o.error.code) for o in reply.results] == [
        (ids[0], True, ""), (ids[1], False, "LEASE_EXPIRED"), ("no-such-job", False, "NOT_FOUND"),
        (ids[2], False, "VALIDATION_ERROR"), (ids[3], True, "")]
    assert (reply.success_count, reply.failure_count) == (2, 3)
    statuses = [(await org.client.get(f"/jobs/{i}")).json() for i in ids]
    assert [j["status"] for j in statuses] == ["completed", "processing", "processing", "completed"]
    assert statuses[0]["result"] == {"n": 0}
    # A repeat of an applied complete is answered as before (idempotent), like Complete.
    again = await queues.CompleteBatch(pb.CompleteBatchRequest(jobs=[good]), metadata=key(org))
    assert again.results[0].success


async def test_complete_batch_size_limits(queues, org: Org):
    await expect_status(queues.CompleteBatch(pb.CompleteBatchRequest(), metadata=key(org)),
                        S.INVALID_ARGUMENT, "VALIDATION_ERROR")
    too_many = pb.CompleteBatchRequest(jobs=[pb.CompleteRequest(job_id=f"j{i}", worker_id="w") for i in range(101)])
    await expect_status(queues.CompleteBatch(too_many, metadata=key(org)), S.INVALID_ARGUMENT, "VALIDATION_ERROR")


async def test_fail_without_retry_dead_letters(queues, org: Org):
    job_id = await enqueue(queues, org, max_retries=5)
    job = await dequeue_one(queues, org)
    reply = await queues.Fail(pb.FailRequest(job_id=job_id, worker_id="w1", lease_id=job.lease_id,
                                             error="boom"), metadata=key(org))
    assert (reply.success, reply.will_retry, reply.next_retry_delay_secs) == (True, False, 0)
    rest = (await org.client.get(f"/jobs/{job_id}")).json()
    assert rest["status"] == "deadletter" and rest["last_error"] == "boom"


async def test_fail_with_retry_reports_the_backoff(queues, org: Org):
    job_id = await enqueue(queues, org, max_retries=2)
    job = await dequeue_one(queues, org)
    reply = await queues.Fail(pb.FailRequest(job_id=job_id, lease_id=job.lease_id, error="again", retry=True),
                              metadata=key(org))
    # First retry: min(2^0, 60) backoff units of 60 s (the reference's minutes).
    assert (reply.success, reply.will_retry) == (True, True) and 55 <= reply.next_retry_delay_secs <= 60
    rest = (await org.client.get(f"/jobs/{job_id}")).json()
    assert rest["status"] == "pending" and rest["retry_count"] == 1


async def test_fail_truncates_long_error_text(queues, org: Org):
    job_id = await enqueue(queues, org)
    job = await dequeue_one(queues, org)
    text = "é" * 5000  # 10,000 UTF-8 bytes
    reply = await queues.Fail(pb.FailRequest(job_id=job_id, lease_id=job.lease_id, error=text), metadata=key(org))
    assert reply.success
    stored = (await org.client.get(f"/jobs/{job_id}")).json()["last_error"]
    assert stored.endswith("… [truncated]") and len(stored.encode()) <= 4096 and stored.startswith("éé")


async def test_fail_stale_lease_and_unknown_job(queues, org: Org):
    job_id = await enqueue(queues, org)
    await dequeue_one(queues, org)
    await expect_status(queues.Fail(pb.FailRequest(job_id=job_id, lease_id="not-the-lease", error="x"),
                                    metadata=key(org)), S.FAILED_PRECONDITION)
    await expect_status(queues.Fail(pb.FailRequest(job_id="unknown", worker_id="w", error="x"),
                                    metadata=key(org)), S.NOT_FOUND)


async def test_renew_lease(queues, org: Org):
    job_id = await enqueue(queues, org)
    job = await dequeue_one(queues, org, lease_duration_secs=5)
    first = job.lease_expires_at.ToDatetime(tzinfo=timezone.utc)
    reply = await queues.RenewLease(pb.RenewLeaseRequest(job_id=job_id, worker_id="w1", lease_id=job.lease_id,
                                                         extension_secs=600), metadata=key(org))
    assert reply.success and reply.new_expires_at.ToDatetime(tzinfo=timezone.utc) > first + timedelta(seconds=500)
    default = await queues.RenewLease(pb.RenewLeaseRequest(job_id=job_id, lease_id=job.lease_id),
                                      metadata=key(org))
    left = default.new_expires_at.ToDatetime(tzinfo=timezone.utc) - datetime.now(timezone.utc)
    assert default.success and timedelta(seconds=20) < left < timedelta(seconds=40)
    rest = (await org.client.get(f"/jobs/{job_id}")).json()
    assert rest["lease_expires_at"] is not None and rest["status"] == "processing"


async def test_renew_lease_by_a_non_owner_is_false_not_an_error(queues, org: Org):
    job_id = await enqueue(queues, org)
    job = await dequeue_one(queues, org)
    for request in (pb.RenewLeaseRequest(job_id=job_id, worker_id="intruder"),
                    pb.RenewLeaseRequest(job_id=job_id, worker_id="w1", lease_id="stale-lease"),
                    pb.RenewLeaseRequest(job_id=job_id)):
        reply = await queues.RenewLease(request, metadata=key(org))
        assert reply.success is False and not reply.HasField("new_expires_at")
    rest = (await org.client.get(f"/jobs/{job_id}")).json()
    assert rest["lease_id"] == job.lease_id
    await expect_status(queues.RenewLease(pb.RenewLeaseRequest(job_id="unknown", worker_id="w"),
                                          metadata=key(org)), S.NOT_FOUND)


# -- GetJob, GetQueueStats -----------------------------------------------------------------------

async def test_get_unknown_job_is_an_empty_response(queues, org: Org):
    for job_id in ("00000000-0000-4000-8000-000000000000", "", "nul\x00"):
        reply = await queues.GetJob(pb.GetJobRequest(job_id=job_id), metadata=key(org))
        assert not reply.HasField("job")


async def test_queue_stats_count_by_status(queues, org: Org):
    unknown = await queues.GetQueueStats(pb.GetQueueStatsRequest(queue_name="never-used"), metadata=key(org))
    assert (unknown.queue_name, unknown.total, unknown.pending, unknown.max_age_ms) == ("never-used", 0, 0, 0)
    ids = [await enqueue(queues, org, "stats") for _ in range(4)]
    later = pb.EnqueueRequest(queue_name="stats")
    later.scheduled_at.FromDatetime(datetime.now(timezone.utc) + timedelta(hours=1))
    await queues.Enqueue(later, metadata=key(org))
    done, dead = await dequeue_one(queues, org, "stats"), await dequeue_one(queues, org, "stats")
    await queues.Complete(pb.CompleteRequest(job_id=done.id, lease_id=done.lease_id), metadata=key(org))
    await queues.Fail(pb.FailRequest(job_id=dead.id, lease_id=dead.lease_id), metadata=key(org))
    await dequeue_one(queues, org, "stats")
    assert (await org.client.delete(f"/jobs/{[i for i in ids if i not in (done.id, dead.id)][-1]}")).status_code == 204
    stats = await queues.GetQueueStats(pb.GetQueueStatsRequest(queue_name="stats"), metadata=key(org))
    assert (stats.pending, stats.scheduled, stats.processing, stats.completed, stats.failed, stats.deadletter,
            stats.total) == (0, 1, 1, 1, 0, 1, 5)  # total includes the cancelled job
    assert stats.max_age_ms == 0  # nothing waits: the scheduled job is not due
    await enqueue(queues, org, "stats")
    stats = await queues.GetQueueStats(pb.GetQueueStatsRequest(queue_name="stats"), metadata=key(org))
    assert stats.pending == 1 and 0 <= stats.max_age_ms < 60_000
    await expect_status(queues.GetQueueStats(pb.GetQueueStatsRequest(queue_name=""), metadata=key(org)),
                        S.INVALID_ARGUMENT)
