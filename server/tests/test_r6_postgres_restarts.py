"""R6 at CI size: PostgreSQL restarted twice and crashed once under load.

A producer enqueues ~50 jobs/s (each with its own idempotency key, retried until acked) and four
HTTP workers claim and complete, while PostgreSQL is restarted (`pg_ctl restart -m fast`) twice
and then stopped with `-m immediate` and started again (crash recovery). The server process is
never restarted. Pass (reliability-scenarios.md, R6):
- nothing acked is lost, including enqueues acked just before the crash; no job completes twice;
- during outages the server answers 503 with the error envelope and Retry-After, never another
  5xx, and always within 5 s;
- /health/ready is not ready during an outage and ready after it; the process id never changes;
- after the last recovery a long-polling claimer on an idle queue gets a new job within 1 s (the
  LISTEN connection came back; the fallback re-check would take 5 s);
- every job completes within 60 s of the last recovery; the server's connections in
  pg_stat_activity go back to at most its pool size (plus its listeners).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from conftest import start_server, stop_server, wait_until
from spooled_server import db
from spooled_server.embedded_pg import EmbeddedPostgres
from spooled_server.services.organizations import create_with_key

RATE = 50                # jobs enqueued per second
WORKERS = 4
POOL_SIZE = 10           # DATABASE_MAX_CONNECTIONS of the server under test
ANSWER_WITHIN = 5.0      # seconds: the longest any request may take, outage or not
QUEUE = "r6"
LEASE = 5                # seconds: a job whose complete went unanswered comes back this soon


@dataclass
class Observed:
    acked: set[str] = field(default_factory=set)          # job ids the server confirmed created
    completions: Counter = field(default_factory=Counter)  # job id -> completes answered 200
    unavailable: int = 0                                   # 503 answers
    bad: list[str] = field(default_factory=list)           # anything R6 forbids
    slow: list[float] = field(default_factory=list)        # answers slower than ANSWER_WITHIN


def judge(seen: Observed, what: str, response: httpx.Response | None, took: float) -> None:
    """Records the answer's class; a 503 must carry the envelope and Retry-After."""
    if took > ANSWER_WITHIN:
        seen.slow.append(took)
    if response is None:
        return
    if response.status_code == 503:
        seen.unavailable += 1
        body = response.json()
        if body.get("code") != "SERVICE_UNAVAILABLE" or "retry-after" not in response.headers:
            seen.bad.append(f"{what}: 503 without the envelope or Retry-After: {response.text[:200]}")
    elif response.status_code >= 500:
        seen.bad.append(f"{what}: {response.status_code} {response.text[:200]}")


async def call(client: httpx.AsyncClient, seen: Observed, what: str, method: str, url: str,
               **kwargs) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError:
        response = None  # the server itself never went away; count only what it answered
    judge(seen, what, response, time.monotonic() - started)
    return response


async def produce(client: httpx.AsyncClient, seen: Observed, stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        key = f"r6-{n}"
        while True:  # an unanswered or refused enqueue is retried with the same key
            r = await call(client, seen, "enqueue", "POST", "/jobs", json={
                "queue_name": QUEUE, "payload": {"n": n}, "idempotency_key": key})
            if r is not None and r.status_code in (200, 201):
                seen.acked.add(r.json()["id"])
                break
            await asyncio.sleep(0.1)
        n += 1
        await asyncio.sleep(1 / RATE)


async def work(client: httpx.AsyncClient, seen: Observed, name: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        r = await call(client, seen, "claim", "POST", "/jobs/claim", json={
            "queue_name": QUEUE, "worker_id": name, "limit": 5, "wait_ms": 1000, "lease_duration_secs": LEASE})
        if r is None or r.status_code != 200:
            await asyncio.sleep(0.1)
            continue
        for job in r.json()["jobs"]:
            done = await call(client, seen, "complete", "POST", f"/jobs/{job['id']}/complete", json={
                "worker_id": name, "lease_id": job["lease_id"], "result": {"by": name}})
            if done is not None and done.status_code == 200:
                seen.completions[job["id"]] += 1
            # Anything else (503, no answer, 409 after the lease moved on) leaves the job to
            # come back after its lease; the oracle at the end checks that it did.


async def outage(pg: EmbeddedPostgres, anon: httpx.AsyncClient, mode: str) -> bool:
    """Stops PostgreSQL (`fast` or `immediate`), checks /health/ready says not ready, starts it
    again. Returns whether not-ready was observed."""
    await asyncio.to_thread(pg.stop, mode)
    not_ready = False
    try:
        for _ in range(3):
            r = await anon.get("/health/ready")
            not_ready = not_ready or r.status_code == 503
    except httpx.TransportError:
        pass
    await asyncio.to_thread(pg.start)
    return not_ready


async def metric(anon: httpx.AsyncClient, name: str) -> float:
    text = (await anon.get("/metrics")).text
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


async def gauge(anon: httpx.AsyncClient, name: str, value: float) -> bool:
    return await metric(anon, name) == value


async def idle_claim_wakes(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> float:
    """Seconds from enqueueing into an idle queue to a long-polling claim there returning it."""
    before = await metric(anon, "spooled_claims_waiting")
    waiter = asyncio.create_task(api.post("/jobs/claim", json={
        "queue_name": "r6-idle", "worker_id": "idle", "wait_ms": 8000}))
    await wait_until(lambda: _more(anon, before), timeout=10, interval=0.02)
    enqueued = time.monotonic()
    created = await api.post("/jobs", json={"queue_name": "r6-idle", "payload": {}})
    assert created.status_code == 201, f"enqueue after recovery: {created.status_code} {created.text}"
    claimed = await waiter
    took = time.monotonic() - enqueued
    assert claimed.status_code == 200, f"claim after recovery: {claimed.status_code} {claimed.text}"
    assert [j["id"] for j in claimed.json()["jobs"]] == [created.json()["id"]]
    return took


async def _more(anon: httpx.AsyncClient, before: float) -> bool:
    return await metric(anon, "spooled_claims_waiting") > before


async def test_r6_postgres_restarts_and_a_crash_lose_nothing(tmp_path: Path):
    pg = EmbeddedPostgres(tmp_path / "pg")
    url = await asyncio.to_thread(pg.start)
    server = None
    try:
        await db.migrate(url)
        conn = await asyncpg.connect(url)
        try:
            created = await create_with_key(conn, name="R6", slug="r6", plan_tier="enterprise",
                                            billing_email=None, production=False)
        finally:
            await conn.close()
        key = created["api_key"]["key"]
        server = await asyncio.to_thread(start_server, url, DATABASE_MAX_CONNECTIONS=str(POOL_SIZE),
                                         SPOOLED_REAPER_INTERVAL_SECS="0.5")
        pid = server.process.pid
        seen = Observed()
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=server.url + "/api/v1", timeout=10, limits=limits,
                                     headers={"Authorization": f"Bearer {key}"}) as api, \
                httpx.AsyncClient(base_url=server.url, timeout=10) as anon:
            load = [asyncio.create_task(produce(api, seen, stop))]
            load += [asyncio.create_task(work(api, seen, f"w{i}", stop)) for i in range(WORKERS)]
            not_ready = []
            for mode in ("fast", "fast", "immediate"):
                await asyncio.sleep(4)  # pacing: load runs between the outages (not a synchronisation)
                not_ready.append(await outage(pg, anon, mode))
            recovered = time.monotonic()

            # Right after recovery, and again once the server says it LISTENs again: a
            # long-polling claim on an idle queue wakes for a new job within 1 s (the fallback
            # re-check would take 5 s).
            woke_after = [await idle_claim_wakes(api, anon)]
            await wait_until(lambda: gauge(anon, "spooled_wake_listener_connected", 1), timeout=10, interval=0.05)
            woke_after.append(await idle_claim_wakes(api, anon))

            await asyncio.sleep(2)  # pacing: some load after the last recovery too
            stop.set()
            await asyncio.wait_for(asyncio.gather(*load), 30)

            async def all_done() -> bool:
                async with api_conn(url) as c:
                    left = await c.fetchval(
                        "SELECT count(*) FROM jobs WHERE queue_name = $1 AND status <> 'completed'", QUEUE)
                if left:  # jobs whose complete went unanswered come back after their lease
                    await drain(api, seen)
                return left == 0
            await wait_until(all_done, timeout=60, interval=0.5)
            finished_after = time.monotonic() - recovered

        async with api_conn(url) as c:
            rows = await c.fetch("SELECT id, status FROM jobs WHERE queue_name = $1", QUEUE)
            per_key = await c.fetchval(
                """SELECT count(*) FROM (SELECT idempotency_key FROM jobs WHERE queue_name = $1
                   GROUP BY idempotency_key HAVING count(*) > 1) d""", QUEUE)
            connections = await c.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")

        in_db = {r["id"] for r in rows}
        print(f"\nR6: {len(seen.acked)} jobs acked, {seen.unavailable} answers 503, idle claims woke "
              f"{', '.join(f'{w * 1000:.0f}' for w in woke_after)} ms after the enqueue, all done "
              f"{finished_after:.1f} s after recovery, {connections} connections at the end")
        assert seen.bad == [], f"{seen.bad[:5]}\n{server.log_tail(6000)}"
        assert seen.slow == [], f"answers slower than {ANSWER_WITHIN} s: {seen.slow[:5]}"
        assert seen.unavailable > 0, "no outage was observed: the test did not test anything"
        assert all(not_ready), f"/health/ready during each outage: {not_ready}"
        assert server.process.poll() is None and server.process.pid == pid
        assert max(woke_after) < 1.0, f"idle claims woke {woke_after} s after the enqueue"
        assert seen.acked <= in_db, f"lost: {sorted(seen.acked - in_db)[:5]}"
        assert all(r["status"] == "completed" for r in rows)
        assert max(seen.completions.values()) == 1, "a job was completed twice"
        assert per_key == 0
        assert connections <= POOL_SIZE + 3  # the pool, plus the LISTEN connections
    finally:
        if server is not None:
            await asyncio.to_thread(stop_server, server)
        await asyncio.to_thread(pg.stop)


class api_conn:
    """One short-lived connection for the oracle's queries."""

    def __init__(self, url: str):
        self.url = url

    async def __aenter__(self) -> asyncpg.Connection:
        self.conn = await asyncpg.connect(self.url)
        return self.conn

    async def __aexit__(self, *exc) -> None:
        await self.conn.close()


async def drain(api: httpx.AsyncClient, seen: Observed) -> None:
    """One claim-and-complete pass for jobs that came back after the load stopped."""
    r = await api.post("/jobs/claim", json={"queue_name": QUEUE, "worker_id": "drain", "limit": 100,
                                            "lease_duration_secs": LEASE})
    if r.status_code != 200:
        return
    for job in r.json()["jobs"]:
        done = await api.post(f"/jobs/{job['id']}/complete", json={"worker_id": "drain", "lease_id": job["lease_id"]})
        if done.status_code == 200:
            seen.completions[job["id"]] += 1
