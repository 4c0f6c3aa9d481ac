"""Concurrent completion of sibling parents must release their shared child exactly once.

Each completing transaction locks the child before judging it in a fresh snapshot, so the
last parent to commit always sees the others completed (the race a single statement loses).
"""

from __future__ import annotations

import asyncio

import httpx

from conftest import Org


async def test_child_released_when_many_parents_complete_at_once(org: Org, base_url):
    for _round in range(3):
        parents = []
        for i in range(20):
            r = await org.client.post("/jobs", json={"queue_name": "fan-in-parents", "payload": {"i": i}})
            parents.append(r.json()["id"])
        child = (await org.client.post("/jobs", json={"queue_name": "fan-in-child", "payload": {}})).json()["id"]
        r = await org.client.post(f"/jobs/{child}/dependencies", json={"depends_on": parents})
        assert r.status_code == 200, r.text
        claimed = (await org.client.post("/jobs/claim", json={"queue_name": "fan-in-parents", "worker_id": "w",
                                                               "limit": 20})).json()["jobs"]
        assert len(claimed) == 20
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=base_url + "/api/v1", limits=limits, timeout=30,
                                     headers={"Authorization": f"Bearer {org.api_key}"}) as client:
            done = await asyncio.gather(*(client.post(f"/jobs/{j['id']}/complete",
                                                      json={"worker_id": "w", "lease_id": j["lease_id"]})
                                          for j in claimed))
        assert {d.status_code for d in done} == {200}

        # Released in the transaction of the last parent's completion: no waiting.
        assert (await org.client.get(f"/jobs/{child}")).json()["dependencies_met"] is True
        got = (await org.client.post("/jobs/claim", json={"queue_name": "fan-in-child", "worker_id": "w"})).json()
        assert [j["id"] for j in got["jobs"]] == [child]
