"""SSE: /api/v1/events, /events/jobs/{id}, /events/queues/{name} against a real server."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from conftest import Org, assert_error, free_port, start_server, stop_server
from realtime_clients import EventSource, Frame, job_event, sse


async def create(org: Org, queue: str, **fields) -> str:
    r = await org.client.post("/jobs", json={"queue_name": queue, "payload": {"n": 1}, **fields})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def claim(org: Org, queue: str) -> dict:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": "w"})
    [job] = r.json()["jobs"]
    return job


async def complete(org: Org, job: dict) -> None:
    r = await org.client.post(f"/jobs/{job['id']}/complete",
                              json={"worker_id": "w", "lease_id": job["lease_id"], "result": {"ok": 1}})
    assert r.status_code == 200, r.text


async def fail(org: Org, job: dict) -> None:
    r = await org.client.post(f"/jobs/{job['id']}/fail",
                              json={"worker_id": "w", "lease_id": job["lease_id"], "error": "boom"})
    assert r.status_code == 200, r.text


def first_real(frame: Frame) -> bool:
    return frame.event is not None


async def test_job_lifecycle_events_arrive_for_real_state_changes(org: Org, base_url):
    async with sse(base_url, "/api/v1/events", key=org.api_key) as stream:
        job_id = await create(org, "sse-life", priority=7)
        created = await stream.wait_for(job_event("job.created", job_id))
        assert created.data["type"] == "JobCreated"
        assert created.data["data"]["queue_name"] == "sse-life" and created.data["data"]["priority"] == 7
        assert "timestamp" in created.data["data"]

        job = await claim(org, "sse-life")
        started = await stream.wait_for(job_event("job.status", job_id))
        assert started.data["data"]["old_status"] == "pending"
        assert started.data["data"]["new_status"] == "processing"

        await complete(org, job)
        done = await stream.wait_for(job_event("job.completed", job_id))
        assert done.data["type"] == "JobCompleted" and isinstance(done.data["data"]["duration_ms"], int)

        failing = await create(org, "sse-life", max_retries=0)
        await fail(org, await claim(org, "sse-life"))
        failed = await stream.wait_for(job_event("job.failed", failing))
        assert failed.data["type"] == "JobFailed" and failed.data["data"]["error"] == "boom"


async def test_events_filter_limits_names(org: Org, base_url):
    async with sse(base_url, "/api/v1/events", key=org.api_key,
                   params={"events": "job.completed"}) as stream:
        job_id = await create(org, "sse-filter")
        await complete(org, await claim(org, "sse-filter"))
        seen: list[Frame] = []
        await stream.wait_for(job_event("job.completed", job_id), seen=seen)
        assert [f.event for f in seen if f.event] == ["job.completed"]


async def test_tenants_never_see_each_others_events(make_org, base_url):
    a, b = await make_org(), await make_org()
    async with sse(base_url, "/api/v1/events", key=b.api_key) as stream:
        a_ids = {await create(a, "shared-name") for _ in range(5)}
        marker = await create(b, "shared-name")
        seen: list[Frame] = []
        await stream.wait_for(job_event("job.created", marker), seen=seen)
        # One LISTEN connection delivers notifications in commit order: A's came first.
        leaked = [f for f in seen if f.data and f.data["data"].get("job_id") in a_ids]
        assert leaked == []


async def test_query_token_auth_accepts_api_key_and_jwt(org: Org, base_url, anon):
    login = await anon.post("/api/v1/auth/login", json={"api_key": org.api_key})
    jwt_token = login.json()["access_token"]
    for token in (org.api_key, jwt_token):
        async with sse(base_url, "/api/v1/events", params={"token": token}) as stream:
            job_id = await create(org, "sse-token")
            await stream.wait_for(job_event("job.created", job_id))
    assert_error(await anon.get("/api/v1/events", params={"token": "sp_test_nope"}), 401)
    assert_error(await anon.get("/api/v1/events"), 401)
    assert_error(await anon.get("/api/v1/events/jobs/x"), 401)


async def test_job_stream_starts_with_current_status_and_closes_after_completion(org: Org, base_url):
    job_id = await create(org, "sse-job")
    async with sse(base_url, f"/api/v1/events/jobs/{job_id}", key=org.api_key) as stream:
        first = await stream.wait_for(first_real)
        assert first.event == "job.status"
        assert first.data["data"] == {**first.data["data"], "job_id": job_id, "old_status": "",
                                      "new_status": "pending"}
        job = await claim(org, "sse-job")
        assert (await stream.wait_for(first_real)).data["data"]["new_status"] == "processing"
        await complete(org, job)
        last = await stream.wait_for(first_real)
        assert last.data["data"]["old_status"] == "processing"
        assert last.data["data"]["new_status"] == "completed"
        assert await stream.next() is None  # the server closed the stream
    # A finished job: one frame with its final status, then close.
    async with sse(base_url, f"/api/v1/events/jobs/{job_id}", key=org.api_key) as stream:
        assert (await stream.wait_for(first_real)).data["data"]["new_status"] == "completed"
        assert await stream.next() is None


async def test_job_stream_for_unknown_or_foreign_job_is_one_error(make_org, base_url):
    a, b = await make_org(), await make_org()
    foreign = await create(a, "sse-foreign")
    for job_id in ("no-such-job", foreign):
        async with sse(base_url, f"/api/v1/events/jobs/{job_id}", key=b.api_key) as stream:
            frame = await stream.wait_for(first_real)
            assert frame.event == "error"
            assert frame.data["type"] == "Error" and frame.data["data"]["message"] == "Job not found"
            assert await stream.next() is None


async def test_queue_stream_sends_stats_and_that_queues_events(org: Org, base_url):
    await create(org, "sse-q")
    await create(org, "sse-q", scheduled_at="2099-01-01T00:00:00Z")
    async with sse(base_url, "/api/v1/events/queues/sse-q", key=org.api_key) as stream:
        stats = await stream.wait_for(lambda f: f.event == "queue.stats")
        assert stats.data["type"] == "QueueStats"
        data = stats.data["data"]
        assert (data["queue_name"], data["pending"], data["processing"], data["completed"],
                data["failed"]) == ("sse-q", 2, 0, 0, 0)
        other = await create(org, "sse-q-other")
        mine = await create(org, "sse-q")
        seen: list[Frame] = []
        await stream.wait_for(job_event("job.created", mine), seen=seen)
        assert not any(f.data and f.data["data"].get("job_id") == other for f in seen)


async def test_rolled_back_change_emits_nothing(org: Org, base_url, pool: asyncpg.Pool):
    """R18 (c): NOTIFY is delivered at commit, so a rolled-back insert is never seen."""
    async with sse(base_url, "/api/v1/events", key=org.api_key,
                   params={"events": "job.created"}) as stream:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            ghost = await conn.fetchval(
                "INSERT INTO jobs (organization_id, queue_name, status, payload) "
                "VALUES ($1, 'sse-rollback', 'pending', '{}') RETURNING id", org.id)
            await tx.rollback()
        marker = await create(org, "sse-rollback")
        seen: list[Frame] = []
        await stream.wait_for(job_event("job.created", marker), seen=seen)
        assert not any(f.data and f.data["data"].get("job_id") == ghost for f in seen)


async def test_event_crosses_processes_exactly_once(org: Org, postgres_url):
    """R18 (c): a subscriber on process 2 sees a change made through process 1 exactly once."""
    second = start_server(postgres_url)
    try:
        async with sse(second.url, "/api/v1/events", key=org.api_key,
                       params={"events": "job.created"}) as stream:
            first = await create(org, "sse-cross")  # through process 1 (the session server)
            marker = await create(org, "sse-cross")
            seen: list[Frame] = []
            await stream.wait_for(job_event("job.created", marker), seen=seen)
            hits = [f for f in seen if f.data and f.data["data"].get("job_id") == first]
            assert len(hits) == 1
    finally:
        stop_server(second)


async def test_sse_stream_body_uses_the_documented_frame_format(org: Org, base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        async with client.stream("GET", "/api/v1/events/queues/fmt",
                                 headers={"Authorization": f"Bearer {org.api_key}"}) as r:
            raw = ""
            async for chunk in r.aiter_text():
                raw += chunk
                if raw.count("\n\n") >= 2:
                    break
    # The reconnect delay first, then the frames.
    assert raw.startswith("retry: 1000\n\nevent: queue.stats\ndata: {\"type\":\"QueueStats\""), raw[:200]


async def test_streams_end_promptly_when_the_server_shuts_down(org: Org, postgres_url):
    """Open streams must not hold a stopping server for its graceful-shutdown timeout."""
    other = start_server(postgres_url)
    try:
        async with sse(other.url, "/api/v1/events", key=org.api_key) as stream:
            await stream.wait_for(first_real)  # system.health: the stream is live
            started = time.monotonic()
            other.process.terminate()
            while await stream.next() is not None:
                pass
            assert time.monotonic() - started < 5
        await asyncio.wait_for(asyncio.to_thread(other.process.wait), 10)
    finally:
        stop_server(other)


async def test_worker_registration_and_deregistration_events(org: Org, base_url):
    async with sse(base_url, "/api/v1/events", key=org.api_key,
                   params={"events": "worker.registered,worker.deregistered"}) as stream:
        r = await org.client.post("/workers/register", json={"queue_name": "sse-work", "hostname": "h"})
        assert r.status_code == 201, r.text
        worker_id = r.json()["id"]
        registered = await stream.wait_for(lambda f: f.event == "worker.registered")
        assert registered.data["type"] == "WorkerRegistered"
        assert registered.data["data"]["worker_id"] == worker_id
        assert registered.data["data"]["queue_name"] == "sse-work"
        assert (await org.client.post(f"/workers/{worker_id}/deregister")).status_code == 204
        gone = await stream.wait_for(lambda f: f.event == "worker.deregistered")
        assert gone.data == {**gone.data, "type": "WorkerDeregistered"}
        assert gone.data["data"]["worker_id"] == worker_id


async def test_bulk_create_is_split_across_notifications_without_loss(org: Org, base_url):
    """100 jobs in one statement exceed one NOTIFY payload: every event still arrives once."""
    async with sse(base_url, "/api/v1/events", key=org.api_key,
                   params={"events": "job.created"}) as stream:
        r = await org.client.post("/jobs/bulk", json={"queue_name": "sse-bulk-" + "x" * 60,
                                                      "jobs": [{"payload": i} for i in range(100)]})
        assert r.status_code == 200, r.text
        ids = {s["job_id"] for s in r.json()["succeeded"]}
        got: list[str] = []
        while len(got) < len(ids):
            frame = await stream.wait_for(lambda f: f.event == "job.created")
            got.append(frame.data["data"]["job_id"])
        assert sorted(got) == sorted(ids)


async def test_r18b_an_event_source_reconnects_after_a_restart_and_gets_later_events(postgres_url, org: Org):
    """R18 (b): the server stops (streams end at once, not at the grace deadline) and starts
    again on the same address; the client, told `retry: 1000` on connect, comes back and
    receives an event of a change made after the restart."""
    port = free_port()
    first = await asyncio.to_thread(start_server, postgres_url, port)
    source = EventSource(f"{first.url}/api/v1/events", params={"token": org.api_key})
    try:
        async with httpx.AsyncClient(base_url=first.url + "/api/v1", timeout=30,
                                     headers={"Authorization": f"Bearer {org.api_key}"}) as api:
            await source.wait_for(lambda f: f.event == "system.health")
            before = (await api.post("/jobs", json={"queue_name": "r18b", "payload": {}})).json()["id"]
            connection, _ = await source.wait_for(job_event("job.created", before))
            assert connection == 1 and source.retry_ms == 1000

            stopping = time.monotonic()
            await asyncio.to_thread(stop_server, first)
            assert time.monotonic() - stopping < 8, "open streams held the shutdown to its grace deadline"
            second = await asyncio.to_thread(start_server, postgres_url, port)
            try:
                connection, _ = await source.wait_for(lambda f: f.event == "system.health")
                assert connection == 2
                after = (await api.post("/jobs", json={"queue_name": "r18b", "payload": {}})).json()["id"]
                connection, frame = await source.wait_for(job_event("job.created", after))
                assert connection == 2 and frame.data["type"] == "JobCreated"
            finally:
                await asyncio.to_thread(stop_server, second)
    finally:
        await source.close()
