"""The vertical slice: enqueue, claim, complete against the real server."""

from conftest import Org


async def test_enqueue_claim_complete(org: Org):
    created = await org.client.post("/jobs", json={"queue_name": "emails", "payload": {"n": 1}})
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    claimed = await org.client.post("/jobs/claim", json={"queue_name": "emails", "worker_id": "w1"})
    assert claimed.status_code == 200
    [job] = claimed.json()["jobs"]
    assert job["id"] == job_id and job["payload"] == {"n": 1}
    done = await org.client.post(f"/jobs/{job_id}/complete",
                                 json={"worker_id": "w1", "lease_id": job["lease_id"], "result": {"ok": True}})
    assert done.status_code == 200 and done.json() == {"success": True}
    got = (await org.client.get(f"/jobs/{job_id}")).json()
    assert got["status"] == "completed" and got["result"] == {"ok": True}
