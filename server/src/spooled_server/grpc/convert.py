"""Job rows <-> protobuf messages: Struct payloads, Timestamps and the JobStatus enum.

JSON through google.protobuf.Struct has two gaps, closed here the same way in both directions:
- Struct numbers are doubles. Integral values (within 2^53) come back as integers, so a
  payload of {"n": 1} is stored as 1, not 1.0; NaN and infinities are refused (JSON has none).
- A Struct is always an object. Jobs created over REST may carry any JSON value; one that is not
  an object is delivered as {"value": <payload>}.
Strings with NUL characters are refused, as on REST (PostgreSQL cannot store them).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from ..errors import ValidationFailed
from ..generated import spooled_pb2 as pb

STATUS_TO_PB = {
    "pending": pb.JOB_STATUS_PENDING,
    "scheduled": pb.JOB_STATUS_SCHEDULED,
    "processing": pb.JOB_STATUS_PROCESSING,
    "completed": pb.JOB_STATUS_COMPLETED,
    "failed": pb.JOB_STATUS_FAILED,
    "deadletter": pb.JOB_STATUS_DEADLETTER,
    "cancelled": pb.JOB_STATUS_CANCELLED,
}
_EXACT_INT = 2 ** 53


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("Validation failed", [{"field": field, "message": message, "code": "invalid"}])


def _plain(value: Any, field: str) -> Any:
    """Struct-decoded Python (floats, dicts, lists) -> the JSON value we store."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(field, "numbers must be finite")
        return int(value) if value.is_integer() and abs(value) <= _EXACT_INT else value
    if isinstance(value, str):
        if "\x00" in value:
            raise _invalid(field, "strings must not contain NUL characters")
        return value
    if isinstance(value, dict):
        return {_plain(k, field): _plain(v, field) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, field) for v in value]
    return value  # bool, None


def _python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {k: _python(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_python(v) for v in value.list_value.values]
    if kind in (None, "null_value"):
        return None
    return getattr(value, kind)


def struct_to_json(struct: struct_pb2.Struct, field: str) -> dict[str, Any]:
    """A request's Struct as the JSON object to store (see the module notes)."""
    return _plain({k: _python(v) for k, v in struct.fields.items()}, field)


def json_to_struct(value: Any, target: struct_pb2.Struct) -> None:
    """Fills `target` from a stored JSON value (non-objects wrapped as {"value": ...})."""
    target.update(value if isinstance(value, dict) else {"value": value})


def timestamp_to_datetime(ts: timestamp_pb2.Timestamp, field: str) -> datetime:
    try:
        return ts.ToDatetime(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        raise _invalid(field, "timestamp is out of range") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _set_time(target: timestamp_pb2.Timestamp, value: datetime | None) -> None:
    """Timestamp.FromDatetime, without its calendar.timegm round trip (five per job message)."""
    if value is not None:
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        delta = value - _EPOCH
        target.seconds = delta.days * 86_400 + delta.seconds
        target.nanos = delta.microseconds * 1000


def job_message(row: dict[str, Any], *, org_id: str | None = None, worker_id: str | None = None) -> pb.Job:
    """A job row (full, as from get, or the claim subset) as a protobuf Job.

    Claim rows omit the organization and assigned worker; the caller passes what it knows.
    """
    job = pb.Job(
        id=row["id"], organization_id=row.get("organization_id") or org_id or "",
        queue_name=row.get("queue_name") or "", status=STATUS_TO_PB.get(row.get("status"), pb.JOB_STATUS_UNSPECIFIED),
        retry_count=row.get("retry_count") or 0, max_retries=row.get("max_retries") or 0,
        last_error=row.get("last_error") or "", priority=row.get("priority") or 0,
        timeout_seconds=row.get("timeout_seconds") or 0,
        assigned_worker_id=row.get("assigned_worker_id") or worker_id or "",
        idempotency_key=row.get("idempotency_key") or "", lease_id=row.get("lease_id") or "")
    if row.get("payload") is not None:
        json_to_struct(row["payload"], job.payload)
    if row.get("result") is not None:
        json_to_struct(row["result"], job.result)
    for name in ("created_at", "scheduled_at", "started_at", "completed_at", "lease_expires_at"):
        _set_time(getattr(job, name), row.get(name))
    return job
