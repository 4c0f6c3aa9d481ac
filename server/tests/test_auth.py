"""/api/v1/auth: login, refresh, logout, me, validate, and the email-login stubs."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from conftest import Org, assert_error

# The secret conftest.start_server gives every test server.
SERVER_JWT_SECRET = "test-jwt-secret-0123456789abcdefghij"
CLAIM_KEYS = {"sub", "api_key_id", "org_id", "iat", "exp", "nbf", "jti", "queues", "token_type"}


def bearer(base_url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                             headers={"Authorization": f"Bearer {token}"})


async def login(anon: httpx.AsyncClient, key: str) -> dict:
    r = await anon.post("/api/v1/auth/login", json={"api_key": key})
    assert r.status_code == 200, r.text
    return r.json()


def forge(org: Org, *, secret: str = SERVER_JWT_SECRET, token_type: str = "access", exp_offset: int = 3600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": org.id, "org_id": org.id, "api_key_id": org.key_id, "queues": ["*"],
                       "token_type": token_type, "jti": str(uuid.uuid4()), "iat": now, "nbf": now,
                       "exp": now + exp_offset}, secret, algorithm="HS256")


async def test_login_issues_tokens_that_authenticate(org: Org, anon, base_url):
    tokens = await login(anon, org.api_key)
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in", "refresh_expires_in"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 86400
    assert tokens["refresh_expires_in"] == 2073600 and tokens["access_token"].startswith("eyJ")
    async with bearer(base_url, tokens["access_token"]) as c:
        assert (await c.get("/organizations")).json()[0]["id"] == org.id
        assert (await c.get("/dashboard")).status_code == 200


async def test_login_failures(anon, org: Org):
    bad = assert_error(await anon.post("/api/v1/auth/login", json={"api_key": "sp_test_" + "x" * 43}),
                       401, "UNAUTHORIZED")
    assert "Traceback" not in bad["message"]
    assert_error(await anon.post("/api/v1/auth/login", json={"api_key": "short"}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post("/api/v1/auth/login", json={}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post("/api/v1/auth/login", json={"api_key": 1234567890}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post("/api/v1/auth/login", content=b"{", headers={"content-type": "application/json"}),
                 400, "INVALID_JSON")


async def test_login_with_revoked_key_is_401(make_org, anon):
    gone = await make_org()
    await gone.client.delete(f"/api-keys/{gone.key_id}")
    assert_error(await anon.post("/api/v1/auth/login", json={"api_key": gone.api_key}), 401, "UNAUTHORIZED")


async def test_refresh_mints_an_access_token(org: Org, anon, base_url):
    tokens = await login(anon, org.api_key)
    r = await anon.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}
    assert r.json()["token_type"] == "Bearer" and r.json()["expires_in"] == 86400
    async with bearer(base_url, r.json()["access_token"]) as c:
        assert (await c.get("/auth/me")).status_code == 200


async def test_refresh_carries_the_keys_current_queues(org: Org, anon, base_url):
    key = (await org.client.post("/api-keys", json={"name": "narrowing"})).json()
    tokens = await login(anon, key["key"])
    await org.client.put(f"/api-keys/{key['id']}", json={"queues": ["only-this"]})
    fresh = (await anon.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    async with bearer(base_url, fresh["access_token"]) as c:
        assert (await c.get("/auth/me")).json()["queues"] == ["only-this"]


async def test_refresh_rejections(org: Org, make_org, anon):
    tokens = await login(anon, org.api_key)
    # An access token is not a refresh token.
    assert_error(await anon.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}),
                 401, "UNAUTHORIZED")
    assert_error(await anon.post("/api/v1/auth/refresh", json={"refresh_token": "not-a-token-at-all"}),
                 401, "UNAUTHORIZED")
    assert_error(await anon.post("/api/v1/auth/refresh", json={"refresh_token": "short"}), 400, "VALIDATION_ERROR")
    # A refresh token of a revoked key is refused.
    gone = await make_org()
    gone_tokens = await login(anon, gone.api_key)
    await gone.client.delete(f"/api-keys/{gone.key_id}")
    assert_error(await anon.post("/api/v1/auth/refresh", json={"refresh_token": gone_tokens["refresh_token"]}),
                 401, "UNAUTHORIZED")


async def test_logout_revokes_the_access_token(org: Org, anon, base_url):
    tokens = await login(anon, org.api_key)
    async with bearer(base_url, tokens["access_token"]) as c:
        assert (await c.get("/auth/me")).status_code == 200
        r = await c.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 204 and r.content == b""
        assert_error(await c.get("/organizations"), 401, "UNAUTHORIZED")
        assert_error(await c.get("/auth/me"), 401, "UNAUTHORIZED")


async def test_logout_and_me_need_a_jwt(org: Org, anon):
    assert_error(await org.client.post("/auth/logout"), 401, "UNAUTHORIZED")
    assert_error(await org.client.get("/auth/me"), 401, "UNAUTHORIZED")
    assert_error(await anon.post("/api/v1/auth/logout"), 401, "UNAUTHORIZED")
    # The API key itself still works afterwards.
    assert (await org.client.get("/organizations")).status_code == 200


async def test_me_describes_the_token(org: Org, anon, base_url):
    tokens = await login(anon, org.api_key)
    async with bearer(base_url, tokens["access_token"]) as c:
        r = await c.get("/auth/me")
    assert r.status_code == 200
    me = r.json()
    assert me["organization_id"] == org.id and me["api_key_id"] == org.key_id and me["queues"] == ["*"]
    assert me["issued_at"].endswith("Z") and me["expires_at"].endswith("Z")
    assert set(me) == {"organization_id", "api_key_id", "queues", "issued_at", "expires_at"}


async def test_forged_and_expired_tokens_are_refused(org: Org, base_url):
    for token in (forge(org, secret="some-other-secret-0123456789abcdef"), forge(org, exp_offset=-60),
                  forge(org, token_type="refresh")):
        async with bearer(base_url, token) as c:
            assert_error(await c.get("/organizations"), 401, "UNAUTHORIZED")


async def test_validate_reports_valid_tokens_with_claims(org: Org, anon):
    tokens = await login(anon, org.api_key)
    r = await anon.post("/api/v1/auth/validate", json={"token": tokens["access_token"]})
    assert r.status_code == 200
    body = r.json()
    assert body["valid"] is True and set(body["claims"]) == CLAIM_KEYS
    assert body["claims"]["org_id"] == org.id and body["claims"]["token_type"] == "access"
    assert body["organization_id"] == org.id and body["api_key_id"] == org.key_id
    assert body["expires_at"].endswith("Z")
    refresh = (await anon.post("/api/v1/auth/validate", json={"token": tokens["refresh_token"]})).json()
    assert refresh["valid"] is True and refresh["claims"]["token_type"] == "refresh"


async def test_validate_reports_invalid_tokens_with_200(org: Org, make_org, anon, base_url):
    for token in ("garbage", "", forge(org, secret="another-secret-0123456789abcdefgh"), forge(org, exp_offset=-5)):
        r = await anon.post("/api/v1/auth/validate", json={"token": token})
        assert r.status_code == 200 and r.json() == {"valid": False, "error": "Invalid token"}
    tokens = await login(anon, org.api_key)
    async with bearer(base_url, tokens["access_token"]) as c:
        await c.post("/auth/logout")
    revoked = (await anon.post("/api/v1/auth/validate", json={"token": tokens["access_token"]})).json()
    assert revoked == {"valid": False, "error": "Token has been revoked"}
    gone = await make_org()
    gone_tokens = await login(anon, gone.api_key)
    await gone.client.delete(f"/api-keys/{gone.key_id}")
    dead_key = (await anon.post("/api/v1/auth/validate", json={"token": gone_tokens["access_token"]})).json()
    assert dead_key["valid"] is False


async def test_validate_needs_a_token_field(anon):
    assert_error(await anon.post("/api/v1/auth/validate", json={}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post("/api/v1/auth/validate", json={"token": 5}), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/v1/auth/email/start"), ("POST", "/api/v1/auth/email/verify"),
    ("GET", "/api/v1/auth/email/check?email=a@b.example"), ("GET", "/api/v1/auth/check-email?email=a@b.example"),
])
async def test_email_login_is_not_available_self_hosted(anon, method, path):
    kwargs = {"json": {"email": "a@b.example", "code": "123456"}} if method == "POST" else {}
    err = assert_error(await anon.request(method, path, **kwargs), 404, "NOT_FOUND")
    assert "self-hosted" in err["message"]
