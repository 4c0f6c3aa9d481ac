"""Results of the gRPC client, as plain dataclasses over the generated messages (the requests
are in requests.py).

Payloads and results are dicts, timestamps aware UTC datetimes, statuses the REST spelling
("pending", "processing", ...); proto3's empty strings and unset timestamps are None. Every
model has `to_wire()`: the dict with the proto's field names (what the conformance suite and
the REST API call the wire form).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from ..generated import spooled_pb2 as pb
from ._convert import iso, status_name, struct_to_dict, text_or_none, timestamp_or_none


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


class _Wire:
    def to_wire(self) -> dict[str, Any]:
        """This model as a dict with the proto's field names (datetimes as ISO 8601 strings)."""
        return _wire(self)


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GrpcJob(_Wire):
    """A job as the gRPC API returns it. `lease_id` is the fencing token to send back on
    complete, fail and renew_lease."""

    id: str
    queue_name: str
    status: str
    payload: dict[str, Any]
    retry_count: int = 0
    max_retries: int = 0
    priority: int = 0
    timeout_seconds: int = 0
    organization_id: str | None = None
    result: dict[str, Any] | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    lease_expires_at: datetime | None = None
    assigned_worker_id: str | None = None
    idempotency_key: str | None = None
    lease_id: str | None = None

    @classmethod
    def from_proto(cls, job: pb.Job) -> "GrpcJob":
        return cls(
            id=job.id, queue_name=job.queue_name, status=status_name(job.status),
            payload=struct_to_dict(job.payload), retry_count=job.retry_count, max_retries=job.max_retries,
            priority=job.priority, timeout_seconds=job.timeout_seconds,
            organization_id=text_or_none(job.organization_id),
            result=struct_to_dict(job.result) if job.HasField("result") else None,
            last_error=text_or_none(job.last_error), created_at=timestamp_or_none(job, "created_at"),
            scheduled_at=timestamp_or_none(job, "scheduled_at"), started_at=timestamp_or_none(job, "started_at"),
            completed_at=timestamp_or_none(job, "completed_at"),
            lease_expires_at=timestamp_or_none(job, "lease_expires_at"),
            assigned_worker_id=text_or_none(job.assigned_worker_id),
            idempotency_key=text_or_none(job.idempotency_key), lease_id=text_or_none(job.lease_id))


@dataclass(frozen=True)
class GrpcEnqueueResponse(_Wire):
    """`created` is False when the idempotency key matched an existing job (`job_id` is that job)."""

    job_id: str
    created: bool

    @classmethod
    def from_proto(cls, m: pb.EnqueueResponse) -> "GrpcEnqueueResponse":
        return cls(job_id=m.job_id, created=m.created)


@dataclass(frozen=True)
class GrpcDequeueResponse(_Wire):
    """The jobs leased by one Dequeue (empty when nothing is ready)."""

    jobs: list[GrpcJob]

    @classmethod
    def from_proto(cls, m: pb.DequeueResponse) -> "GrpcDequeueResponse":
        return cls(jobs=[GrpcJob.from_proto(j) for j in m.jobs])


@dataclass(frozen=True)
class GrpcCompleteResponse(_Wire):
    success: bool

    @classmethod
    def from_proto(cls, m: pb.CompleteResponse) -> "GrpcCompleteResponse":
        return cls(success=m.success)


@dataclass(frozen=True)
class GrpcFailResponse(_Wire):
    """`next_retry_delay_secs` is 0 when `will_retry` is False (the job was dead-lettered)."""

    success: bool
    will_retry: bool
    next_retry_delay_secs: int

    @classmethod
    def from_proto(cls, m: pb.FailResponse) -> "GrpcFailResponse":
        return cls(success=m.success, will_retry=m.will_retry, next_retry_delay_secs=m.next_retry_delay_secs)


@dataclass(frozen=True)
class GrpcRenewLeaseResponse(_Wire):
    """`success` is False (not an error) when the caller no longer holds the lease."""

    success: bool
    new_expires_at: datetime | None = None

    @classmethod
    def from_proto(cls, m: pb.RenewLeaseResponse) -> "GrpcRenewLeaseResponse":
        return cls(success=m.success, new_expires_at=timestamp_or_none(m, "new_expires_at"))


@dataclass(frozen=True)
class GrpcGetJobResponse(_Wire):
    """`job` is None when no such job exists in the caller's organization."""

    job: GrpcJob | None

    @classmethod
    def from_proto(cls, m: pb.GetJobResponse) -> "GrpcGetJobResponse":
        return cls(job=GrpcJob.from_proto(m.job) if m.HasField("job") else None)


@dataclass(frozen=True)
class GrpcQueueStats(_Wire):
    """Job counts of one queue by status; `max_age_ms` is the oldest waiting job's age."""

    queue_name: str
    pending: int = 0
    scheduled: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    deadletter: int = 0
    total: int = 0
    max_age_ms: int = 0

    @classmethod
    def from_proto(cls, m: pb.GetQueueStatsResponse) -> "GrpcQueueStats":
        return cls(queue_name=m.queue_name, pending=m.pending, scheduled=m.scheduled, processing=m.processing,
                   completed=m.completed, failed=m.failed, deadletter=m.deadletter, total=m.total,
                   max_age_ms=m.max_age_ms)


@dataclass(frozen=True)
class GrpcRegisterWorkerResponse(_Wire):
    """The new worker's id (gRPC registration always creates one) and the server's timings."""

    worker_id: str
    lease_duration_secs: int = 30
    heartbeat_interval_secs: int = 10

    @classmethod
    def from_proto(cls, m: pb.RegisterWorkerResponse) -> "GrpcRegisterWorkerResponse":
        return cls(worker_id=m.worker_id, lease_duration_secs=m.lease_duration_secs or 30,
                   heartbeat_interval_secs=m.heartbeat_interval_secs or 10)


@dataclass(frozen=True)
class GrpcHeartbeatResponse(_Wire):
    """`acknowledged` is False for an unknown worker; `should_drain` asks it to finish and stop."""

    acknowledged: bool
    should_drain: bool = False

    @classmethod
    def from_proto(cls, m: pb.HeartbeatResponse) -> "GrpcHeartbeatResponse":
        return cls(acknowledged=m.acknowledged, should_drain=m.should_drain)


@dataclass(frozen=True)
class GrpcDeregisterResponse(_Wire):
    """`success` is False for an unknown worker."""

    success: bool

    @classmethod
    def from_proto(cls, m: pb.DeregisterResponse) -> "GrpcDeregisterResponse":
        return cls(success=m.success)


@dataclass(frozen=True)
class GrpcErrorResponse(_Wire):
    """A ProcessJobs request that failed; `code` is the REST envelope code (LEASE_EXPIRED, ...)."""

    code: str
    message: str

    @classmethod
    def from_proto(cls, m: pb.ErrorResponse) -> "GrpcErrorResponse":
        return cls(code=m.code, message=m.message)

    def to_exception(self) -> Exception:
        """The SpooledError the same failure raises on a unary call."""
        from ._status import error_from_code
        return error_from_code(self.code, self.message)


@dataclass(frozen=True)
class GrpcCompleteOutcome(_Wire):
    """One job's outcome in a CompleteBatch answer; `error` is set when success is False."""

    job_id: str
    success: bool
    error: GrpcErrorResponse | None = None

    @classmethod
    def from_proto(cls, m: pb.CompleteOutcome) -> "GrpcCompleteOutcome":
        error = GrpcErrorResponse.from_proto(m.error) if m.HasField("error") else None
        return cls(job_id=m.job_id, success=m.success, error=error)


@dataclass(frozen=True)
class GrpcCompleteBatchResponse(_Wire):
    """CompleteBatch (a server extension): one outcome per job, in request order."""

    results: tuple[GrpcCompleteOutcome, ...] = ()
    success_count: int = 0
    failure_count: int = 0

    @classmethod
    def from_proto(cls, m: pb.CompleteBatchResponse) -> "GrpcCompleteBatchResponse":
        return cls(results=tuple(GrpcCompleteOutcome.from_proto(r) for r in m.results),
                   success_count=m.success_count, failure_count=m.failure_count)


# -- streams ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamOptions:
    """Callbacks of a stream: on_connected() once the call is open, on_error(SpooledError) when
    it breaks, on_end() when it finishes for any reason (also after cancel())."""

    on_connected: Callable[[], Any] | None = None
    on_error: Callable[[Exception], Any] | None = None
    on_end: Callable[[], Any] | None = None


@dataclass(frozen=True)
class ProcessResponse(_Wire):
    """One answer on a ProcessJobs stream: exactly one field is set (see `kind`)."""

    job: GrpcJob | None = None
    complete: GrpcCompleteResponse | None = None
    fail: GrpcFailResponse | None = None
    renew_lease: GrpcRenewLeaseResponse | None = None
    error: GrpcErrorResponse | None = None
    complete_batch: GrpcCompleteBatchResponse | None = None

    @property
    def kind(self) -> str | None:
        """job, complete, fail, renew_lease, error or complete_batch (None for an empty message)."""
        return next((name for name in _PROCESS_ANSWERS if getattr(self, name) is not None), None)

    @classmethod
    def from_proto(cls, m: pb.ProcessResponse) -> "ProcessResponse":
        kind = m.WhichOneof("response")
        if kind not in _PROCESS_ANSWERS:
            return cls()
        return cls(**{kind: _PROCESS_ANSWERS[kind](getattr(m, kind))})


# ProcessResponse oneof field -> the model of that answer.
_PROCESS_ANSWERS: dict[str, Callable[[Any], Any]] = {
    "job": GrpcJob.from_proto, "complete": GrpcCompleteResponse.from_proto, "fail": GrpcFailResponse.from_proto,
    "renew_lease": GrpcRenewLeaseResponse.from_proto, "error": GrpcErrorResponse.from_proto,
    "complete_batch": GrpcCompleteBatchResponse.from_proto,
}
