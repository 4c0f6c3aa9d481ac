"""GET /api/v1/dashboard and GET /metrics."""

from __future__ import annotations

import re
import uuid

import spooled_server
from conftest import Org, assert_error

DB_GAUGES = ("spooled_jobs_pending", "spooled_jobs_processing", "spooled_job_max_age_seconds",
             "spooled_workers_active", "spooled_workers_healthy", "spooled_database_connections_active",
             "spooled_jobs_dead_tuple_ratio")


def gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


async def add_worker(pool, org_id: str, status: str, stale: bool = False) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO workers (id, organization_id, queue_name, hostname, status, last_heartbeat)
               VALUES ($1, $2, 'q', 'host', $3, now() - make_interval(mins => $4))""",
            str(uuid.uuid4()), org_id, status, 10 if stale else 0)


async def test_dashboard_shape_and_system_facts(org: Org):
    r = await org.client.get("/dashboard")
    assert r.status_code == 200
    d = r.json()
    assert set(d) == {"system", "jobs", "queues", "workers", "recent_activity"}
    assert set(d["system"]) == {"version", "uptime_seconds", "started_at", "database_status", "cache_status",
                                "environment"}
    assert d["system"]["version"] == spooled_server.__version__
    assert d["system"]["environment"] == "development" and d["system"]["database_status"] == "healthy"
    assert d["system"]["cache_status"] == "not_configured"
    assert isinstance(d["system"]["uptime_seconds"], int) and d["system"]["started_at"].endswith("Z")
    assert set(d["jobs"]) == {"total", "pending", "processing", "completed_24h", "failed_24h", "deadletter",
                              "avg_wait_time_ms", "avg_processing_time_ms"}
    assert d["jobs"]["total"] == 0 and d["jobs"]["avg_wait_time_ms"] is None
    assert d["queues"] == [] and d["workers"] == {"total": 0, "healthy": 0, "unhealthy": 0}
    assert d["recent_activity"] == {"jobs_created_1h": 0, "jobs_completed_1h": 0, "jobs_failed_1h": 0}


async def test_dashboard_counts_jobs_queues_and_workers(org: Org, pool):
    for queue in ("emails", "emails", "reports"):
        assert (await org.client.post("/jobs", json={"queue_name": queue, "payload": {}})).status_code == 201
    claimed = (await org.client.post("/jobs/claim", json={"queue_name": "reports", "worker_id": "w1"})).json()
    job = claimed["jobs"][0]
    await org.client.post(f"/jobs/{job['id']}/complete", json={"worker_id": "w1", "lease_id": job["lease_id"]})
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO queue_config (organization_id, queue_name, enabled) VALUES ($1, 'idle', false)",
                           org.id)
    await add_worker(pool, org.id, "healthy")
    await add_worker(pool, org.id, "healthy", stale=True)
    await add_worker(pool, org.id, "offline")
    d = (await org.client.get("/dashboard")).json()
    assert d["jobs"]["total"] == 3 and d["jobs"]["pending"] == 2 and d["jobs"]["processing"] == 0
    assert d["jobs"]["completed_24h"] == 1 and d["jobs"]["failed_24h"] == 0
    assert d["jobs"]["avg_processing_time_ms"] >= 0 and d["jobs"]["avg_wait_time_ms"] >= 0
    assert d["queues"][0] == {"name": "emails", "pending": 2, "processing": 0, "paused": False}
    assert {"name": "idle", "pending": 0, "processing": 0, "paused": True} in d["queues"]
    assert d["workers"] == {"total": 3, "healthy": 1, "unhealthy": 2}
    assert d["recent_activity"] == {"jobs_created_1h": 3, "jobs_completed_1h": 1, "jobs_failed_1h": 0}


async def test_dashboard_lists_at_most_twenty_queues(org: Org):
    for i in range(22):
        await org.client.post("/jobs", json={"queue_name": f"q{i:02d}", "payload": {}})
    assert len((await org.client.get("/dashboard")).json()["queues"]) == 20


async def test_dashboard_needs_authentication(anon):
    assert_error(await anon.get("/api/v1/dashboard"), 401, "UNAUTHORIZED")


async def test_metrics_exposes_database_gauges_without_auth(anon, org: Org, pool):
    for _ in range(2):
        await org.client.post("/jobs", json={"queue_name": "m", "payload": {}})
    await add_worker(pool, org.id, "healthy")
    r = await anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain") and "version=0.0.4" in r.headers["content-type"]
    text = r.text
    for name in DB_GAUGES:
        assert f"# TYPE {name} gauge" in text
    assert gauge(text, "spooled_jobs_pending") >= 2
    assert gauge(text, "spooled_workers_healthy") >= 1 and gauge(text, "spooled_workers_active") >= 1
    assert gauge(text, "spooled_job_max_age_seconds") >= 0
    assert 0 <= gauge(text, "spooled_jobs_dead_tuple_ratio") <= 1
    assert gauge(text, "spooled_database_connections_active") >= 0
    assert "spooled_jobs_enqueued_total" in text and "spooled_api_requests_total" in text


async def test_metrics_oldest_ready_job_age_grows_with_an_old_job(anon, org: Org, pool):
    job = (await org.client.post("/jobs", json={"queue_name": "old", "payload": {}})).json()["id"]
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET created_at = now() - interval '1 hour' WHERE id = $1", job)
    try:
        assert gauge((await anon.get("/metrics")).text, "spooled_job_max_age_seconds") >= 3600
    finally:
        await org.client.delete(f"/jobs/{job}")


async def test_metrics_count_creates_claims_completions_and_fails(anon, org: Org):
    before = (await anon.get("/metrics")).text
    queue = f"counted-{uuid.uuid4().hex[:8]}"
    for retries in (3, 0):
        await org.client.post("/jobs", json={"queue_name": queue, "payload": {}, "max_retries": retries})
    claimed = (await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": "w", "limit": 2})).json()
    by_retries = {j["max_retries"]: j for j in claimed["jobs"]}
    done, doomed = by_retries[3], by_retries[0]
    assert (await org.client.post(f"/jobs/{done['id']}/complete",
                                  json={"lease_id": done["lease_id"], "result": 1})).status_code == 200
    # A repeat of the same complete is answered as before and not counted again.
    assert (await org.client.post(f"/jobs/{done['id']}/complete",
                                  json={"lease_id": done["lease_id"], "result": 1})).status_code == 200
    assert (await org.client.post(f"/jobs/{doomed['id']}/fail",
                                  json={"lease_id": doomed["lease_id"], "error": "boom"})).status_code == 200
    after = (await anon.get("/metrics")).text

    def grew(name: str) -> float:
        return gauge(after, name) - gauge(before, name)

    # Tests run one at a time, so only the lease reaper (dead-lettering some earlier test's
    # expired job) could move a counter meanwhile: exact deltas except for that one.
    assert grew("spooled_jobs_enqueued_total") == 2
    assert grew("spooled_jobs_completed_total") == 1
    assert grew("spooled_jobs_failed_total") == 1 and grew("spooled_jobs_deadlettered_total") >= 1
    assert grew("spooled_claim_latency_seconds_count") >= 1
    assert grew("spooled_job_duration_seconds_count") == 1
