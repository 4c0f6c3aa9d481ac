"""/api/v1/admin: the operator routes behind X-Admin-Key."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from conftest import Org, assert_error, start_server, stop_server

ADMIN_ROUTES = [
    ("GET", "/admin/organizations"), ("POST", "/admin/organizations"),
    ("GET", "/admin/organizations/x"), ("PATCH", "/admin/organizations/x"),
    ("PUT", "/admin/organizations/x"), ("DELETE", "/admin/organizations/x"),
    ("POST", "/admin/organizations/x/api-keys"), ("POST", "/admin/organizations/x/reset-usage"),
    ("GET", "/admin/stats"), ("GET", "/admin/plans"),
]
LIST_ITEM_KEYS = {"id", "name", "slug", "plan_tier", "billing_email", "created_at", "updated_at", "usage"}
DETAIL_KEYS = {"id", "name", "slug", "plan_tier", "billing_email", "settings", "custom_limits", "created_at",
               "updated_at", "usage_info", "api_keys_count", "total_jobs"}


def unique(prefix: str = "adm") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_org(admin: httpx.AsyncClient, **fields) -> dict:
    body = {"name": f"Admin Made {uuid.uuid4().hex[:6]}", "slug": unique(), **fields}
    r = await admin.post("/admin/organizations", json=body)
    assert r.status_code == 201, r.text
    return r.json()


# -- the admin key ---------------------------------------------------------------------------

async def test_missing_or_wrong_admin_key_is_401(base_url: str):
    async with httpx.AsyncClient(base_url=base_url + "/api/v1") as c:
        missing = assert_error(await c.get("/admin/stats"), 401, "UNAUTHORIZED")
        assert missing["details"] == {"reason": "missing_admin_key"}
        wrong = assert_error(await c.get("/admin/plans", headers={"X-Admin-Key": "nope"}), 401, "UNAUTHORIZED")
        assert wrong["details"] == {"reason": "invalid_admin_key"}
        # The key check runs before query or body validation.
        assert_error(await c.get("/admin/organizations?limit=abc"), 401, "UNAUTHORIZED")
        assert_error(await c.post("/admin/organizations", content=b"{"), 401, "UNAUTHORIZED")


async def test_an_api_key_is_not_an_admin_key(org: Org):
    assert_error(await org.client.get("/admin/stats", headers={"X-Admin-Key": org.api_key}), 401, "UNAUTHORIZED")


async def test_every_admin_route_is_401_when_admin_key_is_not_configured(postgres_url):
    srv = await asyncio.to_thread(start_server, postgres_url, ADMIN_API_KEY="")
    try:
        async with httpx.AsyncClient(base_url=srv.url + "/api/v1", headers={"X-Admin-Key": ""}) as c:
            for method, path in ADMIN_ROUTES:
                err = assert_error(await c.request(method, path, json={}), 401, "UNAUTHORIZED")
                assert err["details"] == {"reason": "admin_not_configured"}, (method, path)
    finally:
        await asyncio.to_thread(stop_server, srv)


# -- GET /admin/organizations -----------------------------------------------------------------

async def test_list_shape_usage_and_search(admin, pool):
    tag = uuid.uuid4().hex[:8]
    a = await create_org(admin, name=f"Alpha {tag}", plan_tier="pro")
    b = await create_org(admin, name=f"Beta {tag}")
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO jobs (organization_id, queue_name, status, payload)"
                           " VALUES ($1, 'q', 'pending', '{}')", a["organization"]["id"])
    r = await admin.get("/admin/organizations", params={"search": tag, "sort_by": "name", "sort_order": "asc"})
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {"organizations", "total", "limit", "offset"}
    assert page["total"] == 2 and page["limit"] == 50 and page["offset"] == 0
    assert [o["id"] for o in page["organizations"]] == [a["organization"]["id"], b["organization"]["id"]]
    first = page["organizations"][0]
    assert set(first) == LIST_ITEM_KEYS and first["plan_tier"] == "pro"
    assert first["usage"] == {"jobs_today": 0, "active_jobs": 1, "queues": 0, "workers": 0, "api_keys": 1}
    desc = (await admin.get("/admin/organizations", params={"search": tag, "sort_by": "name",
                                                            "sort_order": "desc"})).json()
    assert [o["id"] for o in desc["organizations"]] == [b["organization"]["id"], a["organization"]["id"]]
    pro = (await admin.get("/admin/organizations", params={"search": tag, "plan_tier": "pro"})).json()
    assert pro["total"] == 1 and pro["organizations"][0]["id"] == a["organization"]["id"]
    paged = (await admin.get("/admin/organizations", params={"search": tag, "limit": 1, "offset": 1,
                                                             "sort_by": "name", "sort_order": "asc"})).json()
    assert paged["total"] == 2 and paged["limit"] == 1 and paged["offset"] == 1
    assert [o["id"] for o in paged["organizations"]] == [b["organization"]["id"]]


async def test_search_treats_wildcards_literally(admin):
    tag = uuid.uuid4().hex[:8]
    literal = await create_org(admin, name=f"100% Real_Deal {tag}")
    await create_org(admin, name=f"1000 RealXDeal {tag}")
    for needle in ("100%", "Real_", "%", "_"):
        found = (await admin.get("/admin/organizations", params={"search": f"{needle}"})).json()["organizations"]
        ours = [o for o in found if tag in o["name"]]
        assert [o["id"] for o in ours] == [literal["organization"]["id"]], needle
    back = (await admin.get("/admin/organizations", params={"search": "a\\b"})).json()
    assert back["total"] == 0


@pytest.mark.parametrize("params,field", [
    ({"plan_tier": "gold"}, "plan_tier"), ({"sort_by": "password"}, "sort_by"),
    ({"sort_order": "up"}, "sort_order"), ({"limit": "abc"}, "limit"), ({"offset": "-1"}, "offset"),
    ({"offset": "1e3"}, "offset"), ({"offset": str(10**20)}, "offset"), ({"search": "x" * 201}, "search"),
    ({"search": "a\x00b"}, "search"),
])
async def test_list_rejects_bad_query_parameters(admin, params, field):
    err = assert_error(await admin.get("/admin/organizations", params=params), 400, "VALIDATION_ERROR")
    assert field in {d["field"] for d in err.get("details") or []}, err


async def test_list_clamps_limit(admin):
    assert (await admin.get("/admin/organizations", params={"limit": 1000})).json()["limit"] == 100
    assert (await admin.get("/admin/organizations", params={"limit": 0})).json()["limit"] == 1


# -- POST /admin/organizations ------------------------------------------------------------

async def test_create_organization_with_plan_and_key(admin, base_url):
    created = await create_org(admin, plan_tier="starter", slug=f"9{uuid.uuid4().hex[:8]}",
                               billing_email="ops@example.com")
    assert set(created) == {"organization", "api_key"}
    assert created["organization"]["plan_tier"] == "starter"
    assert created["organization"]["billing_email"] == "ops@example.com"
    assert created["api_key"]["name"] == "Initial Admin Key"
    async with httpx.AsyncClient(base_url=base_url + "/api/v1",
                                 headers={"Authorization": f"Bearer {created['api_key']['key']}"}) as c:
        assert (await c.get("/organizations")).json()[0]["id"] == created["organization"]["id"]
    assert (await create_org(admin))["organization"]["plan_tier"] == "free"


async def test_create_organization_errors(admin):
    existing = await create_org(admin)
    assert_error(await admin.post("/admin/organizations", json={"name": "Dup Name",
                                                               "slug": existing["organization"]["slug"]}),
                 409, "CONFLICT")
    for body in ({"name": "Valid", "slug": "-bad"}, {"name": "Valid", "slug": "bad-"},
                 {"name": "Valid", "slug": "Up"}, {"name": "ab", "slug": unique()},
                 {"name": "Valid", "slug": unique(), "plan_tier": "gold"},
                 {"name": "Valid", "slug": unique(), "plan_tier": "deleted"}):
        assert_error(await admin.post("/admin/organizations", json=body), 400, "VALIDATION_ERROR")


# -- GET /admin/organizations/{id} --------------------------------------------------------

async def test_get_organization_detail(admin, org: Org):
    await org.client.post("/jobs", json={"queue_name": "q", "payload": {}})
    r = await admin.get(f"/admin/organizations/{org.id}")
    assert r.status_code == 200
    detail = r.json()
    assert set(detail) == DETAIL_KEYS
    assert detail["api_keys_count"] == 1 and detail["total_jobs"] == 1
    assert detail["usage_info"]["plan"] == "enterprise"
    assert detail["usage_info"]["usage"]["active_jobs"]["current"] == 1
    assert_error(await admin.get("/admin/organizations/nope"), 404, "NOT_FOUND")
    assert_error(await admin.get("/admin/organizations/%00"), 404, "NOT_FOUND")


# -- PATCH / PUT /admin/organizations/{id} ------------------------------------------------

@pytest.mark.parametrize("verb", ["PATCH", "PUT"])
async def test_update_organization(admin, make_org, verb):
    target = await make_org(plan="free")
    r = await admin.request(verb, f"/admin/organizations/{target.id}",
                            json={"plan_tier": "pro", "billing_email": "b@example.com",
                                  "settings": {"k": "v"}, "custom_limits": {"max_queues": 3}})
    assert r.status_code == 200, r.text
    org = r.json()
    assert org["plan_tier"] == "pro" and org["billing_email"] == "b@example.com"
    assert org["settings"] == {"k": "v"} and org["custom_limits"] == {"max_queues": 3}
    # null means keep; {} clears the overrides.
    kept = (await admin.request(verb, f"/admin/organizations/{target.id}",
                                json={"plan_tier": None, "settings": None, "custom_limits": {}})).json()
    assert kept["plan_tier"] == "pro" and kept["settings"] == {"k": "v"} and kept["custom_limits"] == {}
    usage = (await target.client.get("/organizations/usage")).json()
    assert usage["plan"] == "pro" and usage["limits"]["max_queues"] == 50


async def test_custom_limits_apply_at_once(admin, make_org):
    target = await make_org(plan="free")
    assert (await target.client.post("/jobs", json={"queue_name": "q", "payload": {}})).status_code == 201
    r = await admin.patch(f"/admin/organizations/{target.id}", json={"custom_limits": {"max_active_jobs": 1}})
    assert r.status_code == 200
    assert_error(await target.client.post("/jobs", json={"queue_name": "q", "payload": {}}), 429, "QUOTA_EXCEEDED")
    await admin.patch(f"/admin/organizations/{target.id}", json={"custom_limits": {"max_active_jobs": None}})
    assert (await target.client.post("/jobs", json={"queue_name": "q", "payload": {}})).status_code == 201


@pytest.mark.parametrize("body", [
    {"plan_tier": "gold"}, {"plan_tier": "deleted"}, {"billing_email": "x"}, {"settings": [1]},
    {"custom_limits": {"max_queues": -1}}, {"custom_limits": {"max_queues": "5"}},
    {"custom_limits": {"max_queues": True}}, {"custom_limits": "none"},
])
async def test_update_organization_validation(admin, org: Org, body):
    assert_error(await admin.patch(f"/admin/organizations/{org.id}", json=body), 400, "VALIDATION_ERROR")


async def test_update_unknown_organization_is_404(admin):
    assert_error(await admin.patch("/admin/organizations/nope", json={"plan_tier": "pro"}), 404, "NOT_FOUND")


# -- DELETE /admin/organizations/{id} -----------------------------------------------------

async def test_soft_then_hard_delete(admin, make_org):
    target = await make_org()
    assert (await admin.delete(f"/admin/organizations/{target.id}")).status_code == 204
    assert (await admin.get(f"/admin/organizations/{target.id}")).json()["plan_tier"] == "deleted"
    # Soft deletion is reversible by setting a plan again.
    assert (await admin.patch(f"/admin/organizations/{target.id}", json={"plan_tier": "free"})).status_code == 200
    await target.client.post("/jobs", json={"queue_name": "q", "payload": {}})
    r = await admin.delete(f"/admin/organizations/{target.id}", params={"hard_delete": "true"})
    assert r.status_code == 204
    assert_error(await admin.get(f"/admin/organizations/{target.id}"), 404, "NOT_FOUND")
    assert_error(await target.client.get("/organizations"), 401)
    assert_error(await admin.delete("/admin/organizations/nope"), 404, "NOT_FOUND")
    assert_error(await admin.delete("/admin/organizations/nope", params={"hard_delete": "maybe"}),
                 400, "VALIDATION_ERROR")


# -- keys and usage -------------------------------------------------------------------------

async def test_admin_mints_keys_beyond_the_plan_cap(admin, make_org, base_url):
    target = await make_org(plan="free")
    for name in ("one", "two"):
        r = await admin.post(f"/admin/organizations/{target.id}/api-keys", json={"name": name})
        assert r.status_code == 201, r.text
        assert {"id", "key", "name", "created_at"} <= set(r.json()) and r.json()["name"] == name
    scoped = await admin.post(f"/admin/organizations/{target.id}/api-keys", json={"name": "s", "queues": ["a"]})
    keys = {k["id"]: k for k in (await target.client.get("/api-keys")).json()}
    assert len(keys) == 4 and keys[scoped.json()["id"]]["queues"] == ["a"]
    async with httpx.AsyncClient(base_url=base_url + "/api/v1",
                                 headers={"Authorization": f"Bearer {r.json()['key']}"}) as c:
        assert (await c.get("/organizations")).status_code == 200
    assert_error(await admin.post("/admin/organizations/nope/api-keys", json={"name": "x"}), 404, "NOT_FOUND")
    assert_error(await admin.post(f"/admin/organizations/{target.id}/api-keys", json={"name": ""}),
                 400, "VALIDATION_ERROR")


async def test_reset_usage_zeroes_jobs_today(admin, make_org):
    target = await make_org(plan="free")
    for _ in range(3):
        await target.client.post("/jobs", json={"queue_name": "q", "payload": {}})
    usage = lambda: target.client.get("/organizations/usage")  # noqa: E731
    assert (await usage()).json()["usage"]["jobs_today"]["current"] == 3
    r = await admin.post(f"/admin/organizations/{target.id}/reset-usage")
    assert r.status_code == 204 and r.content == b""
    assert (await usage()).json()["usage"]["jobs_today"]["current"] == 0
    assert_error(await admin.post("/admin/organizations/nope/reset-usage"), 404, "NOT_FOUND")


async def test_stats_and_plans(admin, org: Org):
    r = await admin.get("/admin/stats")
    assert r.status_code == 200
    stats = r.json()
    assert set(stats) == {"organizations", "jobs", "workers", "system"}
    assert set(stats["organizations"]) == {"total", "by_plan", "created_today", "created_this_week"}
    assert stats["organizations"]["total"] >= 1 and stats["organizations"]["created_today"] >= 1
    assert all(set(p) == {"plan", "count"} for p in stats["organizations"]["by_plan"])
    assert set(stats["jobs"]) == {"total_active", "pending", "processing", "completed_24h", "failed_24h"}
    assert set(stats["workers"]) == {"total", "healthy", "degraded"}
    assert stats["system"]["api_version"] == "v1" and stats["system"]["uptime_seconds"] >= 0
    plans = (await admin.get("/admin/plans")).json()
    assert [p["tier"] for p in plans] == ["free", "starter", "pro", "enterprise"]
    assert plans[0]["max_api_keys"] == 2 and plans[3]["max_jobs_per_day"] is None
