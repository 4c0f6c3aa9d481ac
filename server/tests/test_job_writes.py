"""The coalesced write paths of services/job_writes.py, driven directly on the test database."""

from __future__ import annotations

import asyncpg

from conftest import Org
from spooled_server.services import job_writes
from spooled_server.settings import Settings


async def test_a_failed_release_pass_does_not_fail_committed_completes(org: Org, pool, monkeypatch):
    parent = (await org.client.post("/jobs", json={"queue_name": "jw", "payload": {}})).json()["id"]
    child = (await org.client.post("/jobs", json={"queue_name": "jw-child", "payload": {}})).json()["id"]
    r = await org.client.post(f"/jobs/{child}/dependencies", json={"depends_on": [parent]})
    assert r.status_code == 200, r.text
    claimed = (await org.client.post("/jobs/claim", json={"queue_name": "jw", "worker_id": "w"})).json()["jobs"]
    assert [j["id"] for j in claimed] == [parent]
    calls = []

    async def broken(conn, parents):
        calls.append(parents)
        raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")

    monkeypatch.setattr(job_writes.store, "release_dependents", broken)
    writes = job_writes.JobWrites(pool, Settings(database_url="postgresql://unused"))
    row = await writes.completes.submit({"org_id": org.id, "job_id": parent, "lease_id": claimed[0]["lease_id"],
                                         "worker_id": "w", "result": None})
    # The completion committed and is answered as applied; the release pass was retried alone.
    assert row["id"] == parent and row["prior_status"] == "processing"
    assert len(calls) == 3 and all(c == [parent] for c in calls)
    assert (await org.client.get(f"/jobs/{parent}")).json()["status"] == "completed"
