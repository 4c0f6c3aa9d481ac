"""AsyncWebSocketClient, WebSocketClient and SpooledRealtime against a tiny local WebSocket
server that speaks the Spooled protocol (greeting Ping, acknowledged commands)."""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Response

import spooled
from spooled.realtime import (AsyncWebSocketClient, ConnectionState, SpooledRealtime, SpooledRealtimeOptions,
                              SubscriptionFilter, WebSocketClient, WebSocketConnectionOptions)


class FakeServer:
    """Records each connection's token and query, and what it was sent."""

    def __init__(self) -> None:
        self.connections: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.sockets: list[ServerConnection] = []
        self.refuse_with: int | None = None
        self.url = ""

    def process_request(self, connection: ServerConnection, request: Any) -> Response | None:
        if self.refuse_with is not None:
            body = json.dumps({"code": "UNAUTHORIZED", "message": "nope"}).encode()
            return Response(self.refuse_with, "Refused", Headers({"Content-Type": "application/json",
                                                                  "Content-Length": str(len(body))}), body)
        return None

    async def handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        self.connections.append({"auth": ws.request.headers.get("Authorization"), "path": ws.request.path,
                                 "query": {k: v[0] for k, v in query.items()}})
        self.sockets.append(ws)
        await ws.send(json.dumps({"type": "Ping", "data": {"timestamp": "2026-01-01T00:00:00Z"}}))
        async for raw in ws:
            command = json.loads(raw)
            self.commands.append(command)
            if command["cmd"] in ("subscribe", "unsubscribe"):
                reply = "Subscribed" if command["cmd"] == "subscribe" else "Unsubscribed"
                await ws.send(json.dumps({"type": reply, "data": {}}))
                await ws.send(json.dumps({"type": "JobCreated", "data": {"job_id": f"after-{command['cmd']}"}}))
            elif command["cmd"] == "ping":
                await ws.send(json.dumps({"type": "Ping", "data": {}}))
            elif command["cmd"] == "emit":
                await ws.send(json.dumps(command["event"]))
            elif command["cmd"] == "close":
                await ws.close()


@asynccontextmanager
async def fake_server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    async with serve(fake.handler, "127.0.0.1", 0, process_request=fake.process_request) as server:
        port = server.sockets[0].getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        yield fake


def options(url: str, sleeps: list[float] | None = None, **kwargs: Any) -> WebSocketConnectionOptions:
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        await asyncio.sleep(0)

    kwargs.setdefault("token", "sp_test_key")
    return WebSocketConnectionOptions(ws_url=url, sleep=sleep, **kwargs)


async def next_event(client: AsyncWebSocketClient, timeout: float = 5.0):
    return await asyncio.wait_for(client.events().__anext__(), timeout)


async def test_connects_with_header_and_filter_and_maps_events():
    async with fake_server() as server:
        client = AsyncWebSocketClient(options(server.url))
        await client.connect(SubscriptionFilter(queue="emails"))
        first = await next_event(client)
        assert (first.type, first.server_type) == ("ping", "Ping") and first.timestamp is not None
        assert server.connections == [{"auth": "Bearer sp_test_key", "path": "/api/v1/ws?queue=emails",
                                       "query": {"queue": "emails"}}]
        await client.subscribe(SubscriptionFilter(job_id="j1"))     # waits for the acknowledgement
        event = await next_event(client)
        assert (event.type, event.data) == ("job.created", {"job_id": "after-subscribe"})  # ack not delivered
        assert client.filter == SubscriptionFilter(queue="emails", job_id="j1")
        await client.unsubscribe(SubscriptionFilter(queue="emails"))
        assert client.filter == SubscriptionFilter(job_id="j1")
        await client.ping()
        await client.send_command({"cmd": "emit", "event": {"type": "Subscribed", "data": {}}})
        await client.send_command({"cmd": "emit", "event": {"type": "NewThing", "data": {}}})
        await client.send_command({"cmd": "emit", "event": {"type": "JobFailed", "data": {"job_id": "f"}}})
        types = []
        async for e in client.events():
            types.append(e.type)
            if e.type == "job.failed":
                break
        assert types == ["job.created", "ping", "job.failed"]   # unknown types dropped
        assert server.commands[:2] == [{"cmd": "subscribe", "job_id": "j1"},
                                       {"cmd": "unsubscribe", "queue": "emails"}]
        await client.disconnect()
        assert client.state == ConnectionState.DISCONNECTED


async def test_server_close_reconnects_with_the_filter_in_force():
    async with fake_server() as server:
        sleeps: list[float] = []
        client = AsyncWebSocketClient(options(server.url, sleeps, reconnect_delay=0.5))
        states: list[str] = []
        client.on_state_change(states.append)
        await client.connect()
        await client.subscribe(SubscriptionFilter(queue="q"))
        await client.send_command({"cmd": "close"})
        async for event in client.events():
            if len(server.connections) == 2 and event.type == "ping":
                break
        assert sleeps == [0.5] and client.reconnects == 1
        assert server.connections[1]["query"] == {"queue": "q"}
        assert states == ["connecting", "connected", "reconnecting", "connected"]
        await client.disconnect()


async def test_an_aborted_socket_is_reconnected():
    async with fake_server() as server:
        client = AsyncWebSocketClient(options(server.url, [], token_provider=lambda: "fresh-jwt"))
        await client.connect()
        server.sockets[0].transport.abort()
        async for _event in client.events():
            if len(server.connections) == 2:
                break
        assert [c["auth"] for c in server.connections] == ["Bearer fresh-jwt"] * 2
        await client.disconnect()


async def test_refused_upgrade_maps_to_the_sdk_error():
    async with fake_server() as server:
        server.refuse_with = 401
        client = AsyncWebSocketClient(options(server.url))
        with pytest.raises(spooled.AuthenticationError) as raised:
            await client.connect()
        assert raised.value.code == "UNAUTHORIZED"


async def test_unreachable_server_is_a_network_error():
    async with fake_server() as server:
        url = server.url
    client = AsyncWebSocketClient(options(url))
    with pytest.raises(spooled.NetworkError):
        await client.connect()


async def test_gives_up_after_the_attempts():
    async with fake_server() as server:
        sleeps: list[float] = []
        client = AsyncWebSocketClient(options(server.url, sleeps, max_reconnect_attempts=3,
                                              reconnect_delay=1, max_reconnect_delay=3))
        await client.connect()
        server.refuse_with = 503
        await client.send_command({"cmd": "close"})
        with pytest.raises(spooled.ServerError):
            async for _event in client.events():
                pass
        assert sleeps == [1, 2, 3] and client.state == ConnectionState.DISCONNECTED


def test_sync_clients_and_spooled_realtime():
    loop = asyncio.new_event_loop()
    server_ready = threading.Event()
    holder: dict[str, Any] = {}
    stop = asyncio.Event()

    async def serve_until_stopped() -> None:
        async with fake_server() as server:
            holder["server"] = server
            server_ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve_until_stopped(),))
    thread.start()
    try:
        assert server_ready.wait(5)
        url = holder["server"].url
        ws = WebSocketClient(options(url))
        ws.connect()
        assert next(ws.events(timeout=5)).type == "ping"
        ws.close()

        realtime = SpooledRealtime(SpooledRealtimeOptions(base_url=url, token="k", type="websocket"))
        seen: list[str] = []
        realtime.on("ping", lambda data: seen.append("ping"))
        with realtime:
            realtime.subscribe(SubscriptionFilter(queue="q"))
            events = realtime.events(timeout=5)
            assert [next(events).type, next(events).data] == ["ping", {"job_id": "after-subscribe"}]
        assert realtime.state == ConnectionState.DISCONNECTED and seen == ["ping"]
        with pytest.raises(ValueError):
            SpooledRealtime(SpooledRealtimeOptions(base_url=url, type="carrier-pigeon"))  # type: ignore[arg-type]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
    assert not [t for t in threading.enumerate() if t.name == "spooled-realtime"]


async def test_a_command_that_could_not_be_sent_does_not_take_the_next_ones_acknowledgement():
    async with fake_server() as server:
        client = AsyncWebSocketClient(options(server.url, command_timeout=5.0))
        await client.connect()
        real_send = client._ws.send  # type: ignore[union-attr]
        attempts = 0

        async def send_failing_once(message: str) -> None:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                raise spooled.NetworkError("send failed")
            await real_send(message)

        client._ws.send = send_failing_once  # type: ignore[union-attr,method-assign]
        with pytest.raises(spooled.NetworkError):
            await client.subscribe(SubscriptionFilter(queue="a"))
        await client.subscribe(SubscriptionFilter(queue="b"))  # acknowledged, not timed out
        assert not client._acks
        await client.disconnect()
