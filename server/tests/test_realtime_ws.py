"""WebSocket /api/v1/ws against a real server, with the `websockets` client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import Org, start_server, stop_server
from realtime_clients import DEADLINE, recv_json, ws_wait_for


def ws_url(base_url: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return base_url.replace("http://", "ws://") + "/api/v1/ws" + (f"?{query}" if query else "")


async def jwt_for(org: Org) -> str:
    r = await org.client.post("/auth/login", json={"api_key": org.api_key})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


async def create(org: Org, queue: str, **fields) -> str:
    r = await org.client.post("/jobs", json={"queue_name": queue, "payload": {"n": 1}, **fields})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def created(job_id: str):
    return lambda m: m["type"] == "JobCreated" and m["data"]["job_id"] == job_id


async def test_connect_with_jwt_gets_ping_then_job_events(org: Org, base_url):
    token = await jwt_for(org)
    async with websockets.connect(ws_url(base_url, token=token), ping_interval=None) as ws:
        first = await recv_json(ws)
        assert first["type"] == "Ping" and "timestamp" in first["data"]
        job_id = await create(org, "ws-basic")
        msg = await ws_wait_for(ws, created(job_id))
        assert msg["data"]["queue_name"] == "ws-basic"
        r = await org.client.post("/jobs/claim", json={"queue_name": "ws-basic", "worker_id": "w"})
        assert r.json()["jobs"]
        change = await ws_wait_for(ws, lambda m: m["type"] == "JobStatusChange")
        assert change["data"]["new_status"] == "processing" and change["data"]["old_status"] == "pending"


async def test_header_and_api_key_auth_and_rejections(org: Org, base_url):
    headers = {"Authorization": f"Bearer {org.api_key}"}
    async with websockets.connect(ws_url(base_url), additional_headers=headers, ping_interval=None) as ws:
        assert (await recv_json(ws))["type"] == "Ping"
    async with websockets.connect(ws_url(base_url, token=org.api_key), ping_interval=None) as ws:
        assert (await recv_json(ws))["type"] == "Ping"
    for url in (ws_url(base_url), ws_url(base_url, token="eyJnot.a.jwt"), ws_url(base_url, token="sp_test_bad")):
        with pytest.raises(InvalidStatus) as err:
            async with websockets.connect(url, ping_interval=None):
                pass
        assert err.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as err:
        async with websockets.connect(ws_url(base_url, token=org.api_key, queue="bad%20name"), ping_interval=None):
            pass
    assert err.value.response.status_code == 400


@pytest.mark.parametrize("queue", ["bad%20name", "trailing-newline%0A"])
async def test_refused_upgrade_answers_with_the_error_envelope(org: Org, base_url, queue):
    # The same {code, message, details} envelope as every REST 400, not a hand-made body; and a
    # queue name with a trailing newline is refused (`$` alone would have let it through).
    with pytest.raises(InvalidStatus) as err:
        async with websockets.connect(ws_url(base_url, token=org.api_key, queue=queue), ping_interval=None):
            pass
    response = err.value.response
    assert response.status_code == 400
    body = json.loads(response.body)
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"][0]["field"] == "queue"


@pytest.mark.parametrize("spelling", ["subscribe", "Subscribe", "SUBSCRIBE"])
async def test_commands_are_case_insensitive_and_filter(org: Org, base_url, spelling):
    async with websockets.connect(ws_url(base_url, token=org.api_key), ping_interval=None) as ws:
        await recv_json(ws)  # Ping
        await ws.send(json.dumps({"cmd": spelling, "queue": "ws-only", "events": "job.created"}))
        ack = await ws_wait_for(ws, lambda m: m["type"] == "Subscribed")
        assert ack["data"]["queue"] == "ws-only" and ack["data"]["events"] == ["job.created"]
        other = await create(org, "ws-other")
        mine = await create(org, "ws-only")
        seen: list[dict] = []
        await ws_wait_for(ws, created(mine), seen=seen)
        assert not any(m["data"].get("job_id") == other for m in seen)

        opposite = {"subscribe": "unsubscribe", "Subscribe": "Unsubscribe", "SUBSCRIBE": "UNSUBSCRIBE"}
        await ws.send(json.dumps({"cmd": opposite[spelling]}))
        assert (await ws_wait_for(ws, lambda m: m["type"] in ("Unsubscribed", "Error")))["type"] == "Unsubscribed"


async def test_ping_command_and_invalid_json_do_not_break_the_connection(org: Org, base_url):
    async with websockets.connect(ws_url(base_url, token=org.api_key), ping_interval=None) as ws:
        await recv_json(ws)
        await ws.send("{not json")
        assert (await recv_json(ws))["type"] == "Error"
        await ws.send(json.dumps({"cmd": "Fly"}))
        assert (await recv_json(ws))["type"] == "Error"
        for spelling in ("ping", "Ping", "PING"):
            await ws.send(json.dumps({"cmd": spelling}))
            assert (await ws_wait_for(ws, lambda m: m["type"] in ("Ping", "Error")))["type"] == "Ping"
        job_id = await create(org, "ws-after-errors")
        await ws_wait_for(ws, created(job_id))


async def test_other_tenants_events_never_arrive(make_org, base_url):
    a, b = await make_org(), await make_org()
    async with websockets.connect(ws_url(base_url, token=b.api_key), ping_interval=None) as ws:
        await recv_json(ws)
        a_ids = {await create(a, "same-queue") for _ in range(5)}
        marker = await create(b, "same-queue")
        seen: list[dict] = []
        await ws_wait_for(ws, created(marker), seen=seen)
        assert not any(m["data"].get("job_id") in a_ids for m in seen)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_r18a_a_client_that_never_reads_is_cut_off_with_bounded_memory(make_org, postgres_url):
    """R18 (a) at CI size: 10,000 events to a client that never reads.

    Loopback socket buffers (several MB) would swallow 10,000 small events before the server
    notices a stalled reader, so this server keeps only 20 events per subscriber: less than one
    coalesced notification carries, which makes the overflow deterministic.
    """
    server = start_server(postgres_url, SPOOLED_EVENT_QUEUE_SIZE="20")
    base_url = server.url
    org = await make_org()
    # A tiny receive buffer (set before connect) so the server's writes back up quickly.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = base_url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    stalled = await websockets.connect(ws_url(base_url, token=org.api_key), sock=sock, ping_interval=None,
                                       max_queue=1, max_size=2**20)
    healthy = await websockets.connect(ws_url(base_url, token=org.api_key, queue="r18-other"),
                                       ping_interval=None)
    try:
        await recv_json(healthy)
        rss_before = rss_kb(server.process.pid)

        async def bulk(start: int) -> None:
            jobs = [{"payload": {"i": start + i}} for i in range(100)]
            r = await org.client.post("/jobs/bulk", json={"queue_name": "r18-flood", "jobs": jobs})
            assert r.status_code == 200, r.text

        for batch in range(0, 100, 10):
            await asyncio.gather(*(bulk((batch + i) * 100) for i in range(10)))
            # The healthy subscriber keeps getting its own queue's events during the flood.
            job_id = await create(org, "r18-other")
            await ws_wait_for(healthy, created(job_id))
        rss_after = rss_kb(server.process.pid)
        assert rss_after - rss_before < 50 * 1024, (rss_before, rss_after)

        # Now read what the stalled client was sent: it must end in a "dropped" Error or a close,
        # well short of all 10,000 events.
        received, told = 0, False
        deadline = time.monotonic() + DEADLINE * 2
        try:
            while time.monotonic() < deadline:
                msg = json.loads(await asyncio.wait_for(stalled.recv(), DEADLINE))
                if msg["type"] == "JobCreated":
                    received += 1
                elif msg["type"] == "Error" and "dropped" in msg["data"]["message"]:
                    told = True
                    break
        except ConnectionClosed:
            pass
        assert received < 10_000 and (told or stalled.close_code is not None), (received, told)
    finally:
        await stalled.close()
        await healthy.close()
        stop_server(server)


async def test_connection_cap_per_organization(make_org, base_url):
    org = await make_org()
    conns = []
    try:
        for _ in range(100):
            conns.append(await websockets.connect(ws_url(base_url, token=org.api_key), ping_interval=None))
        with pytest.raises(InvalidStatus) as err:
            async with websockets.connect(ws_url(base_url, token=org.api_key), ping_interval=None):
                pass
        assert err.value.response.status_code == 429
        other = await make_org()  # the cap is per organization
        async with websockets.connect(ws_url(base_url, token=other.api_key), ping_interval=None) as ws:
            assert (await recv_json(ws))["type"] == "Ping"
    finally:
        await asyncio.gather(*(c.close() for c in conns))
