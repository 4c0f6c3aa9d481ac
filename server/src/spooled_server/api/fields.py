"""Reusable field types carrying the reference's validation rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StrictBool, StrictInt

from .body import dumps

MAX_TAGS_BYTES = 64 * 1024
MAX_METADATA_BYTES = 64 * 1024


def check_queue_name(value: str, *, max_len: int = 100) -> str:
    """1-100 characters, letters/digits (any script) or - _ . , not starting with . or -."""
    if not 1 <= len(value) <= max_len:
        raise ValueError(f"queue name must be 1-{max_len} characters")
    if value[0] in ".-":
        raise ValueError("queue name must not start with '.' or '-'")
    if not all(ch.isalnum() or ch in "-_." for ch in value):
        raise ValueError("queue name may contain only letters, digits, '-', '_' and '.'")
    return value


def _sized(limit: int, what: str):
    def check(value: Any) -> Any:
        if value is not None and len(dumps(value)) > limit:
            raise ValueError(f"{what} must serialize to at most {limit} bytes")
        return value
    return check


def _timestamp_string(value: Any) -> Any:
    if not isinstance(value, (str, datetime)):
        raise ValueError("timestamps must be RFC 3339 strings with an offset")
    return value


QueueName = Annotated[str, AfterValidator(check_queue_name)]
Priority = Annotated[StrictInt, Field(ge=-100, le=100)]
MaxRetries = Annotated[StrictInt, Field(ge=0, le=100)]
TimeoutSeconds = Annotated[StrictInt, Field(ge=1, le=86400)]
LeaseSeconds = Annotated[StrictInt, Field(ge=5, le=3600)]
Limit100 = Annotated[StrictInt, Field(ge=1, le=100)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_string)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=255)]
# Payload size is checked by the job service (413, against the plan limit too).
Payload = Any
Tags = Annotated[Any, AfterValidator(_sized(MAX_TAGS_BYTES, "tags"))]
Metadata = Annotated[Any, AfterValidator(_sized(MAX_METADATA_BYTES, "metadata"))]
Bool = StrictBool
