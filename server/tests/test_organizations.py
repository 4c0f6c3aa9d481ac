"""/api/v1/organizations: registration, the caller's organization, usage, slugs, webhook token."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from conftest import ADMIN_KEY, Org, assert_error, start_server, stop_server
from unthrottled import lift_rate_limit

ORG_KEYS = {"id", "name", "slug", "plan_tier", "billing_email", "settings", "custom_limits", "created_at",
            "updated_at", "stripe_customer_id", "stripe_subscription_id", "stripe_subscription_status",
            "stripe_current_period_end", "stripe_cancel_at_period_end"}
SUMMARY_KEYS = {"id", "name", "slug", "plan_tier", "created_at"}
RESOURCE_KEYS = {"jobs_today", "active_jobs", "queues", "workers", "api_keys", "schedules", "workflows",
                 "webhooks"}
PLAN_LIMIT_KEYS = {"tier", "display_name", "max_jobs_per_day", "max_active_jobs", "max_queues", "max_workers",
                   "max_api_keys", "max_schedules", "max_workflows", "max_webhooks", "max_payload_size_bytes",
                   "rate_limit_requests_per_second", "rate_limit_burst", "job_retention_days",
                   "history_retention_days"}


def new_slug(prefix: str = "o") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def register(base_url: str):
    """POST /organizations anonymously; returns (response json, client authenticated with its key)."""
    clients: list[httpx.AsyncClient] = []

    async def create(**fields) -> tuple[dict, httpx.AsyncClient]:
        body = {"name": "Acme Test", "slug": new_slug(), **fields}
        async with httpx.AsyncClient(base_url=base_url + "/api/v1") as anon:
            r = await anon.post("/organizations", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
        client = httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                                   headers={"Authorization": f"Bearer {created['api_key']['key']}"})
        clients.append(client)
        return created, client

    yield create
    for c in clients:
        await c.aclose()


# -- POST /organizations ---------------------------------------------------------------------

async def test_create_returns_organization_and_initial_key(register):
    slug = new_slug("acme")
    created, client = await register(name="Acme Inc", slug=slug, billing_email="ops@acme.example")
    org, key = created["organization"], created["api_key"]
    assert set(created) == {"organization", "api_key"}
    assert set(org) == ORG_KEYS
    assert org["slug"] == slug and org["name"] == "Acme Inc" and org["plan_tier"] == "free"
    assert org["billing_email"] == "ops@acme.example" and org["settings"] == {}
    assert org["stripe_customer_id"] is None and org["created_at"].endswith("Z")
    assert set(key) == {"id", "key", "name", "created_at"}
    assert key["name"] == "Initial Admin Key" and key["key"].startswith("sp_test_")
    # The key works, is scoped to every queue and belongs to the new organization.
    listed = await client.get("/organizations")
    assert listed.status_code == 200 and [o["id"] for o in listed.json()] == [org["id"]]
    [summary] = (await client.get("/api-keys")).json()
    assert summary["id"] == key["id"] and summary["queues"] == ["*"]


async def test_duplicate_slug_is_409(register, anon):
    created, _ = await register()
    again = await anon.post("/api/v1/organizations", json={"name": "Other", "slug": created["organization"]["slug"]})
    assert_error(again, 409, "CONFLICT")


@pytest.mark.parametrize("fields,field", [
    ({"name": "ab"}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "   "}, "name"),
    ({"name": 123}, "name"),
    ({"slug": "ab"}, "slug"),
    ({"slug": "a" * 51}, "slug"),
    ({"slug": "Upper-case"}, "slug"),
    ({"slug": "1starts-with-digit"}, "slug"),
    ({"slug": "double--hyphen"}, "slug"),
    ({"slug": "trailing-"}, "slug"),
    ({"slug": "under_score"}, "slug"),
    ({"slug": "newline\n"}, "slug"),
    ({"slug": "admin"}, "slug"),
    ({"slug": "www"}, "slug"),
    ({"billing_email": "not-an-email"}, "billing_email"),
    ({"billing_email": "a@b"}, "billing_email"),
])
async def test_create_validation(anon, fields, field):
    body = {"name": "Valid Name", "slug": new_slug(), **fields}
    r = await anon.post("/api/v1/organizations", json=body)
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert field in {d["field"] for d in err["details"]}


async def test_create_missing_fields_and_bad_json(anon):
    assert_error(await anon.post("/api/v1/organizations", json={"name": "Only Name"}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post("/api/v1/organizations", content=b"{not json",
                                 headers={"content-type": "application/json"}), 400, "INVALID_JSON")
    assert_error(await anon.post("/api/v1/organizations", json=["a"]), 400, "INVALID_JSON")
    assert_error(await anon.post("/api/v1/organizations", content=b""), 400, "INVALID_JSON")


async def test_registration_closed_needs_admin_key_and_invite_refuses(postgres_url):
    closed = await asyncio.to_thread(start_server, postgres_url, REGISTRATION_MODE="closed",
                                     RUST_ENV="production")
    invite = await asyncio.to_thread(start_server, postgres_url, REGISTRATION_MODE="invite")
    try:
        async with httpx.AsyncClient(base_url=closed.url + "/api/v1") as c:
            body = {"name": "Closed Co", "slug": new_slug()}
            assert_error(await c.post("/organizations", json=body), 403, "ACCESS_DENIED")
            assert_error(await c.post("/organizations", json=body, headers={"X-Admin-Key": "wrong"}),
                         403, "ACCESS_DENIED")
            # Refused before validation: an invalid body without the key is still 403.
            assert_error(await c.post("/organizations", json={}), 403, "ACCESS_DENIED")
            ok = await c.post("/organizations", json=body, headers={"X-Admin-Key": ADMIN_KEY})
            assert ok.status_code == 201, ok.text
            # RUST_ENV=production mints live keys.
            assert ok.json()["api_key"]["key"].startswith("sp_live_")
        async with httpx.AsyncClient(base_url=invite.url + "/api/v1") as c:
            body = {"name": "Invite Co", "slug": new_slug()}
            assert_error(await c.post("/organizations", json=body), 403, "ACCESS_DENIED")
            assert_error(await c.post("/organizations", json=body, headers={"X-Admin-Key": ADMIN_KEY}),
                         403, "ACCESS_DENIED")
    finally:
        await asyncio.to_thread(stop_server, closed)
        await asyncio.to_thread(stop_server, invite)


# -- GET /organizations, GET /organizations/{id} ---------------------------------------------

async def test_list_contains_only_the_callers_organization(org: Org, make_org):
    await make_org()
    r = await org.client.get("/organizations")
    assert r.status_code == 200
    [only] = r.json()
    assert set(only) == SUMMARY_KEYS and only["id"] == org.id and only["slug"] == org.slug


async def test_get_own_organization_and_404_for_others(org: Org, make_org):
    other = await make_org()
    r = await org.client.get(f"/organizations/{org.id}")
    assert r.status_code == 200 and set(r.json()) == ORG_KEYS and r.json()["id"] == org.id
    assert_error(await org.client.get(f"/organizations/{other.id}"), 404, "NOT_FOUND")
    assert_error(await org.client.get("/organizations/no-such-org"), 404, "NOT_FOUND")
    assert_error(await org.client.get("/organizations/%00"), 404, "NOT_FOUND")


async def test_organization_routes_need_authentication(anon, org: Org):
    for method, path in [("GET", "/organizations"), ("GET", "/organizations/usage"),
                         ("GET", f"/organizations/{org.id}"), ("GET", "/organizations/webhook-token")]:
        assert_error(await anon.request(method, "/api/v1" + path), 401, "UNAUTHORIZED")


# -- PUT /organizations/{id} --------------------------------------------------------------

async def test_update_name_email_and_settings(org: Org):
    r = await org.client.put(f"/organizations/{org.id}", json={
        "name": "Renamed Org", "billing_email": "bill@example.com", "settings": {"theme": "dark"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == ORG_KEYS
    assert body["name"] == "Renamed Org" and body["billing_email"] == "bill@example.com"
    assert body["settings"] == {"theme": "dark"}
    # settings replaces the whole object; absent fields stay; null billing_email clears it.
    r = await org.client.put(f"/organizations/{org.id}", json={"settings": {"lang": "en"}, "billing_email": None})
    assert r.json()["settings"] == {"lang": "en"} and r.json()["name"] == "Renamed Org"
    assert r.json()["billing_email"] is None
    # A null name means "leave as is".
    assert (await org.client.put(f"/organizations/{org.id}", json={"name": None})).json()["name"] == "Renamed Org"


async def test_update_keeps_webhook_token_when_settings_are_replaced(org: Org):
    token = (await org.client.post("/organizations/webhook-token/regenerate")).json()["webhook_token"]
    r = await org.client.put(f"/organizations/{org.id}",
                             json={"settings": {"a": 1, "webhook_token": "attacker-chosen"}})
    assert r.json()["settings"] == {"a": 1, "webhook_token": token}
    assert (await org.client.get("/organizations/webhook-token")).json()["webhook_token"] == token


@pytest.mark.parametrize("body", [
    {"name": "ab"}, {"billing_email": "nope"}, {"settings": [1, 2]}, {"settings": "x"},
    {"settings": {"big": "x" * (64 * 1024)}},
])
async def test_update_validation(org: Org, body):
    assert_error(await org.client.put(f"/organizations/{org.id}", json=body), 400, "VALIDATION_ERROR")


async def test_update_other_organization_is_404(org: Org, make_org):
    other = await make_org()
    assert_error(await org.client.put(f"/organizations/{other.id}", json={"name": "Hijack"}), 404, "NOT_FOUND")


# -- DELETE /organizations/{id} -----------------------------------------------------------

async def test_delete_refused_while_jobs_are_active_then_succeeds(make_org, pool):
    doomed = await make_org()
    job = (await doomed.client.post("/jobs", json={"queue_name": "q", "payload": {}})).json()["id"]
    conflict = assert_error(await doomed.client.delete(f"/organizations/{doomed.id}"), 409, "CONFLICT")
    assert conflict["details"]["active_jobs"] == 1
    assert (await doomed.client.delete(f"/jobs/{job}")).status_code == 204
    r = await doomed.client.delete(f"/organizations/{doomed.id}")
    assert r.status_code == 204 and r.content == b""
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM organizations WHERE id = $1", doomed.id) == 0
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1", doomed.id) == 0
    # Its key stopped working on the very next request.
    assert_error(await doomed.client.get("/organizations"), 401)


async def test_delete_refused_while_workers_are_live(make_org, pool):
    doomed = await make_org()
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO workers (id, organization_id, queue_name, hostname, status)"
                           " VALUES ($1, $2, 'q', 'h', 'draining')", str(uuid.uuid4()), doomed.id)
    err = assert_error(await doomed.client.delete(f"/organizations/{doomed.id}"), 409, "CONFLICT")
    assert err["details"]["live_workers"] == 1
    async with pool.acquire() as conn:
        await conn.execute("UPDATE workers SET status = 'offline' WHERE organization_id = $1", doomed.id)
    assert (await doomed.client.delete(f"/organizations/{doomed.id}")).status_code == 204


async def test_delete_other_organization_is_404(org: Org, make_org):
    other = await make_org()
    assert_error(await org.client.delete(f"/organizations/{other.id}"), 404, "NOT_FOUND")
    assert (await other.client.get(f"/organizations/{other.id}")).status_code == 200


# -- GET /organizations/{id}/members -------------------------------------------------------

async def test_members_are_synthesized_from_active_keys(org: Org):
    await org.client.put(f"/organizations/{org.id}", json={"billing_email": "team@example.com"})
    scoped = (await org.client.post("/api-keys", json={"name": "scoped", "queues": ["emails"]})).json()
    revoked = (await org.client.post("/api-keys", json={"name": "gone"})).json()
    await org.client.delete(f"/api-keys/{revoked['id']}")
    r = await org.client.get(f"/organizations/{org.id}/members")
    assert r.status_code == 200
    members = {m["id"]: m for m in r.json()}
    assert set(members) == {org.key_id, scoped["id"]}
    owner, member = members[org.key_id], members[scoped["id"]]
    assert set(owner) == {"id", "user_id", "email", "name", "role", "joined_at", "invited_by"}
    assert owner["role"] == "owner" and owner["user_id"] == org.key_id and owner["email"] == "team@example.com"
    assert member["role"] == "member" and member["name"] == "scoped"


async def test_members_of_other_organization_is_404(org: Org, make_org):
    other = await make_org()
    assert_error(await org.client.get(f"/organizations/{other.id}/members"), 404, "NOT_FOUND")


# -- GET /organizations/usage ---------------------------------------------------------------

async def test_usage_report_shape_counts_and_warnings(make_org, pool):
    free = await make_org(plan="free")
    await lift_rate_limit(pool, free.id)  # more requests than the free request rate's burst
    for _ in range(5):
        assert (await free.client.post("/jobs", json={"queue_name": "q", "payload": {}})).status_code == 201
    r = await free.client.get("/organizations/usage")
    assert r.status_code == 200
    usage = r.json()
    assert set(usage) == {"plan", "plan_display_name", "limits", "usage", "warnings"}
    assert usage["plan"] == "free" and usage["plan_display_name"] == "Free"
    assert set(usage["limits"]) == PLAN_LIMIT_KEYS
    assert set(usage["usage"]) == RESOURCE_KEYS
    for item in usage["usage"].values():
        assert set(item) == {"current", "limit", "percentage", "is_disabled"}
    u = usage["usage"]
    assert u["active_jobs"] == {"current": 5, "limit": 10, "percentage": 50.0, "is_disabled": False}
    assert u["jobs_today"]["current"] == 5 and u["jobs_today"]["limit"] == 1000
    assert u["api_keys"]["current"] == 1 and u["api_keys"]["limit"] == 2
    # Free plans disable workflows (limit 0); resources without tables yet count 0.
    assert u["workflows"] == {"current": 0, "limit": 0, "percentage": None, "is_disabled": True}
    assert u["schedules"]["current"] == 0 and u["webhooks"]["current"] == 0
    # On the free plan warnings start at 50 %.
    warned = {w["resource"]: w for w in usage["warnings"]}
    assert warned["active_jobs"]["severity"] == "warning" and warned["api_keys"]["severity"] == "warning"
    assert "jobs_today" not in warned
    for _ in range(5):
        await free.client.post("/jobs", json={"queue_name": "q", "payload": {}})
    warned = {w["resource"]: w for w in (await free.client.get("/organizations/usage")).json()["warnings"]}
    assert warned["active_jobs"]["severity"] == "critical" and set(warned["active_jobs"]) == {
        "resource", "message", "severity"}


async def test_usage_on_unlimited_plan_has_null_limits_and_no_warnings(org: Org):
    usage = (await org.client.get("/organizations/usage")).json()
    assert usage["plan"] == "enterprise"
    assert usage["usage"]["active_jobs"]["limit"] is None and usage["usage"]["active_jobs"]["percentage"] is None
    assert usage["warnings"] == []


# -- check-slug / generate-slug ------------------------------------------------------------

async def test_check_slug(anon, org: Org):
    free_slug = new_slug("free")
    r = await anon.get("/api/v1/organizations/check-slug", params={"slug": free_slug})
    assert r.status_code == 200
    assert r.json() == {"slug": free_slug, "available": True, "valid": True, "error": None, "suggestion": None}
    taken = (await anon.get("/api/v1/organizations/check-slug", params={"slug": org.slug})).json()
    assert taken["valid"] is True and taken["available"] is False and taken["error"]
    assert taken["suggestion"] == f"{org.slug}-2"
    bad = (await anon.get("/api/v1/organizations/check-slug", params={"slug": "Bad_Slug!"})).json()
    assert bad["valid"] is False and bad["available"] is False and bad["error"]
    assert bad["suggestion"].startswith("bad-slug")
    reserved = (await anon.get("/api/v1/organizations/check-slug", params={"slug": "admin"})).json()
    assert reserved["valid"] is False and "reserved" in reserved["error"]
    assert reserved["suggestion"].startswith("admin-org")
    # Works with credentials too.
    assert (await org.client.get("/organizations/check-slug", params={"slug": free_slug})).status_code == 200


async def test_check_slug_needs_the_parameter(anon):
    assert_error(await anon.get("/api/v1/organizations/check-slug"), 400, "VALIDATION_ERROR")
    assert_error(await anon.get("/api/v1/organizations/check-slug", params={"slug": "x" * 201}),
                 400, "VALIDATION_ERROR")
    # NUL never reaches the route: the request middleware refuses it for every query string.
    assert_error(await anon.get("/api/v1/organizations/check-slug?slug=ab%00cd"), 400, "VALIDATION_ERROR")


async def test_generate_slug(anon, register):
    word = f"Zeta{uuid.uuid4().hex[:8]}"
    r = await anon.post("/api/v1/organizations/generate-slug", json={"name": f"{word} Inc."})
    assert r.status_code == 200 and r.json() == {"slug": f"{word.lower()}-inc"}
    await register(slug=f"{word.lower()}-inc")
    assert (await anon.post("/api/v1/organizations/generate-slug",
                            json={"name": f"{word} Inc."})).json() == {"slug": f"{word.lower()}-inc-2"}


@pytest.mark.parametrize("name,starts", [
    ("Café Été", "cafe-ete"), ("日本語", "org"), ("42 Labs", "org-42-labs"), ("ab", "ab-org"),
    ("Admin", "admin-org"), ("x" * 100, "x" * 45),
])
async def test_generate_slug_always_yields_a_valid_slug(anon, name, starts):
    r = await anon.post("/api/v1/organizations/generate-slug", json={"name": name})
    slug = r.json()["slug"]
    assert slug.startswith(starts) and 3 <= len(slug) <= 50
    check = (await anon.get("/api/v1/organizations/check-slug", params={"slug": slug})).json()
    assert check["valid"] is True


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": 5}])
async def test_generate_slug_validation(anon, body):
    assert_error(await anon.post("/api/v1/organizations/generate-slug", json=body), 400, "VALIDATION_ERROR")


# -- webhook token -------------------------------------------------------------------------

async def test_webhook_token_lifecycle(org: Org, base_url: str):
    url = f"{base_url}/api/v1/webhooks/{org.id}/custom"
    r = await org.client.get("/organizations/webhook-token")
    assert r.status_code == 200 and r.json() == {"webhook_token": None, "webhook_url": url}
    first = (await org.client.post("/organizations/webhook-token/regenerate")).json()
    assert isinstance(first["webhook_token"], str) and len(first["webhook_token"]) >= 32
    assert first["webhook_url"] == url
    assert (await org.client.get("/organizations/webhook-token")).json() == first
    settings = (await org.client.get(f"/organizations/{org.id}")).json()["settings"]
    assert settings["webhook_token"] == first["webhook_token"]
    second = (await org.client.post("/organizations/webhook-token/regenerate")).json()
    assert second["webhook_token"] != first["webhook_token"]
    cleared = await org.client.post("/organizations/webhook-token/clear")
    assert cleared.status_code == 200 and cleared.json() == {"webhook_token": None, "webhook_url": url}
    assert "webhook_token" not in (await org.client.get(f"/organizations/{org.id}")).json()["settings"]


async def test_webhook_token_clear_accepts_confirm_body(org: Org):
    await org.client.post("/organizations/webhook-token/regenerate")
    r = await org.client.post("/organizations/webhook-token/clear", json={"confirm": True})
    assert r.status_code == 200 and r.json()["webhook_token"] is None
    assert_error(await org.client.post("/organizations/webhook-token/clear", content=b"{oops",
                                       headers={"content-type": "application/json"}), 400, "INVALID_JSON")
    assert_error(await org.client.post("/organizations/webhook-token/clear", json={"confirm": "yes"}),
                 400, "VALIDATION_ERROR")
