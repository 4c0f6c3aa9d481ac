"""JWT authentication: login on first use, renewal before expiry, one replay after a 401."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

import spooled

from .conftest import API_KEY, job_json


def jwt(exp: float, tag: str = "a") -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256'})}.{part({'exp': int(exp), 'tag': tag})}.c2ln"


def tokens(access: str, refresh: str = "refresh-token-1") -> dict:
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": 3600,
            "refresh_expires_in": 86400}


def bearer(call) -> str:
    return call.request.headers["authorization"].removeprefix("Bearer ")


def test_use_jwt_logs_in_once_and_uses_the_token(mock, make_client, fake_time):
    first = jwt(fake_time.now + 3600)
    login = mock.post("/api/v1/auth/login").respond(200, json=tokens(first))
    jobs = mock.get("/api/v1/jobs/j1").respond(200, json=job_json())
    client = make_client(use_jwt=True)
    client.jobs.get("j1")
    client.jobs.get("j1")
    assert login.call_count == 1
    assert json.loads(login.calls.last.request.content) == {"api_key": API_KEY}
    assert "authorization" not in login.calls.last.request.headers
    assert [bearer(c) for c in jobs.calls] == [first, first]


def test_token_is_refreshed_sixty_seconds_before_expiry(mock, make_client, fake_time):
    first, second = jwt(fake_time.now + 3600, "first"), jwt(fake_time.now + 7200, "second")
    mock.post("/api/v1/auth/login").respond(200, json=tokens(first))
    refresh = mock.post("/api/v1/auth/refresh").respond(200, json={
        "access_token": second, "token_type": "Bearer", "expires_in": 3600})
    jobs = mock.get("/api/v1/jobs/j1").respond(200, json=job_json())
    client = make_client(use_jwt=True)
    client.jobs.get("j1")
    fake_time.now += 3600 - 61
    client.jobs.get("j1")
    assert refresh.call_count == 0
    fake_time.now += 1  # now within the 60 s margin
    client.jobs.get("j1")
    assert refresh.call_count == 1
    assert json.loads(refresh.calls.last.request.content) == {"refresh_token": "refresh-token-1"}
    assert [bearer(c) for c in jobs.calls] == [first, first, second]


def test_a_rejected_refresh_falls_back_to_logging_in(mock, make_client, fake_time):
    first, second = jwt(fake_time.now + 100, "first"), jwt(fake_time.now + 3600, "second")
    login = mock.post("/api/v1/auth/login")
    login.side_effect = [httpx.Response(200, json=tokens(first)), httpx.Response(200, json=tokens(second))]
    mock.post("/api/v1/auth/refresh").respond(401, json={"code": "UNAUTHORIZED", "message": "revoked"})
    jobs = mock.get("/api/v1/jobs/j1").respond(200, json=job_json())
    client = make_client(use_jwt=True)
    client.jobs.get("j1")
    fake_time.now += 50
    client.jobs.get("j1")
    assert login.call_count == 2 and bearer(jobs.calls.last) == second


def test_a_401_renews_once_and_replays(mock, make_client, fake_time):
    stale, fresh = jwt(fake_time.now + 3600, "stale"), jwt(fake_time.now + 3600, "fresh")
    refresh = mock.post("/api/v1/auth/refresh").respond(200, json={
        "access_token": fresh, "token_type": "Bearer", "expires_in": 3600})
    jobs = mock.get("/api/v1/jobs/j1")
    jobs.side_effect = [httpx.Response(401, json={"code": "UNAUTHORIZED", "message": "revoked"}),
                        httpx.Response(200, json=job_json())]
    client = make_client(None, access_token=stale, refresh_token="refresh-token-1")
    assert client.jobs.get("j1").id == "j1"
    assert refresh.call_count == 1 and [bearer(c) for c in jobs.calls] == [stale, fresh]
    jobs.side_effect = None
    jobs.respond(401, json={"code": "UNAUTHORIZED", "message": "still no"})
    with pytest.raises(spooled.AuthenticationError):
        client.jobs.get("j1")
    assert refresh.call_count == 2  # one renewal per call, then the 401 is real


def test_a_static_access_token_is_used_as_is(mock, make_client, fake_time):
    token = jwt(fake_time.now - 10)  # expired, and nothing to renew it with
    jobs = mock.get("/api/v1/jobs/j1").respond(401, json={"code": "UNAUTHORIZED", "message": "expired"})
    client = make_client(None, access_token=token)
    with pytest.raises(spooled.AuthenticationError):
        client.jobs.get("j1")
    assert jobs.call_count == 1 and bearer(jobs.calls.last) == token


def test_api_key_clients_never_call_auth(mock, client):
    login = mock.post("/api/v1/auth/login")
    mock.get("/api/v1/jobs/j1").respond(401, json={"code": "UNAUTHORIZED", "message": "bad key"})
    with pytest.raises(spooled.AuthenticationError):
        client.jobs.get("j1")
    assert login.call_count == 0


def test_get_jwt_token_caches_until_the_margin(mock, client, fake_time):
    first, second = jwt(fake_time.now + 600, "first"), jwt(fake_time.now + 1200, "second")
    login = mock.post("/api/v1/auth/login")
    login.side_effect = [httpx.Response(200, json=tokens(first)), httpx.Response(200, json=tokens(second))]
    assert client.get_jwt_token() == first
    fake_time.now += 539
    assert client.get_jwt_token() == first
    fake_time.now += 1
    assert client.get_jwt_token() == second
    assert login.call_count == 2


async def test_async_client_renews_too(mock, make_async_client, fake_time):
    first = jwt(fake_time.now + 3600)
    login = mock.post("/api/v1/auth/login").respond(200, json=tokens(first))
    jobs = mock.get("/api/v1/jobs/j1").respond(200, json=job_json())
    async with make_async_client(use_jwt=True) as client:
        await client.jobs.get("j1")
        assert await client.get_jwt_token() == first
    assert login.call_count == 1 and bearer(jobs.calls.last) == first
