"""Job dependencies: a dependent is not claimable until its dependencies complete (through the
real claim + complete API), `any` mode, dead dependencies cancel, cycles are skipped, the
three body spellings, errors and tenant isolation."""

from __future__ import annotations

import pytest

from conftest import Org, assert_error

ITEM_KEYS = {"job_id", "queue_name", "status", "dependency_type", "completed"}


async def enqueue(org: Org, queue: str, **fields) -> str:
    r = await org.client.post("/jobs", json={"queue_name": queue, "payload": {}, **fields})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def claim(org: Org, queue: str, limit: int = 10) -> list[dict]:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": "w1", "limit": limit})
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


async def run(org: Org, queue: str, job_id: str, *, succeed: bool = True) -> None:
    """Claims the next job of `queue`, which must be `job_id`, and completes (or finally fails) it."""
    [c] = await claim(org, queue, limit=1)
    assert c["id"] == job_id
    if succeed:
        r = await org.client.post(f"/jobs/{job_id}/complete", json={"lease_id": c["lease_id"]})
    else:
        r = await org.client.post(f"/jobs/{job_id}/fail", json={"lease_id": c["lease_id"], "error": "boom",
                                                                "no_retry": True})
    assert r.status_code == 200, r.text


async def add(org: Org, job_id: str, **body) -> dict:
    r = await org.client.post(f"/jobs/{job_id}/dependencies", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def job(org: Org, job_id: str) -> dict:
    return (await org.client.get(f"/jobs/{job_id}")).json()


async def test_dependent_is_claimable_only_after_its_dependency_completes(org: Org):
    parent = await enqueue(org, "parents")
    child = await enqueue(org, "children")
    r = await add(org, child, depends_on=[parent])
    assert {"job_id", "dependencies_added", "added", "added_count", "dependencies_met", "dependencies",
            "success"} <= set(r)
    assert r["job_id"] == child and r["dependencies"] == [parent] and r["success"] is True
    assert r["dependencies_added"] == r["added"] == r["added_count"] == 1
    assert r["dependencies_met"] is False

    view = (await org.client.get(f"/jobs/{child}/dependencies")).json()
    assert view["job_id"] == child and view["status"] == "pending" and view["dependency_mode"] == "all"
    assert view["dependencies_met"] is False and view["dependents"] == []
    [dep] = view["dependencies"]
    assert set(dep) == ITEM_KEYS
    assert (dep["job_id"], dep["queue_name"], dep["status"], dep["completed"]) == (parent, "parents", "pending", False)
    parent_view = (await org.client.get(f"/jobs/{parent}/dependencies")).json()
    assert [d["job_id"] for d in parent_view["dependents"]] == [child] and parent_view["dependencies"] == []

    assert await claim(org, "children") == []
    await run(org, "parents", parent)
    assert [j["id"] for j in await claim(org, "children")] == [child]
    view = (await org.client.get(f"/jobs/{child}/dependencies")).json()
    assert view["dependencies_met"] is True and view["dependencies"][0]["completed"] is True


async def test_all_mode_waits_for_every_dependency(org: Org):
    p1, p2 = await enqueue(org, "all-p"), await enqueue(org, "all-p")
    child = await enqueue(org, "all-c")
    await add(org, child, depends_on=[p1, p2], dependency_mode="all")
    await run(org, "all-p", p1)
    assert await claim(org, "all-c") == []
    await run(org, "all-p", p2)
    assert [j["id"] for j in await claim(org, "all-c")] == [child]


async def test_any_mode_runs_after_the_first_dependency_completes(org: Org):
    # p2 runs first (higher priority): any one completed dependency is enough.
    p1, p2 = await enqueue(org, "any-p"), await enqueue(org, "any-p", priority=10)
    child = await enqueue(org, "any-c")
    r = await add(org, child, dependency_job_ids=[p1, p2], dependency_mode="any")
    assert r["dependencies_met"] is False and sorted(r["dependencies"]) == sorted([p1, p2])
    assert (await job(org, child))["dependency_mode"] == "any"
    assert await claim(org, "any-c") == []
    await run(org, "any-p", p2)
    assert [j["id"] for j in await claim(org, "any-c")] == [child]


async def test_dependency_already_completed_is_met_at_once(org: Org):
    parent = await enqueue(org, "done-p")
    await run(org, "done-p", parent)
    child = await enqueue(org, "done-c")
    r = await add(org, child, depends_on_job_ids=[parent], dependency_type="completion")
    assert r["dependencies_met"] is True
    view = (await org.client.get(f"/jobs/{child}/dependencies")).json()
    assert view["dependencies"][0]["dependency_type"] == "completion"
    assert [j["id"] for j in await claim(org, "done-c")] == [child]


async def test_dead_dependency_cancels_the_dependent_and_its_descendants(org: Org):
    parent = await enqueue(org, "dead-p", max_retries=0)
    child = await enqueue(org, "dead-c")
    grandchild = await enqueue(org, "dead-g")
    await add(org, child, depends_on=[parent])
    await add(org, grandchild, depends_on=[child])
    await run(org, "dead-p", parent, succeed=False)
    assert (await job(org, parent))["status"] == "deadletter"
    assert (await job(org, child))["status"] == "cancelled"
    assert (await job(org, grandchild))["status"] == "cancelled"
    assert await claim(org, "dead-c") == [] and await claim(org, "dead-g") == []


async def test_depending_on_an_already_dead_job_cancels_at_once(org: Org):
    parent = await enqueue(org, "gone-p", max_retries=0)
    await run(org, "gone-p", parent, succeed=False)
    live = await enqueue(org, "gone-p")
    child = await enqueue(org, "gone-c")
    grandchild = await enqueue(org, "gone-g")
    await add(org, grandchild, depends_on=[child])
    r = await add(org, child, depends_on=[live, parent])
    assert r["status"] == "cancelled" and r["dependencies_met"] is False
    assert (await job(org, child))["status"] == "cancelled"
    assert (await job(org, grandchild))["status"] == "cancelled"
    # Further edits are refused: the job is no longer waiting.
    assert_error(await org.client.post(f"/jobs/{child}/dependencies", json={"depends_on": [live]}), 409, "CONFLICT")


async def test_any_mode_survives_one_dead_dependency(org: Org):
    dead = await enqueue(org, "anyd-p", max_retries=0)
    await run(org, "anyd-p", dead, succeed=False)
    live = await enqueue(org, "anyd-p")
    child = await enqueue(org, "anyd-c")
    r = await add(org, child, depends_on=[dead, live], dependency_mode="any")
    assert r["status"] == "pending" and r["dependencies_met"] is False
    await run(org, "anyd-p", live)
    assert [j["id"] for j in await claim(org, "anyd-c")] == [child]


async def test_self_cycles_and_duplicates_are_skipped(org: Org):
    a, b, c = await enqueue(org, "cyc"), await enqueue(org, "cyc"), await enqueue(org, "cyc")
    assert (await add(org, a, depends_on=[a]))["added"] == 0
    assert (await add(org, b, depends_on=[a, a]))["added"] == 1
    assert (await add(org, c, depends_on=[b]))["added"] == 1
    # a -> c would close a -> c -> b -> a; a -> b would close a -> b -> a.
    r = await add(org, a, depends_on=[c, b])
    assert r["added"] == 0 and r["dependencies"] == [] and r["dependencies_met"] is True
    # Adding an existing edge again adds nothing.
    r = await add(org, b, depends_on=[a])
    assert r["added"] == 0 and r["dependencies"] == [a]
    assert [j["id"] for j in await claim(org, "cyc")] == [a]


async def test_the_three_id_keys_are_merged(org: Org):
    p1, p2, p3 = await enqueue(org, "keys"), await enqueue(org, "keys"), await enqueue(org, "keys")
    child = await enqueue(org, "keys-c")
    r = await add(org, child, depends_on=[p1], depends_on_job_ids=[p2, p1], dependency_job_ids=[p3])
    assert r["added"] == 3 and sorted(r["dependencies"]) == sorted([p1, p2, p3])


async def test_errors(org: Org, make_org):
    parent = await enqueue(org, "err")
    child = await enqueue(org, "err-c")
    foreign = await enqueue(await make_org(), "err")
    c = org.client
    assert_error(await c.post("/jobs/unknown/dependencies", json={"depends_on": [parent]}), 404, "NOT_FOUND")
    assert_error(await c.post(f"/jobs/{child}/dependencies", json={"depends_on": ["unknown"]}), 404, "NOT_FOUND")
    assert_error(await c.post(f"/jobs/{child}/dependencies", json={"depends_on": [foreign]}), 404, "NOT_FOUND")
    assert (await job(org, child))["dependencies_met"] is True  # nothing was half-applied
    await claim(org, "err-c")  # child is now processing
    assert_error(await c.post(f"/jobs/{child}/dependencies", json={"depends_on": [parent]}), 409, "CONFLICT")
    r = await c.post(f"/jobs/{parent}/dependencies", content=b"{", headers={"content-type": "application/json"})
    assert_error(r, 400, "INVALID_JSON")
    # Ids that cannot exist (NUL) are unknown ids, answered before reaching the database.
    assert_error(await c.get("/jobs/a%00b/dependencies"), 404, "NOT_FOUND")
    assert_error(await c.post("/jobs/a%00b/dependencies", json={"depends_on": [parent]}), 404, "NOT_FOUND")


@pytest.mark.parametrize("body", [{}, {"depends_on": []}, {"depends_on": "abc"}, {"depends_on": [""]},
                                  {"depends_on": [f"id-{i}" for i in range(101)]},
                                  {"depends_on": [f"a{i}" for i in range(60)],
                                   "dependency_job_ids": [f"b{i}" for i in range(60)]},
                                  {"depends_on": ["x"], "dependency_mode": "most"},
                                  {"depends_on": ["x"], "dependency_type": ""}])
async def test_validation(org: Org, body):
    job_id = await enqueue(org, "val")
    assert_error(await org.client.post(f"/jobs/{job_id}/dependencies", json=body), 400, "VALIDATION_ERROR")


async def test_dependencies_are_isolated_between_organizations(org: Org, make_org):
    other = await make_org()
    parent = await enqueue(org, "iso")
    child = await enqueue(org, "iso-c")
    await add(org, child, depends_on=[parent])
    assert_error(await other.client.get(f"/jobs/{child}/dependencies"), 404, "NOT_FOUND")
    assert_error(await other.client.get("/jobs/unknown/dependencies"), 404, "NOT_FOUND")
    own = await enqueue(other, "iso")
    assert_error(await other.client.post(f"/jobs/{child}/dependencies", json={"depends_on": [own]}),
                 404, "NOT_FOUND")
    assert_error(await other.client.post(f"/jobs/{own}/dependencies", json={"depends_on": [parent]}),
                 404, "NOT_FOUND")
    assert (await other.client.get(f"/jobs/{own}/dependencies")).json()["dependencies"] == []
