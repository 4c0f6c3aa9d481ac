"""Unit tests of the Python SDK runner's mappings (no server):

    .venv/bin/python -m pytest conformance/runners/python -q
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import spooled  # noqa: E402
from operations import OPERATIONS, CannotSend  # noqa: E402
from run import PythonSdkDriver, client_settings, error_info, to_wire  # noqa: E402
from spooled.types import JobStatusEntry  # noqa: E402

OPENAPI = Path(__file__).resolve().parents[3] / "openapi" / "spooled.yaml"


def _api_error(cls: type[spooled.APIError], status: int, code: str | None = None) -> spooled.APIError:
    return cls("boom", status_code=status, code=code, details={"field": "x"})


@pytest.mark.parametrize("error, kind, code", [
    (_api_error(spooled.ValidationError, 400, "VALIDATION_ERROR"), "validation", "VALIDATION_ERROR"),
    (_api_error(spooled.AuthenticationError, 401, "UNAUTHORIZED"), "unauthorized", "UNAUTHORIZED"),
    (_api_error(spooled.AuthorizationError, 403, "ACCESS_DENIED"), "forbidden", "ACCESS_DENIED"),
    (_api_error(spooled.NotFoundError, 404, "NOT_FOUND"), "not_found", "NOT_FOUND"),
    (_api_error(spooled.LeaseExpiredError, 409, "LEASE_EXPIRED"), "conflict", "LEASE_EXPIRED"),
    (_api_error(spooled.PayloadTooLargeError, 413, "PAYLOAD_TOO_LARGE"), "payload_too_large", "PAYLOAD_TOO_LARGE"),
    (_api_error(spooled.QuotaExceededError, 429, "QUOTA_EXCEEDED"), "rate_limited", "QUOTA_EXCEEDED"),
    (_api_error(spooled.ServerError, 503), "server", None),
    (_api_error(spooled.APIError, 405, "METHOD_NOT_ALLOWED"), "validation", "METHOD_NOT_ALLOWED"),
    (_api_error(spooled.APIError, 408), "timeout", None),
    (spooled.NetworkError("reset"), "connection", None),
    (spooled.TimeoutError("slow"), "timeout", None),
    (spooled.CircuitBreakerOpenError(), "circuit_open", None),
])
def test_sdk_errors_map_to_neutral_kinds(error, kind, code):
    info = error_info(error)
    assert (info.kind, info.code) == (kind, code)


def test_client_options_map_to_sdk_settings():
    settings = client_settings({"timeout_ms": 300,
                                "retry": {"max_retries": 2, "base_delay_ms": 10, "max_delay_ms": 50, "jitter": False},
                                "circuit_breaker": {"enabled": True, "failure_threshold": 2, "timeout_ms": 300}})
    assert settings["timeout"] == 0.3
    assert settings["retry"] == spooled.RetryConfig(max_retries=2, base_delay=0.01, max_delay=0.05, jitter=False)
    breaker = settings["circuit_breaker"]
    assert (breaker.enabled, breaker.failure_threshold, breaker.timeout) == (True, 2, 0.3)
    assert client_settings({}) == {}
    assert client_settings({"retry": {"max_retries": 0}})["retry"].base_delay == spooled.RetryConfig().base_delay


def test_models_go_back_to_wire_form_without_fields_the_server_did_not_send():
    entry = JobStatusEntry.model_validate(
        {"id": "j1", "status": "pending", "queue_name": "q", "retry_count": 0,
         "created_at": "2025-01-01T00:00:00.000001Z", "completed_at": None, "extra": 1})
    assert to_wire([entry]) == [{"id": "j1", "status": "pending", "queue_name": "q", "retry_count": 0,
                                 "created_at": "2025-01-01T00:00:00.000001Z", "completed_at": None, "extra": 1}]
    assert to_wire("text") == "text" and to_wire(None) is None


def test_every_contract_operation_except_streams_and_grpc_is_mapped():
    import yaml
    spec = yaml.safe_load(OPENAPI.read_text())
    ops = {op["operationId"] for item in spec["paths"].values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op}
    # Streams need the SDK's realtime client (not built yet); GitHub and Stripe ingestion are
    # called by those services, and the SDK does not wrap them.
    not_mapped = {"events.stream", "events.job", "events.queue", "realtime.websocket", "ingest.github", "ingest.stripe"}
    assert sorted(ops - not_mapped - set(OPERATIONS)) == []
    assert sorted(set(OPERATIONS) - ops) == []


def test_requests_the_sdk_cannot_make_are_refused_not_altered():
    client = spooled.AsyncSpooledClient(api_key="sp_test_x", base_url="http://127.0.0.1:9")
    with pytest.raises(CannotSend):
        OPERATIONS["jobs.batchStatus"](client, {})
    with pytest.raises(CannotSend):
        OPERATIONS["jobs.dlqPurge"](client, {})
    with pytest.raises(CannotSend):
        OPERATIONS["jobs.get"](client, {"id": "j1", "unexpected": 1})
    asyncio.run(client.close())


def test_call_sends_through_the_sdk_and_reports_server_errors():
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/jobs/j1" and request.headers["authorization"] == "Bearer sp_test_x"
        return httpx.Response(404, json={"code": "NOT_FOUND", "message": "Job not found"})

    async def scenario() -> None:
        client = spooled.AsyncSpooledClient(api_key="sp_test_x", base_url="http://spooled.test",
                                            http_client=httpx.AsyncClient(transport=httpx.MockTransport(answer)))
        outcome = await PythonSdkDriver().call(client, "jobs.get", {"id": "j1"})
        assert (outcome.error.kind, outcome.error.code, outcome.error.status) == ("not_found", "NOT_FOUND", 404)
        await client.close()

    asyncio.run(scenario())
