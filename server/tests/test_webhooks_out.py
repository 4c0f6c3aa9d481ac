"""Outgoing webhooks end to end: CRUD and its errors, the plan cap, the write-only three-state
secret, the test endpoint, outbox deliveries signed over the raw body, retries with backoff,
auto-disable, manual retry (both paths) and tenant isolation.

Delivery to a local receiver needs loopback, so these tests run their own server (with
SPOOLED_WEBHOOK_ALLOW_LOOPBACK on) on its own database; the dispatcher tests drive run_once()
on a third database that no server dispatches from.
"""

from __future__ import annotations

import secrets
import uuid

import asyncpg
import httpx
import orjson
import pytest

from conftest import assert_error, start_server, stop_server, wait_until
from spooled_server import db
from spooled_server.loops.webhook_dispatcher import WebhookDispatcher
from spooled_server.services import webhook_signing
from spooled_server.services.organizations import create_with_key
from spooled_server.settings import Settings
from webhook_receiver import Receiver

WEBHOOK_KEYS = {"id", "organization_id", "name", "url", "events", "enabled", "failure_count",
                "last_triggered_at", "last_status", "created_at", "updated_at"}
DELIVERY_KEYS = {"id", "webhook_id", "event", "payload", "status", "status_code", "response_body", "error",
                 "attempts", "created_at", "delivered_at"}


async def fresh_database(postgres_url: str) -> str:
    name = f"spooled_wh_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    await db.migrate(url)
    return url


@pytest.fixture(scope="module")
async def loop_db(postgres_url: str):
    url = await fresh_database(postgres_url)
    pool = await db.create_pool(url, 5)
    yield url, pool
    await pool.close()


@pytest.fixture(scope="module")
def loop_server(loop_db):
    srv = start_server(loop_db[0], SPOOLED_WEBHOOK_ALLOW_LOOPBACK="true",
                       SPOOLED_WEBHOOK_DISPATCH_INTERVAL_SECS="0.2", SPOOLED_WEBHOOK_RETRY_BASE_SECS="0.05")
    yield srv
    stop_server(srv)


@pytest.fixture
async def new_org(loop_db, loop_server):
    """Organizations (with a client) on the loopback-enabled server."""
    clients = []

    async def factory(plan: str = "enterprise") -> tuple[str, httpx.AsyncClient]:
        slug = f"w-{uuid.uuid4().hex[:12]}"
        async with loop_db[1].acquire() as conn:
            created = await create_with_key(conn, name=f"Test {slug}", slug=slug, plan_tier=plan,
                                            billing_email=None, production=False)
        client = httpx.AsyncClient(base_url=loop_server.url + "/api/v1", timeout=30,
                                   headers={"Authorization": f"Bearer {created['api_key']['key']}"})
        clients.append(client)
        return created["organization"]["id"], client

    yield factory
    for c in clients:
        await c.aclose()


@pytest.fixture
async def receiver():
    r = await Receiver().start()
    yield r
    await r.stop()


async def create_hook(client: httpx.AsyncClient, **fields) -> dict:
    body = {"name": "hook", "url": "http://127.0.0.1:9/hook", "events": ["job.completed"], **fields}
    r = await client.post("/outgoing-webhooks", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def verify(req, secret: str) -> bool:
    return webhook_signing.verify(secret, int(req.headers["x-spooled-timestamp"]), req.body,
                                  req.headers["x-spooled-signature"])


# -- CRUD ------------------------------------------------------------------------------------------

async def test_create_get_list_update_delete(new_org):
    org_id, client = await new_org()
    first = await create_hook(client, name="first", secret="s3cret", events=["job.created", "job.failed"])
    assert set(first) == WEBHOOK_KEYS
    assert first["organization_id"] == org_id and first["enabled"] is True and first["failure_count"] == 0
    assert first["events"] == ["job.created", "job.failed"] and first["last_status"] is None
    second = await create_hook(client, name="second", enabled=False)
    assert second["enabled"] is False
    listed = (await client.get("/outgoing-webhooks")).json()
    assert [w["id"] for w in listed] == [second["id"], first["id"]]
    assert all("secret" not in w for w in listed)
    got = (await client.get(f"/outgoing-webhooks/{first['id']}")).json()
    assert got == first
    updated = (await client.put(f"/outgoing-webhooks/{first['id']}", json={"name": "renamed"})).json()
    assert updated["name"] == "renamed" and updated["events"] == first["events"] and updated["url"] == first["url"]
    assert "secret" not in updated
    updated = (await client.put(f"/outgoing-webhooks/{first['id']}",
                                json={"events": ["job.completed"], "url": "http://127.0.0.1:10/x", "name": None})).json()
    assert (updated["name"], updated["events"], updated["url"]) == ("renamed", ["job.completed"], "http://127.0.0.1:10/x")
    r = await client.delete(f"/outgoing-webhooks/{first['id']}")
    assert r.status_code == 204
    assert_error(await client.get(f"/outgoing-webhooks/{first['id']}"), 404, "NOT_FOUND")
    assert_error(await client.delete(f"/outgoing-webhooks/{first['id']}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("body", [
    {"url": "http://127.0.0.1:9/", "events": ["job.created"]},
    {"name": "", "url": "http://127.0.0.1:9/", "events": ["job.created"]},
    {"name": "x" * 256, "url": "http://127.0.0.1:9/", "events": ["job.created"]},
    {"name": "n", "events": ["job.created"]},
    {"name": "n", "url": "http://127.0.0.1:9/" + "a" * 2048, "events": ["job.created"]},
    {"name": "n", "url": "ftp://127.0.0.1/", "events": ["job.created"]},
    {"name": "n", "url": "not a url", "events": ["job.created"]},
    {"name": "n", "url": "http://10.0.0.1/", "events": ["job.created"]},
    {"name": "n", "url": "http://127.0.0.1:9/", "events": []},
    {"name": "n", "url": "http://127.0.0.1:9/", "events": ["job.exploded"]},
    {"name": "n", "url": "http://127.0.0.1:9/", "events": "job.created"},
    {"name": "n", "url": "http://127.0.0.1:9/", "events": ["job.created"], "secret": "s" * 256},
    {"name": "n", "url": "http://127.0.0.1:9/", "events": ["job.created"], "enabled": "yes"},
])
async def test_create_validation_errors(new_org, body):
    _, client = await new_org()
    assert_error(await client.post("/outgoing-webhooks", json=body), 400, "VALIDATION_ERROR")


async def test_update_validation_errors(new_org):
    _, client = await new_org()
    hook = await create_hook(client)
    for body in ({"events": []}, {"url": "http://169.254.169.254/"}, {"name": ""}, {"secret": "x" * 256}):
        assert_error(await client.put(f"/outgoing-webhooks/{hook['id']}", json=body), 400, "VALIDATION_ERROR")
    assert (await client.get(f"/outgoing-webhooks/{hook['id']}")).json() == hook


async def test_plan_cap_counts_enabled_webhooks_and_re_enabling(new_org):
    _, client = await new_org("free")  # max_webhooks = 1
    first = await create_hook(client)
    r = await client.post("/outgoing-webhooks", json={"name": "b", "url": "http://127.0.0.1:9/", "events": ["job.created"]})
    body = assert_error(r, 429, "QUOTA_EXCEEDED")
    assert body["details"]["resource"] == "webhooks"
    second = await create_hook(client, enabled=False)
    assert_error(await client.put(f"/outgoing-webhooks/{second['id']}", json={"enabled": True}), 429, "QUOTA_EXCEEDED")
    # Re-sending enabled:true for an already enabled webhook is not a second charge.
    assert (await client.put(f"/outgoing-webhooks/{first['id']}", json={"enabled": True})).status_code == 200
    await client.put(f"/outgoing-webhooks/{first['id']}", json={"enabled": False})
    r = await client.put(f"/outgoing-webhooks/{second['id']}", json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True


async def test_tenant_isolation(new_org):
    _, mine = await new_org()
    _, theirs = await new_org()
    hook = await create_hook(mine)
    base = f"/outgoing-webhooks/{hook['id']}"
    assert (await theirs.get("/outgoing-webhooks")).json() == []
    assert_error(await theirs.get(base), 404, "NOT_FOUND")
    assert_error(await theirs.put(base, json={"name": "x"}), 404, "NOT_FOUND")
    assert_error(await theirs.delete(base), 404, "NOT_FOUND")
    assert_error(await theirs.post(base + "/test"), 404, "NOT_FOUND")
    assert_error(await theirs.get(base + "/deliveries"), 404, "NOT_FOUND")
    assert_error(await theirs.post(base + "/retry/some-id"), 404, "NOT_FOUND")
    assert_error(await theirs.post(base + "/deliveries/some-id/retry"), 404, "NOT_FOUND")
    assert_error(await mine.post(base + "/retry/no-such-delivery"), 404, "NOT_FOUND")
    assert (await mine.get(base)).json()["name"] == "hook"


# -- the test endpoint and the write-only secret -------------------------------------------------------

async def test_test_endpoint_and_three_state_secret(new_org, receiver):
    org_id, client = await new_org()
    hook = await create_hook(client, url=receiver.url, secret="first-secret")
    path = f"/outgoing-webhooks/{hook['id']}"

    async def fire() -> object:
        r = await client.post(path + "/test")
        assert r.status_code == 200, r.text
        assert r.json()["success"] is True and r.json()["status_code"] == 200 and r.json()["error"] is None
        assert isinstance(r.json()["response_time_ms"], int)
        return receiver.requests[-1]

    req = await fire()
    assert req.method == "POST" and req.path == "/hook"
    assert req.headers["user-agent"] == "Spooled-Webhook/1.0" and req.headers["x-spooled-event"] == "webhook.test"
    assert verify(req, "first-secret")
    payload = orjson.loads(req.body)
    assert payload["event"] == "webhook.test" and payload["webhook_id"] == hook["id"]
    assert payload["organization_id"] == org_id and payload["test"] is True

    await client.put(path, json={"name": "kept"})           # omitted: kept
    assert verify(await fire(), "first-secret")
    await client.put(path, json={"secret": "second"})        # string: replaced
    assert verify(await fire(), "second")
    r = await client.put(path, json={"secret": None})        # null: cleared
    assert "secret" not in r.json()
    assert "x-spooled-signature" not in (await fire()).headers
    assert (await client.get(path + "/deliveries")).json() == []  # tests are not recorded

    receiver.status = 500
    r = (await client.post(path + "/test")).json()
    assert (r["success"], r["status_code"], r["error"]) == (False, 500, "HTTP 500")


async def test_test_endpoint_reports_an_unreachable_receiver(new_org, receiver):
    _, client = await new_org()
    await receiver.stop()
    hook = await create_hook(client, url=receiver.url)
    r = (await client.post(f"/outgoing-webhooks/{hook['id']}/test")).json()
    assert r["success"] is False and r["status_code"] is None and r["error"].startswith("Request failed")


# -- deliveries through the outbox -------------------------------------------------------------------

async def test_completed_job_delivers_exactly_one_signed_event(new_org, receiver, loop_db):
    org_id, client = await new_org()
    hook = await create_hook(client, url=receiver.url, secret="e2e-secret", events=["job.completed"])
    job_id = (await client.post("/jobs", json={"queue_name": "wh", "payload": {"n": 1}})).json()["id"]
    [job] = (await client.post("/jobs/claim", json={"queue_name": "wh", "worker_id": "w"})).json()["jobs"]
    r = await client.post(f"/jobs/{job_id}/complete", json={"worker_id": "w", "lease_id": job["lease_id"],
                                                           "result": {"ok": True}})
    assert r.status_code == 200, r.text

    async def delivered() -> bool:
        rows = (await client.get(f"/outgoing-webhooks/{hook['id']}/deliveries")).json()
        return bool(rows) and rows[0]["status"] == "success"

    await wait_until(delivered, timeout=30)
    [row] = (await client.get(f"/outgoing-webhooks/{hook['id']}/deliveries")).json()
    assert set(row) == DELIVERY_KEYS
    assert (row["event"], row["attempts"], row["status_code"], row["response_body"]) == ("job.completed", 1, 200, "ok")
    [req] = receiver.requests
    assert verify(req, "e2e-secret")
    assert req.headers["x-spooled-event"] == "job.completed"
    assert req.headers["x-spooled-delivery-id"] == row["id"] and req.headers["x-spooled-delivery-attempt"] == "1"
    payload = orjson.loads(req.body)
    assert payload == row["payload"]
    assert (payload["event"], payload["job_id"], payload["status"], payload["result"]) == (
        "job.completed", job_id, "completed", {"ok": True})
    got = (await client.get(f"/outgoing-webhooks/{hook['id']}")).json()
    assert got["last_status"] == "success" and got["last_triggered_at"] is not None


async def test_completion_webhook_is_delivered(new_org, receiver):
    _, client = await new_org()
    job_id = (await client.post("/jobs", json={"queue_name": "cw", "payload": {},
                                               "completion_webhook": receiver.url})).json()["id"]
    [job] = (await client.post("/jobs/claim", json={"queue_name": "cw", "worker_id": "w"})).json()["jobs"]
    await client.post(f"/jobs/{job_id}/complete", json={"worker_id": "w", "lease_id": job["lease_id"], "result": 7})

    async def arrived() -> bool:
        return bool(receiver.requests)

    await wait_until(arrived, timeout=30)
    payload = orjson.loads(receiver.requests[0].body)
    assert (payload["event"], payload["job_id"], payload["status"], payload["result"]) == ("job.completed", job_id, "completed", 7)
    assert "x-spooled-signature" not in receiver.requests[0].headers


async def test_failing_receiver_gets_retries_then_manual_retry_both_paths(new_org, receiver):
    _, client = await new_org()
    receiver.status = 500
    hook = await create_hook(client, url=receiver.url, events=["job.created"])
    base = f"/outgoing-webhooks/{hook['id']}"
    for _ in range(2):
        assert (await client.post("/jobs", json={"queue_name": "fail-wh", "payload": {}})).status_code == 201

    async def both_failed() -> bool:
        rows = (await client.get(base + "/deliveries")).json()
        return len(rows) == 2 and all(r["status"] == "failed" for r in rows)

    await wait_until(both_failed, timeout=60)
    rows = (await client.get(base + "/deliveries")).json()
    assert all(r["attempts"] == 5 and r["status_code"] == 500 and r["error"] == "HTTP 500" for r in rows)
    assert len(receiver.requests) == 10
    by_delivery: dict[str, list[str]] = {}
    for req in receiver.requests:
        by_delivery.setdefault(req.headers["x-spooled-delivery-id"], []).append(req.headers["x-spooled-delivery-attempt"])
    assert sorted(by_delivery.values()) == [["1", "2", "3", "4", "5"]] * 2
    got = (await client.get(base)).json()
    assert (got["failure_count"], got["last_status"], got["enabled"]) == (2, "failed", True)

    receiver.status = 200
    first, second = rows
    r = (await client.post(f"{base}/retry/{first['id']}")).json()
    assert (r["success"], r["delivery_id"], r["status"]) == (True, first["id"], "pending") and r["message"]
    r = (await client.post(f"{base}/deliveries/{second['id']}/retry")).json()
    assert (r["success"], r["delivery_id"], r["status"]) == (True, second["id"], "pending")

    async def both_succeeded() -> bool:
        rows = (await client.get(base + "/deliveries")).json()
        return all(r["status"] == "success" for r in rows)

    await wait_until(both_succeeded, timeout=30)
    got = (await client.get(base)).json()
    assert (got["failure_count"], got["last_status"]) == (0, "success")
    # A delivery that did not fail cannot be retried.
    r = (await client.post(f"{base}/retry/{first['id']}")).json()
    assert (r["success"], r["status"]) == (False, "success")


# -- the dispatcher, driven directly ---------------------------------------------------------------------

@pytest.fixture(scope="module")
async def bare_pool(postgres_url: str):
    """A database no server dispatches from, for run_once() tests."""
    pool = await db.create_pool(await fresh_database(postgres_url), 5)
    yield pool
    await pool.close()


async def bare_org(pool) -> str:
    slug = f"b-{uuid.uuid4().hex[:12]}"
    async with pool.acquire() as conn:
        created = await create_with_key(conn, name=f"Test {slug}", slug=slug, plan_tier="enterprise",
                                        billing_email=None, production=False)
    return created["organization"]["id"]


async def add_hook(pool, org_id: str, url: str, events: list[str], secret: str | None = None) -> str:
    return await pool.fetchval(
        "INSERT INTO outgoing_webhooks (organization_id, name, url, events, secret) VALUES ($1, 'h', $2, $3, $4) "
        "RETURNING id", org_id, url, events, secret)


async def add_job(pool, org_id: str, **cols) -> str:
    return await pool.fetchval(
        "INSERT INTO jobs (organization_id, queue_name, status, payload, completion_webhook) "
        "VALUES ($1, 'q', 'pending', '{}'::jsonb, $2) RETURNING id", org_id, cols.get("completion_webhook"))


def dispatcher(pool, delays: list[int] | None = None, **kw) -> WebhookDispatcher:
    settings = Settings(spooled_webhook_allow_loopback=True, spooled_webhook_dispatch_interval_secs=0.2)

    def backoff(attempt: int) -> float:
        if delays is not None:
            delays.append(attempt)
        return 0.0

    return WebhookDispatcher(pool, settings, backoff=backoff, **kw)


async def test_outbox_rows_are_written_in_the_jobs_transaction(bare_pool):
    org_id = await bare_org(bare_pool)
    quiet_org = await bare_org(bare_pool)
    hook = await add_hook(bare_pool, org_id, "http://127.0.0.1:9/", ["job.created", "job.started", "job.cancelled"])
    async with bare_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await add_job(conn, org_id)
        await tx.rollback()
    assert await bare_pool.fetchval("SELECT count(*) FROM webhook_deliveries_out WHERE webhook_id = $1", hook) == 0
    job = await add_job(bare_pool, org_id)
    await add_job(bare_pool, quiet_org, completion_webhook=None)
    await bare_pool.execute("UPDATE jobs SET status = 'processing' WHERE id = $1", job)
    await bare_pool.execute("UPDATE jobs SET updated_at = now() WHERE id = $1", job)  # no status change
    await bare_pool.execute("UPDATE jobs SET status = 'cancelled' WHERE id = $1", job)
    events = [r["event"] for r in await bare_pool.fetch(
        "SELECT event FROM webhook_deliveries_out WHERE webhook_id = $1 ORDER BY created_at, event", hook)]
    assert events == ["job.created", "job.started", "job.cancelled"]
    assert await bare_pool.fetchval("SELECT count(*) FROM webhook_deliveries_out WHERE organization_id = $1",
                                    quiet_org) == 0
    await bare_pool.execute("UPDATE outgoing_webhooks SET enabled = false WHERE id = $1", hook)
    await add_job(bare_pool, org_id)
    assert await bare_pool.fetchval("SELECT count(*) FROM webhook_deliveries_out WHERE webhook_id = $1", hook) == 3


async def test_run_once_retries_with_backoff_then_fails(bare_pool, receiver):
    receiver.status = 500
    org_id = await bare_org(bare_pool)
    hook = await add_hook(bare_pool, org_id, receiver.url, ["job.created"], secret="k")
    await add_job(bare_pool, org_id)
    delays: list[int] = []
    d = dispatcher(bare_pool, delays)
    try:
        for _ in range(7):
            await d.run_once()
    finally:
        await d.stop()
    row = await bare_pool.fetchrow("SELECT * FROM webhook_deliveries_out WHERE webhook_id = $1", hook)
    assert (row["status"], row["attempts"], row["status_code"], row["error"]) == ("failed", 5, 500, "HTTP 500")
    assert delays == [1, 2, 3, 4]
    assert [r.headers["x-spooled-delivery-attempt"] for r in receiver.requests] == ["1", "2", "3", "4", "5"]
    assert all(verify(r, "k") for r in receiver.requests)
    assert await bare_pool.fetchval("SELECT consecutive_failures FROM outgoing_webhooks WHERE id = $1", hook) == 1


async def test_twenty_failed_deliveries_disable_the_webhook(bare_pool, receiver):
    receiver.status = 503
    org_id = await bare_org(bare_pool)
    hook = await add_hook(bare_pool, org_id, receiver.url, ["job.created"])
    for _ in range(21):
        await add_job(bare_pool, org_id)
    d = dispatcher(bare_pool, max_attempts=1)
    try:
        while await d.run_once():
            pass
    finally:
        await d.stop()
    row = await bare_pool.fetchrow("SELECT enabled, last_status, consecutive_failures FROM outgoing_webhooks "
                                   "WHERE id = $1", hook)
    assert (row["enabled"], row["last_status"]) == (False, "auto_disabled")
    assert row["consecutive_failures"] >= 20
    # Once disabled, what is left waits instead of being sent.
    assert len(receiver.requests) == row["consecutive_failures"]


async def test_success_resets_the_failure_streak(bare_pool, receiver):
    org_id = await bare_org(bare_pool)
    hook = await add_hook(bare_pool, org_id, receiver.url, ["job.created"])
    await bare_pool.execute("UPDATE outgoing_webhooks SET consecutive_failures = 7, last_status = 'failed' "
                            "WHERE id = $1", hook)
    await add_job(bare_pool, org_id)
    d = dispatcher(bare_pool)
    try:
        assert await d.run_once() >= 1
    finally:
        await d.stop()
    row = await bare_pool.fetchrow("SELECT consecutive_failures, last_status FROM outgoing_webhooks WHERE id = $1", hook)
    assert (row["consecutive_failures"], row["last_status"]) == (0, "success")


async def test_a_claimed_delivery_is_not_claimed_twice(bare_pool, receiver):
    org_id = await bare_org(bare_pool)
    hook = await add_hook(bare_pool, org_id, receiver.url, ["job.created"])
    await add_job(bare_pool, org_id)
    from spooled_server.store import webhooks as store
    async with bare_pool.acquire() as a, bare_pool.acquire() as b:
        first = await store.claim_due(a, 100, 60)
        second = await store.claim_due(b, 100, 60)
    mine = [r for r in first if r["webhook_id"] == hook]
    assert len(mine) == 1 and not [r for r in second if r["webhook_id"] == hook]


async def test_dispatcher_re_resolves_and_blocks_a_name_gone_private(bare_pool):
    """Saved while it resolved publicly; at delivery it answers a private address: nothing is sent."""
    org_id = await bare_org(bare_pool)
    hook = await add_hook(bare_pool, org_id, "http://rebind.example/hook", ["job.created"])
    await add_job(bare_pool, org_id)
    sent = []

    async def private(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.8"] if host == "rebind.example" else []

    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    settings = Settings(spooled_webhook_allow_loopback=False, spooled_webhook_dispatch_interval_secs=0.2)
    d = WebhookDispatcher(bare_pool, settings, resolver=private, transport=transport, backoff=lambda n: 0.0)
    try:
        await d.run_once()
    finally:
        await d.stop()
    row = await bare_pool.fetchrow("SELECT status, attempts, error FROM webhook_deliveries_out WHERE webhook_id = $1", hook)
    assert row["attempts"] == 1 and row["status"] == "pending"
    assert row["error"].startswith("Request failed: blocked") and "private" in row["error"]
    assert sent == []


async def test_usage_counts_enabled_webhooks(new_org):
    _, client = await new_org("starter")
    await create_hook(client)
    await create_hook(client, enabled=False)
    usage = (await client.get("/organizations/usage")).json()["usage"]["webhooks"]
    assert (usage["current"], usage["limit"]) == (1, 5)
