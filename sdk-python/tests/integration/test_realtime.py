"""Realtime against the live server: SSE and WebSocket deliver real job events, filters narrow
them, JWT clients connect, and a dropped connection is reopened. Every wait is on an event with
a deadline, never a sleep."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

import pytest

from spooled import SpooledClient
from spooled.realtime import ConnectionState, RealtimeEvent, SpooledRealtime, SubscriptionFilter

TYPES = ["sse", "websocket"]


@pytest.fixture
def open_realtime(client: SpooledClient) -> Iterator[Callable[..., SpooledRealtime]]:
    opened: list[SpooledRealtime] = []

    def make(type_: str, filter: SubscriptionFilter | None = None, source: SpooledClient | None = None,
             **kwargs) -> SpooledRealtime:
        rt = (source or client).realtime(type=type_, reconnect_delay=0.05, max_reconnect_delay=0.5, **kwargs)
        opened.append(rt)
        rt.connect(filter)
        return rt

    yield make
    for rt in opened:
        rt.disconnect()


def collect_until(rt: SpooledRealtime, done: Callable[[list[RealtimeEvent]], bool],
                  timeout: float = 15.0) -> list[RealtimeEvent]:
    """Events from `rt` until `done(events)` holds; fails after `timeout` seconds."""
    seen: list[RealtimeEvent] = []
    deadline = time.monotonic() + timeout
    for event in rt.events(timeout=max(deadline - time.monotonic(), 0.01)):
        seen.append(event)
        if done(seen) or time.monotonic() > deadline:
            break
    assert done(seen), f"not seen within {timeout}s: {[(e.type, e.data) for e in seen]}"
    return seen


def of_job(events: list[RealtimeEvent], job_id: str) -> list[tuple[str, str | None]]:
    return [(e.type, e.data.get("new_status")) for e in events if e.data.get("job_id") == job_id]


def run_job(client: SpooledClient, queue: str) -> str:
    job_id = client.jobs.create({"queue_name": queue, "payload": {}}).id
    claimed = client.jobs.claim({"queue_name": queue, "worker_id": "w-rt"}).jobs[0]
    client.jobs.complete(job_id, {"worker_id": "w-rt", "lease_id": claimed.lease_id, "result": {"ok": True}})
    return job_id


@pytest.mark.parametrize("type_", TYPES)
def test_job_lifecycle_events_arrive(client, open_realtime, type_):
    rt = open_realtime(type_)
    assert rt.state == ConnectionState.CONNECTED
    job_id = run_job(client, "rt-life")
    events = collect_until(rt, lambda seen: ("job.completed", None) in of_job(seen, job_id))
    mine = of_job(events, job_id)
    assert ("job.created", None) in mine
    assert ("job.status_changed", "processing") in mine
    assert ("job.status_changed", "completed") in mine
    completed = next(e for e in events if e.type == "job.completed")
    assert completed.server_type == "JobCompleted" and completed.timestamp is not None


@pytest.mark.parametrize("type_", TYPES)
def test_queue_filter_only_lets_that_queue_through(client, open_realtime, type_):
    rt = open_realtime(type_, SubscriptionFilter(queue="rt-wanted"))
    other = client.jobs.create({"queue_name": "rt-other", "payload": {}}).id
    wanted = client.jobs.create({"queue_name": "rt-wanted", "payload": {}}).id
    events = collect_until(rt, lambda seen: ("job.created", None) in of_job(seen, wanted))
    assert not of_job(events, other)
    assert all(e.data.get("queue_name") in (None, "rt-wanted") for e in events)


@pytest.mark.parametrize("type_", TYPES)
def test_job_filter_follows_one_job(client, open_realtime, type_):
    job_id = client.jobs.create({"queue_name": "rt-one", "payload": {}}).id
    rt = open_realtime(type_, SubscriptionFilter(job_id=job_id))
    other = run_job(client, "rt-one-other")
    claimed = client.jobs.claim({"queue_name": "rt-one", "worker_id": "w-rt"}).jobs[0]
    assert claimed.id == job_id
    client.jobs.complete(job_id, {"worker_id": "w-rt", "lease_id": claimed.lease_id})
    events = collect_until(rt, lambda seen: ("job.status_changed", "completed") in of_job(seen, job_id))
    assert not of_job(events, other)


def test_sse_job_stream_ends_after_terminal_status(client, open_realtime):
    job_id = client.jobs.create({"queue_name": "rt-end", "payload": {}}).id
    rt = open_realtime("sse", SubscriptionFilter(job_id=job_id))
    client.jobs.cancel(job_id)
    events = list(rt.events(timeout=15))  # ends on its own: the server closes after "cancelled"
    assert [e.data["new_status"] for e in events] in (["pending", "cancelled"], ["cancelled"])
    wait_until(lambda: rt.state == ConnectionState.DISCONNECTED)


def test_websocket_subscribe_and_unsubscribe_commands(client, open_realtime):
    rt = open_realtime("websocket")
    rt.subscribe(SubscriptionFilter(queue="rt-sub"))   # returns once the server acknowledged it
    ignored = client.jobs.create({"queue_name": "rt-not", "payload": {}}).id
    wanted = client.jobs.create({"queue_name": "rt-sub", "payload": {}}).id
    events = collect_until(rt, lambda seen: ("job.created", None) in of_job(seen, wanted))
    assert not of_job(events, ignored)
    rt.unsubscribe(SubscriptionFilter(queue="rt-sub"))  # back to every queue
    again = client.jobs.create({"queue_name": "rt-not", "payload": {}}).id
    collect_until(rt, lambda seen: ("job.created", None) in of_job(seen, again))


@pytest.mark.parametrize("type_", TYPES)
def test_jwt_client_connects_with_a_minted_token(org, live_server, open_realtime, type_):
    with SpooledClient(org.api_key, base_url=live_server.url, use_jwt=True) as jwt_client:
        rt = open_realtime(type_, source=jwt_client)
        job_id = jwt_client.jobs.create({"queue_name": "rt-jwt", "payload": {}}).id
        collect_until(rt, lambda seen: ("job.created", None) in of_job(seen, job_id))


def test_wrong_key_is_refused_at_connect(live_server):
    with SpooledClient("sp_test_not_a_real_key_000000000000", base_url=live_server.url) as bad:
        for type_ in TYPES:
            rt = bad.realtime(type=type_)
            with pytest.raises(Exception) as raised:
                rt.connect()
            assert type(raised.value).__name__ == "AuthenticationError", (type_, raised.getrepr())
            assert rt.state == ConnectionState.DISCONNECTED


@pytest.mark.parametrize("type_", TYPES)
def test_dropped_connection_is_reopened(client, open_realtime, type_):
    rt = open_realtime(type_, SubscriptionFilter(queue="rt-drop"))
    states: list[ConnectionState] = []
    reconnected = threading.Event()

    @rt.on_state_change
    def track(state):
        states.append(state)
        if state == ConnectionState.CONNECTED:
            reconnected.set()

    drop_connection(rt)
    assert reconnected.wait(15), states
    assert states[:2] == [ConnectionState.RECONNECTING, ConnectionState.CONNECTED]
    assert rt.transport._inner.reconnects == 1
    job_id = client.jobs.create({"queue_name": "rt-drop", "payload": {}}).id
    collect_until(rt, lambda seen: ("job.created", None) in of_job(seen, job_id))


def drop_connection(rt: SpooledRealtime) -> None:
    """Cuts the socket under the client (as a network failure would), on the client's loop."""
    inner = rt.transport._inner

    async def cut() -> None:
        if rt.type == "websocket":
            inner._ws.transport.abort()
        else:
            stream = inner._response.extensions["network_stream"]
            await stream.aclose()

    rt.transport._thread.run(cut())


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_no_thread_outlives_disconnect(client):
    before = {t.ident for t in threading.enumerate()}
    for type_ in TYPES:
        rt = client.realtime(type=type_)
        rt.connect()
        rt.disconnect()
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.name == "spooled-realtime"]
    assert not leftover




@pytest.mark.parametrize("type_", TYPES)
def test_connect_again_after_disconnect(client, type_):
    rt = client.realtime(type=type_)
    rt.connect(SubscriptionFilter(queue="rt-again"))
    rt.disconnect()
    rt.connect()
    try:
        job_id = client.jobs.create({"queue_name": "rt-again", "payload": {}}).id
        collect_until(rt, lambda seen: ("job.created", None) in of_job(seen, job_id))
    finally:
        rt.disconnect()
