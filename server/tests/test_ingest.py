"""Incoming webhooks: custom, GitHub and Stripe ingestion into jobs, with the organization's
token, the providers' signatures, Stripe's replay window and idempotency."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import httpx
import orjson
import pytest

from conftest import Org, assert_error, start_server, stop_server

GITHUB_SECRET = "gh-test-secret"
STRIPE_SECRET = "whsec_stripe_test"


@pytest.fixture(scope="module")
def signed_server(postgres_url: str):
    """A server that knows the GitHub and Stripe secrets (the shared one has neither)."""
    srv = start_server(postgres_url, GITHUB_WEBHOOK_SECRET=GITHUB_SECRET, STRIPE_WEBHOOK_SECRET=STRIPE_SECRET)
    yield srv
    stop_server(srv)


@pytest.fixture
async def hooks(signed_server):
    async with httpx.AsyncClient(base_url=signed_server.url + "/api/v1/webhooks", timeout=30) as client:
        yield client


def github_sig(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def stripe_sig(body: bytes, t: int, secret: str = STRIPE_SECRET) -> str:
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def stripe_event(event_id: str | None = None, type_: str = "invoice.paid") -> bytes:
    return orjson.dumps({"id": event_id or f"evt_{uuid.uuid4().hex}", "type": type_, "created": int(time.time()),
                         "data": {"object": {"id": "in_1", "amount": 42}}})


async def job_of(org: Org, job_id: str) -> dict:
    r = await org.client.get(f"/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


# -- custom --------------------------------------------------------------------------------------

async def test_custom_creates_a_job_and_is_idempotent(org: Org, anon):
    url = f"/api/v1/webhooks/{org.id}/custom"
    body = {"queue_name": "incoming", "event_type": "order.placed", "payload": {"order": 7},
            "idempotency_key": "order-7", "priority": 5}
    r = await anon.post(url, json=body)
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["queue_name"], first["status"], first["created"]) == ("incoming", "pending", True)
    job = await job_of(org, first["job_id"])
    assert (job["payload"], job["priority"], job["queue_name"]) == ({"order": 7}, 5, "incoming")
    again = (await anon.post(url, json=body)).json()
    assert (again["job_id"], again["created"]) == (first["job_id"], False)


async def test_the_audit_row_commits_with_the_job_or_neither_does(org: Org, anon, pool):
    url = f"/api/v1/webhooks/{org.id}/custom"
    body = {"queue_name": "audited", "event_type": "order.audited", "payload": {}, "idempotency_key": "a-1"}
    first = (await anon.post(url, json=body)).json()
    await anon.post(url, json=body)  # an idempotent repeat writes no second row
    rows = await pool.fetch("SELECT provider, event_type, job_id FROM webhook_deliveries_in WHERE organization_id = $1",
                            org.id)
    assert [tuple(r) for r in rows] == [("custom", "order.audited", first["job_id"])]

    # A failing audit insert must take the job down with it: nothing half-written.
    fn, trigger = f"refuse_{uuid.uuid4().hex[:8]}", f"refuse_{uuid.uuid4().hex[:8]}"
    await pool.execute(f"""CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.organization_id = '{org.id}' THEN RAISE EXCEPTION 'audit refused'; END IF; RETURN NEW; END $$""")
    await pool.execute(f"CREATE TRIGGER {trigger} BEFORE INSERT ON webhook_deliveries_in "
                       f"FOR EACH ROW EXECUTE FUNCTION {fn}()")
    try:
        r = await anon.post(url, json={**body, "idempotency_key": "a-2"})
    finally:
        await pool.execute(f"DROP TRIGGER {trigger} ON webhook_deliveries_in")
        await pool.execute(f"DROP FUNCTION {fn}()")
    assert r.status_code == 500 and r.json()["code"] == "INTERNAL_ERROR", r.text
    jobs = await pool.fetch("SELECT idempotency_key FROM jobs WHERE organization_id = $1 AND queue_name = 'audited'",
                            org.id)
    assert [j["idempotency_key"] for j in jobs] == ["a-1"]


async def test_custom_requires_the_org_token_when_set(org: Org, anon):
    token = (await org.client.post("/organizations/webhook-token/regenerate")).json()["webhook_token"]
    url = f"/api/v1/webhooks/{org.id}/custom"
    body = {"queue_name": "incoming", "payload": {}}
    assert_error(await anon.post(url, json=body), 401, "UNAUTHORIZED")
    assert_error(await anon.post(url, json=body, headers={"X-Webhook-Token": token + "x"}), 401, "UNAUTHORIZED")
    r = await anon.post(url, json=body, headers={"X-Webhook-Token": token})
    assert r.status_code == 200, r.text


async def test_custom_errors(org: Org, anon):
    url = f"/api/v1/webhooks/{org.id}/custom"
    assert_error(await anon.post(url, json={"payload": {}}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post(url, json={"queue_name": "-bad", "payload": {}}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post(url, json={"queue_name": "q", "payload": {}, "priority": 101}), 400, "VALIDATION_ERROR")
    assert_error(await anon.post(url, content=b"{nope"), 400, "INVALID_JSON")
    assert_error(await anon.post(f"/api/v1/webhooks/{uuid.uuid4()}/custom", json={"queue_name": "q", "payload": {}}),
                 404, "NOT_FOUND")


async def test_provider_secrets_unset_is_not_a_500(org: Org, anon):
    """The shared server has no GitHub or Stripe secret configured."""
    r = await anon.post(f"/api/v1/webhooks/{org.id}/github", content=b"{}", headers={"X-Hub-Signature-256": github_sig(b"{}")})
    assert_error(r, 503, "SERVICE_UNAVAILABLE")
    r = await anon.post(f"/api/v1/webhooks/{org.id}/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert_error(r, 503, "SERVICE_UNAVAILABLE")


# -- github --------------------------------------------------------------------------------------

async def test_github_happy_path_and_bad_signatures(org: Org, hooks):
    body = orjson.dumps({"action": "opened", "number": 12, "repository": {"full_name": "a/b"}})
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
               "X-Hub-Signature-256": github_sig(body), "Content-Type": "application/json"}
    r = await hooks.post(f"/{org.id}/github", content=body, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["queue_name"], out["created"]) == ("github-pull_request", True)
    assert (await job_of(org, out["job_id"]))["payload"]["number"] == 12
    # The same delivery id again: the same job.
    assert (await hooks.post(f"/{org.id}/github", content=body, headers=headers)).json()["job_id"] == out["job_id"]
    for sig in (None, github_sig(body, "wrong"), "sha256=" + "0" * 64, "garbage"):
        h = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
        if sig:
            h["X-Hub-Signature-256"] = sig
        assert_error(await hooks.post(f"/{org.id}/github", content=body, headers=h), 401, "UNAUTHORIZED")
    tampered = body.replace(b"12", b"13")
    assert_error(await hooks.post(f"/{org.id}/github", content=tampered, headers=headers), 401, "UNAUTHORIZED")
    odd = {**headers, "X-GitHub-Event": "weird event/name", "X-GitHub-Delivery": str(uuid.uuid4())}
    assert (await hooks.post(f"/{org.id}/github", content=body, headers=odd)).json()["queue_name"] == "github-weird-event-name"


# -- stripe --------------------------------------------------------------------------------------

async def test_stripe_happy_path_and_idempotency(org: Org, hooks):
    body = stripe_event("evt_" + uuid.uuid4().hex, "invoice.payment_succeeded")
    r = await hooks.post(f"/{org.id}/stripe", content=body, headers={"Stripe-Signature": stripe_sig(body, int(time.time()))})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["queue_name"], out["created"]) == ("stripe-invoice-payment_succeeded", True)
    job = await job_of(org, out["job_id"])
    assert job["payload"] == {"id": "in_1", "amount": 42}
    again = await hooks.post(f"/{org.id}/stripe", content=body, headers={"Stripe-Signature": stripe_sig(body, int(time.time()))})
    assert (again.json()["job_id"], again.json()["created"]) == (out["job_id"], False)


# 62, not 61: the signature's timestamp is whole seconds (int(time.time()) drops up to 1 s), so
# +61 sits on the 60 s boundary whenever the clock is late in its second (a CI flake).
@pytest.mark.parametrize("offset", [-301, -3600, 62, 3600])
async def test_stripe_replay_window(org: Org, hooks, offset):
    body = stripe_event()
    r = await hooks.post(f"/{org.id}/stripe", content=body,
                         headers={"Stripe-Signature": stripe_sig(body, int(time.time()) + offset)})
    assert_error(r, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("offset", [-250, 0, 30])
async def test_stripe_inside_the_window_is_accepted(org: Org, hooks, offset):
    body = stripe_event()
    r = await hooks.post(f"/{org.id}/stripe", content=body,
                         headers={"Stripe-Signature": stripe_sig(body, int(time.time()) + offset)})
    assert r.status_code == 200, r.text


async def test_stripe_bad_signatures(org: Org, hooks):
    body = stripe_event()
    now = int(time.time())
    for header in (None, "", "t=abc,v1=00", f"t={now}", stripe_sig(body, now, "whsec_other"),
                   stripe_sig(body + b" ", now)):
        h = {"Stripe-Signature": header} if header is not None else {}
        assert_error(await hooks.post(f"/{org.id}/stripe", content=body, headers=h), 401, "UNAUTHORIZED")
    # Several v1 values (secret rotation): any one may match.
    good = stripe_sig(body, now).split("v1=")[1]
    r = await hooks.post(f"/{org.id}/stripe", content=body, headers={"Stripe-Signature": f"t={now},v1={'0' * 64},v1={good}"})
    assert r.status_code == 200, r.text
    assert_error(await hooks.post(f"/{uuid.uuid4()}/stripe", content=body,
                                  headers={"Stripe-Signature": stripe_sig(body, now)}), 404, "NOT_FOUND")
