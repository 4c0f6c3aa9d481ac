"""Conversions between the gRPC models and protobuf messages, and channel settings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from spooled.generated import spooled_pb2 as pb
from spooled.grpc import (GrpcCompleteRequest, GrpcDequeueRequest, GrpcEnqueueRequest, GrpcFailRequest,
                          GrpcGetJobResponse, GrpcHeartbeatRequest, GrpcJob, GrpcRegisterWorkerRequest,
                          GrpcRenewLeaseRequest, ProcessRequest, ProcessResponse)
from spooled.grpc._channel import ChannelConfig, split_host

WHEN = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc)


def full_job() -> pb.Job:
    job = pb.Job(id="j1", organization_id="o1", queue_name="q", status=pb.JOB_STATUS_PROCESSING, retry_count=1,
                 max_retries=3, priority=7, timeout_seconds=60, assigned_worker_id="w1", lease_id="l1")
    job.payload.update({"n": 1, "f": 1.5, "big": 2 ** 60, "list": [1, 2.0, "x", None], "nested": {"ok": True}})
    job.created_at.FromDatetime(WHEN)
    job.lease_expires_at.FromDatetime(WHEN)
    return job


def test_job_from_proto():
    job = GrpcJob.from_proto(full_job())
    assert (job.id, job.status, job.retry_count, job.priority, job.lease_id) == ("j1", "processing", 1, 7, "l1")
    assert job.payload["n"] == 1 and isinstance(job.payload["n"], int)
    assert job.payload["f"] == 1.5 and job.payload["list"] == [1, 2, "x", None]
    assert isinstance(job.payload["big"], float)  # beyond 2^53 a double is not an exact integer
    assert job.payload["nested"] == {"ok": True}
    assert job.created_at == WHEN and job.started_at is None and job.result is None
    assert job.last_error is None and job.idempotency_key is None  # proto3 empty strings


def test_job_to_wire_uses_proto_names_and_iso_times():
    wire = GrpcJob.from_proto(full_job()).to_wire()
    assert wire["status"] == "processing" and wire["lease_id"] == "l1"
    assert wire["created_at"] == "2026-01-02T03:04:05.600000Z" and wire["completed_at"] is None


def test_empty_result_and_missing_job():
    job = pb.Job(id="j")
    job.result.SetInParent()
    assert GrpcJob.from_proto(job).result == {}  # an empty result is still a result
    assert GrpcGetJobResponse.from_proto(pb.GetJobResponse()).job is None


def test_requests_to_proto_turn_none_into_zero():
    m = GrpcEnqueueRequest("q", {"a": [1]}, scheduled_at=datetime(2026, 1, 1)).to_proto()
    assert (m.max_retries, m.timeout_seconds, m.idempotency_key, dict(m.tags)) == (0, 0, "", {})
    assert m.scheduled_at.ToDatetime(tzinfo=timezone.utc) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert GrpcDequeueRequest("q", "w").to_proto().batch_size == 1
    complete = GrpcCompleteRequest("j", "w").to_proto()
    assert not complete.HasField("result") and complete.lease_id == ""
    assert GrpcCompleteRequest("j", "w", {}).to_proto().HasField("result")
    assert GrpcFailRequest("j", "w", "e").to_proto().retry is True
    assert GrpcRenewLeaseRequest("j", "w", lease_id="l").to_proto().extension_secs == 30
    reg = GrpcRegisterWorkerRequest("q", "h", metadata={"n": 1}).to_proto()  # type: ignore[dict-item]
    assert dict(reg.metadata) == {"n": "1"} and reg.version
    assert GrpcHeartbeatRequest("w").to_proto().status == "healthy"


def test_payload_must_be_an_object():
    with pytest.raises(TypeError):
        GrpcEnqueueRequest("q", [1, 2]).to_proto()  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        GrpcEnqueueRequest("q", {"x": object()}).to_proto()


def test_process_request_sets_exactly_one():
    with pytest.raises(ValueError):
        ProcessRequest()
    with pytest.raises(ValueError):
        ProcessRequest(dequeue=GrpcDequeueRequest("q", "w"), fail=GrpcFailRequest("j", "w", "e"))
    with pytest.raises(TypeError):
        ProcessRequest(dequeue=GrpcFailRequest("j", "w", "e"))  # type: ignore[arg-type]
    request = ProcessRequest(renew_lease=GrpcRenewLeaseRequest("j", "w"))
    assert request.kind == "renew_lease" and request.to_proto().WhichOneof("request") == "renew_lease"


def test_process_response_from_proto():
    assert ProcessResponse.from_proto(pb.ProcessResponse(job=full_job())).job.id == "j1"
    fail = ProcessResponse.from_proto(pb.ProcessResponse(fail=pb.FailResponse(success=True, will_retry=True)))
    assert fail.kind == "fail" and fail.fail.will_retry
    error = ProcessResponse.from_proto(pb.ProcessResponse(error=pb.ErrorResponse(code="NOT_FOUND", message="m")))
    assert error.kind == "error" and error.to_wire() == {"job": None, "complete": None, "fail": None,
                                                         "renew_lease": None, "complete_batch": None,
                                                         "error": {"code": "NOT_FOUND", "message": "m"}}
    assert ProcessResponse.from_proto(pb.ProcessResponse()).kind is None
    batch = ProcessResponse.from_proto(pb.ProcessResponse(complete_batch=pb.CompleteBatchResponse(
        results=[pb.CompleteOutcome(job_id="a", success=True),
                 pb.CompleteOutcome(job_id="b", error=pb.ErrorResponse(code="LEASE_EXPIRED", message="gone"))],
        success_count=1, failure_count=1)))
    assert batch.kind == "complete_batch"
    assert [(o.job_id, o.success, o.error and o.error.code) for o in batch.complete_batch.results] == [
        ("a", True, None), ("b", False, "LEASE_EXPIRED")]


@pytest.mark.parametrize("address, host, port", [
    ("localhost:50051", "localhost", "50051"), ("grpc.example.com", "grpc.example.com", None),
    ("[::1]:7000", "[::1]", "7000"), ("grpc://10.0.0.1:9", "10.0.0.1", "9"), ("[::1]", "[::1]", None),
])
def test_split_host(address, host, port):
    assert split_host(address) == (host, port)


def test_channel_config_tls_and_defaults():
    local = ChannelConfig.build("127.0.0.1:50051", " key ", None, None, None)
    assert (local.use_tls, local.target, local.metadata) == (False, "127.0.0.1:50051", (("x-api-key", "key"),))
    remote = ChannelConfig.build("grpc.spooled.cloud", "k", None, None, [("grpc.keepalive_time_ms", 5)])
    assert (remote.use_tls, remote.target) == (True, "grpc.spooled.cloud:443")
    assert dict(remote.options)["grpc.keepalive_time_ms"] == 5  # the caller's option wins
    assert ChannelConfig.build("[::1]", "k", None, None, None).target == "[::1]:50051"
    assert ChannelConfig.build("localhost:1", "k", True, None, None).use_tls is True
    with pytest.raises(ValueError):
        ChannelConfig.build("localhost:1", "   ", None, None, None)
    with pytest.raises(ValueError):
        ChannelConfig.build("", "k", None, None, None)
