"""Worker routes: register (stable ids, queue scope, plan cap), list, get, heartbeat,
deregister (jobs handed back), the stale-worker sweeper, and tenant isolation."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
import pytest

from conftest import Org, assert_error
from spooled_server.loops.worker_sweeper import StaleWorkerSweeper
from spooled_server.services.auth import hash_key

SUMMARY_KEYS = {"id", "queue_name", "hostname", "status", "current_jobs", "max_concurrency", "last_heartbeat"}
DETAIL_KEYS = {"id", "organization_id", "queue_name", "queue_names", "hostname", "worker_type",
               "max_concurrency", "current_jobs", "status", "last_heartbeat", "metadata", "version",
               "registered_at", "created_at", "updated_at"}


async def register(org: Org, **fields) -> dict:
    r = await org.client.post("/workers/register", json={"queue_name": "work", "hostname": "host-1", **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def enqueue(org: Org, queue: str) -> str:
    r = await org.client.post("/jobs", json={"queue_name": queue, "payload": {}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def claim(org: Org, queue: str, worker: str, limit: int = 10) -> list[dict]:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": worker, "limit": limit})
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


async def test_register_mints_an_id_and_returns_timing_settings(org: Org):
    r = await org.client.post("/workers/register", json={"queue_name": "work", "hostname": "host-1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "queue_name", "lease_duration_secs", "heartbeat_interval_secs"}
    assert str(uuid.UUID(body["id"])) == body["id"] and body["queue_name"] == "work"
    assert (body["lease_duration_secs"], body["heartbeat_interval_secs"]) == (30, 10)


async def test_get_and_list_use_public_field_names(org: Org):
    w = await register(org, worker_type="python", max_concurrency=9, metadata={"pid": 1}, version="1.2.3")
    detail = (await org.client.get(f"/workers/{w['id']}")).json()
    assert set(detail) == DETAIL_KEYS
    assert detail["organization_id"] == org.id and detail["queue_names"] == ["work"]
    assert (detail["max_concurrency"], detail["current_jobs"], detail["status"]) == (9, 0, "healthy")
    assert detail["metadata"] == {"pid": 1} and detail["version"] == "1.2.3"
    assert detail["worker_type"] == "python" and detail["created_at"] == detail["registered_at"]

    plain = await register(org, hostname="host-2")
    plain_detail = (await org.client.get(f"/workers/{plain['id']}")).json()
    assert plain_detail["worker_type"] is None and plain_detail["version"] is None
    assert plain_detail["metadata"] == {} and plain_detail["max_concurrency"] == 5

    listed = (await org.client.get("/workers")).json()
    assert {x["id"] for x in listed} == {w["id"], plain["id"]}
    assert all(set(x) == SUMMARY_KEYS for x in listed)


async def test_register_with_worker_id_is_an_upsert(org: Org):
    first = await register(org, worker_id="stable-worker.1", hostname="old-host")
    again = await register(org, worker_id="stable-worker.1", hostname="new-host", queue_name="other")
    assert first["id"] == again["id"] == "stable-worker.1" and again["queue_name"] == "other"
    detail = (await org.client.get("/workers/stable-worker.1")).json()
    assert detail["hostname"] == "new-host" and detail["queue_names"] == ["other"]
    assert len((await org.client.get("/workers")).json()) == 1


async def test_worker_id_of_another_organization_is_a_conflict(org: Org, make_org):
    other = await make_org()
    wid = f"shared-{secrets.token_hex(4)}"
    await register(org, worker_id=wid)
    r = await other.client.post("/workers/register", json={"queue_name": "work", "hostname": "h", "worker_id": wid})
    assert_error(r, 409, "CONFLICT")
    assert (await org.client.get(f"/workers/{wid}")).json()["organization_id"] == org.id


@pytest.mark.parametrize("body", [
    {"hostname": "h"},
    {"queue_name": "work"},
    {"queue_name": ".bad", "hostname": "h"},
    {"queue_name": "work", "hostname": ""},
    {"queue_name": "work", "hostname": "-starts-with-dash"},
    {"queue_name": "work", "hostname": "ends-with-dot."},
    {"queue_name": "work", "hostname": "has space"},
    {"queue_name": "work", "hostname": "h" * 256},
    {"queue_name": "work", "hostname": "h", "max_concurrency": 0},
    {"queue_name": "work", "hostname": "h", "max_concurrency": 101},
    {"queue_name": "work", "hostname": "h", "max_concurrency": "5"},
    {"queue_name": "work", "hostname": "h", "worker_type": "t" * 51},
    {"queue_name": "work", "hostname": "h", "version": "v" * 51},
    {"queue_name": "work", "hostname": "h", "metadata": [1]},
    {"queue_name": "work", "hostname": "h", "metadata": {"big": "x" * 70_000}},
    {"queue_name": "work", "hostname": "h", "worker_id": ""},
    {"queue_name": "work", "hostname": "h", "worker_id": "has space"},
    {"queue_name": "work", "hostname": "h", "worker_id": "w" * 129},
])
async def test_register_validation_errors(org: Org, body):
    assert_error(await org.client.post("/workers/register", json=body), 400, "VALIDATION_ERROR")


async def test_register_malformed_json(org: Org):
    r = await org.client.post("/workers/register", content=b"{", headers={"content-type": "application/json"})
    assert_error(r, 400, "INVALID_JSON")
    assert_error(await org.client.post("/workers/register", content=b""), 400, "INVALID_JSON")


async def test_register_outside_the_keys_queue_scope_is_403(org: Org, pool, base_url):
    raw = f"sp_test_{secrets.token_urlsafe(32)}"
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO api_keys (organization_id, key_hash, key_prefix, name, queues)
               VALUES ($1, $2, $3, 'scoped', ARRAY['allowed'])""", org.id, hash_key(raw), raw[:12])
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                                 headers={"Authorization": f"Bearer {raw}"}) as scoped:
        r = await scoped.post("/workers/register", json={"queue_name": "forbidden", "hostname": "h"})
        assert_error(r, 403, "ACCESS_DENIED")
        r = await scoped.post("/workers/register", json={"queue_name": "allowed", "hostname": "h"})
        assert r.status_code == 201, r.text


async def test_free_plan_worker_cap_counts_live_workers_only(make_org):
    free = await make_org(plan="free")  # max_workers = 1
    first = await register(free, worker_id="only-one")
    body = assert_error(await free.client.post("/workers/register", json={"queue_name": "work", "hostname": "h"}),
                        429, "QUOTA_EXCEEDED")
    assert body["details"]["resource"] == "workers" and body["details"]["limit"] == 1
    assert_error(await free.client.post("/workers/register",
                                        json={"queue_name": "work", "hostname": "h", "worker_id": "second"}),
                 429, "QUOTA_EXCEEDED")
    # Re-registering the same worker is not a new worker.
    assert (await register(free, worker_id="only-one"))["id"] == first["id"]
    # An offline worker no longer counts.
    assert (await free.client.post("/workers/only-one/deregister")).status_code == 204
    await register(free, worker_id="second")


async def test_heartbeat_records_state_and_answers_with_an_empty_body(org: Org):
    w = await register(org, metadata={"v": 1})
    r = await org.client.post(f"/workers/{w['id']}/heartbeat", json={"current_jobs": 3, "status": "draining",
                                                                      "metadata": {"v": 2}})
    assert r.status_code == 200 and r.content == b""
    detail = (await org.client.get(f"/workers/{w['id']}")).json()
    assert (detail["current_jobs"], detail["status"], detail["metadata"]) == (3, "draining", {"v": 2})

    for status in ("sleepy", None, 7):
        r = await org.client.post(f"/workers/{w['id']}/heartbeat", json={"current_jobs": 0, "status": status})
        assert r.status_code == 200
        detail = (await org.client.get(f"/workers/{w['id']}")).json()
        assert detail["status"] == "healthy" and detail["metadata"] == {"v": 2}


@pytest.mark.parametrize("body", [{}, {"current_jobs": -1}, {"current_jobs": 1001}, {"current_jobs": "2"},
                                  {"current_jobs": 1, "metadata": "x"}])
async def test_heartbeat_validation(org: Org, body):
    w = await register(org)
    assert_error(await org.client.post(f"/workers/{w['id']}/heartbeat", json=body), 400, "VALIDATION_ERROR")


async def test_unknown_worker_is_404_everywhere(org: Org):
    assert_error(await org.client.get("/workers/nope"), 404, "NOT_FOUND")
    assert_error(await org.client.post("/workers/nope/heartbeat", json={"current_jobs": 0}), 404, "NOT_FOUND")
    assert_error(await org.client.post("/workers/nope/deregister"), 404, "NOT_FOUND")


async def test_ids_that_cannot_exist_are_404_not_a_database_error(org: Org):
    for wid in ("a%00b", "w" * 300):
        assert_error(await org.client.get(f"/workers/{wid}"), 404, "NOT_FOUND")
        assert_error(await org.client.post(f"/workers/{wid}/heartbeat", json={"current_jobs": 0}), 404, "NOT_FOUND")
        assert_error(await org.client.post(f"/workers/{wid}/deregister"), 404, "NOT_FOUND")


async def test_concurrent_registrations_cannot_overrun_the_cap(make_org):
    free = await make_org(plan="free")  # max_workers = 1
    results = await asyncio.gather(*(
        free.client.post("/workers/register", json={"queue_name": "work", "hostname": f"h{i}"}) for i in range(6)))
    assert sorted(r.status_code for r in results) == [201] + [429] * 5
    assert len((await free.client.get("/workers")).json()) == 1


async def test_deregister_hands_jobs_back_without_counting_an_attempt(org: Org):
    w = await register(org, queue_name="dereg")
    ids = {await enqueue(org, "dereg") for _ in range(2)}
    assert {j["id"] for j in await claim(org, "dereg", w["id"])} == ids
    r = await org.client.post(f"/workers/{w['id']}/deregister")
    assert r.status_code == 204 and r.content == b""
    for job_id in ids:
        job = (await org.client.get(f"/jobs/{job_id}")).json()
        assert job["status"] == "pending" and job["retry_count"] == 0
        assert job["lease_id"] is None and job["lease_expires_at"] is None and job["assigned_worker_id"] is None
    assert (await org.client.get(f"/workers/{w['id']}")).json()["status"] == "offline"
    assert {j["id"] for j in await claim(org, "dereg", "another")} == ids


async def test_stale_worker_sweeper_releases_jobs_with_an_attempt_counted(org: Org, pool):
    w = await register(org, queue_name="stale")
    job_id = await enqueue(org, "stale")
    [claimed] = await claim(org, "stale", w["id"])
    async with pool.acquire() as conn:
        # Old enough for a 1 s threshold, young enough that the server's own sweeper (2 min) leaves it.
        await conn.execute("UPDATE workers SET last_heartbeat = now() - interval '5 seconds' WHERE id = $1", w["id"])
    sweeper = StaleWorkerSweeper(pool, interval=1.0, stale_after_secs=1)
    assert await sweeper.run_once() >= 2  # at least this worker and its job
    job = (await org.client.get(f"/jobs/{job_id}")).json()
    assert job["status"] == "pending" and job["retry_count"] == claimed["retry_count"] + 1
    assert job["last_error"] == "Worker went offline" and job["lease_id"] is None
    assert (await org.client.get(f"/workers/{w['id']}")).json()["status"] == "offline"
    assert [j["id"] for j in await claim(org, "stale", "rescuer")] == [job_id]


async def test_stale_worker_sweeper_dead_letters_out_of_retries_and_cancels_dependents(org: Org, pool):
    w = await register(org, queue_name="stale-dead")
    r = await org.client.post("/jobs", json={"queue_name": "stale-dead", "payload": {}, "max_retries": 0})
    assert r.status_code == 201, r.text
    parent = r.json()["id"]
    child = await enqueue(org, "stale-child")
    r = await org.client.post(f"/jobs/{child}/dependencies", json={"depends_on": [parent]})
    assert r.status_code in (200, 201), r.text
    [claimed] = await claim(org, "stale-dead", w["id"])
    assert claimed["id"] == parent
    async with pool.acquire() as conn:
        await conn.execute("UPDATE workers SET last_heartbeat = now() - interval '5 seconds' WHERE id = $1", w["id"])
    assert await StaleWorkerSweeper(pool, interval=1.0, stale_after_secs=1).run_once() >= 2
    dead = (await org.client.get(f"/jobs/{parent}")).json()
    assert dead["status"] == "deadletter" and dead["last_error"] == "Worker went offline"
    # In the sweeper's own transaction, not left for the dependency healer's next tick.
    assert (await org.client.get(f"/jobs/{child}")).json()["status"] == "cancelled"


async def test_stale_worker_sweeper_does_not_retry_a_job_of_a_cancelled_workflow(org: Org, pool):
    w = await register(org, queue_name="stale-wf")
    job_id = await enqueue(org, "stale-wf")
    [claimed] = await claim(org, "stale-wf", w["id"])
    async with pool.acquire() as conn:
        workflow_id = await conn.fetchval(
            """INSERT INTO workflows (organization_id, name, status) VALUES ($1, 'wf', 'cancelled')
               RETURNING id""", org.id)
        await conn.execute("UPDATE jobs SET workflow_id = $2 WHERE id = $1", job_id, workflow_id)
        await conn.execute("UPDATE workers SET last_heartbeat = now() - interval '5 seconds' WHERE id = $1", w["id"])
    await StaleWorkerSweeper(pool, interval=1.0, stale_after_secs=1).run_once()
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "cancelled"
    assert await claim(org, "stale-wf", "rescuer") == []


async def test_workers_are_isolated_between_organizations(org: Org, make_org):
    other = await make_org()
    w = await register(org, queue_name="iso")
    job_id = await enqueue(org, "iso")
    await claim(org, "iso", w["id"])
    assert (await other.client.get("/workers")).json() == []
    assert_error(await other.client.get(f"/workers/{w['id']}"), 404, "NOT_FOUND")
    assert_error(await other.client.post(f"/workers/{w['id']}/heartbeat", json={"current_jobs": 0}),
                 404, "NOT_FOUND")
    assert_error(await other.client.post(f"/workers/{w['id']}/deregister"), 404, "NOT_FOUND")
    assert (await org.client.get(f"/workers/{w['id']}")).json()["status"] == "healthy"
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "processing"
