#!/usr/bin/env python3
"""The raw-HTTP reference runner: scenarios straight onto the REST contract with httpx, no SDK.

It shows what the server itself does. Client-side behaviours (retries, Retry-After, the circuit
breaker) belong to SDKs, so scenarios that need them are skipped with "SDK transport behaviour".
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
CONFORMANCE = HERE.parent.parent
sys.path.insert(0, str(CONFORMANCE))
sys.path.insert(0, str(HERE))

from harness.cli import main  # noqa: E402
from harness.driver import ClientSpec, Driver, EventStream, Unsupported  # noqa: E402
from harness.outcome import ErrorInfo, Outcome, kind_for_status  # noqa: E402
from operations import BadArguments, build_request, load_operations  # noqa: E402

OPENAPI = CONFORMANCE.parent / "openapi" / "spooled.yaml"
DEFAULT_TIMEOUT_S = 35.0  # above the longest claim long-poll (30 s)
SSE_OPS = {"events.stream", "events.job", "events.queue"}


@dataclass
class RawClient:
    spec: ClientSpec
    http: httpx.AsyncClient


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


class HttpDriver(Driver):
    name = "http"
    client_features = frozenset()
    sees_http_status = True

    def __init__(self) -> None:
        self.operations = load_operations(OPENAPI)

    def missing_client_feature_reason(self, feature: str) -> str:
        if feature in ("retry", "circuit_breaker"):
            return "SDK transport behaviour"
        return f"the raw HTTP runner has no client feature: {feature}"

    async def make_client(self, spec: ClientSpec) -> RawClient:
        headers = {"User-Agent": "spooled-conformance-http/1"}
        token = spec.api_key or spec.access_token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if spec.admin_key is not None:
            headers["X-Admin-Key"] = spec.admin_key
        timeout_ms = spec.options.get("timeout_ms")
        timeout = timeout_ms / 1000 if timeout_ms else DEFAULT_TIMEOUT_S
        return RawClient(spec, httpx.AsyncClient(base_url=spec.base_url, headers=headers, timeout=timeout))

    async def close_client(self, client: RawClient) -> None:
        await client.http.aclose()

    async def call(self, client: RawClient, op: str, args: dict[str, Any]) -> Outcome:
        if op not in self.operations:
            raise Unsupported(f"unknown operationId {op!r} (not in openapi/spooled.yaml)")
        try:
            request = build_request(self.operations[op], args)
        except BadArguments as err:
            raise Unsupported(str(err)) from None
        try:
            response = await client.http.request(request.method, request.path, params=request.params,
                                                 json=request.json if request.send_body else None)
        except httpx.TimeoutException as err:
            return Outcome(error=ErrorInfo("timeout", message=str(err) or type(err).__name__))
        except httpx.TransportError as err:
            return Outcome(error=ErrorInfo("connection", message=str(err) or type(err).__name__))
        body = _decode(response)
        if response.is_success:
            return Outcome(result=body, status=response.status_code)
        envelope = body if isinstance(body, dict) else {}
        return Outcome(status=response.status_code, error=ErrorInfo(
            kind=kind_for_status(response.status_code), code=envelope.get("code"),
            message=envelope.get("message", body if isinstance(body, str) else None),
            details=envelope.get("details"), status=response.status_code))

    # ------------------------------------------------------------------ streams
    async def subscribe(self, client: RawClient, op: str, args: dict[str, Any], send: list[Any]):
        stream = EventStream()
        if op in SSE_OPS:
            try:
                request = build_request(self.operations[op], args)
            except BadArguments as err:
                raise Unsupported(str(err)) from None
            task = asyncio.create_task(self._pump_sse(client, request.path, request.params, stream))
        elif op == "realtime.websocket":
            task = asyncio.create_task(self._pump_ws(client, args, send, stream))
        else:
            raise Unsupported(f"cannot subscribe to {op}")
        return stream, task

    async def unsubscribe(self, handle: asyncio.Task) -> None:
        handle.cancel()
        try:
            await handle
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass

    async def _pump_sse(self, client: RawClient, path: str, params: dict, stream: EventStream) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        try:
            async with client.http.stream("GET", path, params=params, timeout=timeout,
                                          headers={"Accept": "text/event-stream"}) as response:
                if response.status_code != 200:
                    stream.close(f"HTTP {response.status_code}")
                    return
                name, data = None, []
                async for line in response.aiter_lines():
                    if line == "":
                        if data:
                            stream.push(_sse_event(name, "\n".join(data)))
                        name, data = None, []
                    elif line.startswith(":"):
                        continue
                    else:
                        field, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if field == "event":
                            name = value
                        elif field == "data":
                            data.append(value)
            stream.close("server closed the stream")
        except httpx.HTTPError as err:
            stream.close(f"{type(err).__name__}: {err}")

    async def _pump_ws(self, client: RawClient, args: dict, send: list[Any], stream: EventStream) -> None:
        try:
            import websockets
        except ImportError:
            stream.close("the websockets package is not installed")
            return
        try:
            request = build_request(self.operations["realtime.websocket"], args)
            url = client.spec.base_url.replace("http", "ws", 1).rstrip("/") + request.path
            query = str(httpx.QueryParams(request.params))
            token = client.spec.access_token or client.spec.api_key
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with websockets.connect(url + (f"?{query}" if query else ""),
                                          additional_headers=headers) as ws:
                for command in send:
                    await ws.send(json.dumps(command))
                async for message in ws:
                    try:
                        stream.push(json.loads(message))
                    except ValueError:
                        stream.push({"type": None, "data": message})
            stream.close("server closed the socket")
        except Exception as err:  # noqa: BLE001 - any failure ends the stream with its reason
            stream.close(f"{type(err).__name__}: {err}")


def _sse_event(name: str | None, text: str) -> Any:
    """SSE `data:` carries the wire event {type, data}; fall back to the SSE event name."""
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict) and "type" in value:
        return value
    return {"type": name, "data": value}


if __name__ == "__main__":
    sys.exit(main(lambda _args: HttpDriver(), "http"))
