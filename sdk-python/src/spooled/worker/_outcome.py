"""Decisions the sync and async workers share: what to send when a handler returns or raises,
and which errors end the worker or the lease."""

from __future__ import annotations

import json
from typing import Any

from ..errors import AuthenticationError, AuthorizationError, LeaseExpiredError, NotFoundError, ValidationError

# The longest failure message the server accepts (it keeps the first 4096 characters as
# last_error, so a long stack trace is never refused; anything beyond this would be).
MAX_ERROR_LENGTH = 65536
# Backoff between failed claims: poll_interval doubled per failure, at most this many seconds.
MAX_CLAIM_BACKOFF = 30.0


def lease_gone(error: BaseException) -> bool:
    """The job is no longer this worker's: a stale lease (409 LEASE_EXPIRED) or a deleted job."""
    return isinstance(error, (LeaseExpiredError, NotFoundError))


def fatal(error: BaseException) -> bool:
    """Claim errors that retrying cannot fix, so the worker stops: a revoked key, a forbidden
    queue, a claim the server rejects as malformed."""
    return isinstance(error, (AuthenticationError, AuthorizationError, ValidationError))


def failure_message(error: BaseException) -> str:
    """The text recorded as the job's last_error."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:MAX_ERROR_LENGTH]


def unserializable(result: Any, *, object_only: bool = False) -> str | None:
    """Why a handler's result cannot be stored as JSON, or None when it can. `object_only`: the
    result travels as a protobuf Struct (gRPC), which holds a JSON object and nothing else, so
    a list, string or number is refused here; sending it would fail on every attempt and leave
    the job to expire and run again."""
    if object_only and result is not None and not isinstance(result, dict):
        return f"handler result must be a dict (a JSON object) or None over gRPC, got {type(result).__name__}"
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return f"handler result is not JSON-serializable: {exc}"[:MAX_ERROR_LENGTH]
    return None


def will_retry(answer: Any, retry_count: int, max_retries: int) -> bool:
    """The server's own `will_retry` when it sends one, else the documented rule."""
    said = getattr(answer, "will_retry", None)
    return said if isinstance(said, bool) else retry_count < max_retries


def claim_backoff(poll_interval: float, failures: int) -> float:
    """Seconds to wait after `failures` failed claims in a row."""
    return min(poll_interval * (2 ** max(0, failures - 1)), MAX_CLAIM_BACKOFF)


def complete_params(ctx: Any, result: Any) -> dict[str, Any]:
    """The jobs.complete body: fenced by worker and lease."""
    return {"worker_id": ctx.worker_id, "lease_id": ctx.lease_id, "result": result}


def fail_params(ctx: Any, message: str) -> dict[str, Any]:
    """The jobs.fail body: fenced by worker and lease."""
    return {"worker_id": ctx.worker_id, "lease_id": ctx.lease_id, "error": message}


__all__ = ["lease_gone", "fatal", "failure_message", "unserializable", "will_retry",
           "claim_backoff", "complete_params", "fail_params"]
