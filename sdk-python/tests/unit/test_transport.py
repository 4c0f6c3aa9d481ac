"""The HTTP seam: headers, retries, Retry-After, the breaker, timeouts, error mapping."""

from __future__ import annotations

import httpx
import pytest
import respx

import spooled
from spooled import CircuitBreakerConfig
from spooled._version import __version__

from .conftest import API_KEY, BASE, job_json


def test_requests_carry_auth_user_agent_request_id_and_json(mock: respx.MockRouter, client):
    route = mock.get("/api/v1/jobs/j1").respond(200, json=job_json())
    job = client.jobs.get("j1")
    assert job.id == "j1" and job.status == "pending" and job.payload == {"a": 1}
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["user-agent"] == f"spooled-python/{__version__}"
    assert sent.headers["accept"] == "application/json"
    assert len(sent.headers["x-request-id"]) == 36


def test_custom_headers_and_trimmed_credentials(mock, make_client):
    route = mock.get("/api/v1/jobs/stats").respond(200, json={
        "pending": 1, "scheduled": 0, "processing": 0, "completed": 0, "failed": 0, "deadletter": 0,
        "cancelled": 0, "total": 1})
    client = make_client(f"  {API_KEY}\n", headers={"X-Team": "a"}, user_agent="mine/1")
    assert client.jobs.get_stats().total == 1
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert (sent.headers["x-team"], sent.headers["user-agent"]) == ("a", "mine/1")


def test_construction_is_validated():
    with pytest.raises(ValueError):
        spooled.SpooledClient(API_KEY, base_url="ftp://x")
    with pytest.raises(ValueError):
        spooled.SpooledClient(API_KEY, max_retries=11)
    with pytest.raises(ValueError):
        spooled.SpooledClient(API_KEY, retry=spooled.RetryConfig(max_retries=-1))
    with pytest.raises(ValueError):
        spooled.RetryConfig(base_delay=0)
    with pytest.raises(ValueError):
        spooled.RetryConfig(base_delay=2.0, max_delay=1.0)
    assert spooled.SpooledClient(API_KEY).base_url == "https://api.spooled.cloud"
    assert spooled.SpooledClient(API_KEY, base_url="http://localhost:8080/").base_url == "http://localhost:8080"


def test_5xx_is_retried_with_backoff_and_the_same_request_id(mock, client, fake_time):
    route = mock.get("/api/v1/jobs/j1")
    route.side_effect = [httpx.Response(503), httpx.Response(500), httpx.Response(200, json=job_json())]
    assert client.jobs.get("j1").id == "j1"
    assert fake_time.slept == [0.5, 1.0]
    ids = {call.request.headers["x-request-id"] for call in route.calls}
    assert len(ids) == 1


def test_retry_config_sets_the_backoff_and_max_retries_overrides_its_count(mock, make_client, fake_time):
    route = mock.get("/api/v1/jobs/j1")
    route.side_effect = [httpx.Response(503)] * 3 + [httpx.Response(200, json=job_json())]
    config = spooled.RetryConfig(max_retries=5, base_delay=0.01, max_delay=0.03, jitter=False)
    client = make_client(retry=config, random=lambda: 0.9)
    assert client.jobs.get("j1").id == "j1"
    assert fake_time.slept == pytest.approx([0.01, 0.02, 0.03])
    route.side_effect = [httpx.Response(503)] * 3
    with pytest.raises(spooled.ServerError):
        make_client(retry=config, max_retries=1).jobs.get("j1")
    assert route.call_count == 4 + 2


def test_retries_stop_after_max_retries_and_raise_the_last_error(mock, client, fake_time):
    route = mock.get("/api/v1/jobs/j1").respond(502, json={"code": "INTERNAL_ERROR", "message": "down"},
                                                headers={"X-Request-Id": "srv-1"})
    with pytest.raises(spooled.ServerError) as caught:
        client.jobs.get("j1")
    assert route.call_count == 4
    assert fake_time.slept == [0.5, 1.0, 2.0]
    assert (caught.value.status_code, caught.value.request_id) == (502, "srv-1")


@pytest.mark.parametrize("status, code, cls", [
    (400, "VALIDATION_ERROR", spooled.ValidationError), (401, "UNAUTHORIZED", spooled.AuthenticationError),
    (403, "ACCESS_DENIED", spooled.AuthorizationError), (404, "NOT_FOUND", spooled.NotFoundError),
    (409, "CONFLICT", spooled.ConflictError), (409, "LEASE_EXPIRED", spooled.LeaseExpiredError),
    (413, "PAYLOAD_TOO_LARGE", spooled.PayloadTooLargeError), (501, "NOT_IMPLEMENTED", spooled.ServerError),
])
def test_client_errors_are_not_retried(mock, client, fake_time, status, code, cls):
    route = mock.get("/api/v1/jobs/j1").respond(status, json={"code": code, "message": "no"})
    with pytest.raises(cls):
        client.jobs.get("j1")
    assert route.call_count == 1 and fake_time.slept == []


def test_429_waits_retry_after_then_succeeds(mock, client, fake_time):
    route = mock.get("/api/v1/jobs/j1")
    route.side_effect = [httpx.Response(429, json={"code": "RATE_LIMIT_EXCEEDED", "message": "slow"},
                                        headers={"Retry-After": "7"}),
                         httpx.Response(200, json=job_json())]
    client.jobs.get("j1")
    assert fake_time.slept == [7.0]


def test_retry_after_on_503_is_honoured(mock, client, fake_time):
    route = mock.get("/api/v1/jobs/j1")
    route.side_effect = [httpx.Response(503, headers={"Retry-After": "3"}), httpx.Response(200, json=job_json())]
    client.jobs.get("j1")
    assert fake_time.slept == [3.0]


def test_retry_after_beyond_the_cap_surfaces_at_once(mock, client, fake_time):
    route = mock.get("/api/v1/jobs/j1").respond(429, json={"code": "QUOTA_EXCEEDED", "message": "cap"},
                                                headers={"Retry-After": "3600"})
    with pytest.raises(spooled.QuotaExceededError) as caught:
        client.jobs.get("j1")
    assert route.call_count == 1 and caught.value.retry_after == 3600.0 and fake_time.slept == []


def test_unsafe_post_is_not_retried_after_a_5xx_but_is_after_429(mock, client, fake_time):
    route = mock.post("/api/v1/api-keys")
    route.side_effect = [httpx.Response(503)]
    with pytest.raises(spooled.ServerError):
        client.api_keys.create({"name": "k"})
    assert route.call_count == 1
    created = {"id": "k1", "key": "sp_test_x", "name": "k", "created_at": "2025-01-01T00:00:00Z", "expires_at": None}
    route.side_effect = [httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(201, json=created)]
    assert client.api_keys.create({"name": "k"}).key == "sp_test_x"


def test_connect_errors_are_retried_even_for_unsafe_posts(mock, client, fake_time):
    created = {"id": "k1", "key": "sp_test_x", "name": "k", "created_at": "2025-01-01T00:00:00Z", "expires_at": None}
    route = mock.post("/api/v1/api-keys")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(201, json=created)]
    assert client.api_keys.create({"name": "k"}).id == "k1"
    route.side_effect = [httpx.ReadError("reset after sending")]
    with pytest.raises(spooled.NetworkError):
        client.api_keys.create({"name": "k"})


def test_network_and_timeout_errors_are_typed_and_keep_their_cause(mock, make_client, fake_time):
    client = make_client(circuit_breaker=False)  # eight failures in a row would open it
    mock.get("/api/v1/jobs/j1").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(spooled.NetworkError) as caught:
        client.jobs.get("j1")
    assert isinstance(caught.value.__cause__, httpx.ConnectError) and caught.value.request_id
    assert fake_time.slept == [0.5, 1.0, 2.0]
    mock.get("/api/v1/jobs/j2").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(spooled.TimeoutError) as timed:
        client.jobs.get("j2")
    assert isinstance(timed.value, TimeoutError) and timed.value.timeout_seconds == 30.0


def test_breaker_opens_and_refuses_without_sending(mock, make_client, fake_time):
    client = make_client(max_retries=0, circuit_breaker=CircuitBreakerConfig(failure_threshold=2, timeout=30))
    route = mock.get("/api/v1/jobs/j1").respond(500)
    failed_at = fake_time.now
    for _ in range(2):
        with pytest.raises(spooled.ServerError):
            client.jobs.get("j1")
    with pytest.raises(spooled.CircuitBreakerOpenError):
        client.jobs.get("j1")
    assert route.call_count == 2
    assert client.get_circuit_breaker_stats() == {
        "state": "OPEN", "failure_count": 2, "success_count": 0, "last_failure_time": failed_at,
        "config": {"enabled": True, "failure_threshold": 2, "success_threshold": 3, "timeout": 30}}
    fake_time.now += 30
    route.respond(200, json=job_json())
    assert client.jobs.get("j1").id == "j1"
    assert client.get_circuit_breaker_stats()["state"] == "HALF_OPEN"
    client.reset_circuit_breaker()
    assert client.get_circuit_breaker_stats()["state"] == "CLOSED"


async def test_async_client_reports_breaker_stats_in_the_same_shape(mock, make_async_client):
    client = make_async_client(max_retries=0, circuit_breaker=CircuitBreakerConfig(failure_threshold=1))
    mock.get("/api/v1/jobs/j1").respond(503)
    with pytest.raises(spooled.ServerError):
        await client.jobs.get("j1")
    stats = client.get_circuit_breaker_stats()
    assert (stats["state"], stats["failure_count"], stats["config"]["timeout"]) == ("OPEN", 1, 30.0)
    assert isinstance(stats["last_failure_time"], float)
    client.reset_circuit_breaker()
    assert client.get_circuit_breaker_stats()["state"] == "CLOSED"
    await client.close()


def test_client_errors_do_not_trip_the_breaker(mock, make_client):
    client = make_client(circuit_breaker=CircuitBreakerConfig(failure_threshold=1))
    mock.get("/api/v1/jobs/nope").respond(404, json={"code": "NOT_FOUND", "message": "no"})
    for _ in range(3):
        with pytest.raises(spooled.NotFoundError):
            client.jobs.get("nope")
    assert client.get_circuit_breaker_stats()["state"] == "CLOSED"


def test_breaker_can_be_disabled(mock, make_client):
    client = make_client(max_retries=0, circuit_breaker=False)
    mock.get("/api/v1/jobs/j1").respond(500)
    for _ in range(8):
        with pytest.raises(spooled.ServerError):
            client.jobs.get("j1")


def test_a_body_that_breaks_the_contract_raises_response_validation_error(mock, client):
    mock.get("/api/v1/jobs/j1").respond(200, json={"id": "j1"})
    with pytest.raises(spooled.ResponseValidationError) as caught:
        client.jobs.get("j1")
    assert caught.value.status_code == 200 and caught.value.errors
    mock.get("/api/v1/jobs/j2").respond(200, text="<html>")
    with pytest.raises(spooled.ResponseValidationError):
        client.jobs.get("j2")


def test_admin_calls_send_the_admin_key_and_no_bearer(mock, make_client):
    route = mock.get("/api/v1/admin/plans").respond(200, json=[])
    client = make_client(None, admin_key="adm")
    assert client.admin.list_plans() == []
    sent = route.calls.last.request
    assert sent.headers["x-admin-key"] == "adm" and "authorization" not in sent.headers
    # A missing credential is the server's to refuse: the call goes out without it.
    make_client().admin.list_plans()
    assert "x-admin-key" not in route.calls.last.request.headers
    job = mock.get("/api/v1/jobs/j1").respond(401, json={"code": "UNAUTHORIZED", "message": "Missing credentials"})
    with pytest.raises(spooled.AuthenticationError):
        client.jobs.get("j1")
    assert "authorization" not in job.calls.last.request.headers


@pytest.mark.parametrize("credential", [None, "   ", ""])
def test_a_client_without_credentials_calls_public_routes_and_gets_401_elsewhere(mock, make_client, credential):
    health = mock.get("/health").respond(200, json={"status": "healthy", "database": True, "cache": True})
    stats = mock.get("/api/v1/jobs/stats").respond(401, json={"code": "UNAUTHORIZED", "message": "no credentials"})
    client = make_client(credential)
    assert client.health.get().status == "healthy"
    with pytest.raises(spooled.AuthenticationError) as caught:
        client.jobs.get_stats()
    assert caught.value.status_code == 401 and caught.value.code == "UNAUTHORIZED"
    assert stats.call_count == 1  # a 401 is final, never retried
    for call in (*health.calls, *stats.calls):
        assert "authorization" not in call.request.headers and "x-admin-key" not in call.request.headers


def test_public_routes_send_no_credentials(mock, client):
    route = mock.get("/health").respond(200, json={"status": "healthy", "database": True, "cache": True})
    assert client.health.get().status == "healthy"
    assert "authorization" not in route.calls.last.request.headers


def test_probes_make_one_attempt_and_never_raise(mock, client, fake_time):
    live = mock.get("/health/live").respond(200)
    ready = mock.get("/health/ready").respond(503, json={"code": "SERVICE_UNAVAILABLE", "message": "db"})
    assert client.health.liveness() is True
    assert client.health.readiness() is False
    assert ready.call_count == 1 and fake_time.slept == []
    live.mock(side_effect=httpx.ConnectError("down"))
    assert client.health.liveness() is False


def test_context_manager_closes_its_own_http_client():
    with spooled.SpooledClient(API_KEY, base_url=BASE) as client:
        http = client._transport._http
    assert http.is_closed
    mine = httpx.Client()
    with spooled.SpooledClient(API_KEY, base_url=BASE, http_client=mine):
        pass
    assert not mine.is_closed
    mine.close()
