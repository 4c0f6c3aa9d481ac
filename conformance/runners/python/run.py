#!/usr/bin/env python3
"""The Python SDK runner: every scenario step is executed through `spooled.AsyncSpooledClient`.

A thin adapter (runners/python/README.md): the shared harness does loading, variables, waits,
faults, matching and the report; this file only builds SDK clients from the neutral client
spec, calls the SDK method an operationId maps to (operations.py), turns the SDK's models back
into wire-form JSON and its exception classes into the neutral error kinds. The transport
scenarios (retries, Retry-After, the circuit breaker) run through the fault proxy with the SDK's
own retry policy and breaker, which is what this runner is for.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pydantic

HERE = Path(__file__).resolve().parent
CONFORMANCE = HERE.parent.parent
sys.path.insert(0, str(CONFORMANCE))
sys.path.insert(0, str(HERE))

import realtime_streams  # noqa: E402
from grpc_operations import GRPC_OPERATIONS  # noqa: E402
import spooled  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.driver import ClientSpec, Driver, Unsupported  # noqa: E402
from harness.outcome import ErrorInfo, Outcome, kind_for_status  # noqa: E402
from operations import OPERATIONS, CannotSend  # noqa: E402
from spooled import AsyncSpooledClient, CircuitBreakerConfig, RetryConfig  # noqa: E402
from spooled.grpc import AsyncSpooledGrpcClient  # noqa: E402

# SDK exception class -> neutral kind (conformance/README.md, "Error kinds"); first match wins,
# so subclasses (LeaseExpiredError, QuotaExceededError) come out as their parents' kinds.
ERROR_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (spooled.CircuitBreakerOpenError, "circuit_open"),
    (spooled.TimeoutError, "timeout"),
    (spooled.NetworkError, "connection"),
    (spooled.ValidationError, "validation"),
    (spooled.AuthenticationError, "unauthorized"),
    (spooled.AuthorizationError, "forbidden"),
    (spooled.NotFoundError, "not_found"),
    (spooled.ConflictError, "conflict"),
    (spooled.PayloadTooLargeError, "payload_too_large"),
    (spooled.RateLimitError, "rate_limited"),
    (spooled.ServerError, "server"),
)
# A 2xx body the SDK could not parse: SDK/server drift. Not a neutral kind, so every scenario
# step that meets it fails, with the SDK's explanation in the report.
RESPONSE_DRIFT = "response_does_not_match_contract"


def error_info(error: spooled.SpooledError) -> ErrorInfo:
    """The neutral form of an SDK error."""
    status = getattr(error, "status_code", None)
    details = getattr(error, "details", None)
    for cls, kind in ERROR_KINDS:
        if isinstance(error, cls):
            return ErrorInfo(kind, error.code if status else None, error.message, details, status)
    if isinstance(error, spooled.APIError):  # another status (405, 408, 501, ...): the shared table
        return ErrorInfo(kind_for_status(error.status_code), error.code, error.message, details, status)
    if isinstance(error, spooled.ResponseValidationError):
        return ErrorInfo(RESPONSE_DRIFT, None, f"{error.message}; body: {(error.body or '')[:300]}", None, status)
    return ErrorInfo("validation" if status is None else kind_for_status(status), error.code, error.message)


def to_wire(value: Any) -> Any:
    """SDK answers back to wire-form JSON: models dumped as the server sent them (fields it did
    not send stay absent), lists element by element, plain values unchanged."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, list):
        return [to_wire(item) for item in value]
    return value


def client_settings(options: dict[str, Any]) -> dict[str, Any]:
    """Neutral client `options` -> AsyncSpooledClient keyword arguments (SDK defaults otherwise)."""
    settings: dict[str, Any] = {}
    if "timeout_ms" in options:
        settings["timeout"] = options["timeout_ms"] / 1000
    retry = options.get("retry")
    if retry is not None:
        defaults = RetryConfig()
        settings["retry"] = RetryConfig(
            max_retries=retry.get("max_retries", defaults.max_retries),
            base_delay=retry["base_delay_ms"] / 1000 if "base_delay_ms" in retry else defaults.base_delay,
            max_delay=retry["max_delay_ms"] / 1000 if "max_delay_ms" in retry else defaults.max_delay,
            jitter=retry.get("jitter", defaults.jitter))
    breaker = options.get("circuit_breaker")
    if breaker is not None:
        defaults_b = CircuitBreakerConfig()
        settings["circuit_breaker"] = CircuitBreakerConfig(
            enabled=breaker.get("enabled", True),
            failure_threshold=breaker.get("failure_threshold", defaults_b.failure_threshold),
            success_threshold=breaker.get("success_threshold", defaults_b.success_threshold),
            timeout=breaker["timeout_ms"] / 1000 if "timeout_ms" in breaker else defaults_b.timeout)
    return settings


class PythonSdkDriver(Driver):
    name = "python"
    client_features = frozenset({"retry", "circuit_breaker", "grpc"})
    sees_http_status = False

    def __init__(self) -> None:
        # The gRPC client of each REST client's entity, made on its first gRPC step.
        self._grpc: dict[AsyncSpooledClient, tuple[AsyncSpooledGrpcClient | None, ClientSpec]] = {}

    def missing_client_feature_reason(self, feature: str) -> str:
        return f"the Python SDK has no client feature: {feature}"

    async def make_client(self, spec: ClientSpec) -> AsyncSpooledClient:
        client = AsyncSpooledClient(api_key=spec.api_key, access_token=spec.access_token, admin_key=spec.admin_key,
                                    base_url=spec.base_url, user_agent="spooled-conformance-python/1",
                                    **client_settings(spec.options))
        self._grpc[client] = (None, spec)
        return client

    async def close_client(self, client: AsyncSpooledClient) -> None:
        grpc_client, _ = self._grpc.pop(client, (None, None))
        if grpc_client is not None:
            await grpc_client.close()
        await client.close()

    def _grpc_client(self, client: AsyncSpooledClient) -> AsyncSpooledGrpcClient:
        grpc_client, spec = self._grpc[client]
        if grpc_client is None:
            if not spec.grpc_target:
                raise Unsupported("no gRPC target was given (--grpc-target)")
            grpc_client = AsyncSpooledGrpcClient(spec.grpc_target, spec.api_key or spec.access_token or "")
            self._grpc[client] = (grpc_client, spec)
        return grpc_client

    async def call(self, client: AsyncSpooledClient, op: str, args: dict[str, Any]) -> Outcome:
        if op in GRPC_OPERATIONS:
            target, handler = self._grpc_client(client), GRPC_OPERATIONS[op]
        else:
            target, handler = client, OPERATIONS.get(op)
        if handler is None:
            raise Unsupported(f"the Python SDK runner has no mapping for {op!r}")
        try:
            # Resource methods build the request when called and send it when awaited; the SDK
            # may refuse arguments at either point.
            answer = await handler(target, args)
        except CannotSend as err:
            raise Unsupported(f"{op}: {err}") from None
        except spooled.SpooledError as err:
            return Outcome(error=error_info(err))
        except (ValueError, pydantic.ValidationError) as err:
            # The SDK refused the arguments before sending (client-side validation).
            return Outcome(error=ErrorInfo("validation", message=f"refused by the SDK: {err}"))
        if op in ("health.live", "health.ready") and answer is False:
            # The probes answer a bool and never raise: False means the server did not say 2xx.
            return Outcome(error=ErrorInfo("server", message=f"{op}: the SDK probe answered False"))
        return Outcome(result=None if isinstance(answer, bool) else to_wire(answer))

    async def subscribe(self, client: AsyncSpooledClient, op: str, args: dict[str, Any], send: list[Any]):
        """SSE (`events.*`) and WebSocket (`realtime.websocket`) through `client.realtime()`;
        see realtime_streams.py."""
        return await realtime_streams.subscribe(client, op, args, send)

    async def unsubscribe(self, handle: Any) -> None:
        await realtime_streams.unsubscribe(handle)


if __name__ == "__main__":
    sys.exit(main(lambda _args: PythonSdkDriver(), "python"))
