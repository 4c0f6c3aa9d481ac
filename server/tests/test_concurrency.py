"""R9 (duplicate enqueue race on one idempotency key) and R10 (c) (claim contention)."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from conftest import Org


async def test_r9_concurrent_duplicates_make_one_job(org: Org, make_org, pool, base_url):
    other = await make_org()
    # Separate connections so requests really race inside the server. A fresh client per round:
    # reusing the previous round's keep-alive connections could pick one the server is closing
    # for idleness (uvicorn's 5 s keep-alive) when a loaded round runs long, a client-side race
    # that says nothing about idempotency.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    for _round in range(5):
        async with httpx.AsyncClient(base_url=base_url + "/api/v1", limits=limits, timeout=60,
                                     headers={"Authorization": f"Bearer {org.api_key}"}) as client:
            key = f"race-{uuid.uuid4()}"
            body = {"queue_name": "race", "payload": {"k": key}, "idempotency_key": key}
            singles = [client.post("/jobs", json=body) for _ in range(200)]
            bulk = client.post("/jobs/bulk", json={"queue_name": "race", "jobs": [
                {"payload": 1, "idempotency_key": key}, {"payload": 2, "idempotency_key": key}]})
            responses = await asyncio.gather(*singles, bulk)
            single_responses, bulk_response = responses[:-1], responses[-1]
            odd = [(r.status_code, r.text[:300]) for r in single_responses if r.status_code not in (200, 201)]
            assert not odd, odd[:3]
            ids = {r.json()["id"] for r in single_responses}
            ids |= {s["job_id"] for s in bulk_response.json()["succeeded"]}
            assert len(ids) == 1
            created = [r for r in single_responses if r.status_code == 201]
            created_in_bulk = [s for s in bulk_response.json()["succeeded"] if s["created"]]
            assert len(created) + len(created_in_bulk) == 1
            assert all(r.json()["created"] is False for r in single_responses if r.status_code == 200)
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1 "
                                           "AND idempotency_key = $2", org.id, key) == 1
            theirs = await other.client.post("/jobs", json=body)
            assert theirs.status_code == 201 and theirs.json()["id"] not in ids


async def test_r9_duplicate_after_completion_returns_original(org: Org):
    body = {"queue_name": "race-done", "payload": 1, "idempotency_key": "done-key"}
    first = (await org.client.post("/jobs", json=body)).json()["id"]
    [c] = (await org.client.post("/jobs/claim", json={"queue_name": "race-done", "worker_id": "w"})).json()["jobs"]
    await org.client.post(f"/jobs/{first}/complete", json={"worker_id": "w", "lease_id": c["lease_id"]})
    again = await org.client.post("/jobs", json=body)
    assert again.status_code == 200 and again.json() == {"id": first, "created": False}


async def test_r10c_every_job_claimed_exactly_once(org: Org, pool, base_url):
    total, claimers = 10_000, 50
    queue = f"herd-{uuid.uuid4().hex[:8]}"
    for start in range(0, total, 100):
        r = await org.client.post("/jobs/bulk", json={"queue_name": queue, "jobs": [
            {"payload": {"seq": i}} for i in range(start, start + 100)]})
        assert r.status_code == 200 and r.json()["success_count"] == 100
    claimed: list[tuple[str, str, str]] = []
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=claimers, max_keepalive_connections=claimers)
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {org.api_key}"}) as client:
        async def claimer(n: int) -> None:
            while True:
                r = await client.post("/jobs/claim", json={"queue_name": queue, "worker_id": f"c{n}",
                                                           "limit": 10, "lease_duration_secs": 300})
                statuses.append(r.status_code)
                jobs = r.json()["jobs"]
                if not jobs:
                    return
                claimed.extend((j["id"], j["lease_id"], f"c{n}") for j in jobs)

        await asyncio.gather(*(claimer(n) for n in range(claimers)))
    assert set(statuses) == {200}
    ids = [c[0] for c in claimed]
    assert len(ids) == total and len(set(ids)) == total
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, lease_id, assigned_worker_id, status, lease_expires_at > now() AS valid"
                                " FROM jobs WHERE organization_id = $1 AND queue_name = $2", org.id, queue)
    by_id = {r["id"]: r for r in rows}
    for job_id, lease_id, worker in claimed:
        row = by_id[job_id]
        assert row["status"] == "processing" and row["valid"]
        assert row["lease_id"] == lease_id and row["assigned_worker_id"] == worker
