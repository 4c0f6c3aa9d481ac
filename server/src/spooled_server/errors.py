"""Domain errors and the one table that renders them for HTTP and gRPC.

Services raise these; routers and servicers never invent status codes.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a caller may see. `code` selects the row of ERROR_TABLE."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: Any = None, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"


class InvalidJson(DomainError):
    code = "INVALID_JSON"


class BadRequest(DomainError):
    code = "BAD_REQUEST"


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"


class AccessDenied(DomainError):
    code = "ACCESS_DENIED"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class LeaseExpired(DomainError):
    """A complete/fail/heartbeat from a worker that no longer holds the job's lease."""

    code = "LEASE_EXPIRED"


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"


class QuotaExceeded(DomainError):
    """A plan limit (jobs per day, active jobs, workers, ...) would be exceeded."""

    code = "QUOTA_EXCEEDED"


class RateLimited(DomainError):
    code = "RATE_LIMIT_EXCEEDED"


class MethodNotAllowed(DomainError):
    code = "METHOD_NOT_ALLOWED"


class NotImplementedHere(DomainError):
    code = "NOT_IMPLEMENTED"


class ServiceUnavailable(DomainError):
    """The database is unreachable; the caller should retry after a short wait."""

    code = "SERVICE_UNAVAILABLE"


class InternalError(DomainError):
    code = "INTERNAL_ERROR"


# code -> (HTTP status, gRPC status name)
ERROR_TABLE: dict[str, tuple[int, str]] = {
    "VALIDATION_ERROR": (400, "INVALID_ARGUMENT"),
    "INVALID_JSON": (400, "INVALID_ARGUMENT"),
    "BAD_REQUEST": (400, "INVALID_ARGUMENT"),
    "UNAUTHORIZED": (401, "UNAUTHENTICATED"),
    "ACCESS_DENIED": (403, "PERMISSION_DENIED"),
    "NOT_FOUND": (404, "NOT_FOUND"),
    "METHOD_NOT_ALLOWED": (405, "UNIMPLEMENTED"),
    "CONFLICT": (409, "ALREADY_EXISTS"),
    "LEASE_EXPIRED": (409, "FAILED_PRECONDITION"),
    "PAYLOAD_TOO_LARGE": (413, "RESOURCE_EXHAUSTED"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "RATE_LIMIT_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "NOT_IMPLEMENTED": (501, "UNIMPLEMENTED"),
    "SERVICE_UNAVAILABLE": (503, "UNAVAILABLE"),
    "INTERNAL_ERROR": (500, "INTERNAL"),
}


def http_status(error: DomainError) -> int:
    return ERROR_TABLE[error.code][0]


def grpc_status_name(error: DomainError) -> str:
    return ERROR_TABLE[error.code][1]


def envelope(error: DomainError) -> dict[str, Any]:
    """The JSON error body: {code, message, details?}."""
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details is not None:
        body["details"] = error.details
    return body
