"""Per-key request rate limits (S6): the token bucket on an injected clock, then a server of
its own with free-plan organizations (5 requests/s, burst 10)."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from conftest import assert_error, stop_server
from grpc_harness import start_grpc_server
from spooled_server.cli import BOOTSTRAP_CUSTOM_LIMITS
from spooled_server.errors import RateLimited
from spooled_server.generated import spooled_pb2 as pb
from spooled_server.generated import spooled_pb2_grpc as pb_grpc
from spooled_server.services import plans
from spooled_server.services.auth import Caller
from spooled_server.services.organizations import create_with_key
from spooled_server.services.rate_limit import RateLimiter, effective_limits

WALL = 1_800_000_000.0  # the fake epoch the unit tests start at


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakePlans:
    """Stands in for LimitsCache: plan limits by organization id."""

    def __init__(self, by_org: dict[str, dict]):
        self.by_org = by_org

    async def for_org(self, org_id: str) -> dict:
        return self.by_org[org_id]


def limiter(clock: FakeClock, plans_by_org: dict[str, dict] | None = None, **kw) -> RateLimiter:
    start = clock.now
    return RateLimiter(FakePlans(plans_by_org or {}), clock=clock,
                       wall=lambda: WALL + (clock.now - start), **kw)


def drain(rl: RateLimiter, key: str, rate: float, burst: int) -> int:
    """Takes tokens until refused; how many were granted."""
    granted = 0
    while True:
        try:
            rl.take(key, rate, burst)
        except RateLimited:
            return granted
        granted += 1


# -- unit: the bucket -------------------------------------------------------------------------

@pytest.mark.parametrize("plan_rate, plan_burst, key_rate, expected", [
    (5, 10, None, (5.0, 10)),          # the plan's rate and burst
    (5, 10, 2, (2.0, 4)),              # a key's own, lower rate keeps the plans' 2 s of burst
    (5, 10, 1, (1.0, 2)),
    (100, 200, 80, (80.0, 160)),
    (5, 10, 50, (5.0, 10)),            # a key never widens its plan
    (None, None, 7, (7.0, 14)),        # an unlimited plan with a limited key
    (None, None, None, None),          # unlimited
    (500, None, None, (500.0, 500)),   # no burst: the rate
])
def test_effective_limits(plan_rate, plan_burst, key_rate, expected):
    assert effective_limits(plan_rate, plan_burst, key_rate) == expected


def test_burst_then_refusal_with_headers_and_details():
    clock = FakeClock()
    rl = limiter(clock)
    quotas = [rl.take("k", 5, 10) for _ in range(10)]
    assert [q[1] for q in quotas] == list(range(9, -1, -1))
    assert all(q[0] == 10 for q in quotas)
    # Reset: when the bucket is full again (10 tokens missing at 5/s = 2 s).
    assert quotas[-1][2] == int(WALL + 2)
    with pytest.raises(RateLimited) as refused:
        rl.take("k", 5, 10)
    err = refused.value
    assert err.code == "RATE_LIMIT_EXCEEDED"
    assert err.headers == {"Retry-After": "1", "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0",
                           "X-RateLimit-Reset": str(int(WALL + 1))}
    assert err.details == {"retry_after_seconds": 1, "limit": 10, "remaining": 0, "reset_at": int(WALL + 1)}


def test_refill_is_gradual_and_capped_at_burst():
    clock = FakeClock()
    rl = limiter(clock)
    assert drain(rl, "k", 5, 10) == 10
    clock.advance(0.1)  # half a token
    assert drain(rl, "k", 5, 10) == 0
    clock.advance(0.1)  # one token
    assert drain(rl, "k", 5, 10) == 1
    clock.advance(0.6)  # three tokens
    assert drain(rl, "k", 5, 10) == 3
    clock.advance(3600)  # idle for an hour: still only the burst
    assert drain(rl, "k", 5, 10) == 10


def test_retry_after_is_whole_seconds_and_at_least_one():
    clock = FakeClock()
    rl = limiter(clock)
    drain(rl, "slow", 0.25, 1)  # one request every 4 s
    with pytest.raises(RateLimited) as refused:
        rl.take("slow", 0.25, 1)
    assert refused.value.headers["Retry-After"] == "4"
    clock.advance(3.5)
    with pytest.raises(RateLimited) as refused:
        rl.take("slow", 0.25, 1)
    assert refused.value.headers["Retry-After"] == "1"  # 0.5 s rounds up, never to 0
    clock.advance(0.5)
    rl.take("slow", 0.25, 1)


def test_refusals_take_nothing():
    clock = FakeClock()
    rl = limiter(clock)
    drain(rl, "k", 5, 10)
    for _ in range(100):  # a client hammering while refused does not push its wait out
        with pytest.raises(RateLimited):
            rl.take("k", 5, 10)
    clock.advance(0.2)
    rl.take("k", 5, 10)


def test_keys_are_isolated():
    clock = FakeClock()
    rl = limiter(clock)
    assert drain(rl, "a", 5, 10) == 10
    assert rl.take("b", 5, 10)[1] == 9
    assert drain(rl, "b", 5, 10) == 9
    with pytest.raises(RateLimited):
        rl.take("a", 5, 10)


def test_idle_buckets_are_evicted():
    clock = FakeClock()
    rl = limiter(clock, sweep_every=60)
    rl.take("idle", 5, 10)
    drain(rl, "busy", 0.001, 10)  # takes ~3 hours to refill
    assert len(rl) == 2
    clock.advance(61)
    rl.take("new", 5, 10)  # a new bucket past the sweep time triggers a sweep
    assert len(rl) == 2 and "idle" not in rl._buckets and "busy" in rl._buckets
    with pytest.raises(RateLimited):  # the evicted-but-not-full bucket kept its state
        rl.take("busy", 0.001, 10)


def test_bucket_count_is_bounded():
    clock = FakeClock()
    rl = limiter(clock, max_buckets=100, sweep_every=1e9)
    for i in range(1000):
        drain(rl, f"k{i}", 0.001, 2)  # none of them ever full again within the test
    assert len(rl) <= 100
    assert f"k{999}" in rl._buckets and "k0" not in rl._buckets  # the oldest went first


async def test_check_uses_plan_and_key_limits():
    clock = FakeClock()
    rl = limiter(clock, {"free": plans.plan_limits("free"),
                         "open": plans.plan_limits("enterprise", BOOTSTRAP_CUSTOM_LIMITS)})
    plan_key = Caller(org_id="free", api_key_id="k1", queues=())
    own_key = Caller(org_id="free", api_key_id="k2", queues=(), rate_limit=1)
    unlimited = Caller(org_id="open", api_key_id="k3", queues=())
    assert (await rl.check(plan_key))[:2] == (10, 9)
    assert (await rl.check(own_key))[:2] == (2, 1)
    await rl.check(own_key)
    with pytest.raises(RateLimited):
        await rl.check(own_key)
    for _ in range(10_000):
        assert await rl.check(unlimited) is None
    assert "k3" not in rl._buckets


def test_custom_limits_null_lifts_only_the_rate_limit():
    lifted = plans.plan_limits("enterprise", BOOTSTRAP_CUSTOM_LIMITS)
    assert lifted["rate_limit_requests_per_second"] is None and lifted["rate_limit_burst"] is None
    assert plans.plan_limits("enterprise")["rate_limit_requests_per_second"] == 500  # the reference
    assert plans.plan_limits("free", {"max_payload_size_bytes": None})["max_payload_size_bytes"] == 65_536
    assert plans.plan_limits("free", {"rate_limit_requests_per_second": 50})["rate_limit_requests_per_second"] == 50


# -- integration: a server of its own ---------------------------------------------------------

@pytest.fixture(scope="module")
async def limited_server(postgres_url: str):
    """A server of its own (HTTP and gRPC), so draining keys here never slows the shared
    server's tests."""
    srv = await asyncio.to_thread(start_grpc_server, postgres_url)
    try:
        yield srv
    finally:
        await asyncio.to_thread(stop_server, srv.server)


@pytest.fixture(scope="module")
def limited_url(limited_server) -> str:
    return limited_server.server.url + "/api/v1"


async def new_org(pool, plan: str = "free") -> tuple[str, str]:
    """(organization id, API key) of a fresh organization on `plan`."""
    slug = f"rl-{uuid.uuid4().hex[:12]}"
    async with pool.acquire() as conn:
        created = await create_with_key(conn, name=f"Rate {slug}", slug=slug, plan_tier=plan,
                                        billing_email=None, production=False)
    return created["organization"]["id"], created["api_key"]["key"]


def client_for(url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"})


async def until_refused(client: httpx.AsyncClient, rate: float, burst: int,
                        send=None) -> list[httpx.Response]:
    """Sends requests back to back until one is refused (every response, the 429 last), and
    checks the count against the bucket: the burst plus what refilled while sending."""
    send = send or (lambda: client.get("/jobs/stats"))
    started = time.monotonic()
    responses: list[httpx.Response] = []
    while not responses or responses[-1].status_code != 429:
        responses.append(await send())
        assert len(responses) <= burst + 50, "never refused"
    granted = len(responses) - 1
    assert burst <= granted <= burst + int(rate * (time.monotonic() - started)) + 1, granted
    assert all(r.status_code == 200 for r in responses[:-1])
    return responses


def quota_of(response: httpx.Response) -> tuple[int, int, int]:
    h = response.headers
    return int(h["X-RateLimit-Limit"]), int(h["X-RateLimit-Remaining"]), int(h["X-RateLimit-Reset"])


async def test_free_plan_key_is_refused_after_its_burst(limited_url: str, pool):
    org_id, key = await new_org(pool)
    async with client_for(limited_url, key) as client:
        responses = await until_refused(client, rate=5, burst=10)
        first, refused = responses[0], responses[-1]
        limit, remaining, reset = quota_of(first)
        assert (limit, remaining) == (10, 9) and time.time() - 1 <= reset <= time.time() + 3
        assert [quota_of(r)[1] for r in responses[:-1]][-1] == 0

        body = assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
        retry_after = int(refused.headers["Retry-After"])
        assert retry_after >= 1
        assert refused.headers["X-RateLimit-Limit"] == "10"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        reset_at = int(refused.headers["X-RateLimit-Reset"])
        assert reset_at >= int(time.time())
        assert body["details"] == {"retry_after_seconds": retry_after, "limit": 10, "remaining": 0,
                                   "reset_at": reset_at}
        assert refused.headers["X-Request-Id"]

        # A refused write has no side effect (unless a token refilled meanwhile and it was taken).
        write = await client.post("/jobs", json={"queue_name": "rl", "payload": {}})
        assert write.status_code in (201, 429), write.text
        async with pool.acquire() as conn:
            made = await conn.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1", org_id)
        assert made == (1 if write.status_code == 201 else 0)

        # After Retry-After the key works again (polled with a deadline, never past it by much).
        deadline = time.monotonic() + retry_after + 5
        while True:
            again = await client.get("/jobs/stats")
            if again.status_code == 200:
                break
            assert again.status_code == 429 and time.monotonic() < deadline, again.text
            await asyncio.sleep(0.1)
        assert quota_of(again)[0] == 10


async def test_other_organizations_are_unaffected(limited_url: str, pool):
    _, noisy_key = await new_org(pool)
    _, quiet_key = await new_org(pool)
    async with client_for(limited_url, noisy_key) as noisy, client_for(limited_url, quiet_key) as quiet:
        await until_refused(noisy, rate=5, burst=10)
        r = await quiet.get("/jobs/stats")
        assert r.status_code == 200 and quota_of(r)[:2] == (10, 9)


async def test_key_with_its_own_rate_limit(limited_url: str, pool):
    _, key = await new_org(pool)
    async with client_for(limited_url, key) as client:
        made = await client.post("/api-keys", json={"name": "slow key", "rate_limit": 1})
        assert made.status_code == 201, made.text
        async with client_for(limited_url, made.json()["key"]) as slow:
            responses = await until_refused(slow, rate=1, burst=2)
            assert quota_of(responses[0])[:2] == (2, 1)
            assert responses[-1].headers["X-RateLimit-Limit"] == "2"
        # The organization's first key keeps the plan's own bucket.
        assert quota_of(await client.get("/jobs/stats"))[0] == 10


async def test_hot_routes_are_limited_too(limited_url: str, pool):
    _, key = await new_org(pool)
    async with client_for(limited_url, key) as client:
        claims = await until_refused(client, rate=5, burst=10, send=lambda: client.post(
            "/jobs/claim", json={"queue_name": "rl", "worker_id": "w"}))
        assert quota_of(claims[0])[:2] == (10, 9)
        assert_error(claims[-1], 429, "RATE_LIMIT_EXCEEDED")


async def test_unthrottled_organization_gets_no_rate_limit_headers(limited_url: str, pool):
    org_id, key = await new_org(pool, plan="enterprise")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE organizations SET custom_limits = $2 WHERE id = $1",
                           org_id, BOOTSTRAP_CUSTOM_LIMITS)
    async with client_for(limited_url, key) as client:
        r = await client.get("/jobs/stats")
        assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers


async def test_grpc_calls_share_the_key_bucket(limited_server, limited_url: str, pool):
    """gRPC calls and REST requests of one key draw on one bucket; the refusal is
    RESOURCE_EXHAUSTED with the REST code and retry-after in the trailers."""
    _, key = await new_org(pool)
    async with grpc.aio.insecure_channel(limited_server.target) as channel:
        queues = pb_grpc.QueueServiceStub(channel)
        started, granted = time.monotonic(), 0
        while True:
            try:
                await queues.GetQueueStats(pb.GetQueueStatsRequest(queue_name="q"), metadata=(("x-api-key", key),))
            except grpc.aio.AioRpcError as err:
                refused = err
                break
            granted += 1
            assert granted <= 60, "never refused"
        assert 10 <= granted <= 10 + int(5 * (time.monotonic() - started)) + 1
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(refused.trailing_metadata())
        assert trailers["spooled-error-code"] == "RATE_LIMIT_EXCEEDED" and int(trailers["retry-after"]) >= 1
    async with client_for(limited_url, key) as client:
        r = await client.get("/jobs/stats")
        assert r.status_code in (200, 429)  # a token may have refilled meanwhile, never a fresh burst
        if r.status_code == 200:
            assert quota_of(r)[1] == 0


async def test_opening_realtime_streams_takes_from_the_bucket(limited_server, limited_url: str, pool):
    _, key = await new_org(pool)
    async with client_for(limited_url, key) as client:
        await until_refused(client, rate=5, burst=10)
        sse = await client.get("/events", params={"token": key})
        assert_error(sse, 429, "RATE_LIMIT_EXCEEDED")
        assert int(sse.headers["Retry-After"]) >= 1
    ws_url = limited_url.replace("http://", "ws://") + f"/ws?token={key}"
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(ws_url):
            pass
    assert refused.value.response.status_code == 429


async def test_an_open_sse_stream_reports_its_quota_like_any_response(limited_url: str, pool):
    # SSE authenticates through the same dependency as every route, so the stream it opens
    # carries the X-RateLimit-* headers too.
    _, key = await new_org(pool)
    async with httpx.AsyncClient(base_url=limited_url, timeout=30) as client:
        async with client.stream("GET", "/events", params={"token": key}) as stream:
            assert stream.status_code == 200
            assert quota_of(stream)[:2] == (10, 9)
