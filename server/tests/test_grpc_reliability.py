"""The gRPC halves of the reliability scenarios: R9 (one idempotency key raced 100 times),
R15 (payload and message size) and tenant isolation."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

pytest.register_assert_rewrite("grpc_harness")

from conftest import Org  # noqa: E402
from grpc_harness import dequeue_one, enqueue, expect_status, key  # noqa: E402
from spooled_server.generated import spooled_pb2 as pb  # noqa: E402

pytest_plugins = ["grpc_harness"]

S = grpc.StatusCode
MIB = 1024 * 1024


def struct_dict(struct) -> dict:
    from google.protobuf.json_format import MessageToDict
    return MessageToDict(struct)


# -- R9 (gRPC part): one idempotency key, 100 concurrent Enqueues ---------------------------------

async def test_r9_concurrent_enqueue_with_one_key_creates_one_job(queues, org: Org, pool):
    request = pb.EnqueueRequest(queue_name="r9", idempotency_key="r9-one-key")
    request.payload.update({"n": 1})
    replies = await asyncio.gather(*(queues.Enqueue(request, metadata=key(org)) for _ in range(100)))
    assert len({r.job_id for r in replies}) == 1
    assert sum(r.created for r in replies) == 1
    rest = await org.client.post("/jobs", json={"queue_name": "r9", "payload": {}, "idempotency_key": "r9-one-key"})
    assert rest.status_code == 200 and rest.json() == {"id": replies[0].job_id, "created": False}
    async with pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1 AND idempotency_key = $2",
                                   org.id, "r9-one-key")
    assert rows == 1


# -- R15 (gRPC part): message and payload size ---------------------------------------------------

async def test_payload_at_the_limit_round_trips(queues, org: Org):
    filler = "x" * (MIB - len(json.dumps({"data": ""}, separators=(",", ":"))))
    payload = {"data": filler}
    assert len(json.dumps(payload, separators=(",", ":"))) == MIB
    job_id = await enqueue(queues, org, "big", payload=payload)
    job = await dequeue_one(queues, org, "big")
    assert job.id == job_id and struct_dict(job.payload) == payload
    assert (await org.client.get(f"/jobs/{job_id}")).json()["payload"] == payload


async def test_payload_over_the_limit_is_resource_exhausted_and_stores_nothing(queues, org: Org, pool):
    request = pb.EnqueueRequest(queue_name="too-big")
    request.payload.update({"data": "x" * (MIB - len('{"data":""}') + 1)})
    await expect_status(queues.Enqueue(request, metadata=key(org)), S.RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1", org.id) == 0


async def test_oversize_message_is_resource_exhausted(queues, org: Org):
    request = pb.EnqueueRequest(queue_name="huge")
    request.payload.update({"data": "x" * (3 * MIB)})
    await expect_status(queues.Enqueue(request, metadata=key(org)), S.RESOURCE_EXHAUSTED)


# -- tenant isolation ----------------------------------------------------------------------------

async def test_another_organization_cannot_see_or_settle_a_job(queues, workers, org: Org, make_org):
    other = await make_org()
    job_id = await enqueue(queues, org, "shared-name")
    job = await dequeue_one(queues, org, "shared-name")
    await expect_status(queues.Complete(pb.CompleteRequest(job_id=job_id, worker_id="w1", lease_id=job.lease_id),
                                        metadata=key(other)), S.NOT_FOUND)
    await expect_status(queues.Fail(pb.FailRequest(job_id=job_id, lease_id=job.lease_id), metadata=key(other)),
                        S.NOT_FOUND)
    await expect_status(queues.RenewLease(pb.RenewLeaseRequest(job_id=job_id, lease_id=job.lease_id),
                                          metadata=key(other)), S.NOT_FOUND)
    assert not (await queues.GetJob(pb.GetJobRequest(job_id=job_id), metadata=key(other))).HasField("job")
    stats = await queues.GetQueueStats(pb.GetQueueStatsRequest(queue_name="shared-name"), metadata=key(other))
    assert stats.total == 0
    await enqueue(queues, org, "shared-name")
    reply = await queues.Dequeue(pb.DequeueRequest(queue_name="shared-name", worker_id="w"), metadata=key(other))
    assert list(reply.jobs) == []
    reg = await workers.Register(pb.RegisterWorkerRequest(queue_name="q", hostname="h"), metadata=key(org))
    assert not (await workers.Heartbeat(pb.HeartbeatRequest(worker_id=reg.worker_id), metadata=key(other))).acknowledged
    assert not (await workers.Deregister(pb.DeregisterRequest(worker_id=reg.worker_id), metadata=key(other))).success
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "processing"


async def test_dequeue_answer_stays_under_the_clients_default_message_limit(queues, org: Org):
    """gRPC clients refuse answers over 4 MiB by default: a batch of large jobs is cut to fit
    (at least one job) and the rest goes straight back to the queue, claimable at once."""
    payload = {"data": "x" * (MIB - 100)}
    ids = [await enqueue(queues, org, "large", payload=payload) for _ in range(5)]
    first = await queues.Dequeue(pb.DequeueRequest(queue_name="large", worker_id="w", batch_size=5),
                                 metadata=key(org))
    assert [j.id for j in first.jobs] == ids[:3] and first.ByteSize() < 4 * MIB
    stats = await queues.GetQueueStats(pb.GetQueueStatsRequest(queue_name="large"), metadata=key(org))
    assert (stats.processing, stats.pending) == (3, 2)
    rest = await queues.Dequeue(pb.DequeueRequest(queue_name="large", worker_id="w", batch_size=5),
                                metadata=key(org))
    assert [j.id for j in rest.jobs] == ids[3:]
    assert all(struct_dict(j.payload) == payload for j in [*first.jobs, *rest.jobs])
