"""spooled.v1 WorkerService against a real server process: register, heartbeat, deregister,
unknown workers answered rather than refused, validation and the plan's worker cap."""

from __future__ import annotations

import grpc
import pytest

pytest.register_assert_rewrite("grpc_harness")

from conftest import Org  # noqa: E402
from grpc_harness import dequeue_one, enqueue, expect_status, key  # noqa: E402
from spooled_server.generated import spooled_pb2 as pb  # noqa: E402

pytest_plugins = ["grpc_harness"]

S = grpc.StatusCode


async def test_register_heartbeat_deregister(queues, workers, org: Org):
    reg = await workers.Register(pb.RegisterWorkerRequest(queue_name="wq", hostname="host-1", version="1.0",
                                                          metadata={"pid": "42"}), metadata=key(org))
    assert reg.worker_id and (reg.lease_duration_secs, reg.heartbeat_interval_secs) == (30, 10)
    again = await workers.Register(pb.RegisterWorkerRequest(queue_name="wq", hostname="host-1"), metadata=key(org))
    assert again.worker_id != reg.worker_id  # no worker_id input: always a new worker
    rest = (await org.client.get(f"/workers/{reg.worker_id}")).json()
    assert rest["max_concurrency"] == 5 and rest["metadata"] == {"pid": "42"} and rest["status"] == "healthy"

    beat = await workers.Heartbeat(pb.HeartbeatRequest(worker_id=reg.worker_id, current_jobs=2), metadata=key(org))
    assert (beat.acknowledged, beat.should_drain) == (True, False)
    drain = await workers.Heartbeat(pb.HeartbeatRequest(worker_id=reg.worker_id, status="draining"),
                                    metadata=key(org))
    assert (drain.acknowledged, drain.should_drain) == (True, True)

    job_id = await enqueue(queues, org, "wq")
    await dequeue_one(queues, org, "wq", worker=reg.worker_id)
    assert (await workers.Deregister(pb.DeregisterRequest(worker_id=reg.worker_id), metadata=key(org))).success
    job = (await org.client.get(f"/jobs/{job_id}")).json()
    assert job["status"] == "pending" and job["lease_id"] is None  # handed back at once
    assert (await org.client.get(f"/workers/{reg.worker_id}")).json()["status"] == "offline"


async def test_unknown_workers_are_answered_not_refused(workers, org: Org):
    for worker_id in ("no-such-worker", "", "nul\x00"):
        beat = await workers.Heartbeat(pb.HeartbeatRequest(worker_id=worker_id), metadata=key(org))
        assert (beat.acknowledged, beat.should_drain) == (False, False)
        assert (await workers.Deregister(pb.DeregisterRequest(worker_id=worker_id), metadata=key(org))).success is False


@pytest.mark.parametrize("fields", [
    {"queue_name": "", "hostname": "h"},
    {"queue_name": "q", "hostname": ""},
    {"queue_name": "q", "hostname": "bad host"},
    {"queue_name": "q", "hostname": "h", "max_concurrency": 101},
    {"queue_name": "q", "hostname": "h", "worker_type": "t" * 51},
])
async def test_register_validation(workers, org: Org, fields):
    await expect_status(workers.Register(pb.RegisterWorkerRequest(**fields), metadata=key(org)),
                        S.INVALID_ARGUMENT)


async def test_worker_cap_is_resource_exhausted(workers, make_org):
    free = await make_org(plan="free")  # one worker
    await workers.Register(pb.RegisterWorkerRequest(queue_name="q", hostname="h"), metadata=key(free))
    await expect_status(workers.Register(pb.RegisterWorkerRequest(queue_name="q", hostname="h"), metadata=key(free)),
                        S.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED")
