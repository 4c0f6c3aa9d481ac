"""Bad input found by property-based fuzzing (schemathesis against openapi/spooled.yaml): each
case used to end in a 500 or an answer the contract does not allow, and must now be a clear 4xx
error envelope."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from urllib.parse import quote

import httpx
import orjson
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from conftest import Org, assert_error, start_server, stop_server

GITHUB_SECRET = "gh-regression-secret"
STRIPE_SECRET = "whsec_regression"


@pytest.fixture(scope="module")
def signed_server(postgres_url: str):
    """A server that knows the GitHub and Stripe secrets and allows one WebSocket per org."""
    srv = start_server(postgres_url, GITHUB_WEBHOOK_SECRET=GITHUB_SECRET,
                       STRIPE_WEBHOOK_SECRET=STRIPE_SECRET, SPOOLED_WS_MAX_PER_ORG="1")
    yield srv
    stop_server(srv)


@pytest.fixture
async def hooks(signed_server):
    async with httpx.AsyncClient(base_url=signed_server.url + "/api/v1/webhooks", timeout=30) as client:
        yield client


def github_headers(body: bytes) -> dict[str, str]:
    sig = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": sig, "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()), "Content-Type": "application/json"}


def stripe_headers(body: bytes) -> dict[str, str]:
    t = int(time.time())
    sig = hmac.new(STRIPE_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={sig}", "Content-Type": "application/json"}


async def no_jobs(org: Org) -> None:
    r = await org.client.get("/jobs")
    assert r.status_code == 200 and r.json() == [], r.text


# -- incoming webhooks: a null payload hit the jobs.payload NOT NULL constraint (500) ----------

async def test_custom_ingest_null_payload_is_a_400(org: Org, anon):
    r = await anon.post(f"/api/v1/webhooks/{org.id}/custom", json={"queue_name": "q", "payload": None})
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "payload", body
    await no_jobs(org)


async def test_stripe_ingest_null_data_object_is_a_400(org: Org, hooks):
    raw = orjson.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid", "created": int(time.time()),
                        "data": {"object": None}})
    body = assert_error(await hooks.post(f"/{org.id}/stripe", content=raw, headers=stripe_headers(raw)),
                        400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "data.object", body
    await no_jobs(org)


async def test_github_ingest_null_body_is_a_400(org: Org, hooks):
    raw = b"null"
    assert_error(await hooks.post(f"/{org.id}/github", content=raw, headers=github_headers(raw)),
                 400, "VALIDATION_ERROR")
    await no_jobs(org)


@pytest.mark.parametrize("raw", [b'{"a": "x\\u0000y"}', b'{"x\\u0000": 1}', b'["\\u0000"]'])
async def test_github_ingest_nul_character_is_a_400(org: Org, hooks, raw):
    """jsonb cannot hold U+0000; the custom route refused it already, GitHub's did not."""
    assert_error(await hooks.post(f"/{org.id}/github", content=raw, headers=github_headers(raw)),
                 400, "VALIDATION_ERROR")
    await no_jobs(org)


# -- /api/v1/ws over plain HTTP: the router answered 404 "Route not found" -----------------------

async def test_websocket_route_without_upgrade_is_a_400(org: Org, anon):
    assert_error(await anon.get("/api/v1/ws"), 400, "BAD_REQUEST")
    assert_error(await anon.get("/api/v1/ws", params={"queue": "q"},
                                headers={"Authorization": f"Bearer {org.api_key}"}), 400, "BAD_REQUEST")
    # A known route with the wrong method is a 405, as everywhere else.
    assert_error(await anon.post("/api/v1/ws"), 405, "METHOD_NOT_ALLOWED")


async def test_websocket_connection_cap_uses_a_contract_error_code(org: Org, signed_server):
    """The cap answered code RATE_LIMITED, which is not in the contract's ErrorCode list."""
    url = signed_server.url.replace("http://", "ws://") + f"/api/v1/ws?token={org.api_key}"
    async with websockets.connect(url, ping_interval=None):
        with pytest.raises(InvalidStatus) as err:
            async with websockets.connect(url, ping_interval=None):
                pass
    response = err.value.response
    assert response.status_code == 429
    assert orjson.loads(response.body)["code"] == "RATE_LIMIT_EXCEEDED"


# -- SSE /events/queues/{name}: an invalid queue name streamed stats instead of the 400 ---------

@pytest.mark.parametrize("name", ["-bad", ".hidden", "a" * 101, "sp ace", "q*"])
async def test_queue_event_stream_with_invalid_queue_name_is_a_400(org: Org, anon, name):
    # Streamed, so the old behaviour (an endless 200 event stream) fails fast instead of hanging.
    async with anon.stream("GET", f"/api/v1/events/queues/{quote(name, safe='')}",
                           headers={"Authorization": f"Bearer {org.api_key}"}) as r:
        assert r.status_code == 400, r.status_code
        await r.aread()
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "name", body


async def test_queue_event_stream_checks_auth_before_the_name(anon):
    assert_error(await anon.get("/api/v1/events/queues/-bad"), 401, "UNAUTHORIZED")


# -- GET /outgoing-webhooks/{id}/deliveries ignored its documented status/limit/offset -----------

async def test_webhook_deliveries_honour_status_limit_and_offset(org: Org, pool):
    r = await org.client.post("/outgoing-webhooks", json={"name": "w", "url": "https://93.184.216.34/hook",
                                                          "events": ["job.completed"]})
    assert r.status_code == 201, r.text
    hook_id = r.json()["id"]
    async with pool.acquire() as conn:
        for i, status in enumerate(["success", "failed", "success", "failed", "success"]):
            await conn.execute(
                """INSERT INTO webhook_deliveries_out (webhook_id, organization_id, event, payload, target_url,
                                                       status, attempts, created_at)
                   VALUES ($1, $2, 'job.completed', '{}'::jsonb, 'https://93.184.216.34/hook', $3, 1,
                           now() - make_interval(secs => $4))""", hook_id, org.id, status, 10 - i)
    base = f"/outgoing-webhooks/{hook_id}/deliveries"
    everything = (await org.client.get(base)).json()
    assert len(everything) == 5
    failed = (await org.client.get(base, params={"status": "failed"})).json()
    assert [d["status"] for d in failed] == ["failed", "failed"]
    assert len((await org.client.get(base, params={"limit": 2})).json()) == 2
    page = (await org.client.get(base, params={"limit": 2, "offset": 2})).json()
    assert [d["id"] for d in page] == [d["id"] for d in everything[2:4]]
    assert len((await org.client.get(base, params={"limit": 1000})).json()) == 5  # clamped, not refused
    assert_error(await org.client.get(base, params={"status": "bogus"}), 400, "VALIDATION_ERROR")
    assert_error(await org.client.get(base, params={"offset": -1}), 400, "VALIDATION_ERROR")
