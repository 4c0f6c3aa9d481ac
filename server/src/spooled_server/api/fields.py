"""Reusable field types carrying the reference's validation rules."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StrictBool, StrictInt

from ..errors import NotFound, ValidationFailed
from ..services.slugs import slug_problem

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


def _serialized_len(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError as err:  # e.g. integers beyond 64 bits
        raise ValueError(f"value cannot be stored: {err}") from None


def _sized(limit: int, what: str):
    def check(value: Any) -> Any:
        if value is not None and _serialized_len(value) > limit:
            raise ValueError(f"{what} must serialize to at most {limit} bytes")
        return value
    return check


def _storable(value: Any) -> Any:
    _serialized_len(value)
    return value


def _timestamp_string(value: Any) -> Any:
    if not isinstance(value, (str, datetime)):
        raise ValueError("timestamps must be RFC 3339 strings with an offset")
    return value


def _to_utc(value: datetime) -> datetime:
    # "0001-01-01T00:00:00+14:00" is valid RFC 3339 but its UTC instant falls before year 1,
    # which neither Python nor the database driver can represent: a 400 here, not a 500 later.
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise ValueError("timestamp is out of range") from None


QueueName = Annotated[str, AfterValidator(check_queue_name)]
Priority = Annotated[StrictInt, Field(ge=-100, le=100)]
MaxRetries = Annotated[StrictInt, Field(ge=0, le=100)]
TimeoutSeconds = Annotated[StrictInt, Field(ge=1, le=86400)]
LeaseSeconds = Annotated[StrictInt, Field(ge=5, le=3600)]
Limit100 = Annotated[StrictInt, Field(ge=1, le=100)]
# OFFSET is a bigint in PostgreSQL; list routes bound ?offset= by this so a larger number is
# a 400, not a database error.
MAX_OFFSET = 2**62
# RFC 3339 with an offset (naive times and epoch numbers are refused), converted to UTC.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_string), AfterValidator(_to_utc)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=255)]
# Payload size is checked by the job service (413, against the plan limit too).
Payload = Any
Tags = Annotated[Any, AfterValidator(_sized(MAX_TAGS_BYTES, "tags"))]
Metadata = Annotated[Any, AfterValidator(_sized(MAX_METADATA_BYTES, "metadata"))]
Bool = StrictBool
# Any JSON value that can be stored (no integers beyond 64 bits).
JsonValue = Annotated[Any, AfterValidator(_storable)]


# -- queues, workers, the DLQ and dependencies -------------------------------------------------


def parse_queue_name(value: str, field: str = "name") -> str:
    """Checks a queue name that arrived in a path or query string (400, never 404 or 500)."""
    try:
        return check_queue_name(value)
    except ValueError as err:
        raise ValidationFailed(str(err), [{"field": field, "message": str(err), "code": "invalid"}]) from None


_HOSTNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_WORKER_ID_CHARS = _HOSTNAME_CHARS


def _check_hostname(value: str) -> str:
    # ASCII only, as in the contract's pattern: real host names are ASCII (IDNs travel as punycode).
    if not 1 <= len(value) <= 255:
        raise ValueError("hostname must be 1-255 characters")
    if not set(value) <= _HOSTNAME_CHARS:
        raise ValueError("hostname may contain only letters, digits, '.', '-' and '_'")
    if value[0] in ".-" or value[-1] in ".-":
        raise ValueError("hostname must not start or end with '.' or '-'")
    return value


def _check_worker_id(value: str) -> str:
    if not 1 <= len(value) <= 128:
        raise ValueError("worker_id must be 1-128 characters")
    if not set(value) <= _WORKER_ID_CHARS:
        raise ValueError("worker_id may contain only letters, digits, '.', '-' and '_'")
    return value


def _clamp(low: int, high: int):
    def clamp(value: int | None) -> int | None:
        return None if value is None else max(low, min(high, value))
    return clamp


Hostname = Annotated[str, AfterValidator(_check_hostname)]
WorkerId = Annotated[str, AfterValidator(_check_worker_id)]
# JSON objects (not arrays or scalars) capped at 64 KiB once serialized.
SettingsObject = Annotated[dict[str, Any], AfterValidator(_sized(MAX_METADATA_BYTES, "settings"))]
MetadataObject = Annotated[dict[str, Any], AfterValidator(_sized(MAX_METADATA_BYTES, "metadata"))]
# The reference clamps queue rate limits instead of rejecting them.
QueueRateLimit = Annotated[StrictInt, AfterValidator(_clamp(0, 100_000))]
Limit10000 = Annotated[StrictInt, Field(ge=1, le=10_000)]
JobId = Annotated[str, Field(min_length=1, max_length=255)]
JobIdList = Annotated[list[JobId], Field(min_length=1, max_length=100)]


# -- organizations, API keys and path ids ------------------------------------------------------
# Types below were added for the account routes; the ones above are unchanged.


MAX_PATH_ID_LENGTH = 255

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_KEY_NAME = re.compile(r"[A-Za-z0-9 _.()-]+")
_KEY_QUEUE = re.compile(r"[A-Za-z0-9_.*-]+")


def _email(value: str) -> str:
    # A syntax check only (no DNS): enough to catch typos without a dependency.
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError("must be a valid email address")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _slug(value: str) -> str:
    problem = slug_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def full_match(pattern: re.Pattern, message: str):
    """A validator refusing (with `message`) strings that `pattern` does not match whole."""
    # fullmatch, because `$` in Python regexes also matches before a trailing newline.
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(message)
        return value
    return check


def check_path_id(value: str, what: str) -> str:
    """Ids in paths are free text; ones that could never exist (NUL, absurd length) are
    answered 404 here rather than reaching PostgreSQL, which refuses NUL in text."""
    if not value or len(value) > MAX_PATH_ID_LENGTH or "\x00" in value:
        raise NotFound(f"{what} not found")
    return value


OrgName = Annotated[str, Field(min_length=3, max_length=100), AfterValidator(_not_blank)]
OrgSlug = Annotated[str, AfterValidator(_slug)]
Email = Annotated[str, AfterValidator(_email)]
ApiKeyName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(
    full_match(_KEY_NAME, "may contain only letters, digits, spaces and - _ . ( )"))]
ApiKeyQueue = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(
    full_match(_KEY_QUEUE, "queue names may contain only letters, digits and - _ . *"))]
ApiKeyQueues = Annotated[list[ApiKeyQueue], Field(max_length=50)]
KeyRateLimit = Annotated[StrictInt, Field(ge=1, le=10_000)]


