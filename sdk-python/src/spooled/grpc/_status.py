"""The one place a gRPC failure becomes a SpooledError.

Status -> class (the Spooled mapping): UNAUTHENTICATED -> AuthenticationError,
PERMISSION_DENIED -> AuthorizationError, NOT_FOUND -> NotFoundError, INVALID_ARGUMENT and
OUT_OF_RANGE -> ValidationError, FAILED_PRECONDITION, ABORTED and ALREADY_EXISTS ->
ConflictError, RESOURCE_EXHAUSTED -> RateLimitError, UNAVAILABLE -> NetworkError,
DEADLINE_EXCEEDED -> TimeoutError, anything else -> ServerError.

Our server also sends the REST envelope's code in the `spooled-error-code` trailer; it picks
the subclass the REST API would have raised: LEASE_EXPIRED -> LeaseExpiredError (a
ConflictError), QUOTA_EXCEEDED -> QuotaExceededError (a RateLimitError) and PAYLOAD_TOO_LARGE
-> PayloadTooLargeError (RESOURCE_EXHAUSTED, but retrying cannot help, so not a
RateLimitError). FAILED_PRECONDITION without a trailer is a stale lease too: that is the only
thing the proto uses it for. API errors get the HTTP status the same failure has over REST as
`status_code`, and `grpc_status` (the status name) as an extra attribute.
"""

from __future__ import annotations

from typing import Any

import grpc

from ..errors import (ENVELOPE_STATUS, APIError, AuthenticationError, AuthorizationError, ConflictError, LeaseExpiredError,
                      NetworkError, NotFoundError, PayloadTooLargeError, RateLimitError,
                      ServerError, SpooledError, TimeoutError, ValidationError, _class_for)

ERROR_CODE_TRAILER = "spooled-error-code"

_S = grpc.StatusCode
# status -> (class, the HTTP status of the same failure over REST)
_BY_STATUS: dict[grpc.StatusCode, tuple[type[APIError], int]] = {
    _S.INVALID_ARGUMENT: (ValidationError, 400),
    _S.OUT_OF_RANGE: (ValidationError, 400),
    _S.UNAUTHENTICATED: (AuthenticationError, 401),
    _S.PERMISSION_DENIED: (AuthorizationError, 403),
    _S.NOT_FOUND: (NotFoundError, 404),
    _S.ALREADY_EXISTS: (ConflictError, 409),
    _S.ABORTED: (ConflictError, 409),
    _S.FAILED_PRECONDITION: (LeaseExpiredError, 409),
    _S.RESOURCE_EXHAUSTED: (RateLimitError, 429),
    _S.UNIMPLEMENTED: (ServerError, 501),
}
# envelope code -> (class, HTTP status): refines the status, and maps ProcessJobs `error` answers
# (the REST table, read the same way as a REST answer is)
_BY_CODE: dict[str, tuple[type[APIError], int]] = {
    code: (_class_for(status, code), status) for code, status in ENVELOPE_STATUS.items()}


def _trailers(error: grpc.RpcError) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        metadata = error.trailing_metadata() or ()  # type: ignore[attr-defined]
    except Exception:
        metadata = ()
    for key, value in metadata:
        if isinstance(value, str):
            found.setdefault(key.lower(), value)
    return found


def _retry_after(text: str | None) -> float | None:
    try:
        return max(0.0, float(text)) if text is not None else None
    except ValueError:
        return None


def _status_of(error: grpc.RpcError) -> grpc.StatusCode:
    try:
        code = error.code()  # type: ignore[attr-defined]
    except Exception:
        code = None
    return code if isinstance(code, grpc.StatusCode) else _S.UNKNOWN


def _details_of(error: grpc.RpcError) -> str:
    try:
        details = error.details()  # type: ignore[attr-defined]
    except Exception:
        details = None
    return details or str(error) or "gRPC call failed"


def _api_error(cls: type[APIError], status: int, message: str, *, code: str | None, grpc_status: str,
               request_id: str | None = None, retry_after: float | None = None) -> APIError:
    kwargs: dict[str, Any] = dict(status_code=status, code=code, request_id=request_id, body=message)
    err = cls(message, retry_after=retry_after, **kwargs) if issubclass(cls, RateLimitError) else cls(message, **kwargs)
    err.grpc_status = grpc_status  # type: ignore[attr-defined]
    return err


def error_from_rpc(error: grpc.RpcError, *, timeout: float | None = None) -> SpooledError:
    """Maps a failed call (its status, details and trailers) to the matching SpooledError."""
    status = _status_of(error)
    message = _details_of(error)
    trailers = _trailers(error)
    code = trailers.get(ERROR_CODE_TRAILER)
    request_id = trailers.get("x-request-id")
    if status == _S.UNAVAILABLE:
        return NetworkError(f"gRPC server unavailable: {message}", request_id=request_id)
    if status == _S.DEADLINE_EXCEEDED:
        return TimeoutError(f"gRPC call timed out: {message}", timeout_seconds=timeout, request_id=request_id)
    cls, http_status = _BY_STATUS.get(status, (ServerError, 500))
    if code in _BY_CODE:
        refined, refined_status = _BY_CODE[code]
        if issubclass(refined, cls) or (cls is RateLimitError and refined is PayloadTooLargeError):
            cls, http_status = refined, refined_status
        elif cls is LeaseExpiredError:  # FAILED_PRECONDITION for something other than a lease
            cls = ConflictError
    elif code is None and cls is LeaseExpiredError:
        code = "LEASE_EXPIRED"
    return _api_error(cls, http_status, message, code=code, grpc_status=status.name, request_id=request_id,
                      retry_after=_retry_after(trailers.get("retry-after")))


def error_from_code(code: str, message: str) -> SpooledError:
    """The error a ProcessJobs `error` answer stands for (code as in the REST envelope)."""
    if code == "SERVICE_UNAVAILABLE":
        return NetworkError(message or "service unavailable")
    cls, status = _BY_CODE.get(code, (ServerError, 500))
    return _api_error(cls, status, message or code, code=code or None, grpc_status="")
