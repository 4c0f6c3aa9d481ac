"""Each unary RPC as (stub method name, request message, answer converter), built once for the
sync and the async client so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from .._version import __version__
from ..generated import spooled_pb2 as pb
from .models import (GrpcCompleteBatchResponse, GrpcCompleteResponse, GrpcDequeueResponse, GrpcDeregisterResponse, GrpcEnqueueResponse,
                     GrpcFailResponse, GrpcGetJobResponse, GrpcHeartbeatResponse, GrpcQueueStats,
                     GrpcRegisterWorkerResponse, GrpcRenewLeaseResponse)
from .requests import (GrpcCompleteBatchRequest, GrpcCompleteRequest, GrpcDequeueRequest, GrpcEnqueueRequest, GrpcFailRequest,
                       GrpcHeartbeatRequest, GrpcRegisterWorkerRequest, GrpcRenewLeaseRequest)


@dataclass(frozen=True)
class Call:
    """One prepared unary call: `service` is "queue" or "workers"."""

    service: str
    method: str
    request: Any
    convert: Callable[[Any], Any]


def enqueue(queue_name: str, payload: dict[str, Any] | None, *, priority: int = 0, max_retries: int | None = None,
            timeout_seconds: int | None = None, idempotency_key: str | None = None,
            tags: dict[str, str] | None = None, scheduled_at: datetime | None = None) -> Call:
    request = GrpcEnqueueRequest(queue_name=queue_name, payload={} if payload is None else payload, priority=priority,
                                 max_retries=max_retries, timeout_seconds=timeout_seconds,
                                 idempotency_key=idempotency_key, tags=tags, scheduled_at=scheduled_at)
    return Call("queue", "Enqueue", request.to_proto(), GrpcEnqueueResponse.from_proto)


def dequeue(queue_name: str, worker_id: str, *, batch_size: int = 1, lease_duration_secs: int = 30) -> Call:
    request = GrpcDequeueRequest(queue_name, worker_id, batch_size=batch_size, lease_duration_secs=lease_duration_secs)
    return Call("queue", "Dequeue", request.to_proto(), GrpcDequeueResponse.from_proto)


def complete(job_id: str, worker_id: str, result: dict[str, Any] | None = None, *, lease_id: str | None = None) -> Call:
    request = GrpcCompleteRequest(job_id, worker_id, result=result, lease_id=lease_id)
    return Call("queue", "Complete", request.to_proto(), GrpcCompleteResponse.from_proto)


def complete_batch(jobs: list[GrpcCompleteRequest | dict[str, Any]]) -> Call:
    """Items are GrpcCompleteRequest or dicts of its fields (job_id, worker_id, result, lease_id)."""
    items = [job if isinstance(job, GrpcCompleteRequest) else GrpcCompleteRequest(
        job_id=job["job_id"], worker_id=job.get("worker_id") or "", result=job.get("result"),
        lease_id=job.get("lease_id")) for job in jobs]
    return Call("queue", "CompleteBatch", GrpcCompleteBatchRequest(tuple(items)).to_proto(),
                GrpcCompleteBatchResponse.from_proto)


def fail(job_id: str, worker_id: str, error: str, *, retry: bool = True, lease_id: str | None = None) -> Call:
    request = GrpcFailRequest(job_id, worker_id, error, retry=retry, lease_id=lease_id)
    return Call("queue", "Fail", request.to_proto(), GrpcFailResponse.from_proto)


def renew_lease(job_id: str, worker_id: str, extension_secs: int = 30, *, lease_id: str | None = None) -> Call:
    request = GrpcRenewLeaseRequest(job_id, worker_id, extension_secs=extension_secs, lease_id=lease_id)
    return Call("queue", "RenewLease", request.to_proto(), GrpcRenewLeaseResponse.from_proto)


def get_job(job_id: str) -> Call:
    return Call("queue", "GetJob", pb.GetJobRequest(job_id=job_id), GrpcGetJobResponse.from_proto)


def get_queue_stats(queue_name: str) -> Call:
    return Call("queue", "GetQueueStats", pb.GetQueueStatsRequest(queue_name=queue_name), GrpcQueueStats.from_proto)


def register(queue_name: str, hostname: str, *, worker_type: str = "python", max_concurrency: int = 5,
             version: str = __version__, metadata: dict[str, str] | None = None) -> Call:
    request = GrpcRegisterWorkerRequest(queue_name, hostname, worker_type=worker_type,
                                        max_concurrency=max_concurrency, version=version, metadata=metadata)
    return Call("workers", "Register", request.to_proto(), GrpcRegisterWorkerResponse.from_proto)


def heartbeat(worker_id: str, *, current_jobs: int = 0, status: str = "healthy",
              metadata: dict[str, str] | None = None) -> Call:
    request = GrpcHeartbeatRequest(worker_id, current_jobs=current_jobs, status=status, metadata=metadata)
    return Call("workers", "Heartbeat", request.to_proto(), GrpcHeartbeatResponse.from_proto)


def deregister(worker_id: str) -> Call:
    return Call("workers", "Deregister", pb.DeregisterRequest(worker_id=worker_id), GrpcDeregisterResponse.from_proto)


def stream_jobs_request(queue_name: str, worker_id: str, lease_duration_secs: int) -> pb.StreamJobsRequest:
    return pb.StreamJobsRequest(queue_name=queue_name, worker_id=worker_id,
                                lease_duration_secs=lease_duration_secs or 0)
