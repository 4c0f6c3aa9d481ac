"""Unit tests of grpc_operations.py: scenario arguments -> the request message the server gets,
and the answer -> wire form. A real AsyncSpooledGrpcClient talks to an in-process grpc.aio
server that records requests and returns canned answers (no Spooled server):

    .venv/bin/python -m pytest conformance/runners/python/test_grpc_operations.py -q
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

import grpc
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import spooled  # noqa: E402
from grpc_operations import GRPC_OPERATIONS, CannotSend, snake_args  # noqa: E402
from spooled.generated import spooled_pb2 as pb  # noqa: E402
from spooled.generated import spooled_pb2_grpc as pb_grpc  # noqa: E402
from spooled.grpc import AsyncSpooledGrpcClient  # noqa: E402

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "grpc"
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


class Recorder(pb_grpc.QueueServiceServicer, pb_grpc.WorkerServiceServicer):
    def __init__(self) -> None:
        self.requests: list[object] = []

    async def Enqueue(self, request, context):
        self.requests.append(request)
        return pb.EnqueueResponse(job_id="job-1", created=request.idempotency_key == "")

    async def Dequeue(self, request, context):
        self.requests.append(request)
        job = pb.Job(id="job-1", queue_name=request.queue_name, status=pb.JOB_STATUS_PROCESSING,
                     assigned_worker_id=request.worker_id, lease_id="lease-1")
        job.payload.update({"n": 1})
        job.lease_expires_at.FromDatetime(WHEN)
        return pb.DequeueResponse(jobs=[job])

    async def Complete(self, request, context):
        self.requests.append(request)
        if request.lease_id == "stale":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "lease expired",
                                trailing_metadata=(("spooled-error-code", "LEASE_EXPIRED"),))
        return pb.CompleteResponse(success=True)

    async def Fail(self, request, context):
        self.requests.append(request)
        return pb.FailResponse(success=True, will_retry=request.retry, next_retry_delay_secs=2 if request.retry else 0)

    async def RenewLease(self, request, context):
        self.requests.append(request)
        answer = pb.RenewLeaseResponse(success=True)
        answer.new_expires_at.FromDatetime(WHEN)
        return answer

    async def GetJob(self, request, context):
        self.requests.append(request)
        return pb.GetJobResponse()

    async def GetQueueStats(self, request, context):
        self.requests.append(request)
        return pb.GetQueueStatsResponse(queue_name=request.queue_name, pending=2, total=2)

    async def Register(self, request, context):
        self.requests.append(request)
        return pb.RegisterWorkerResponse(worker_id="w-9", lease_duration_secs=30, heartbeat_interval_secs=10)

    async def Heartbeat(self, request, context):
        self.requests.append(request)
        return pb.HeartbeatResponse(acknowledged=True)

    async def Deregister(self, request, context):
        self.requests.append(request)
        return pb.DeregisterResponse(success=True)


def run(coro):
    return asyncio.run(coro)


async def call_all(steps: list[tuple[str, dict]]) -> tuple[list, list]:
    recorder = Recorder()
    server = grpc.aio.server()
    pb_grpc.add_QueueServiceServicer_to_server(recorder, server)
    pb_grpc.add_WorkerServiceServicer_to_server(recorder, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    answers: list = []
    try:
        async with AsyncSpooledGrpcClient(f"127.0.0.1:{port}", "sp_test_key") as client:
            for op, args in steps:
                try:
                    answers.append(await GRPC_OPERATIONS[op](client, args))
                except spooled.SpooledError as err:
                    answers.append(err)
    finally:
        await server.stop(None)
    return answers, recorder.requests


def test_every_operation_in_the_grpc_scenarios_is_mapped():
    used = set()
    for path in SCENARIOS.glob("*.yaml"):
        for step in yaml.safe_load(path.read_text())["steps"]:
            if step.get("op", "").startswith("grpc."):
                used.add(step["op"])
    assert used and used <= set(GRPC_OPERATIONS)


def test_queue_service_arguments_and_answers():
    answers, requests = run(call_all([
        ("grpc.QueueService.Enqueue", {"queue_name": "q", "payload": {"n": 1}, "priority": 9,
                                       "scheduledAt": "2026-03-04T05:06:07Z", "tags": {"t": "x"}}),
        ("grpc.QueueService.Enqueue", {"queueName": "q", "payload": {}, "idempotencyKey": "k"}),
        ("grpc.QueueService.Dequeue", {"queue_name": "q", "worker_id": "w1", "batch_size": 3}),
        ("grpc.QueueService.Complete", {"job_id": "job-1", "worker_id": "w1", "lease_id": "lease-1",
                                        "result": {"ok": True}}),
        ("grpc.QueueService.Complete", {"job_id": "job-1", "worker_id": "w1", "lease_id": "stale"}),
        ("grpc.QueueService.Fail", {"job_id": "job-1", "worker_id": "w1", "error": "e"}),
        ("grpc.QueueService.Fail", {"job_id": "job-1", "worker_id": "w1", "error": "e", "retry": True}),
        ("grpc.QueueService.RenewLease", {"job_id": "job-1", "worker_id": "w1", "extension_secs": 60}),
        ("grpc.QueueService.GetJob", {"job_id": "nope"}),
        ("grpc.QueueService.GetQueueStats", {"queue_name": "q"}),
    ]))
    enqueue = requests[0]
    assert (enqueue.priority, dict(enqueue.tags), dict(enqueue.payload)) == (9, {"t": "x"}, {"n": 1})
    assert enqueue.scheduled_at.ToDatetime(tzinfo=timezone.utc) == WHEN
    assert requests[1].idempotency_key == "k"
    assert answers[0] == {"job_id": "job-1", "created": True} and answers[1]["created"] is False
    assert (requests[2].batch_size, requests[2].lease_duration_secs) == (3, 0)  # 0: the server's default
    job = answers[2]["jobs"][0]
    assert (job["id"], job["payload"], job["status"], job["lease_id"]) == ("job-1", {"n": 1}, "processing", "lease-1")
    assert job["lease_expires_at"] == "2026-03-04T05:06:07Z"
    assert dict(requests[3].result) == {"ok": True} and answers[3] == {"success": True}
    assert isinstance(answers[4], spooled.LeaseExpiredError)  # the runner's `conflict`
    assert requests[5].retry is False and answers[5]["will_retry"] is False  # proto3 default kept
    assert answers[6] == {"success": True, "will_retry": True, "next_retry_delay_secs": 2}
    assert requests[7].extension_secs == 60
    assert answers[7] == {"success": True, "new_expires_at": "2026-03-04T05:06:07Z"}
    assert answers[8] == {}
    assert answers[9]["pending"] == 2 and answers[9]["queue_name"] == "q"


def test_worker_service_arguments_and_answers():
    answers, requests = run(call_all([
        ("grpc.WorkerService.Register", {"queue_name": "q", "hostname": "h", "maxConcurrency": 4,
                                         "metadata": {"k": "v"}}),
        ("grpc.WorkerService.Heartbeat", {"worker_id": "w-9", "current_jobs": 2}),
        ("grpc.WorkerService.Deregister", {"worker_id": "w-9"}),
    ]))
    assert (requests[0].max_concurrency, dict(requests[0].metadata), requests[0].worker_type) == (4, {"k": "v"}, "")
    assert answers[0] == {"worker_id": "w-9", "lease_duration_secs": 30, "heartbeat_interval_secs": 10}
    assert requests[1].current_jobs == 2 and answers[1] == {"acknowledged": True, "should_drain": False}
    assert answers[2] == {"success": True}


def test_unknown_arguments_cannot_be_sent():
    with pytest.raises(CannotSend):
        run(GRPC_OPERATIONS["grpc.QueueService.GetJob"](None, {"job_id": "j", "include": "all"}))  # type: ignore[arg-type]


def test_snake_args_leaves_values_alone():
    assert snake_args({"queueName": "q", "payload": {"camelCase": 1}, "lease_id": "l"}) == {
        "queue_name": "q", "payload": {"camelCase": 1}, "lease_id": "l"}
