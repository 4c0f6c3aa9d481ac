"""/api/v1/api-keys: mint (secret once), list, get, update, revoke, plan cap."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from conftest import Org, assert_error

SUMMARY_KEYS = {"id", "name", "queues", "rate_limit", "is_active", "created_at", "last_used", "expires_at"}


def client_for(base_url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                             headers={"Authorization": f"Bearer {key}"})


def future(hours: int = 1) -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).isoformat()


async def test_create_returns_the_key_once_and_it_works(org: Org, base_url: str):
    r = await org.client.post("/api-keys", json={"name": "ci (deploy) key_1.0"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "key", "name", "created_at", "expires_at"}
    assert created["key"].startswith("sp_test_") and len(created["key"]) == 51
    assert created["name"] == "ci (deploy) key_1.0" and created["expires_at"] is None
    async with client_for(base_url, created["key"]) as c:
        assert (await c.get("/organizations")).json()[0]["id"] == org.id
    got = (await org.client.get(f"/api-keys/{created['id']}")).json()
    assert set(got) == SUMMARY_KEYS and got["queues"] == ["*"] and got["is_active"] is True
    assert got["rate_limit"] is None


async def test_create_with_queues_rate_limit_and_expiry(org: Org):
    expires = future(48)
    r = await org.client.post("/api-keys", json={"name": "scoped", "queues": ["emails", "reports.*"],
                                                 "rate_limit": 50, "expires_at": expires})
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"].endswith("Z")
    got = (await org.client.get(f"/api-keys/{r.json()['id']}")).json()
    assert got["queues"] == ["emails", "reports.*"] and got["rate_limit"] == 50
    assert datetime.fromisoformat(got["expires_at"]) == datetime.fromisoformat(expires)


async def test_empty_queue_list_is_allowed(org: Org):
    r = await org.client.post("/api-keys", json={"name": "all", "queues": []})
    assert r.status_code == 201
    assert (await org.client.get(f"/api-keys/{r.json()['id']}")).json()["queues"] == []


@pytest.mark.parametrize("body,field", [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "bad/name"}, "name"),
    ({"name": "emoji 🙂"}, "name"),
    ({"name": 7}, "name"),
    ({"name": "ok", "queues": ["q"] * 51}, "queues"),
    ({"name": "ok", "queues": [""]}, "queues.0"),
    ({"name": "ok", "queues": ["q" * 256]}, "queues.0"),
    ({"name": "ok", "queues": ["bad/queue"]}, "queues.0"),
    ({"name": "ok", "queues": "emails"}, "queues"),
    ({"name": "ok", "rate_limit": 0}, "rate_limit"),
    ({"name": "ok", "rate_limit": 10_001}, "rate_limit"),
    ({"name": "ok", "rate_limit": "5"}, "rate_limit"),
    ({"name": "ok", "rate_limit": 5.5}, "rate_limit"),
    ({"name": "ok", "rate_limit": True}, "rate_limit"),
    ({"name": "ok", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "ok", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
    ({"name": "ok", "expires_at": 4102444800}, "expires_at"),
    ({"name": "ok", "expires_at": "9999-12-31T23:59:59-23:59"}, "expires_at"),
])
async def test_create_validation(org: Org, body, field):
    err = assert_error(await org.client.post("/api-keys", json=body), 400, "VALIDATION_ERROR")
    assert field in {d["field"] for d in err["details"]}, err


async def test_create_rejects_unusable_bodies(org: Org):
    assert_error(await org.client.post("/api-keys", content=b"nope", headers={"content-type": "application/json"}),
                 400, "INVALID_JSON")
    assert_error(await org.client.post("/api-keys", json={}), 400, "VALIDATION_ERROR")
    assert_error(await org.client.post("/api-keys", json={"name": "a\u0000b"}), 400, "VALIDATION_ERROR")


async def test_plan_cap_on_active_keys_is_429_quota_exceeded(make_org):
    free = await make_org(plan="free")  # max_api_keys = 2; the initial key is one
    second = await free.client.post("/api-keys", json={"name": "second"})
    assert second.status_code == 201
    err = assert_error(await free.client.post("/api-keys", json={"name": "third"}), 429, "QUOTA_EXCEEDED")
    assert err["details"] == {"resource": "api_keys", "current": 2, "limit": 2, "plan": "free",
                              "upgrade_to": "starter"}
    # Revoked keys do not count; re-activating one does.
    assert (await free.client.delete(f"/api-keys/{second.json()['id']}")).status_code == 204
    third = await free.client.post("/api-keys", json={"name": "third"})
    assert third.status_code == 201
    assert_error(await free.client.put(f"/api-keys/{second.json()['id']}", json={"is_active": True}),
                 429, "QUOTA_EXCEEDED")


async def test_list_is_newest_first_and_includes_revoked(org: Org):
    a = (await org.client.post("/api-keys", json={"name": "a"})).json()
    b = (await org.client.post("/api-keys", json={"name": "b"})).json()
    await org.client.delete(f"/api-keys/{a['id']}")
    r = await org.client.get("/api-keys")
    assert r.status_code == 200
    listed = r.json()
    assert [k["id"] for k in listed] == [b["id"], a["id"], org.key_id]
    assert all(set(k) == SUMMARY_KEYS for k in listed)
    assert {k["id"]: k["is_active"] for k in listed}[a["id"]] is False


async def test_get_unknown_or_foreign_key_is_404(org: Org, make_org):
    other = await make_org()
    assert_error(await org.client.get(f"/api-keys/{other.key_id}"), 404, "NOT_FOUND")
    assert_error(await org.client.get("/api-keys/not-a-key"), 404, "NOT_FOUND")
    assert_error(await org.client.get("/api-keys/%00"), 404, "NOT_FOUND")
    assert_error(await org.client.get("/api-keys/" + "k" * 300), 404, "NOT_FOUND")


async def test_update_fields_and_null_means_keep(org: Org):
    key = (await org.client.post("/api-keys", json={"name": "before", "rate_limit": 5})).json()
    r = await org.client.put(f"/api-keys/{key['id']}", json={"name": "after", "queues": ["a", "b"],
                                                              "rate_limit": 9})
    assert r.status_code == 200, r.text
    assert set(r.json()) == SUMMARY_KEYS
    assert r.json()["name"] == "after" and r.json()["queues"] == ["a", "b"] and r.json()["rate_limit"] == 9
    kept = (await org.client.put(f"/api-keys/{key['id']}", json={"rate_limit": None, "name": None})).json()
    assert kept["rate_limit"] == 9 and kept["name"] == "after"


@pytest.mark.parametrize("body", [{"name": ""}, {"queues": ["bad/q"]}, {"rate_limit": 0},
                                  {"is_active": "no"}, {"is_active": 1}])
async def test_update_validation(org: Org, body):
    assert_error(await org.client.put(f"/api-keys/{org.key_id}", json=body), 400, "VALIDATION_ERROR")


async def test_update_foreign_key_is_404(org: Org, make_org):
    other = await make_org()
    assert_error(await org.client.put(f"/api-keys/{other.key_id}", json={"name": "mine"}), 404, "NOT_FOUND")
    assert (await other.client.get(f"/api-keys/{other.key_id}")).json()["name"] == "Initial Admin Key"


async def test_narrowing_queues_applies_on_the_next_request(org: Org, base_url: str):
    key = (await org.client.post("/api-keys", json={"name": "worker"})).json()
    async with client_for(base_url, key["key"]) as c:
        assert (await c.post("/jobs", json={"queue_name": "b", "payload": {}})).status_code == 201
        await org.client.put(f"/api-keys/{key['id']}", json={"queues": ["a"]})
        assert_error(await c.post("/jobs", json={"queue_name": "b", "payload": {}}), 403, "ACCESS_DENIED")
        assert (await c.post("/jobs", json={"queue_name": "a", "payload": {}})).status_code == 201


async def test_deactivating_via_update_rejects_the_next_request(org: Org, base_url: str):
    key = (await org.client.post("/api-keys", json={"name": "temp"})).json()
    async with client_for(base_url, key["key"]) as c:
        assert (await c.get("/api-keys")).status_code == 200
        await org.client.put(f"/api-keys/{key['id']}", json={"is_active": False})
        assert_error(await c.get("/api-keys"), 401)


async def test_revoke_is_soft_and_immediate(org: Org, base_url: str):
    key = (await org.client.post("/api-keys", json={"name": "doomed"})).json()
    async with client_for(base_url, key["key"]) as c:
        assert (await c.get("/organizations")).status_code == 200  # now cached by the server
        r = await org.client.delete(f"/api-keys/{key['id']}")
        assert r.status_code == 204 and r.content == b""
        assert_error(await c.get("/organizations"), 401, "UNAUTHORIZED")
    got = (await org.client.get(f"/api-keys/{key['id']}")).json()
    assert got["is_active"] is False


async def test_a_key_may_revoke_itself(make_org):
    me = await make_org()
    assert (await me.client.delete(f"/api-keys/{me.key_id}")).status_code == 204
    assert_error(await me.client.get("/api-keys"), 401)


async def test_revoke_unknown_or_foreign_key_is_404(org: Org, make_org):
    other = await make_org()
    assert_error(await org.client.delete(f"/api-keys/{other.key_id}"), 404, "NOT_FOUND")
    assert_error(await org.client.delete("/api-keys/nope"), 404, "NOT_FOUND")
    assert (await other.client.get("/api-keys")).status_code == 200


async def test_api_key_routes_need_authentication(anon):
    assert_error(await anon.get("/api/v1/api-keys"), 401, "UNAUTHORIZED")
    assert_error(await anon.post("/api/v1/api-keys", json={"name": "x"}), 401, "UNAUTHORIZED")
