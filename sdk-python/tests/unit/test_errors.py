"""error_from_response: one mapping from status and code to the error tree."""

from __future__ import annotations

import builtins
from datetime import datetime, timezone

import httpx
import pytest

from spooled import errors as e

NOW = 1_700_000_000.0


def response(status: int, body=None, *, text: str | None = None, headers=None) -> httpx.Response:
    request = httpx.Request("POST", "https://api.test/api/v1/jobs")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize("status, code, cls", [
    (400, "VALIDATION_ERROR", e.ValidationError),
    (400, "INVALID_JSON", e.ValidationError),
    (400, "BAD_REQUEST", e.ValidationError),
    (422, None, e.ValidationError),
    (401, "UNAUTHORIZED", e.AuthenticationError),
    (403, "ACCESS_DENIED", e.AuthorizationError),
    (404, "NOT_FOUND", e.NotFoundError),
    (409, "CONFLICT", e.ConflictError),
    (409, "LEASE_EXPIRED", e.LeaseExpiredError),
    (413, "PAYLOAD_TOO_LARGE", e.PayloadTooLargeError),
    (429, "RATE_LIMIT_EXCEEDED", e.RateLimitError),
    (429, "QUOTA_EXCEEDED", e.QuotaExceededError),
    (500, "INTERNAL_ERROR", e.ServerError),
    (503, "SERVICE_UNAVAILABLE", e.ServerError),
    (501, "NOT_IMPLEMENTED", e.ServerError),
    (405, "METHOD_NOT_ALLOWED", e.APIError),
    (418, None, e.APIError),
])
def test_status_and_code_select_the_class(status, code, cls):
    body = {"code": code, "message": "m", "details": [{"field": "x"}]} if code else {"message": "m"}
    err = e.error_from_response(response(status, body, headers={"X-Request-Id": "rid-1"}), now=NOW)
    assert type(err) is cls
    assert isinstance(err, e.APIError) and isinstance(err, e.SpooledError)
    assert (err.status_code, err.code, err.message, err.request_id) == (status, code, "m", "rid-1")
    assert err.body == response(status, body).text


def test_subclasses_are_caught_by_their_parents():
    lease = e.error_from_response(response(409, {"code": "LEASE_EXPIRED", "message": "gone"}), now=NOW)
    quota = e.error_from_response(response(429, {"code": "QUOTA_EXCEEDED", "message": "cap"}), now=NOW)
    assert isinstance(lease, e.ConflictError)
    assert isinstance(quota, e.RateLimitError)


def test_details_and_raw_body_are_kept():
    body = {"code": "VALIDATION_ERROR", "message": "Validation failed",
            "details": [{"field": "priority", "message": "range", "code": "range"}]}
    err = e.error_from_response(response(400, body), now=NOW)
    assert err.details == body["details"]
    assert '"priority"' in err.body


@pytest.mark.parametrize("resp, message", [
    (response(401, {"error": "unauthorized", "message": "Invalid credentials"}), "Invalid credentials"),
    (response(401, {"error": "Invalid API key"}), "Invalid API key"),           # older shape
    (response(400, text="Invalid cron expression"), "Invalid cron expression"),  # plain text
    (response(502, text=""), "Bad Gateway"),                                    # nothing at all
    (response(500, [1, 2]), "[1,2]"),                                           # JSON but not an object
])
def test_message_fallbacks(resp, message):
    err = e.error_from_response(resp, now=NOW)
    assert err.message == message
    assert err.code is None or isinstance(err.code, str)


def test_rate_limit_headers():
    err = e.error_from_response(response(429, {"code": "RATE_LIMIT_EXCEEDED", "message": "slow down"}, headers={
        "Retry-After": "7", "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW) + 60)}), now=NOW)
    assert isinstance(err, e.RateLimitError)
    assert (err.retry_after, err.limit, err.remaining) == (7.0, 100, 0)
    assert err.reset == datetime.fromtimestamp(NOW + 60, timezone.utc)


def test_retry_after_http_date_and_details_hint():
    dated = e.error_from_response(response(429, {"code": "RATE_LIMIT_EXCEEDED", "message": "m"},
                                           headers={"Retry-After": "Tue, 14 Nov 2023 22:13:40 GMT"}), now=NOW)
    assert dated.retry_after == pytest.approx(20.0)
    hinted = e.error_from_response(response(429, {"code": "RATE_LIMIT_EXCEEDED", "message": "m",
                                                  "details": {"retry_after_seconds": 3}}), now=NOW)
    assert hinted.retry_after == 3.0
    bare = e.error_from_response(response(429, {"code": "RATE_LIMIT_EXCEEDED", "message": "m"}), now=NOW)
    assert bare.retry_after is None and bare.limit is None and bare.reset is None


def test_string_form_names_status_code_and_request_id():
    err = e.error_from_response(response(404, {"code": "NOT_FOUND", "message": "Job not found"},
                                         headers={"X-Request-Id": "abc"}), now=NOW)
    assert str(err) == "404 NOT_FOUND: Job not found (request id abc)"


def test_timeout_error_is_also_the_builtin_and_has_an_unshadowed_alias():
    err = e.TimeoutError("took too long", timeout_seconds=30)
    assert isinstance(err, builtins.TimeoutError) and isinstance(err, e.SpooledError)
    assert e.SpooledTimeoutError is e.TimeoutError
    assert (str(err), err.code, err.timeout_seconds) == ("took too long", "timeout", 30)
    assert not isinstance(err, e.NetworkError) and not isinstance(err, e.APIError)


def test_other_errors_sit_beside_the_api_errors():
    for err in (e.NetworkError("x"), e.CircuitBreakerOpenError(), e.WebhookSignatureError("bad"),
                e.ResponseValidationError("x", status_code=200, body="{}")):
        assert isinstance(err, e.SpooledError) and not isinstance(err, e.APIError)
        assert e.is_spooled_error(err)
    assert e.CircuitOpenError is e.CircuitBreakerOpenError
    assert not e.is_spooled_error(ValueError("x"))


@pytest.mark.parametrize("exc, cls", [
    (httpx.ReadTimeout("slow"), e.TimeoutError),
    (httpx.ConnectTimeout("slow"), e.TimeoutError),
    (httpx.ConnectError("refused"), e.NetworkError),
    (httpx.RemoteProtocolError("reset"), e.NetworkError),
])
def test_a_request_without_an_answer_maps_to_timeout_or_network_error(exc, cls):
    error = e.error_from_request_error(exc, "GET /api/v1/events", timeout=7.0, request_id="rid-1")
    assert type(error) is cls and error.__cause__ is exc and error.request_id == "rid-1"
    assert str(error).startswith("GET /api/v1/events ")
    if cls is e.TimeoutError:
        assert error.timeout_seconds == 7.0
