"""Dead-letter queue routes: list, retry (jobs become claimable again, dependents re-wait),
purge (only with confirm), and tenant isolation."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Org, assert_error

SUMMARY_KEYS = {"id", "queue_name", "status", "priority", "retry_count", "created_at", "scheduled_at",
                "started_at", "completed_at"}


async def enqueue(org: Org, queue: str, **fields) -> str:
    r = await org.client.post("/jobs", json={"queue_name": queue, "payload": {}, **fields})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def claim(org: Org, queue: str, worker: str = "w1", limit: int = 10) -> list[dict]:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": worker, "limit": limit})
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


async def dead(org: Org, queue: str = "dlq") -> str:
    """A job that failed with no retries left: status deadletter."""
    job_id = await enqueue(org, queue, max_retries=0)
    [c] = await claim(org, queue, limit=1)
    assert c["id"] == job_id
    r = await org.client.post(f"/jobs/{job_id}/fail", json={"lease_id": c["lease_id"], "error": "boom"})
    assert r.status_code == 200, r.text
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "deadletter"
    return job_id


async def test_list_shows_only_dead_jobs_newest_first(org: Org):
    first, second = await dead(org, "d1"), await dead(org, "d1")
    other_queue = await dead(org, "d2")
    await enqueue(org, "d1")  # pending: never listed
    listed = (await org.client.get("/jobs/dlq")).json()
    assert [j["id"] for j in listed] == [other_queue, second, first]
    assert all(set(j) == SUMMARY_KEYS and j["status"] == "deadletter" for j in listed)
    assert [j["id"] for j in (await org.client.get("/jobs/dlq", params={"queue_name": "d1"})).json()] == [second, first]
    page = (await org.client.get("/jobs/dlq", params={"limit": 1, "offset": 1})).json()
    assert [j["id"] for j in page] == [second]
    # Out-of-range limits are clamped, as on GET /jobs.
    assert len((await org.client.get("/jobs/dlq", params={"limit": 0})).json()) == 1
    assert len((await org.client.get("/jobs/dlq", params={"limit": 10_000})).json()) == 3


@pytest.mark.parametrize("params", [{"queue_name": ".bad"}, {"limit": "many"}, {"offset": -1},
                                    {"offset": "x"}, {"offset": 2**63}])
async def test_list_rejects_bad_query(org: Org, params):
    assert_error(await org.client.get("/jobs/dlq", params=params), 400, "VALIDATION_ERROR")


async def test_retry_by_ids_makes_jobs_claimable_again(org: Org):
    job_id = await dead(org, "again")
    r = await org.client.post("/jobs/dlq/retry", json={"job_ids": [job_id, "unknown-id"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"retried_count": 1, "retried_jobs": [job_id]}
    job = (await org.client.get(f"/jobs/{job_id}")).json()
    assert job["status"] == "pending" and job["retry_count"] == 0 and job["last_error"] is None
    assert job["scheduled_at"] is None and job["lease_id"] is None and job["lease_expires_at"] is None
    assert job["assigned_worker_id"] is None and job["completed_at"] is None
    [c] = await claim(org, "again")
    assert c["id"] == job_id
    done = await org.client.post(f"/jobs/{job_id}/complete", json={"lease_id": c["lease_id"]})
    assert done.status_code == 200


async def test_retry_wakes_a_long_polling_claimer(org: Org):
    job_id = await dead(org, "dlq-wake")
    waiter = asyncio.create_task(org.client.post("/jobs/claim", json={
        "queue_name": "dlq-wake", "worker_id": "w", "wait_ms": 20_000}))
    done, _ = await asyncio.wait({waiter}, timeout=0.5)
    assert not done
    started = asyncio.get_running_loop().time()
    await org.client.post("/jobs/dlq/retry", json={"job_ids": [job_id]})
    r = await asyncio.wait_for(waiter, timeout=15)
    assert [j["id"] for j in r.json()["jobs"]] == [job_id]
    assert asyncio.get_running_loop().time() - started < 3


async def test_retry_precedence_and_oldest_first(org: Org):
    a1, a2, a3 = await dead(org, "qa"), await dead(org, "qa"), await dead(org, "qa")
    b1 = await dead(org, "qb")
    # job_ids win over queue_name (and ignore limit).
    r = (await org.client.post("/jobs/dlq/retry", json={"job_ids": [b1], "queue_name": "qa", "limit": 1})).json()
    assert r["retried_jobs"] == [b1]
    # queue_name selects that queue, oldest first, up to limit.
    r = (await org.client.post("/jobs/dlq/retry", json={"queue_name": "qa", "limit": 2})).json()
    assert r == {"retried_count": 2, "retried_jobs": [a1, a2]}
    c1 = await dead(org, "qc")
    # Nothing named: the whole organization.
    r = (await org.client.post("/jobs/dlq/retry", content=b"")).json()
    assert r == {"retried_count": 2, "retried_jobs": [a3, c1]}
    assert (await org.client.get("/jobs/dlq")).json() == []
    # An empty id list selects nothing rather than everything.
    d1 = await dead(org, "qd")
    assert (await org.client.post("/jobs/dlq/retry", json={"job_ids": []})).json()["retried_count"] == 0
    assert [j["id"] for j in (await org.client.get("/jobs/dlq")).json()] == [d1]


@pytest.mark.parametrize("body", [{"job_ids": [f"id-{i}" for i in range(101)]}, {"limit": 0}, {"limit": 101},
                                  {"queue_name": "-bad"}, {"job_ids": "abc"}, {"job_ids": [""]}])
async def test_retry_validation(org: Org, body):
    assert_error(await org.client.post("/jobs/dlq/retry", json=body), 400, "VALIDATION_ERROR")


async def test_retry_makes_dependents_wait_again(org: Org, pool):
    parent = await dead(org, "dep-parent")
    child = await enqueue(org, "dep-child")
    # A waiting dependent of a dead job, marked runnable (state left by an older server or a
    # direct edit): retrying the parent must make it wait for the parent again.
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO job_dependencies (job_id, depends_on_job_id) VALUES ($1, $2)", child, parent)
    assert (await org.client.get(f"/jobs/{child}")).json()["dependencies_met"] is True
    await org.client.post("/jobs/dlq/retry", json={"job_ids": [parent]})
    assert (await org.client.get(f"/jobs/{child}")).json()["dependencies_met"] is False
    assert await claim(org, "dep-child") == []
    [c] = await claim(org, "dep-parent")
    await org.client.post(f"/jobs/{parent}/complete", json={"lease_id": c["lease_id"]})
    assert [j["id"] for j in await claim(org, "dep-child")] == [child]


@pytest.mark.parametrize("kwargs", [{"json": {}}, {"json": {"confirm": False}}, {"content": b""},
                                    {"json": {"queue_name": "p", "confirm": None}}])
async def test_purge_requires_confirm_true(org: Org, kwargs):
    job_id = await dead(org, "p")
    body = assert_error(await org.client.post("/jobs/dlq/purge", **kwargs), 400, "BAD_REQUEST")
    assert "confirm" in body["message"]
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "deadletter"


@pytest.mark.parametrize("body", [{"confirm": "true"}, {"confirm": True, "limit": 0},
                                  {"confirm": True, "limit": 10_001}, {"confirm": True, "older_than": "yesterday"},
                                  {"confirm": True, "older_than": "2025-01-01T00:00:00"},
                                  {"confirm": True, "older_than": "0001-01-01T00:00:00+14:00"},
                                  {"confirm": True, "older_than": 1735689600},
                                  {"confirm": True, "queue_name": ".x"}])
async def test_purge_validation(org: Org, body):
    assert_error(await org.client.post("/jobs/dlq/purge", json=body), 400, "VALIDATION_ERROR")


async def test_purge_filters_and_limit(org: Org):
    a1, a2, a3 = await dead(org, "pa"), await dead(org, "pa"), await dead(org, "pa")
    b1 = await dead(org, "pb")
    keep_pending = await enqueue(org, "pa")
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    r = await org.client.post("/jobs/dlq/purge", json={"confirm": True, "older_than": past})
    assert r.status_code == 200 and r.json() == {"purged_count": 0}
    r = await org.client.post("/jobs/dlq/purge", json={"confirm": True, "queue_name": "pa", "limit": 2,
                                                       "older_than": future})
    assert r.json() == {"purged_count": 2}
    # Oldest first: a1 and a2 are gone.
    assert_error(await org.client.get(f"/jobs/{a1}"), 404)
    assert_error(await org.client.get(f"/jobs/{a2}"), 404)
    assert (await org.client.post("/jobs/dlq/purge", json={"confirm": True})).json() == {"purged_count": 2}
    for gone in (a3, b1):
        assert_error(await org.client.get(f"/jobs/{gone}"), 404)
    assert (await org.client.get(f"/jobs/{keep_pending}")).json()["status"] == "pending"


async def test_dlq_is_isolated_between_organizations(org: Org, make_org):
    other = await make_org()
    job_id = await dead(org, "iso")
    assert (await other.client.get("/jobs/dlq")).json() == []
    r = (await other.client.post("/jobs/dlq/retry", json={"job_ids": [job_id]})).json()
    assert r == {"retried_count": 0, "retried_jobs": []}
    assert (await other.client.post("/jobs/dlq/retry", json={})).json()["retried_count"] == 0
    assert (await other.client.post("/jobs/dlq/purge", json={"confirm": True})).json() == {"purged_count": 0}
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "deadletter"
