"""The SDK's one error tree, and the functions that turn an HTTP error response (or a request
that got no answer) into it.

    SpooledError
    ├── APIError                      the server answered with an error status
    │   ├── ValidationError           400, 422
    │   ├── AuthenticationError       401
    │   ├── AuthorizationError        403
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   │   └── LeaseExpiredError     409 LEASE_EXPIRED: this worker no longer holds the job
    │   ├── PayloadTooLargeError      413
    │   ├── RateLimitError            429 (retry_after, limit, remaining, reset)
    │   │   └── QuotaExceededError    429 QUOTA_EXCEEDED: a plan limit, not a burst
    │   └── ServerError               5xx
    ├── NetworkError                  no response: connection refused, reset, DNS, ...
    ├── TimeoutError                  no response in time (also a builtins.TimeoutError)
    ├── CircuitBreakerOpenError       the breaker refused the call without sending it
    ├── ResponseValidationError       a 2xx body that does not match the contract
    └── WebhookSignatureError         a webhook delivery failed verification

Any other error status (405, 501, ...) is a plain APIError.
"""

from __future__ import annotations

import builtins
import json
import time
from datetime import datetime, timezone
from typing import Any

import httpx

from ._retry import parse_retry_after

__all__ = [
    "SpooledError", "APIError", "ValidationError", "AuthenticationError", "AuthorizationError",
    "NotFoundError", "ConflictError", "LeaseExpiredError", "PayloadTooLargeError", "RateLimitError",
    "QuotaExceededError", "ServerError", "NetworkError", "TimeoutError", "SpooledTimeoutError",
    "CircuitBreakerOpenError", "CircuitOpenError", "ResponseValidationError", "WebhookSignatureError",
    "error_from_response", "error_from_request_error", "is_spooled_error", "JobAbortedError",
]


class SpooledError(Exception):
    """Root of every error the SDK raises."""

    def __init__(self, message: str, *, code: str | None = None, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class APIError(SpooledError):
    """The server answered with an error status.

    `code` is the envelope's machine-readable code (for example VALIDATION_ERROR), `details`
    its extra facts, `body` the raw response text, `request_id` the X-Request-Id header.
    """

    def __init__(self, message: str, *, status_code: int, code: str | None = None, details: Any = None,
                 request_id: str | None = None, body: str | None = None,
                 headers: httpx.Headers | None = None):
        super().__init__(message, code=code, request_id=request_id)
        self.status_code = status_code
        self.details = details
        self.body = body
        self.headers = headers if headers is not None else httpx.Headers()

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.status_code}{code}: {self.message}{rid}"


class ValidationError(APIError):
    """400 or 422: the request is malformed or breaks a field rule (see `details`)."""


class AuthenticationError(APIError):
    """401: the credential is missing, unknown, expired or revoked."""


class AuthorizationError(APIError):
    """403: the credential is valid but may not do this (for example another queue)."""


class NotFoundError(APIError):
    """404: no such resource in the caller's organization."""


class ConflictError(APIError):
    """409: the resource's state forbids the operation, or a unique value is taken."""


class LeaseExpiredError(ConflictError):
    """409 LEASE_EXPIRED: the caller no longer holds the job's lease; nothing changed."""


class PayloadTooLargeError(APIError):
    """413: the body or the job payload is too large."""


class RateLimitError(APIError):
    """429: too many requests. `retry_after` is the seconds the server asked to wait, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, limit: int | None = None,
                 remaining: int | None = None, reset: datetime | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.limit = limit
        self.remaining = remaining
        self.reset = reset


class QuotaExceededError(RateLimitError):
    """429 QUOTA_EXCEEDED: a plan limit (jobs per day, active jobs, workers, ...) is reached."""


class ServerError(APIError):
    """5xx: the server failed; retried automatically before it reaches the caller."""


class NetworkError(SpooledError):
    """No response arrived: the connection failed or broke. The httpx error is `__cause__`."""

    def __init__(self, message: str, *, request_id: str | None = None):
        super().__init__(message, code="network_error", request_id=request_id)


class TimeoutError(SpooledError, builtins.TimeoutError):  # noqa: A001 - the public Spooled name
    """No response within the timeout. Also a builtins.TimeoutError, so either name catches it;
    `SpooledTimeoutError` is the same class under a name that shadows nothing."""

    def __init__(self, message: str, *, timeout_seconds: float | None = None, request_id: str | None = None):
        SpooledError.__init__(self, message, code="timeout", request_id=request_id)
        self.timeout_seconds = timeout_seconds


SpooledTimeoutError = TimeoutError


class CircuitBreakerOpenError(SpooledError):
    """The circuit breaker is open: the call was refused without reaching the server."""

    def __init__(self, message: str = "Circuit breaker is open; the server failed repeatedly"):
        super().__init__(message, code="circuit_breaker_open")


CircuitOpenError = CircuitBreakerOpenError


class ResponseValidationError(SpooledError):
    """A successful response whose body does not match the contract (SDK/server drift)."""

    def __init__(self, message: str, *, status_code: int, body: str | None, errors: Any = None,
                 request_id: str | None = None):
        super().__init__(message, code="response_validation_error", request_id=request_id)
        self.status_code = status_code
        self.body = body
        self.errors = errors


class WebhookSignatureError(SpooledError):
    """A webhook delivery's signature is missing, malformed, wrong or too old."""

    def __init__(self, message: str):
        super().__init__(message, code="invalid_signature")


class JobAbortedError(Exception):
    """A job handler may raise this to stop work on a job it should no longer run (its lease
    was lost, or the worker is shutting down). A plain Exception, not a SpooledError: it is
    about the job's work, not about a call to the server."""

    def __init__(self, message: str = "Job aborted", *, job_id: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.job_id = job_id
        self.reason = reason


def is_spooled_error(error: BaseException) -> bool:
    """True for errors raised by this SDK."""
    return isinstance(error, SpooledError)


def _class_for(status: int, code: str | None) -> type[APIError]:
    if status in (400, 422):
        return ValidationError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return AuthorizationError
    if status == 404:
        return NotFoundError
    if status == 409:
        return LeaseExpiredError if code == "LEASE_EXPIRED" else ConflictError
    if status == 413:
        return PayloadTooLargeError
    if status == 429:
        return QuotaExceededError if code == "QUOTA_EXCEEDED" else RateLimitError
    if 500 <= status <= 599:
        return ServerError
    return APIError


# The HTTP status each envelope code is answered with (the server's one error table), so a code
# met without a response (a batch item's outcome, a gRPC answer) maps to the same class.
ENVELOPE_STATUS: dict[str, int] = {
    "VALIDATION_ERROR": 400, "INVALID_JSON": 400, "BAD_REQUEST": 400, "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403, "NOT_FOUND": 404, "CONFLICT": 409, "LEASE_EXPIRED": 409,
    "PAYLOAD_TOO_LARGE": 413, "QUOTA_EXCEEDED": 429, "RATE_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500, "NOT_IMPLEMENTED": 501, "SERVICE_UNAVAILABLE": 503,
}


def error_from_code(code: str, message: str) -> APIError:
    """The error an envelope code stands for when it arrives without a response of its own
    (a per-item outcome of a batch call); an unknown code is a ServerError."""
    status = ENVELOPE_STATUS.get(code, 500)
    return _class_for(status, code)(message or code, status_code=status, code=code or None, body=message)


def error_from_request_error(exc: httpx.RequestError, what: str, *, timeout: float | None = None,
                             request_id: str | None = None) -> SpooledError:
    """Maps a request that got no usable answer (`what`: "POST /api/v1/jobs", say) to
    TimeoutError when it ran out of time, else NetworkError; the httpx error is `__cause__`."""
    error: SpooledError
    if isinstance(exc, httpx.TimeoutException):
        error = TimeoutError(f"{what} timed out", timeout_seconds=timeout, request_id=request_id)
    else:
        error = NetworkError(f"{what} failed: {exc.__class__.__name__}: {exc}", request_id=request_id)
    error.__cause__ = exc
    return error


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def error_from_response(response: httpx.Response, *, now: float | None = None) -> APIError:
    """Maps an error response to the matching APIError subclass.

    Reads the envelope `{code, message, details}` (tolerating older shapes that put the text in
    `error`, and non-JSON bodies), X-Request-Id, and on 429 the Retry-After and X-RateLimit-*
    headers. `now` (Unix seconds) resolves an HTTP-date Retry-After; it defaults to the clock.
    """
    text = response.text
    code: str | None = None
    message: str | None = None
    details: Any = None
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = data.get("code") if isinstance(data.get("code"), str) else None
        raw_message = data.get("message", data.get("error"))
        message = raw_message if isinstance(raw_message, str) else None
        details = data.get("details")
    if not message:
        message = text.strip()[:500] or response.reason_phrase or f"HTTP {response.status_code}"
    headers = response.headers
    common: dict[str, Any] = dict(status_code=response.status_code, code=code, details=details,
                                  request_id=headers.get("x-request-id"), body=text, headers=headers)
    cls = _class_for(response.status_code, code)
    if issubclass(cls, RateLimitError):
        retry_after = parse_retry_after(headers.get("retry-after"), time.time() if now is None else now)
        if retry_after is None and isinstance(details, dict):
            hinted = details.get("retry_after_seconds")
            if isinstance(hinted, (int, float)) and hinted >= 0:
                retry_after = float(hinted)
        reset_epoch = _int_header(headers, "x-ratelimit-reset")
        reset = datetime.fromtimestamp(reset_epoch, timezone.utc) if reset_epoch is not None else None
        return cls(message, retry_after=retry_after, limit=_int_header(headers, "x-ratelimit-limit"),
                   remaining=_int_header(headers, "x-ratelimit-remaining"), reset=reset, **common)
    return cls(message, **common)
