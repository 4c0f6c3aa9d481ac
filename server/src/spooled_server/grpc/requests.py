"""gRPC request fields checked with the REST rules, after proto3's "zero means not given".

proto3 cannot send "unset", so every zero or empty value is turned into None (the server's
default) before validation; what remains is checked with the same field types as the REST
bodies (api/fields.py), so a value REST refuses is refused here too (INVALID_ARGUMENT).
Deliberate difference from the reference: queue names follow the REST limit of 100 characters,
not the 255 the published gRPC comment allows, so a job enqueued over gRPC is always reachable
through REST routes that take the queue name in the path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from ..api.body import validation_details
from ..api.fields import (Hostname, IdempotencyKey, MaxRetries, MetadataObject, Priority, QueueName,
                          Tags, TimeoutSeconds)
from ..errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)

LEASE_MIN_SECS, LEASE_MAX_SECS = 5, 3600
MAX_BATCH = 100
MAX_ERROR_BYTES = 4096
_TRUNCATED = "… [truncated]"


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k)
            _no_nul(v)
    return value


class _Args(BaseModel):
    """Base: no unknown fields, and no NUL in any string (PostgreSQL cannot store it)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class EnqueueArgs(_Args):
    """EnqueueRequest without its payload (checked while converting the Struct)."""

    queue_name: QueueName
    priority: Priority = 0
    max_retries: MaxRetries | None = None
    timeout_seconds: TimeoutSeconds | None = None
    scheduled_at: datetime | None = None
    idempotency_key: IdempotencyKey | None = None
    tags: Tags = None


class DequeueArgs(_Args):
    """DequeueRequest and StreamJobsRequest: REST claim rules for queue and worker id."""

    queue_name: QueueName
    worker_id: str = Field(min_length=1, max_length=255)
    batch_size: StrictInt = Field(ge=0)


class FenceArgs(_Args):
    """Who settles a leased job: the lease token, else (legacy clients) the worker id."""

    worker_id: str | None = Field(default=None, min_length=1, max_length=255)
    lease_id: str | None = Field(default=None, min_length=1, max_length=255)


class RegisterArgs(_Args):
    """RegisterWorkerRequest with the REST registration rules."""

    queue_name: QueueName
    hostname: Hostname
    worker_type: str | None = Field(default=None, max_length=50)
    max_concurrency: StrictInt = Field(default=5, ge=1, le=100)
    version: str | None = Field(default=None, max_length=50)
    metadata: MetadataObject | None = None


class HeartbeatArgs(_Args):
    """HeartbeatRequest's checked fields (status is free text, recorded as healthy if unknown)."""

    current_jobs: StrictInt = Field(ge=0, le=1000)
    metadata: MetadataObject | None = None


def parse(model: type[M], **fields: Any) -> M:
    """Validates already-defaulted fields; a failure is ValidationFailed (INVALID_ARGUMENT)."""
    try:
        return model(**fields)
    except ValidationError as err:
        raise ValidationFailed("Validation failed", validation_details(err)) from None


def given(value: Any) -> Any:
    """proto3's zero value (0, "", empty map) as None: "not given"."""
    return value or None


def lease_secs(requested: int, default: int) -> int:
    """0 means the server default; anything else is clamped to 5..3600 (proto comment)."""
    if requested == 0:
        return default
    return max(LEASE_MIN_SECS, min(LEASE_MAX_SECS, requested))


def batch_size(requested: int) -> int:
    """0 means 1; more than 100 is capped at 100."""
    return max(1, min(MAX_BATCH, requested))


def fence(worker_id: str, lease_id: str) -> FenceArgs:
    args = parse(FenceArgs, worker_id=given(worker_id), lease_id=given(lease_id))
    if args.worker_id is None and args.lease_id is None:
        raise ValidationFailed("Validation failed", [
            {"field": "worker_id", "message": "worker_id or lease_id is required", "code": "missing"}])
    return args


def error_text(message: str) -> str:
    """Fail's error text, cut to at most 4096 UTF-8 bytes (marked, never refused). A NUL, which
    PostgreSQL cannot store, becomes U+FFFD: refusing a failure report would leave the job
    leased until its lease expires."""
    message = message.replace("\x00", "\ufffd")
    raw = message.encode("utf-8")
    if len(raw) <= MAX_ERROR_BYTES:
        return message
    keep = MAX_ERROR_BYTES - len(_TRUNCATED.encode("utf-8"))
    return raw[:keep].decode("utf-8", errors="ignore") + _TRUNCATED


def known_id(value: str) -> bool:
    """Whether a job or worker id could exist at all (ids with NUL or absurd length cannot, and
    PostgreSQL would refuse them): such ids are answered as unknown without a query."""
    return 0 < len(value) <= 255 and "\x00" not in value
