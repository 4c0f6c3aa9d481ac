"""Request models of the gRPC client: what each RPC sends, as dataclasses with to_proto().

proto3 cannot send "unset": None and 0 both become the zero value, which the server reads as
"its default" for max_retries, timeout_seconds, batch_size and the lease lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._version import __version__
from ..generated import spooled_pb2 as pb
from ._convert import fill_struct, fill_timestamp


# -- unary requests --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GrpcEnqueueRequest:
    """EnqueueRequest. payload must be a dict (a Struct is always an object)."""

    queue_name: str
    payload: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    max_retries: int | None = None
    timeout_seconds: int | None = None
    scheduled_at: datetime | None = None
    idempotency_key: str | None = None
    tags: dict[str, str] | None = None

    def to_proto(self) -> pb.EnqueueRequest:
        m = pb.EnqueueRequest(queue_name=self.queue_name, priority=self.priority or 0,
                              max_retries=self.max_retries or 0, timeout_seconds=self.timeout_seconds or 0,
                              idempotency_key=self.idempotency_key or "", tags=self.tags or {})
        fill_struct(m.payload, self.payload, "payload")
        if self.scheduled_at is not None:
            fill_timestamp(m.scheduled_at, self.scheduled_at)
        return m


@dataclass(frozen=True)
class GrpcDequeueRequest:
    """DequeueRequest: lease up to batch_size jobs for lease_duration_secs."""

    queue_name: str
    worker_id: str
    batch_size: int = 1
    lease_duration_secs: int = 30

    def to_proto(self) -> pb.DequeueRequest:
        return pb.DequeueRequest(queue_name=self.queue_name, worker_id=self.worker_id,
                                 batch_size=self.batch_size or 0, lease_duration_secs=self.lease_duration_secs or 0)


@dataclass(frozen=True)
class GrpcCompleteRequest:
    """CompleteRequest, fenced by lease_id (else by worker_id alone)."""

    job_id: str
    worker_id: str
    result: dict[str, Any] | None = None
    lease_id: str | None = None

    def to_proto(self) -> pb.CompleteRequest:
        m = pb.CompleteRequest(job_id=self.job_id, worker_id=self.worker_id, lease_id=self.lease_id or "")
        if self.result is not None:
            fill_struct(m.result, self.result, "result")
        return m


@dataclass(frozen=True)
class GrpcFailRequest:
    """FailRequest. retry=True retries with backoff while retries remain; False dead-letters."""

    job_id: str
    worker_id: str
    error: str
    retry: bool = True
    lease_id: str | None = None

    def to_proto(self) -> pb.FailRequest:
        return pb.FailRequest(job_id=self.job_id, worker_id=self.worker_id, error=self.error, retry=self.retry,
                              lease_id=self.lease_id or "")


@dataclass(frozen=True)
class GrpcRenewLeaseRequest:
    """RenewLeaseRequest: extend the lease to now + extension_secs."""

    job_id: str
    worker_id: str
    extension_secs: int = 30
    lease_id: str | None = None

    def to_proto(self) -> pb.RenewLeaseRequest:
        return pb.RenewLeaseRequest(job_id=self.job_id, worker_id=self.worker_id,
                                    extension_secs=self.extension_secs or 0, lease_id=self.lease_id or "")


@dataclass(frozen=True)
class GrpcRegisterWorkerRequest:
    """RegisterWorkerRequest (the server picks the worker id)."""

    queue_name: str
    hostname: str
    worker_type: str = "python"
    max_concurrency: int = 5
    version: str = __version__
    metadata: dict[str, str] | None = None

    def to_proto(self) -> pb.RegisterWorkerRequest:
        return pb.RegisterWorkerRequest(queue_name=self.queue_name, hostname=self.hostname,
                                        worker_type=self.worker_type or "", max_concurrency=self.max_concurrency or 0,
                                        version=self.version or "",
                                        metadata={str(k): str(v) for k, v in (self.metadata or {}).items()})


@dataclass(frozen=True)
class GrpcHeartbeatRequest:
    """HeartbeatRequest: status is healthy, degraded, draining or offline."""

    worker_id: str
    current_jobs: int = 0
    status: str = "healthy"
    metadata: dict[str, str] | None = None

    def to_proto(self) -> pb.HeartbeatRequest:
        return pb.HeartbeatRequest(worker_id=self.worker_id, current_jobs=self.current_jobs, status=self.status or "",
                                   metadata={str(k): str(v) for k, v in (self.metadata or {}).items()})



@dataclass(frozen=True)
class GrpcCompleteBatchRequest:
    """CompleteBatchRequest (a server extension): up to 100 completes judged one by one."""

    jobs: tuple[GrpcCompleteRequest, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "jobs", tuple(self.jobs))
        for job in self.jobs:
            if not isinstance(job, GrpcCompleteRequest):
                raise TypeError("GrpcCompleteBatchRequest.jobs must hold GrpcCompleteRequest items")

    def to_proto(self) -> pb.CompleteBatchRequest:
        return pb.CompleteBatchRequest(jobs=[job.to_proto() for job in self.jobs])


_REQUEST_KINDS = {"dequeue": GrpcDequeueRequest, "complete": GrpcCompleteRequest, "fail": GrpcFailRequest,
                  "renew_lease": GrpcRenewLeaseRequest, "complete_batch": GrpcCompleteBatchRequest}


@dataclass(frozen=True)
class ProcessRequest:
    """One message of a ProcessJobs stream: set exactly one field (complete_batch is a server
    extension, answered by one complete_batch response)."""

    dequeue: GrpcDequeueRequest | None = None
    complete: GrpcCompleteRequest | None = None
    fail: GrpcFailRequest | None = None
    renew_lease: GrpcRenewLeaseRequest | None = None
    complete_batch: GrpcCompleteBatchRequest | None = None

    def __post_init__(self) -> None:
        given = [name for name in _REQUEST_KINDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a ProcessRequest sets exactly one of dequeue, complete, fail, renew_lease, "
                             "complete_batch")
        for name in given:
            if not isinstance(getattr(self, name), _REQUEST_KINDS[name]):
                raise TypeError(f"ProcessRequest.{name} must be a {_REQUEST_KINDS[name].__name__}")

    @property
    def kind(self) -> str:
        """Which request this is: dequeue, complete, fail, renew_lease or complete_batch."""
        return next(name for name in _REQUEST_KINDS if getattr(self, name) is not None)

    def to_proto(self) -> pb.ProcessRequest:
        kind = self.kind
        return pb.ProcessRequest(**{kind: getattr(self, kind).to_proto()})
