"""Python values <-> protobuf: Struct payloads, Timestamps and the JobStatus enum.

google.protobuf.Struct stores every number as a double, so integral values (within 2^53) are
turned back into ints on the way in: a payload of {"n": 1} reads back as 1, not 1.0, the same
rule the server applies. proto3 cannot send "unset", so empty strings and zero timestamps come
back as None here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from ..generated import spooled_pb2 as pb

_EXACT_INT = 2 ** 53

STATUS_NAMES: dict[int, str] = {
    pb.JOB_STATUS_UNSPECIFIED: "unspecified",
    pb.JOB_STATUS_PENDING: "pending",
    pb.JOB_STATUS_SCHEDULED: "scheduled",
    pb.JOB_STATUS_PROCESSING: "processing",
    pb.JOB_STATUS_COMPLETED: "completed",
    pb.JOB_STATUS_FAILED: "failed",
    pb.JOB_STATUS_DEADLETTER: "deadletter",
    pb.JOB_STATUS_CANCELLED: "cancelled",
}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= _EXACT_INT else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {k: _python(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_python(v) for v in value.list_value.values]
    if kind in (None, "null_value"):
        return None
    return _plain(getattr(value, kind))


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a plain dict (integral numbers as ints)."""
    return {k: _python(v) for k, v in struct.fields.items()}


def fill_struct(target: struct_pb2.Struct, value: Any, field: str) -> None:
    """Fills `target` from a dict. A Struct is always an object, so anything else is refused
    here rather than silently wrapped."""
    if not isinstance(value, dict):
        raise TypeError(f"{field} must be a dict (a JSON object) over gRPC, got {type(value).__name__}")
    target.SetInParent()  # an empty dict is still a value ({} is not "no result")
    try:
        target.update(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise TypeError(f"{field} is not JSON-compatible: {exc}") from None


def timestamp_or_none(message: Any, name: str) -> datetime | None:
    """A Timestamp field as an aware UTC datetime, or None when it is unset."""
    if not message.HasField(name):
        return None
    return getattr(message, name).ToDatetime(tzinfo=timezone.utc)


def fill_timestamp(target: timestamp_pb2.Timestamp, value: datetime) -> None:
    """Sets a Timestamp; a naive datetime is taken as UTC."""
    target.FromDatetime(value if value.tzinfo else value.replace(tzinfo=timezone.utc))


def text_or_none(value: str) -> str | None:
    """proto3's empty string as None."""
    return value or None


def status_name(value: int) -> str:
    """A JobStatus enum value as the REST spelling (pending, processing, ...)."""
    return STATUS_NAMES.get(value, "unspecified")


def iso(value: datetime | None) -> str | None:
    """A datetime in the wire form the REST API uses (ISO 8601, UTC, Z suffix)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
