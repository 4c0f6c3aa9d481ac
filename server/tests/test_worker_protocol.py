"""The worker protocol: claim, complete, fail, heartbeat, with lease fencing and backoff."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from conftest import Org, assert_error, start_server, stop_server, wait_until


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def enqueue(org: Org, queue: str, **fields) -> str:
    r = await org.client.post("/jobs", json={"queue_name": queue, "payload": fields.pop("payload", {}), **fields})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def claim(org: Org, queue: str, worker: str = "w1", **fields) -> list[dict]:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": worker, **fields})
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


async def job(org: Org, job_id: str) -> dict:
    return (await org.client.get(f"/jobs/{job_id}")).json()


async def test_claim_shape_and_processing_state(org: Org):
    job_id = await enqueue(org, "shape", payload={"a": 1})
    [c] = await claim(org, "shape", "worker-7", lease_duration_secs=60)
    assert {"id", "queue_name", "payload", "retry_count", "max_retries", "timeout_seconds",
            "lease_expires_at", "lease_id"} <= set(c)
    j = await job(org, job_id)
    assert j["status"] == "processing" and j["assigned_worker_id"] == "worker-7"
    assert j["lease_id"] == c["lease_id"]
    lease = (ts(j["lease_expires_at"]) - ts(j["started_at"])).total_seconds()
    assert 59 <= lease <= 61
    assert await claim(org, "shape") == []


async def test_claim_orders_by_priority_then_age_and_honours_limit(org: Org):
    low = await enqueue(org, "prio", priority=-5)
    first_mid = await enqueue(org, "prio", priority=0)
    high = await enqueue(org, "prio", priority=10)
    second_mid = await enqueue(org, "prio", priority=0)
    got = await claim(org, "prio", limit=3)
    assert [j["id"] for j in got] == [high, first_mid, second_mid]
    assert [j["id"] for j in await claim(org, "prio", limit=3)] == [low]


async def test_delayed_and_expired_jobs_are_not_claimed(org: Org):
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    await enqueue(org, "timing", scheduled_at=future)
    await enqueue(org, "timing", expires_at=past)
    ready = await enqueue(org, "timing")
    assert [j["id"] for j in await claim(org, "timing", limit=10)] == [ready]


async def test_claim_validation(org: Org):
    for body in ({"queue_name": "q"}, {"worker_id": "w"}, {"queue_name": "q", "worker_id": "w", "limit": 0},
                 {"queue_name": "q", "worker_id": "w", "limit": 101},
                 {"queue_name": "q", "worker_id": "w", "lease_duration_secs": 4},
                 {"queue_name": "q", "worker_id": "w", "lease_duration_secs": 3601},
                 {"queue_name": "q", "worker_id": "w", "wait_ms": 30_001}):
        assert_error(await org.client.post("/jobs/claim", json=body), 400, "VALIDATION_ERROR")


async def test_complete_requires_the_current_lease(org: Org):
    job_id = await enqueue(org, "fence")
    [c] = await claim(org, "fence")
    assert_error(await org.client.post(f"/jobs/{job_id}/complete", json={"worker_id": "w1", "lease_id": "stale"}),
                 409, "LEASE_EXPIRED")
    assert_error(await org.client.post(f"/jobs/{job_id}/complete", json={"worker_id": "other"}),
                 409, "LEASE_EXPIRED")
    assert (await job(org, job_id))["status"] == "processing"
    ok = await org.client.post(f"/jobs/{job_id}/complete", json={"worker_id": "w1", "lease_id": c["lease_id"],
                                                                  "result": {"v": 1}})
    assert ok.json() == {"success": True}
    done = await job(org, job_id)
    assert done["status"] == "completed" and done["result"] == {"v": 1} and done["completed_at"]


async def test_complete_without_lease_id_is_fenced_by_worker(org: Org):
    job_id = await enqueue(org, "legacy")
    await claim(org, "legacy", "legacy-worker")
    r = await org.client.post(f"/jobs/{job_id}/complete", json={"worker_id": "legacy-worker"})
    assert r.status_code == 200


async def test_repeated_complete_with_same_lease_is_idempotent(org: Org):
    job_id = await enqueue(org, "repeat")
    [c] = await claim(org, "repeat")
    body = {"worker_id": "w1", "lease_id": c["lease_id"], "result": {"first": True}}
    assert (await org.client.post(f"/jobs/{job_id}/complete", json=body)).status_code == 200
    again = await org.client.post(f"/jobs/{job_id}/complete", json={**body, "result": {"second": True}})
    assert again.status_code == 200
    assert (await job(org, job_id))["result"] == {"first": True}


async def test_lease_calls_on_unknown_job_are_404_and_need_a_fence(org: Org):
    for action, extra in (("complete", {}), ("fail", {"error": "x"}), ("heartbeat", {})):
        assert_error(await org.client.post(f"/jobs/missing/{action}", json={"worker_id": "w", **extra}),
                     404, "NOT_FOUND")
        assert_error(await org.client.post(f"/jobs/missing/{action}", json={**extra}), 400, "VALIDATION_ERROR")


async def test_fail_retries_with_documented_backoff(org: Org, pool):
    job_id = await enqueue(org, "backoff", max_retries=10)
    for retry_count, minutes in ((0, 1), (1, 2), (2, 4), (5, 32), (6, 60), (9, 60)):
        async with pool.acquire() as conn:
            await conn.execute("UPDATE jobs SET retry_count = $2, scheduled_at = NULL, status = 'pending'"
                               " WHERE id = $1", job_id, retry_count)
        [c] = await claim(org, "backoff")
        before = datetime.now(timezone.utc)
        r = await org.client.post(f"/jobs/{job_id}/fail",
                                  json={"worker_id": "w1", "lease_id": c["lease_id"], "error": "boom"})
        assert r.status_code == 200 and r.json()["success"] is True and r.json()["will_retry"] is True
        j = await job(org, job_id)
        assert j["status"] == "pending" and j["retry_count"] == retry_count + 1 and j["last_error"] == "boom"
        delay = (ts(j["scheduled_at"]) - before).total_seconds()
        assert minutes * 60 - 5 <= delay <= minutes * 60 + 5, (retry_count, delay)
        assert r.json()["next_retry_delay_secs"] == pytest.approx(minutes * 60, abs=5)
        assert await claim(org, "backoff") == []  # not visible until the backoff passes


async def test_retries_exhausted_goes_to_deadletter(org: Org):
    job_id = await enqueue(org, "exhaust", max_retries=1)
    [c] = await claim(org, "exhaust")
    await org.client.post(f"/jobs/{job_id}/fail", json={"worker_id": "w1", "lease_id": c["lease_id"], "error": "1"})
    j = await job(org, job_id)
    assert j["status"] == "pending" and j["retry_count"] == 1


async def test_max_retries_zero_and_no_retry_dead_letter_at_once(org: Org):
    for fields, body_extra in (({"max_retries": 0}, {}), ({"max_retries": 5}, {"no_retry": True})):
        job_id = await enqueue(org, "dead", **fields)
        [c] = await claim(org, "dead")
        r = await org.client.post(f"/jobs/{job_id}/fail", json={"worker_id": "w1", "lease_id": c["lease_id"],
                                                                 "error": "fatal", **body_extra})
        assert r.json()["will_retry"] is False
        j = await job(org, job_id)
        assert j["status"] == "deadletter" and j["last_error"] == "fatal" and j["retry_count"] == 0


async def test_fail_accepts_reason_alias_and_truncates_long_errors(org: Org):
    job_id = await enqueue(org, "alias", max_retries=0)
    [c] = await claim(org, "alias")
    r = await org.client.post(f"/jobs/{job_id}/fail", json={"lease_id": c["lease_id"], "reason": "r" * 20_000})
    assert r.status_code == 200
    stored = (await job(org, job_id))["last_error"]
    assert len(stored) == 4096 and stored.endswith("… [truncated]") and stored.startswith("rrr")
    assert_error(await org.client.post(f"/jobs/{job_id}/fail", json={"lease_id": "x"}), 400, "VALIDATION_ERROR")


async def test_heartbeat_extends_lease_and_is_fenced(org: Org):
    job_id = await enqueue(org, "hb")
    [c] = await claim(org, "hb", lease_duration_secs=10)
    r = await org.client.post(f"/jobs/{job_id}/heartbeat",
                              json={"worker_id": "w1", "lease_id": c["lease_id"], "lease_duration_secs": 600})
    assert r.status_code == 200 and r.json()["success"] is True
    assert (ts(r.json()["lease_expires_at"]) - datetime.now(timezone.utc)).total_seconds() > 500
    r = await org.client.post(f"/jobs/{job_id}/heartbeat",
                              json={"worker_id": "w1", "lease_id": c["lease_id"], "extension_secs": 30})
    assert r.status_code == 200
    assert_error(await org.client.post(f"/jobs/{job_id}/heartbeat", json={"lease_id": "old"}), 409, "LEASE_EXPIRED")


async def test_expired_lease_returns_job_within_two_seconds(org: Org):
    job_id = await enqueue(org, "expire")
    [c] = await claim(org, "expire", lease_duration_secs=5)
    expires = ts(c["lease_expires_at"])

    async def returned() -> bool:
        return (await job(org, job_id))["status"] == "pending"

    await wait_until(returned, timeout=12)
    back_at = datetime.now(timezone.utc)
    assert (back_at - expires).total_seconds() <= 2.5
    j = await job(org, job_id)
    assert j["retry_count"] == 1 and j["last_error"] == "Lease expired (worker timeout)" and j["lease_id"] is None


async def test_zombie_worker_is_rejected_and_changes_nothing(org: Org):
    """R2: A's lease expires, B claims and completes; A's late heartbeat and complete are 409."""
    job_id = await enqueue(org, "zombie")
    [a] = await claim(org, "zombie", "A", lease_duration_secs=5)

    got_b: list[dict] = []

    async def b_claims() -> bool:
        got_b.extend(await claim(org, "zombie", "B", lease_duration_secs=60))
        return bool(got_b)

    await wait_until(b_claims, timeout=12, interval=0.2)
    [b] = got_b
    assert b["retry_count"] == 1 and b["lease_id"] != a["lease_id"]
    assert (await org.client.post(f"/jobs/{job_id}/complete",
                                  json={"worker_id": "B", "lease_id": b["lease_id"], "result": {"by": "B"}})).status_code == 200
    before = await job(org, job_id)
    assert_error(await org.client.post(f"/jobs/{job_id}/heartbeat",
                                       json={"worker_id": "A", "lease_id": a["lease_id"], "lease_duration_secs": 30}),
                 409, "LEASE_EXPIRED")
    assert_error(await org.client.post(f"/jobs/{job_id}/complete",
                                       json={"worker_id": "A", "lease_id": a["lease_id"], "result": {"by": "A"}}),
                 409, "LEASE_EXPIRED")
    assert_error(await org.client.post(f"/jobs/{job_id}/fail",
                                       json={"worker_id": "A", "lease_id": a["lease_id"], "error": "late"}),
                 409, "LEASE_EXPIRED")
    after = await job(org, job_id)
    assert after == before and after["result"] == {"by": "B"} and after["retry_count"] == 1


async def test_zombie_rejected_while_new_holder_still_runs(org: Org):
    """R2 variant (i): B still running when A resumes; A rejected, B's later complete accepted."""
    job_id = await enqueue(org, "zombie2")
    [a] = await claim(org, "zombie2", "A", lease_duration_secs=5)
    got_b: list[dict] = []

    async def b_claims() -> bool:
        got_b.extend(await claim(org, "zombie2", "B", lease_duration_secs=60))
        return bool(got_b)

    await wait_until(b_claims, timeout=12, interval=0.2)
    assert_error(await org.client.post(f"/jobs/{job_id}/complete", json={"worker_id": "A", "lease_id": a["lease_id"]}),
                 409, "LEASE_EXPIRED")
    assert (await job(org, job_id))["status"] == "processing"
    r = await org.client.post(f"/jobs/{job_id}/complete", json={"worker_id": "B", "lease_id": got_b[0]["lease_id"]})
    assert r.status_code == 200


async def claims_waiting(client: httpx.AsyncClient) -> int:
    text = (await client.get("/metrics")).text
    return int(float(next(line.split()[1] for line in text.splitlines()
                          if line.startswith("spooled_claims_waiting "))))


async def test_long_poll_claim_wakes_when_a_job_arrives(org: Org, anon: httpx.AsyncClient):
    before = await claims_waiting(anon)
    started = time.monotonic()
    waiter = asyncio.create_task(org.client.post("/jobs/claim", json={
        "queue_name": "longpoll", "worker_id": "w", "wait_ms": 10_000}))

    async def asleep() -> bool:  # the claim found nothing and waits: the NOTIFY path is what wakes it
        return await claims_waiting(anon) > before
    await wait_until(asleep, timeout=5, interval=0.02)
    job_id = await enqueue(org, "longpoll")
    r = await waiter
    elapsed = time.monotonic() - started
    assert [j["id"] for j in r.json()["jobs"]] == [job_id]
    assert elapsed < 5


async def test_a_long_poll_whose_worker_died_leases_nothing(org: Org, anon: httpx.AsyncClient, base_url: str):
    """A worker killed while its claim waits leaves the connection closed: the server stops
    waiting, and a job arriving afterwards stays pending with no attempt used, instead of being
    leased to the dead worker until its lease runs out."""
    before = await claims_waiting(anon)
    doomed = httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                               headers={"Authorization": f"Bearer {org.api_key}"})
    waiter = asyncio.create_task(doomed.post("/jobs/claim", json={
        "queue_name": "dies-waiting", "worker_id": "doomed", "wait_ms": 20_000}))

    async def waiting() -> bool:
        return await claims_waiting(anon) > before
    await wait_until(waiting, timeout=5, interval=0.02)
    waiter.cancel()  # the worker dies: its connection closes mid-request
    await doomed.aclose()

    async def stopped_waiting() -> bool:
        return await claims_waiting(anon) == before
    await wait_until(stopped_waiting, timeout=5, interval=0.02)
    job_id = await enqueue(org, "dies-waiting")
    job = (await org.client.get(f"/jobs/{job_id}")).json()
    assert (job["status"], job["retry_count"], job["assigned_worker_id"]) == ("pending", 0, None)
    claimed = (await org.client.post("/jobs/claim", json={"queue_name": "dies-waiting", "worker_id": "alive"})).json()
    assert [j["id"] for j in claimed["jobs"]] == [job_id]


async def test_a_long_poll_answers_empty_at_once_when_the_server_stops(postgres_url: str, org: Org):
    """R16: on SIGTERM a waiting claim answers 200 with no jobs right away, so the shutdown is
    not held to its grace deadline and the worker simply claims again elsewhere."""
    own = await asyncio.to_thread(start_server, postgres_url)
    try:
        async with httpx.AsyncClient(base_url=own.url, timeout=30,
                                     headers={"Authorization": f"Bearer {org.api_key}"}) as http:
            before = await claims_waiting(http)
            waiter = asyncio.create_task(http.post("/api/v1/jobs/claim", json={
                "queue_name": "stops-waiting", "worker_id": "w", "wait_ms": 25_000}))

            async def waiting() -> bool:
                return await claims_waiting(http) > before
            await wait_until(waiting, timeout=5, interval=0.02)
            stopping = time.monotonic()
            own.process.send_signal(signal.SIGTERM)
            r = await asyncio.wait_for(waiter, 10)
            answered = time.monotonic() - stopping
        assert r.status_code == 200 and r.json()["jobs"] == []
        assert answered < 3, f"the claim answered {answered:.1f} s after SIGTERM"
        # uvicorn re-raises the signal once it has shut down cleanly, hence -SIGTERM.
        assert await asyncio.to_thread(own.process.wait, 15) in (0, -signal.SIGTERM)
    finally:
        await asyncio.to_thread(stop_server, own)


async def test_long_poll_returns_empty_when_wait_ends(org: Org):
    started = time.monotonic()
    assert await claim(org, "idle-longpoll", wait_ms=300) == []
    assert 0.25 <= time.monotonic() - started < 3


async def test_claims_are_scoped_to_the_organization(org: Org, make_org):
    other = await make_org()
    await enqueue(org, "shared-name")
    assert await claim(other, "shared-name", limit=10) == []
    assert len(await claim(org, "shared-name", limit=10)) == 1


async def test_batch_complete_judges_each_item_alone(org: Org):
    ids = [await enqueue(org, "batch-complete", payload={"i": i}) for i in range(3)]
    claimed = {j["id"]: j for j in await claim(org, "batch-complete", limit=3)}
    r = await org.client.post("/jobs/complete", json={"worker_id": "w1", "jobs": [
        {"job_id": ids[0], "lease_id": claimed[ids[0]]["lease_id"], "result": [1, 2]},
        {"job_id": ids[1], "lease_id": "stale"},
        {"job_id": "missing", "lease_id": "x"},
        {"job_id": ids[2], "result": {"legacy": True}},  # fenced by the batch's worker_id
    ]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["success"] for x in body["results"]] == [True, False, False, True]
    assert body["results"][1]["error"]["code"] == "LEASE_EXPIRED"
    assert body["results"][2]["error"]["code"] == "NOT_FOUND"
    assert (body["success_count"], body["failure_count"]) == (2, 2)
    assert (await job(org, ids[0]))["result"] == [1, 2]
    assert (await job(org, ids[1]))["status"] == "processing"
    assert (await job(org, ids[2]))["result"] == {"legacy": True}
    again = await org.client.post("/jobs/complete", json={"jobs": [
        {"job_id": ids[0], "lease_id": claimed[ids[0]]["lease_id"]}]})
    assert again.json()["results"][0]["success"] is True  # an exact repeat is answered as before
    assert_error(await org.client.post("/jobs/complete", json={"jobs": []}), 400, "VALIDATION_ERROR")
    assert_error(await org.client.post("/jobs/complete", json={"jobs": [{"job_id": ids[1]}]}), 400,
                 "VALIDATION_ERROR")
