"""R4 and R5 (reliability scenarios 2.1): the server dies right after a COMMIT, before it
answers. A failpoint (SPOOLED_FAILPOINTS) makes the first server exit at exactly that point;
the test, as supervisor, starts a normal server on the same port as soon as the first has
exited, and the Python SDK's own retry must carry the call across the restart to the right
answer: the same result, never a second write.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

import httpx
import spooled

from conftest import Org, ServerProcess, free_port, start_server, stop_server, wait_until

# The SDK's retries must outlast one restart (a new process: import, migrate, pool) on a slow
# CI machine; the default policy (0.5 s, 1 s, 2 s, less jitter) can be shorter than that.
RETRY = spooled.RetryConfig(max_retries=10, base_delay=0.25, max_delay=1.0)
RESTART_DEADLINE_SECS = 30.0


class SdkCall:
    """Runs one blocking SDK call in a thread and keeps its answer or its error."""

    def __init__(self, call: Callable[[], Any]):
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.result = call()
        except BaseException as err:  # noqa: BLE001 - handed to the test to assert on
            self.error = err

    def join(self, timeout: float) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the SDK call did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def restart_after_exit(first: ServerProcess, postgres_url: str, port: int, **env: str) -> ServerProcess:
    """Waits (with a deadline) for the failpoint to end the first process, then starts a
    normal server on the same port. Returns the new server."""
    deadline = time.monotonic() + RESTART_DEADLINE_SECS
    while first.process.poll() is None:
        assert time.monotonic() < deadline, f"the failpoint never fired:\n{first.log_tail()}"
        time.sleep(0.02)
    assert first.process.returncode == 1, first.log_tail()
    assert "failpoint" in first.log_tail(), first.log_tail()
    return start_server(postgres_url, port, **env)


async def api(server: ServerProcess, org: Org, method: str, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", timeout=30,
                                 headers={"Authorization": f"Bearer {org.api_key}"}) as client:
        return await client.request(method, path, **kwargs)


async def test_r5_complete_lost_after_commit_is_retried_to_one_completion(postgres_url, org: Org, pool):
    """R5 (complete): the completion commits, the server dies before answering; the SDK's
    retry with the same lease token is answered as success, and the job is completed once,
    with the first result and one job.completed outbox row."""
    port = free_port()
    # Deliveries target a closed loopback port: they fail and stay in the outbox, countable.
    env = {"SPOOLED_WEBHOOK_ALLOW_LOOPBACK": "true"}
    first = await asyncio.to_thread(start_server, postgres_url, port,
                                    SPOOLED_FAILPOINTS="complete.after_commit", **env)
    second = None
    try:
        hook = await api(first, org, "POST", "/outgoing-webhooks", json={
            "name": "r5", "url": f"http://127.0.0.1:{free_port()}/hook", "events": ["job.completed"]})
        assert hook.status_code == 201, hook.text
        created = await api(first, org, "POST", "/jobs", json={"queue_name": "r5c", "payload": {"n": 1}})
        job_id = created.json()["id"]
        claimed = await api(first, org, "POST", "/jobs/claim",
                            json={"queue_name": "r5c", "worker_id": "w-r5", "lease_duration_secs": 60})
        [lease] = claimed.json()["jobs"]
        assert lease["id"] == job_id

        client = spooled.SpooledClient(org.api_key, base_url=first.url, retry=RETRY)
        try:
            call = SdkCall(lambda: client.jobs.complete(job_id, {
                "worker_id": "w-r5", "lease_id": lease["lease_id"], "result": {"answer": 42}}))
            second = await asyncio.to_thread(restart_after_exit, first, postgres_url, port, **env)
            answer = await asyncio.to_thread(call.join, RESTART_DEADLINE_SECS + 30)
        finally:
            client.close()
        assert answer.success is True

        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT status, result, retry_count FROM jobs WHERE id = $1", job_id)
            outbox = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries_out WHERE event = 'job.completed'"
                " AND payload->>'job_id' = $1", job_id)
        assert row["status"] == "completed" and row["retry_count"] == 0
        assert row["result"] in ({"answer": 42}, '{"answer": 42}')
        assert outbox == 1
    finally:
        for server in (first, second):
            if server is not None and server.process.poll() is None:
                await asyncio.to_thread(stop_server, server)


async def test_r5_enqueue_lost_after_commit_is_retried_to_the_same_job(postgres_url, org: Org, pool):
    """R5 (enqueue): the insert commits, the server dies before answering; the SDK's retry
    with the same idempotency key returns the same job id, and only one row has that key."""
    port = free_port()
    first = await asyncio.to_thread(start_server, postgres_url, port, SPOOLED_FAILPOINTS="enqueue.after_commit")
    second = None
    try:
        client = spooled.SpooledClient(org.api_key, base_url=first.url, retry=RETRY)
        try:
            call = SdkCall(lambda: client.jobs.create({
                "queue_name": "r5e", "payload": {"n": 1}, "idempotency_key": "r5-enqueue-key"}))
            second = await asyncio.to_thread(restart_after_exit, first, postgres_url, port)
            answer = await asyncio.to_thread(call.join, RESTART_DEADLINE_SECS + 30)
        finally:
            client.close()

        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT id, status FROM jobs WHERE organization_id = $1"
                                    " AND idempotency_key = 'r5-enqueue-key'", org.id)
        assert [r["id"] for r in rows] == [answer.id]
        assert answer.created is False  # the retry found the row the lost answer had committed
        assert rows[0]["status"] == "pending"
    finally:
        for server in (first, second):
            if server is not None and server.process.poll() is None:
                await asyncio.to_thread(stop_server, server)


async def test_r4_claim_lost_after_commit_returns_after_its_lease(postgres_url, org: Org, pool):
    """R4 (deterministic part): a claim leases a job and the server dies before answering;
    after the restart the job comes back when its lease expires (retry_count 1), and is then
    claimed and completed exactly once."""
    port = free_port()
    env = {"SPOOLED_REAPER_INTERVAL_SECS": "0.5"}
    first = await asyncio.to_thread(start_server, postgres_url, port, SPOOLED_FAILPOINTS="claim.after_commit", **env)
    second = None
    try:
        created = await api(first, org, "POST", "/jobs", json={"queue_name": "r4", "payload": {}})
        job_id = created.json()["id"]
        try:
            lost = await api(first, org, "POST", "/jobs/claim",
                             json={"queue_name": "r4", "worker_id": "w-lost", "lease_duration_secs": 5})
            raise AssertionError(f"the claim was answered: {lost.status_code} {lost.text}")
        except httpx.TransportError:
            pass  # the answer was lost: the server died after leasing the job
        second = await asyncio.to_thread(restart_after_exit, first, postgres_url, port, **env)

        async with pool.acquire() as conn:
            leased = await conn.fetchrow("SELECT status, assigned_worker_id FROM jobs WHERE id = $1", job_id)
        assert leased["status"] == "processing" and leased["assigned_worker_id"] == "w-lost"

        async def returned() -> bool:
            async with pool.acquire() as conn:
                row = await conn.fetchrow("SELECT status, retry_count FROM jobs WHERE id = $1", job_id)
            return row["status"] == "pending" and row["retry_count"] == 1

        await wait_until(returned, timeout=15)

        claimed = await api(second, org, "POST", "/jobs/claim",
                            json={"queue_name": "r4", "worker_id": "w-next", "lease_duration_secs": 60})
        [lease] = claimed.json()["jobs"]
        assert lease["id"] == job_id
        done = await api(second, org, "POST", f"/jobs/{job_id}/complete",
                         json={"worker_id": "w-next", "lease_id": lease["lease_id"], "result": {"ok": True}})
        assert done.status_code == 200, done.text
        again = await api(second, org, "POST", "/jobs/claim", json={"queue_name": "r4", "worker_id": "w-next"})
        assert again.json()["jobs"] == []

        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT status, retry_count FROM jobs WHERE id = $1", job_id)
        assert row["status"] == "completed" and row["retry_count"] == 1
    finally:
        for server in (first, second):
            if server is not None and server.process.poll() is None:
                await asyncio.to_thread(stop_server, server)
