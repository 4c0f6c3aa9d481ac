"""AsyncSSEClient and SSEClient over a mocked HTTP seam: connecting, delivery, reconnect with
backoff (an injected sleep records the waits, nothing really waits), tokens and errors."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Callable

import httpx
import pytest

import spooled
from spooled.realtime import AsyncSSEClient, ConnectionState, SSEClient

BASE = "https://api.test"


def frames(*messages: dict[str, Any], name: str = "job.created", extra: str = "") -> bytes:
    body = extra + "".join(f"event: {name}\ndata: {json.dumps(m)}\n\n" for m in messages)
    return body.encode()


def created(job_id: str) -> dict[str, Any]:
    return {"type": "JobCreated", "data": {"job_id": job_id, "queue_name": "q"}}


class Server:
    """A scripted SSE endpoint: each connection takes the next answer."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else status(503)
        return answer(request)


def stream(body: bytes, *, chunk: int = 7) -> Callable[[httpx.Request], httpx.Response]:
    async def chunks():
        for i in range(0, len(body), chunk):        # split mid-line, as a network would
            yield body[i:i + chunk]
    return lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())


def status(code: int, body: dict | None = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, json=body or {"code": "X", "message": f"status {code}"})


def make(server: Server, sleeps: list[float] | None = None, **kwargs: Any) -> AsyncSSEClient:
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    kwargs.setdefault("token", "sp_test_key")
    return AsyncSSEClient(BASE, http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
                          sleep=sleep, **kwargs)


async def drain(client: AsyncSSEClient) -> list[str]:
    return [e.data.get("job_id") or e.type async for e in client.events()]


async def test_delivers_events_with_the_token_in_a_header():
    server = Server(stream(frames(created("j1"), created("j2"), extra=":ping\n\nretry: 10\n")))
    client = make(server, auto_reconnect=False)
    states: list[ConnectionState] = []
    client.on_state_change(states.append)
    await client.connect()
    assert await drain(client) == ["j1", "j2"]
    request = server.requests[0]
    assert request.url == f"{BASE}/api/v1/events"
    assert request.headers["authorization"] == "Bearer sp_test_key"
    assert request.headers["accept"] == "text/event-stream"
    assert "token" not in request.url.params
    assert states == ["connecting", "connected", "disconnected"]


async def test_queue_and_job_filters_choose_the_route():
    server = Server(stream(b""), stream(b""))
    client = make(server, queue="emails", auto_reconnect=False)
    await client.connect()
    await drain(client)
    await client.reconnect(job_id="j 1")
    await drain(client)
    assert [r.url.raw_path for r in server.requests] == [b"/api/v1/events/queues/emails",
                                                         b"/api/v1/events/jobs/j%201"]


async def test_reconnects_with_backoff_then_gives_up_with_the_last_error():
    server = Server(stream(frames(created("j1"))))            # then 503 for ever
    sleeps: list[float] = []
    client = make(server, sleeps, max_reconnect_attempts=4, reconnect_delay=1.0, max_reconnect_delay=3.0)
    await client.connect()
    with pytest.raises(spooled.ServerError):
        await drain(client)
    assert sleeps == [1.0, 2.0, 3.0, 3.0]
    assert len(server.requests) == 5 and client.state == ConnectionState.DISCONNECTED


async def endless(first: bytes) -> Any:
    yield first
    await asyncio.Event().wait()      # open until the client disconnects


async def test_a_successful_reconnect_resets_the_schedule():
    server = Server(stream(frames(created("a"))), status(502), stream(frames(created("b"))),
                    lambda request: httpx.Response(200, content=endless(frames(created("c")))))
    sleeps: list[float] = []
    states: list[str] = []
    client = make(server, sleeps, max_reconnect_attempts=2)
    client.on_state_change(states.append)
    await client.connect()
    seen = []
    async for event in client.events():
        seen.append(event.data["job_id"])
        if seen == ["a", "b", "c"]:
            break
    await client.disconnect()
    assert sleeps == [1.0, 2.0, 1.0] and client.reconnects == 2
    assert states == ["connecting", "connected", "reconnecting", "connected", "reconnecting", "connected",
                      "disconnected"]


async def test_server_retry_field_sets_the_first_delay():
    server = Server(stream(b"retry: 250\n\n"))
    sleeps: list[float] = []
    client = make(server, sleeps, max_reconnect_attempts=3)
    await client.connect()
    with pytest.raises(spooled.ServerError):
        await drain(client)
    assert sleeps == [0.25, 0.5, 1.0]


async def test_an_authentication_failure_on_reconnect_is_final():
    server = Server(stream(b""), status(401))
    sleeps: list[float] = []
    client = make(server, sleeps)
    await client.connect()
    with pytest.raises(spooled.AuthenticationError):
        await drain(client)
    assert sleeps == [1.0]


async def test_first_connect_raises_without_retrying():
    server = Server(status(401, {"code": "UNAUTHORIZED", "message": "bad key"}))
    client = make(server)
    with pytest.raises(spooled.AuthenticationError) as raised:
        await client.connect()
    assert raised.value.code == "UNAUTHORIZED" and client.state == ConnectionState.DISCONNECTED
    assert len(server.requests) == 1


async def test_connection_refused_is_a_network_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = AsyncSSEClient(BASE, "k", http_client=httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    with pytest.raises(spooled.NetworkError):
        await client.connect()


async def test_a_finished_job_stream_is_not_reopened():
    done = {"type": "JobStatusChange", "data": {"job_id": "j", "old_status": "processing",
                                                  "new_status": "completed"}}
    server = Server(stream(frames(done, name="job.status")))
    client = make(server, job_id="j")
    await client.connect()
    events = [e async for e in client.events()]
    assert [(e.type, e.data["new_status"]) for e in events] == [("job.status_changed", "completed")]
    assert len(server.requests) == 1


async def test_token_provider_is_asked_before_every_connection():
    tokens = iter(["jwt-1", "jwt-2"])
    server = Server(stream(b""), stream(frames(created("x"))))
    client = make(server, token=None, token_provider=lambda: next(tokens), max_reconnect_attempts=1)
    await client.connect()
    async for _event in client.events():
        break
    await client.aclose()
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer jwt-1", "Bearer jwt-2"]


async def test_subscribe_and_unsubscribe_reopen_the_stream():
    server = Server(*(stream(b"") for _ in range(3)))
    client = make(server, auto_reconnect=False)
    await client.subscribe(spooled.realtime.SubscriptionFilter(queue="q"))     # not connected: recorded
    await client.connect()
    await client.subscribe(spooled.realtime.SubscriptionFilter(job_id="j"))
    await client.unsubscribe(spooled.realtime.SubscriptionFilter(job_id="j"))
    await client.aclose()
    assert [r.url.path for r in server.requests] == ["/api/v1/events/queues/q", "/api/v1/events/jobs/j",
                                                     "/api/v1/events/queues/q"]


async def test_disconnect_ends_a_waiting_consumer():
    server = Server(lambda request: httpx.Response(200, content=endless(b": hello\n\n")))
    client = make(server)
    await client.connect()
    consumer = asyncio.create_task(drain(client))
    await asyncio.sleep(0)
    await client.disconnect()
    assert await asyncio.wait_for(consumer, 5) == []


def test_sync_client_runs_on_one_thread_and_stops_it():
    server = Server(stream(frames(created("s1"), created("s2"))))
    got: list[str] = []
    client = SSEClient(BASE, "k", auto_reconnect=False,
                       http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))

    @client.on("job.created")
    def on_created(data):
        got.append(data["job_id"])

    before = set(threading.enumerate())
    client.connect()
    assert [e.data["job_id"] for e in client.events(timeout=5)] == ["s1", "s2"]
    assert got == ["s1", "s2"]
    client.close()
    assert not [t for t in set(threading.enumerate()) - before if t.name == "spooled-realtime"]
    assert client.state == ConnectionState.DISCONNECTED
    assert list(client.events()) == []


def test_sync_connect_failure_leaves_no_thread():
    server = Server(status(403))
    client = SSEClient(BASE, "k", http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
    before = set(threading.enumerate())
    with pytest.raises(spooled.AuthorizationError):
        client.connect()
    assert not [t for t in set(threading.enumerate()) - before if t.name == "spooled-realtime"]


def test_sync_subscribe_before_connect_only_records_the_filter():
    server = Server(stream(b""))
    client = SSEClient(BASE, "k", auto_reconnect=False,
                       http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
    client.subscribe(spooled.realtime.SubscriptionFilter(queue="later"))
    assert server.requests == [] and client.filter.queue == "later"
    client.connect()
    client.disconnect()
    assert server.requests[0].url.path == "/api/v1/events/queues/later"


def test_sync_connect_with_a_filter_opens_that_route():
    server = Server(stream(b""))
    client = SSEClient(BASE, "k", auto_reconnect=False,
                       http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
    client.connect(spooled.realtime.SubscriptionFilter(job_id="j1"))
    client.disconnect()
    assert server.requests[0].url.path == "/api/v1/events/jobs/j1" and client.filter.job_id == "j1"
