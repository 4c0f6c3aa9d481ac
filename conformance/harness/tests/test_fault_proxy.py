"""fault_proxy.py against a tiny upstream, in one event loop."""

import asyncio
import json
import time

import httpx
import pytest

from fault_proxy import FaultProxy, handle_control


async def upstream(reader, writer):
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode().split("\r\n"):
            if line.lower().startswith("content-length:"):
                length = int(line.split(":")[1])
        body = await reader.readexactly(length) if length else b""
        answer = json.dumps({"echo": body.decode()}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(answer)).encode() + b"\r\nConnection: close\r\n\r\n" + answer)
        await writer.drain()
        writer.close()
        return


async def garbled_upstream(reader, writer):
    """Answers with a head the proxy cannot parse, or a body cut short, depending on the path."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    if " /garbled " in head:
        writer.write(b"NONSENSE\r\n\r\n")
    elif " /chunked " in head:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    else:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    await writer.drain()
    writer.close()


async def scenario(check, upstream=upstream):
    up = await asyncio.start_server(upstream, "127.0.0.1", 0)
    proxy = FaultProxy(f"http://127.0.0.1:{up.sockets[0].getsockname()[1]}")
    front = await asyncio.start_server(proxy.handle_client, "127.0.0.1", 0)
    control = await asyncio.start_server(lambda r, w: handle_control(proxy, r, w), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{front.sockets[0].getsockname()[1]}"
    ctl = f"http://127.0.0.1:{control.sockets[0].getsockname()[1]}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2.0) as http, \
                httpx.AsyncClient(base_url=ctl, timeout=2.0) as admin:
            await check(http, admin)
    finally:
        for server in (up, front, control):
            server.close()


def test_pass_fail_next_and_stats():
    async def check(http, admin):
        assert (await http.post("/x", json={"a": 1})).json() == {"echo": '{"a":1}'}
        await admin.post("/control", json={"mode": "fail_next", "count": 2, "status": 503,
                                           "headers": {"Retry-After": "1"}})
        for _ in range(2):
            answer = await http.get("/x")
            assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert (await http.get("/x")).status_code == 200
        stats = (await admin.get("/control/stats")).json()
        assert stats["requests"] == 4 and stats["forwarded"] == 2 and stats["faulted"] == 2
        assert stats["mode"] == "pass"
    asyncio.run(scenario(check))


def test_reset_delay_and_blackhole():
    async def check(http, admin):
        await admin.post("/control", json={"mode": "reset_next", "count": 1})
        with pytest.raises(httpx.TransportError):
            await http.get("/x")
        await admin.post("/control", json={"mode": "delay", "ms": 200, "count": 1})
        started = time.monotonic()
        assert (await http.get("/x")).status_code == 200
        assert time.monotonic() - started >= 0.19
        await admin.post("/control", json={"mode": "blackhole"})
        with pytest.raises(httpx.TimeoutException):
            await http.get("/x", timeout=0.3)
        await admin.post("/control/reset")
        assert (await http.get("/x")).status_code == 200
    asyncio.run(scenario(check))


def test_reset_after_forward_reaches_upstream():
    async def check(http, admin):
        await admin.post("/control", json={"mode": "reset_next", "count": 1, "after_forward": True})
        with pytest.raises(httpx.TransportError):
            await http.post("/x", json={})
        stats = (await admin.get("/control/stats")).json()
        assert stats["forwarded"] == 1 and stats["faulted"] == 1
    asyncio.run(scenario(check))


def test_bad_control_requests():
    async def check(http, admin):
        assert (await admin.post("/control", json={"mode": "explode"})).status_code == 400
        assert (await admin.post("/control", json={"mode": "fail_next", "count": -1})).status_code == 400
        assert (await admin.get("/nowhere")).status_code == 404
    asyncio.run(scenario(check))


def test_unusable_upstream_answers_are_502():
    async def check(http, admin):
        for path in ("/garbled", "/chunked", "/short"):
            answer = await http.get(path)
            assert answer.status_code == 502, path
            assert answer.json()["code"] == "BAD_GATEWAY"
            assert answer.json()["message"].startswith("upstream: ")
        stats = (await admin.get("/control/stats")).json()
        assert stats["requests"] == 3 and stats["forwarded"] == 0
    asyncio.run(scenario(check, garbled_upstream))


def test_bad_request_framing_is_400():
    async def check(http, admin):
        port = int(str(http.base_url).rsplit(":", 1)[1].rstrip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 2.0)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"bad body framing" in answer
    asyncio.run(scenario(check))
