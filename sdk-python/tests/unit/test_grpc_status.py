"""gRPC status (+ the spooled-error-code trailer) -> SpooledError, table-driven."""

from __future__ import annotations

import grpc
import pytest

from spooled import errors as e
from spooled.grpc import GrpcErrorResponse, error_from_code, error_from_rpc

S = grpc.StatusCode


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "it failed", trailers=()):
        self._code, self._details, self._trailers = code, details, tuple(trailers)

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailers


@pytest.mark.parametrize("status, code, cls, http", [
    (S.INVALID_ARGUMENT, None, e.ValidationError, 400),
    (S.OUT_OF_RANGE, None, e.ValidationError, 400),
    (S.UNAUTHENTICATED, None, e.AuthenticationError, 401),
    (S.UNAUTHENTICATED, "UNAUTHORIZED", e.AuthenticationError, 401),
    (S.PERMISSION_DENIED, "ACCESS_DENIED", e.AuthorizationError, 403),
    (S.NOT_FOUND, "NOT_FOUND", e.NotFoundError, 404),
    (S.ALREADY_EXISTS, "CONFLICT", e.ConflictError, 409),
    (S.ABORTED, None, e.ConflictError, 409),
    (S.FAILED_PRECONDITION, "LEASE_EXPIRED", e.LeaseExpiredError, 409),
    (S.FAILED_PRECONDITION, None, e.LeaseExpiredError, 409),
    (S.RESOURCE_EXHAUSTED, None, e.RateLimitError, 429),
    (S.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED", e.RateLimitError, 429),
    (S.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED", e.QuotaExceededError, 429),
    (S.RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE", e.PayloadTooLargeError, 413),
    (S.INTERNAL, "INTERNAL_ERROR", e.ServerError, 500),
    (S.UNKNOWN, None, e.ServerError, 500),
    (S.UNIMPLEMENTED, None, e.ServerError, 501),
])
def test_api_statuses(status, code, cls, http):
    trailers = [("spooled-error-code", code)] if code else []
    err = error_from_rpc(FakeRpcError(status, "server says no", trailers + [("x-request-id", "req-1")]))
    assert type(err) is cls
    assert (err.status_code, err.message, err.request_id, err.grpc_status) == (http, "server says no", "req-1",
                                                                                 status.name)
    if code:
        assert err.code == code


def test_failed_precondition_for_something_else_is_a_plain_conflict():
    err = error_from_rpc(FakeRpcError(S.FAILED_PRECONDITION, trailers=[("spooled-error-code", "CONFLICT")]))
    assert type(err) is e.ConflictError and err.code == "CONFLICT"
    assert error_from_rpc(FakeRpcError(S.FAILED_PRECONDITION)).code == "LEASE_EXPIRED"


def test_transport_statuses():
    unavailable = error_from_rpc(FakeRpcError(S.UNAVAILABLE, "connection refused"))
    assert isinstance(unavailable, e.NetworkError) and "connection refused" in str(unavailable)
    late = error_from_rpc(FakeRpcError(S.DEADLINE_EXCEEDED), timeout=2.5)
    assert isinstance(late, e.TimeoutError) and late.timeout_seconds == 2.5


def test_retry_after_trailer_is_read():
    err = error_from_rpc(FakeRpcError(S.RESOURCE_EXHAUSTED, trailers=[("spooled-error-code", "RATE_LIMIT_EXCEEDED"),
                                                                      ("retry-after", "7")]))
    assert isinstance(err, e.RateLimitError) and err.retry_after == 7.0


def test_an_error_without_details_still_has_a_message():
    class Bare(grpc.RpcError):
        pass
    err = error_from_rpc(Bare())
    assert isinstance(err, e.ServerError) and err.message


@pytest.mark.parametrize("code, cls", [
    ("LEASE_EXPIRED", e.LeaseExpiredError), ("NOT_FOUND", e.NotFoundError), ("VALIDATION_ERROR", e.ValidationError),
    ("QUOTA_EXCEEDED", e.QuotaExceededError), ("SERVICE_UNAVAILABLE", e.NetworkError), ("WHATEVER", e.ServerError),
])
def test_process_jobs_error_answers(code, cls):
    assert type(error_from_code(code, "msg")) is cls
    assert type(GrpcErrorResponse(code, "msg").to_exception()) is cls
