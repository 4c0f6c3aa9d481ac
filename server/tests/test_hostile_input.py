"""R15: large and hostile payloads get clear, typed errors and change nothing."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlparse

import orjson
import pytest

from conftest import Org, assert_error

LIMIT = 1024 * 1024  # payload limit: bytes of the compactly serialized payload


def payload_of_size(size: int) -> dict:
    overhead = len(orjson.dumps({"d": ""}))
    return {"d": "x" * (size - overhead)}


async def raw_http(base_url: str, request: bytes, body_chunks=(), read_timeout: float = 5.0) -> tuple[int, bytes]:
    """Sends bytes over a plain socket and returns (status, response head+body)."""
    url = urlparse(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(request)
        await writer.drain()
        for chunk in body_chunks:
            if reader.at_eof():
                break
            try:
                writer.write(chunk)
                await writer.drain()
            except (ConnectionError, BrokenPipeError):
                break
            if len(reader._buffer):  # the server answered early: stop sending
                break
        data = b""
        async with asyncio.timeout(read_timeout):
            while chunk := await reader.read(65536):  # the server closes after answering
                data += chunk
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data


async def test_payload_of_exactly_the_limit_round_trips(org: Org):
    payload = payload_of_size(LIMIT)
    assert len(orjson.dumps(payload)) == LIMIT
    r = await org.client.post("/jobs", json={"queue_name": "big", "payload": payload})
    assert r.status_code == 201, r.text[:300]
    job_id = r.json()["id"]
    [claimed] = (await org.client.post("/jobs/claim", json={"queue_name": "big", "worker_id": "w"})).json()["jobs"]
    assert claimed["payload"] == payload
    assert (await org.client.get(f"/jobs/{job_id}")).json()["payload"] == payload


async def test_payload_one_byte_over_the_limit_is_413_and_stores_nothing(org: Org):
    r = await org.client.post("/jobs", json={"queue_name": "too-big", "payload": payload_of_size(LIMIT + 1)})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    bulk = await org.client.post("/jobs/bulk", json={"queue_name": "too-big", "jobs": [
        {"payload": 1}, {"payload": payload_of_size(LIMIT + 1)}]})
    assert_error(bulk, 413, "PAYLOAD_TOO_LARGE")
    assert (await org.client.get("/jobs", params={"queue_name": "too-big"})).json() == []


async def test_declared_huge_body_is_refused_before_reading(org: Org, base_url):
    head = (f"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {org.api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n").encode()
    started = time.monotonic()
    status, data = await raw_http(base_url, head)
    assert status == 413 and b"PAYLOAD_TOO_LARGE" in data
    assert time.monotonic() - started < 1.0


def chunked_head(org: Org) -> bytes:
    return (f"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {org.api_key}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()


CHUNK = b"10000\r\n" + b"x" * 65536 + b"\r\n"


async def test_chunked_body_past_the_limit_gets_a_readable_413(org: Org, base_url):
    # 4 MiB: over the limit, within the bounded drain, so the client can read the answer.
    status, data = await raw_http(base_url, chunked_head(org), [CHUNK] * 64 + [b"0\r\n\r\n"])
    assert status == 413 and b"PAYLOAD_TOO_LARGE" in data


async def test_endless_chunked_body_is_cut_off(org: Org, base_url):
    url = urlparse(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    sent = 0
    try:
        writer.write(chunked_head(org))
        async with asyncio.timeout(20):
            while sent < 100 * 1024 * 1024:
                writer.write(CHUNK)
                await writer.drain()
                sent += len(CHUNK)
    except (ConnectionError, BrokenPipeError):
        pass
    finally:
        writer.close()
    # The server stops reading after its bounded drain (8 MiB) plus what socket buffers hold.
    assert sent < 24 * 1024 * 1024, sent


@pytest.mark.parametrize("raw", [
    b'{"queue_name": "q", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"queue_name": "q", "payload": {"s": "a\\u0000b"}}',
    b'{"queue_name": "q", "payload": {"a\\u0000": 1}}',
    b'{"queue_name": "q\\u0000", "payload": 1}',
    b'{"queue_name": "q", "payload": {"s": "\\ud800"}}',
    b'{"queue_name": "q", "payload": 1, "priority": 99999999999999999999999}',
    b'{"queue_name": "q", "payload": 1, "timeout_seconds": 18446744073709551616}',
    b'{"queue_name": "q", "payload": {"n": 123456789012345678901234567890}}',
    b'{"queue_name": "q", "payload": 1, "tags": {"t": "' + b"x" * (64 * 1024) + b'"}}',
    b'\xff\xfe{"queue_name": "q"}',
])
async def test_hostile_bodies_are_400(org: Org, raw):
    r = await org.client.post("/jobs", content=raw, headers={"content-type": "application/json"})
    assert_error(r, 400)
    assert (await org.client.get("/jobs")).json() == []


async def test_hostile_bodies_on_worker_routes(org: Org):
    r = await org.client.post("/jobs", json={"queue_name": "h", "payload": 1})
    job_id = r.json()["id"]
    [c] = (await org.client.post("/jobs/claim", json={"queue_name": "h", "worker_id": "w"})).json()["jobs"]
    bad = b'{"worker_id": "w", "lease_id": "' + c["lease_id"].encode() + b'", "result": {"s": "\\u0000"}}'
    assert_error(await org.client.post(f"/jobs/{job_id}/complete", content=bad), 400, "VALIDATION_ERROR")
    big = json.dumps({"worker_id": "w", "lease_id": c["lease_id"], "result": {"n": 10 ** 30}})
    assert_error(await org.client.post(f"/jobs/{job_id}/complete", content=big), 400)
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "processing"


async def test_claim_response_is_capped_and_the_rest_stays_queued(org: Org):
    payload = payload_of_size(LIMIT)
    for _ in range(20):
        r = await org.client.post("/jobs", json={"queue_name": "fat", "payload": payload})
        assert r.status_code == 201
    got = (await org.client.post("/jobs/claim", json={"queue_name": "fat", "worker_id": "w",
                                                       "limit": 100})).json()["jobs"]
    assert 1 <= len(got) <= 16
    stats = (await org.client.get("/jobs", params={"queue_name": "fat", "status": "pending"})).json()
    assert len(stats) == 20 - len(got)
