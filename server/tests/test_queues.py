"""Queue routes: configuration, pause/resume (which must really stop claims), stats, delete,
the plan's queue cap, and tenant isolation."""

from __future__ import annotations

import asyncio
import time

import pytest

from conftest import Org, assert_error

CONFIG_KEYS = {"id", "organization_id", "queue_name", "max_retries", "default_timeout", "rate_limit",
               "enabled", "settings", "created_at", "updated_at"}
SUMMARY_KEYS = {"queue_name", "max_retries", "default_timeout", "rate_limit", "enabled"}
STATS_KEYS = {"queue_name", "pending_jobs", "processing_jobs", "completed_jobs_24h", "failed_jobs_24h",
              "avg_processing_time_ms", "max_job_age_seconds", "active_workers"}


async def enqueue(org: Org, queue: str, **fields) -> str:
    r = await org.client.post("/jobs", json={"queue_name": queue, "payload": {}, **fields})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def claim(org: Org, queue: str, worker: str = "w1", **fields) -> list[dict]:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": worker, **fields})
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


async def test_config_upsert_get_and_list(org: Org):
    r = await org.client.put("/queues/emails/config", json={
        "queue_name": "ignored-the-path-wins", "max_retries": 7, "default_timeout": 60,
        "rate_limit": 50, "enabled": True, "settings": {"team": "growth"}})
    assert r.status_code == 200, r.text
    cfg = r.json()
    assert set(cfg) == CONFIG_KEYS
    assert cfg["queue_name"] == "emails" and cfg["organization_id"] == org.id
    assert (cfg["max_retries"], cfg["default_timeout"], cfg["rate_limit"]) == (7, 60, 50)
    assert cfg["enabled"] is True and cfg["settings"] == {"team": "growth"}
    assert cfg["created_at"].endswith("Z")
    assert (await org.client.get("/queues/emails")).json() == cfg

    await org.client.put("/queues/alpha/config", json={})
    listed = (await org.client.get("/queues")).json()
    assert [q["queue_name"] for q in listed] == ["alpha", "emails"]
    assert all(set(q) == SUMMARY_KEYS for q in listed)

    # A second upsert replaces the row: omitted fields go back to their defaults.
    again = (await org.client.put("/queues/emails/config", json={"max_retries": 1})).json()
    assert again["id"] == cfg["id"] and again["max_retries"] == 1
    assert again["default_timeout"] == 300 and again["settings"] == {} and again["rate_limit"] is None


async def test_config_with_empty_body_takes_server_defaults(org: Org):
    r = await org.client.put("/queues/defaults/config", content=b"")
    assert r.status_code == 200, r.text
    cfg = r.json()
    assert (cfg["max_retries"], cfg["default_timeout"], cfg["rate_limit"]) == (3, 300, None)
    assert cfg["enabled"] is True and cfg["settings"] == {}


@pytest.mark.parametrize("sent,stored", [(200_000, 100_000), (-5, 0), (0, 0), (None, None)])
async def test_rate_limit_is_clamped(org: Org, sent, stored):
    r = await org.client.put("/queues/limited/config", json={"rate_limit": sent})
    assert r.status_code == 200 and r.json()["rate_limit"] == stored


@pytest.mark.parametrize("body", [
    {"max_retries": 101}, {"max_retries": -1}, {"max_retries": "3"}, {"default_timeout": 0},
    {"default_timeout": 86_401}, {"enabled": "yes"}, {"settings": [1, 2]}, {"settings": "x"},
    {"settings": {"big": "x" * 70_000}}, {"rate_limit": 1.5},
])
async def test_config_validation_errors(org: Org, body):
    assert_error(await org.client.put("/queues/v/config", json=body), 400, "VALIDATION_ERROR")


async def test_config_malformed_json(org: Org):
    r = await org.client.put("/queues/v/config", content=b"{nope", headers={"content-type": "application/json"})
    assert_error(r, 400, "INVALID_JSON")
    assert_error(await org.client.put("/queues/v/config", json=[1]), 400, "INVALID_JSON")


@pytest.mark.parametrize("name", [".dot", "-dash", "has space", "a" * 101, "semi;colon"])
async def test_invalid_queue_names_in_the_path_are_400(org: Org, name):
    c = org.client
    for r in (await c.get(f"/queues/{name}"), await c.put(f"/queues/{name}/config", json={}),
              await c.get(f"/queues/{name}/stats"), await c.post(f"/queues/{name}/pause"),
              await c.post(f"/queues/{name}/resume"), await c.delete(f"/queues/{name}")):
        assert_error(r, 400, "VALIDATION_ERROR")


async def test_unconfigured_queue_is_404_for_get_resume_and_delete(org: Org):
    assert_error(await org.client.get("/queues/never"), 404, "NOT_FOUND")
    assert_error(await org.client.post("/queues/never/resume"), 404, "NOT_FOUND")
    assert_error(await org.client.delete("/queues/never"), 404, "NOT_FOUND")


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}, {"json": {"reason": None}}])
async def test_pause_accepts_no_body_or_empty_object(org: Org, kwargs):
    r = await org.client.post("/queues/nobody/pause", **kwargs)
    assert r.status_code == 200, r.text
    assert r.json()["paused"] is True and r.json()["reason"] is None


async def test_pause_and_resume_shapes_and_settings(org: Org):
    await org.client.put("/queues/pp/config", json={"settings": {"keep": 1}})
    r = await org.client.post("/queues/pp/pause", json={"reason": "maintenance"})
    assert r.status_code == 200, r.text
    paused = r.json()
    assert set(paused) == {"queue_name", "paused", "paused_at", "reason"}
    assert paused["queue_name"] == "pp" and paused["reason"] == "maintenance"
    assert paused["paused_at"].endswith("Z")
    cfg = (await org.client.get("/queues/pp")).json()
    assert cfg["enabled"] is False
    assert cfg["settings"]["paused"] is True and cfg["settings"]["paused_reason"] == "maintenance"
    assert cfg["settings"]["keep"] == 1

    r = await org.client.post("/queues/pp/resume")
    assert r.status_code == 200, r.text
    resumed = r.json()
    assert set(resumed) == {"queue_name", "resumed", "paused_duration_secs"}
    assert resumed["resumed"] is True and isinstance(resumed["paused_duration_secs"], int)
    assert resumed["paused_duration_secs"] >= 0
    cfg = (await org.client.get("/queues/pp")).json()
    assert cfg["enabled"] is True and cfg["settings"] == {"keep": 1}


async def test_resume_with_unparsable_paused_at_reports_zero(org: Org):
    await org.client.put("/queues/odd/config", json={"enabled": False, "settings": {"paused_at": "garbage"}})
    r = await org.client.post("/queues/odd/resume")
    assert r.status_code == 200 and r.json()["paused_duration_secs"] == 0


@pytest.mark.parametrize("body", [{"reason": "x" * 501}, {"reason": 5}, [1]])
async def test_pause_validation(org: Org, body):
    r = await org.client.post("/queues/pv/pause", json=body)
    assert r.status_code == 400 and r.json()["code"] in ("VALIDATION_ERROR", "INVALID_JSON")


async def test_paused_queue_hands_out_nothing_until_resumed(org: Org):
    job_id = await enqueue(org, "paused-q")
    assert (await org.client.post("/queues/paused-q/pause")).status_code == 200
    assert await claim(org, "paused-q", limit=10) == []
    # Enqueueing still works while paused.
    second = await enqueue(org, "paused-q")
    assert await claim(org, "paused-q", limit=10) == []
    assert (await org.client.post("/queues/paused-q/resume")).status_code == 200
    assert {j["id"] for j in await claim(org, "paused-q", limit=10)} == {job_id, second}


async def test_config_upsert_without_enabled_resumes_a_paused_queue(org: Org):
    job_id = await enqueue(org, "reenable")
    await org.client.post("/queues/reenable/pause")
    assert await claim(org, "reenable") == []
    await org.client.put("/queues/reenable/config", json={"max_retries": 2})
    assert [j["id"] for j in await claim(org, "reenable")] == [job_id]


async def test_resume_wakes_a_long_polling_claimer(org: Org):
    job_id = await enqueue(org, "wake-on-resume")
    await org.client.post("/queues/wake-on-resume/pause")
    waiter = asyncio.create_task(org.client.post("/jobs/claim", json={
        "queue_name": "wake-on-resume", "worker_id": "w", "wait_ms": 20_000}))
    # While paused the long poll must hold, not hand out the waiting job.
    done, _ = await asyncio.wait({waiter}, timeout=0.5)
    assert not done
    resumed_at = time.monotonic()
    assert (await org.client.post("/queues/wake-on-resume/resume")).status_code == 200
    r = await asyncio.wait_for(waiter, timeout=15)
    assert [j["id"] for j in r.json()["jobs"]] == [job_id]
    # The claimer's fallback re-check is 5 s; returning well before it proves the NOTIFY woke it.
    assert time.monotonic() - resumed_at < 3


async def test_stats_for_an_unconfigured_queue(org: Org):
    empty = (await org.client.get("/queues/statsq/stats")).json()
    assert set(empty) == STATS_KEYS
    assert empty["pending_jobs"] == 0 and empty["max_job_age_seconds"] is None
    assert empty["avg_processing_time_ms"] is None and empty["active_workers"] == 0

    for _ in range(3):
        await enqueue(org, "statsq")
    first, second = await claim(org, "statsq", limit=2)
    done = await org.client.post(f"/jobs/{first['id']}/complete", json={"lease_id": first["lease_id"]})
    assert done.status_code == 200
    reg = await org.client.post("/workers/register", json={"queue_name": "statsq", "hostname": "h1"})
    assert reg.status_code == 201
    stats = (await org.client.get("/queues/statsq/stats")).json()
    assert stats["queue_name"] == "statsq"
    assert (stats["pending_jobs"], stats["processing_jobs"], stats["completed_jobs_24h"]) == (1, 1, 1)
    assert stats["failed_jobs_24h"] == 0 and stats["active_workers"] == 1
    assert isinstance(stats["max_job_age_seconds"], int) and stats["max_job_age_seconds"] >= 0
    assert isinstance(stats["avg_processing_time_ms"], (int, float))


async def test_delete_refused_while_work_is_open_then_removes_only_the_config(org: Org):
    await org.client.put("/queues/doomed/config", json={})
    job_id = await enqueue(org, "doomed")
    assert_error(await org.client.delete("/queues/doomed"), 409, "CONFLICT")
    [c] = await claim(org, "doomed")
    assert_error(await org.client.delete("/queues/doomed"), 409, "CONFLICT")
    await org.client.post(f"/jobs/{job_id}/complete", json={"lease_id": c["lease_id"]})
    r = await org.client.delete("/queues/doomed")
    assert r.status_code == 204 and r.content == b""
    assert_error(await org.client.get("/queues/doomed"), 404, "NOT_FOUND")
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "completed"


async def test_free_plan_queue_cap_counts_config_rows(make_org):
    free = await make_org(plan="free")  # max_queues = 2
    assert (await free.client.put("/queues/one/config", json={})).status_code == 200
    assert (await free.client.post("/queues/two/pause")).status_code == 200
    body = assert_error(await free.client.put("/queues/three/config", json={}), 429, "QUOTA_EXCEEDED")
    assert body["details"]["resource"] == "queues" and body["details"]["limit"] == 2
    assert_error(await free.client.post("/queues/three/pause"), 429, "QUOTA_EXCEEDED")
    # Existing rows can still be changed, and queues without a row still take jobs.
    assert (await free.client.put("/queues/one/config", json={"max_retries": 1})).status_code == 200
    assert (await free.client.post("/queues/one/pause")).status_code == 200
    await enqueue(free, "three")
    # Freeing a row makes room again.
    assert (await free.client.delete("/queues/one")).status_code == 204
    assert (await free.client.put("/queues/three/config", json={})).status_code == 200


async def test_concurrent_creates_cannot_overrun_the_queue_cap(make_org):
    free = await make_org(plan="free")  # max_queues = 2
    results = await asyncio.gather(*(free.client.put(f"/queues/race-{i}/config", json={}) for i in range(6)))
    assert sorted(r.status_code for r in results) == [200, 200] + [429] * 4
    assert len((await free.client.get("/queues")).json()) == 2


async def test_queues_are_isolated_between_organizations(org: Org, make_org):
    other = await make_org()
    job_id = await enqueue(org, "mine")
    await org.client.put("/queues/mine/config", json={"max_retries": 5})

    assert (await other.client.get("/queues")).json() == []
    assert_error(await other.client.get("/queues/mine"), 404, "NOT_FOUND")
    assert_error(await other.client.post("/queues/mine/resume"), 404, "NOT_FOUND")
    assert_error(await other.client.delete("/queues/mine"), 404, "NOT_FOUND")
    assert (await other.client.get("/queues/mine/stats")).json()["pending_jobs"] == 0
    # Pausing "mine" in the other organization pauses that organization's queue only.
    assert (await other.client.post("/queues/mine/pause")).status_code == 200
    assert (await org.client.get("/queues/mine")).json()["enabled"] is True
    assert [j["id"] for j in await claim(org, "mine")] == [job_id]
