"""Workflows through the real API: creation and its refusals, progress derived from the jobs,
the A->(B,C)->D diamond run with claim/complete, `any` mode, a dead parent failing the
workflow, retry, cancel, delete and tenant isolation."""

from __future__ import annotations

import pytest

from conftest import Org, OrgFactory, assert_error

WORKFLOW_KEYS = {"id", "name", "description", "status", "total_jobs", "completed_jobs", "failed_jobs",
                 "progress_percent", "created_at", "started_at", "completed_at", "metadata"}
JOB_KEYS = {"id", "workflow_id", "key", "queue_name", "status", "payload", "result", "error", "depends_on",
            "dependency_mode", "priority", "max_retries", "attempt", "timeout_seconds", "created_at",
            "started_at", "completed_at"}


def job(key: str, queue: str = "wf", deps: list[str] | None = None, **fields) -> dict:
    spec = {"key": key, "queue_name": queue, "payload": {"key": key}, **fields}
    if deps is not None:
        spec["depends_on"] = deps
    return spec


async def create(org: Org, *jobs: dict, name: str = "flow", **fields) -> dict:
    r = await org.client.post("/workflows", json={"name": name, "jobs": list(jobs), **fields})
    assert r.status_code == 200, r.text
    return r.json()


def ids_by_key(created: dict) -> dict[str, str]:
    return {item["key"]: item["job_id"] for item in created["job_ids"]}


async def workflow(org: Org, workflow_id: str) -> dict:
    r = await org.client.get(f"/workflows/{workflow_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def statuses(org: Org, workflow_id: str) -> dict[str, str]:
    r = await org.client.get(f"/workflows/{workflow_id}/jobs/status")
    assert r.status_code == 200, r.text
    return {item["key"]: item["status"] for item in r.json()}


async def claim(org: Org, queue: str = "wf", limit: int = 10) -> list[dict]:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": "w1", "limit": limit})
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


async def complete(org: Org, claimed: dict) -> None:
    r = await org.client.post(f"/jobs/{claimed['id']}/complete",
                              json={"lease_id": claimed["lease_id"], "result": {"done": claimed["id"]}})
    assert r.status_code == 200, r.text


async def fail(org: Org, claimed: dict) -> None:
    r = await org.client.post(f"/jobs/{claimed['id']}/fail", json={"lease_id": claimed["lease_id"], "error": "boom"})
    assert r.status_code == 200, r.text


async def run_only(org: Org, expected_id: str, queue: str = "wf", *, succeed: bool = True) -> None:
    """Claims the queue, which must hold exactly `expected_id` ready, and finishes it."""
    claimed = await claim(org, queue)
    assert [c["id"] for c in claimed] == [expected_id]
    await (complete if succeed else fail)(org, claimed[0])


# -- creation ---------------------------------------------------------------------------------

async def test_create_answers_200_with_one_job_id_per_key(org: Org):
    r = await org.client.post("/workflows", json={
        "name": "Onboarding (v2)", "description": "new users", "metadata": {"team": "growth"},
        "jobs": [job("welcome"), job("followup", deps=["welcome"], priority=5, max_retries=1,
                                     timeout_seconds=60, dependency_mode="any")]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "pending" and [i["key"] for i in body["job_ids"]] == ["welcome", "followup"]
    ids = ids_by_key(body)

    wf = await workflow(org, body["workflow_id"])
    assert set(wf) == WORKFLOW_KEYS
    assert wf["id"] == body["workflow_id"] and wf["name"] == "Onboarding (v2)" and wf["description"] == "new users"
    assert wf["metadata"] == {"team": "growth"}
    assert (wf["status"], wf["total_jobs"], wf["completed_jobs"], wf["failed_jobs"]) == ("pending", 2, 0, 0)
    assert wf["progress_percent"] == 0 and wf["started_at"] is None and wf["completed_at"] is None

    jobs = (await org.client.get(f"/workflows/{body['workflow_id']}/jobs")).json()
    assert [j["key"] for j in jobs] == ["welcome", "followup"]
    assert all(set(j) == JOB_KEYS for j in jobs)
    first, second = jobs
    assert first["id"] == ids["welcome"] and first["workflow_id"] == body["workflow_id"]
    assert (first["depends_on"], first["dependency_mode"], first["priority"], first["max_retries"],
            first["timeout_seconds"], first["attempt"]) == ([], "all", 0, 3, 300, 0)
    assert first["payload"] == {"key": "welcome"} and first["status"] == "pending"
    assert (second["depends_on"], second["dependency_mode"], second["priority"], second["max_retries"],
            second["timeout_seconds"]) == (["welcome"], "any", 5, 1, 60)

    one = await org.client.get(f"/workflows/{body['workflow_id']}/jobs/{ids['followup']}")
    assert one.status_code == 200 and one.json() == second
    assert await statuses(org, body["workflow_id"]) == {"welcome": "pending", "followup": "pending"}
    # The engine sees the same: only the job without dependencies is ready.
    dep_view = (await org.client.get(f"/jobs/{ids['followup']}/dependencies")).json()
    assert dep_view["dependencies_met"] is False and dep_view["dependency_mode"] == "any"


async def test_null_optional_fields_take_their_defaults(org: Org):
    created = await create(org, {"key": "a", "queue_name": "wf", "payload": [1], "depends_on": None,
                                 "priority": None, "max_retries": None, "dependency_mode": None},
                           description=None, metadata=None)
    [a] = (await org.client.get(f"/workflows/{created['workflow_id']}/jobs")).json()
    assert (a["depends_on"], a["priority"], a["max_retries"], a["dependency_mode"]) == ([], 0, 3, "all")


@pytest.mark.parametrize("jobs, fragment", [
    ([job("a"), job("a")], "'a'"),
    ([job("a"), job("b", deps=["ghost"])], "ghost"),
    ([job("a", deps=["b"]), job("b", deps=["a"])], "cycle"),
    ([job("solo", deps=["solo"])], "solo"),
])
async def test_graph_errors_are_400_bad_request_and_write_nothing(org: Org, jobs: list, fragment: str):
    r = await org.client.post("/workflows", json={"name": "bad", "jobs": jobs})
    body = assert_error(r, 400, "BAD_REQUEST")
    assert fragment in body["message"]
    assert (await org.client.get("/workflows")).json() == []
    assert (await org.client.get("/jobs")).json() == []


@pytest.mark.parametrize("body", [
    {"jobs": [job("a")]},
    {"name": "", "jobs": [job("a")]},
    {"name": "semi;colon", "jobs": [job("a")]},
    {"name": "x" * 256, "jobs": [job("a")]},
    {"name": "ok", "description": "d" * 1001, "jobs": [job("a")]},
    {"name": "ok", "metadata": [1, 2], "jobs": [job("a")]},
    {"name": "ok", "metadata": {"big": "m" * 65536}, "jobs": [job("a")]},
    {"name": "ok", "jobs": []},
    {"name": "ok", "jobs": [job(f"j{i}") for i in range(101)]},
    {"name": "ok", "jobs": [job("has space")]},
    {"name": "ok", "jobs": [job("k" * 101)]},
    {"name": "ok", "jobs": [job("a", queue=".hidden")]},
    {"name": "ok", "jobs": [{"key": "a", "queue_name": "wf"}]},
    {"name": "ok", "jobs": [{"key": "a", "queue_name": "wf", "payload": None}]},
    {"name": "ok", "jobs": [job("a", priority=101)]},
    {"name": "ok", "jobs": [job("a", max_retries=101)]},
    {"name": "ok", "jobs": [job("a", timeout_seconds=0)]},
    {"name": "ok", "jobs": [job("a", timeout_seconds=86401)]},
    {"name": "ok", "jobs": [job("a", dependency_mode="some")]},
])
async def test_invalid_bodies_are_400(org: Org, body: dict):
    assert_error(await org.client.post("/workflows", json=body), 400)
    assert (await org.client.get("/workflows")).json() == []


async def test_oversized_payload_is_413_and_writes_nothing(org: Org):
    big = {"blob": "x" * (1024 * 1024)}
    r = await org.client.post("/workflows", json={"name": "big", "jobs": [job("a"), {**job("b"), "payload": big}]})
    body = assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["field"] == "jobs.1.payload"
    assert (await org.client.get("/workflows")).json() == []


async def test_free_plan_has_no_workflows(make_org: OrgFactory):
    free = await make_org("free")
    r = await free.client.post("/workflows", json={"name": "x", "jobs": [job("a")]})
    body = assert_error(r, 429, "QUOTA_EXCEEDED")
    assert body["details"]["resource"] == "workflows" and body["details"]["limit"] == 0
    assert (await free.client.get("/jobs")).json() == []


async def test_plan_caps_unfinished_workflows(make_org: OrgFactory):
    starter = await make_org("starter")  # max_workflows = 5
    created = [await create(starter, job("a", queue=f"q{i}"), name=f"w{i}") for i in range(5)]
    body = assert_error(await starter.client.post("/workflows", json={"name": "w5", "jobs": [job("a")]}),
                        429, "QUOTA_EXCEEDED")
    assert body["details"]["resource"] == "workflows" and body["details"]["limit"] == 5
    # Workflows that finished (completed, or cancelled) no longer count.
    await run_only(starter, ids_by_key(created[0])["a"], "q0")
    await create(starter, job("a"), name="w5")
    await starter.client.post(f"/workflows/{created[1]['workflow_id']}/cancel")
    await create(starter, job("a"), name="w6")
    usage = (await starter.client.get("/organizations/usage")).json()
    assert usage["usage"]["workflows"]["current"] == 5


# -- running ----------------------------------------------------------------------------------

async def test_diamond_runs_in_dependency_order_and_completes(org: Org):
    created = await create(org, job("A"), job("B", deps=["A"]), job("C", deps=["A"]), job("D", deps=["B", "C"]))
    wid, ids = created["workflow_id"], ids_by_key(created)

    [a] = await claim(org)
    assert a["id"] == ids["A"]
    assert await claim(org) == []
    assert (await workflow(org, wid))["status"] == "running"
    await complete(org, a)

    bc = await claim(org)
    assert sorted(c["id"] for c in bc) == sorted([ids["B"], ids["C"]])
    await complete(org, bc[0])
    assert await claim(org) == []  # D waits for C too
    mid = await workflow(org, wid)
    assert (mid["status"], mid["completed_jobs"], mid["progress_percent"]) == ("running", 2, 50.0)
    assert mid["completed_at"] is None and mid["started_at"] is not None
    await complete(org, bc[1])

    await run_only(org, ids["D"])
    done = await workflow(org, wid)
    assert (done["status"], done["total_jobs"], done["completed_jobs"], done["failed_jobs"],
            done["progress_percent"]) == ("completed", 4, 4, 0, 100)
    assert done["completed_at"] is not None and done["started_at"] <= done["completed_at"]
    d = (await org.client.get(f"/workflows/{wid}/jobs/{ids['D']}")).json()
    assert d["status"] == "completed" and d["result"] == {"done": ids["D"]} and d["depends_on"] == ["B", "C"]
    assert [w["id"] for w in (await org.client.get("/workflows", params={"status": "completed"})).json()] == [wid]


async def test_any_mode_runs_after_the_first_dependency(org: Org):
    created = await create(org, job("fast", queue="p"), job("slow", queue="p"),
                           job("either", queue="c", deps=["fast", "slow"], dependency_mode="any"))
    ids = ids_by_key(created)
    claimed = await claim(org, "p")
    fast = next(c for c in claimed if c["id"] == ids["fast"])
    assert await claim(org, "c") == []
    await complete(org, fast)
    await run_only(org, ids["either"], "c")
    assert (await workflow(org, created["workflow_id"]))["status"] == "running"  # slow still runs


async def test_dead_parent_cancels_every_descendant_and_fails_the_workflow(org: Org):
    created = await create(org, job("root", max_retries=0), job("side"), job("mid", deps=["root"]),
                           job("leaf", deps=["mid", "side"]))
    wid, ids = created["workflow_id"], ids_by_key(created)
    claimed = {c["id"]: c for c in await claim(org)}
    assert set(claimed) == {ids["root"], ids["side"]}
    await complete(org, claimed[ids["side"]])
    await fail(org, claimed[ids["root"]])
    assert await statuses(org, wid) == {"root": "deadletter", "side": "completed", "mid": "cancelled",
                                        "leaf": "cancelled"}
    assert await claim(org) == []
    wf = await workflow(org, wid)
    assert (wf["status"], wf["completed_jobs"], wf["failed_jobs"]) == ("failed", 1, 1)
    assert wf["completed_at"] is not None
    root = (await org.client.get(f"/workflows/{wid}/jobs/{ids['root']}")).json()
    assert root["error"] == "boom"


async def test_retry_revives_the_failed_job_and_its_cancelled_descendants(org: Org):
    created = await create(org, job("root", max_retries=0), job("mid", deps=["root"]), job("leaf", deps=["mid"]))
    wid, ids = created["workflow_id"], ids_by_key(created)
    r = await org.client.post(f"/workflows/{wid}/retry")
    assert "failed" in assert_error(r, 400, "BAD_REQUEST")["message"]

    await run_only(org, ids["root"], succeed=False)
    assert (await workflow(org, wid))["status"] == "failed"
    r = await org.client.post(f"/workflows/{wid}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "running" and set(r.json()) == WORKFLOW_KEYS
    assert await statuses(org, wid) == {"root": "pending", "mid": "pending", "leaf": "pending"}
    root = (await org.client.get(f"/workflows/{wid}/jobs/{ids['root']}")).json()
    assert (root["attempt"], root["error"]) == (0, None)

    for key in ("root", "mid", "leaf"):  # each becomes ready only after the one before
        await run_only(org, ids[key])
    wf = await workflow(org, wid)
    assert (wf["status"], wf["completed_jobs"], wf["failed_jobs"], wf["progress_percent"]) == ("completed", 3, 0, 100)


async def test_cancel_cancels_waiting_jobs_and_lets_running_ones_finish(org: Org):
    created = await create(org, job("a"), job("b", deps=["a"]), job("c"))
    wid, ids = created["workflow_id"], ids_by_key(created)
    [running] = await claim(org, limit=1)
    r = await org.client.post(f"/workflows/{wid}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["completed_at"] is not None
    st = await statuses(org, wid)
    assert st[next(k for k, v in ids.items() if v == running["id"])] == "processing"
    assert sorted(st.values()) == ["cancelled", "cancelled", "processing"]
    assert await claim(org) == []
    await complete(org, running)
    assert await claim(org) == []
    assert (await workflow(org, wid))["status"] == "cancelled"
    assert [w["id"] for w in (await org.client.get("/workflows", params={"status": "cancelled"})).json()] == [wid]
    assert "failed" in assert_error(await org.client.post(f"/workflows/{wid}/retry"), 400)["message"]


async def test_delete_is_refused_while_jobs_may_run_then_removes_everything(org: Org):
    created = await create(org, job("a"), job("b", deps=["a"]))
    wid, ids = created["workflow_id"], ids_by_key(created)
    assert_error(await org.client.delete(f"/workflows/{wid}"), 409, "CONFLICT")
    await run_only(org, ids["a"])
    assert_error(await org.client.delete(f"/workflows/{wid}"), 409, "CONFLICT")
    await run_only(org, ids["b"])
    r = await org.client.delete(f"/workflows/{wid}")
    assert r.status_code == 204 and r.content == b""
    assert_error(await org.client.get(f"/workflows/{wid}"), 404, "NOT_FOUND")
    assert_error(await org.client.get(f"/jobs/{ids['a']}"), 404)
    assert_error(await org.client.delete(f"/workflows/{wid}"), 404)


# -- listing, lookups and isolation -----------------------------------------------------------

async def test_list_is_newest_first_with_paging_and_status_filter(org: Org):
    first = await create(org, job("a"), name="first")
    second = await create(org, job("a", queue="other"), name="second")
    listed = (await org.client.get("/workflows")).json()
    assert [w["id"] for w in listed] == [second["workflow_id"], first["workflow_id"]]
    assert all(set(w) == WORKFLOW_KEYS for w in listed)
    page = (await org.client.get("/workflows", params={"limit": 1, "offset": 1})).json()
    assert [w["name"] for w in page] == ["first"]
    assert len((await org.client.get("/workflows", params={"limit": 1000})).json()) == 2  # clamped
    await run_only(org, ids_by_key(first)["a"])
    assert [w["name"] for w in (await org.client.get("/workflows", params={"status": "completed"})).json()] == ["first"]
    assert [w["name"] for w in (await org.client.get("/workflows", params={"status": "pending"})).json()] == ["second"]
    assert (await org.client.get("/workflows", params={"status": "failed"})).json() == []
    assert_error(await org.client.get("/workflows", params={"status": "bogus"}), 400)


async def test_job_lookups_are_scoped_to_the_workflow(org: Org):
    one = await create(org, job("a"))
    other = await create(org, job("a"))
    wid = one["workflow_id"]
    foreign_job = ids_by_key(other)["a"]
    assert_error(await org.client.get(f"/workflows/{wid}/jobs/{foreign_job}"), 404, "NOT_FOUND")
    assert_error(await org.client.get(f"/workflows/{wid}/jobs/no-such-job"), 404, "NOT_FOUND")


@pytest.mark.parametrize("method, path", [
    ("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("POST", "/retry"), ("GET", "/jobs"),
    ("GET", "/jobs/status"), ("GET", "/jobs/some-job"),
])
async def test_unknown_workflow_is_404_everywhere(org: Org, method: str, path: str):
    r = await org.client.request(method, f"/workflows/00000000-0000-0000-0000-000000000000{path}")
    assert_error(r, 404, "NOT_FOUND")


async def test_other_organizations_cannot_see_or_touch_a_workflow(org: Org, make_org: OrgFactory):
    created = await create(org, job("a"), job("b", deps=["a"]))
    wid, ids = created["workflow_id"], ids_by_key(created)
    intruder = await make_org()
    for method, path in [("GET", ""), ("POST", "/cancel"), ("POST", "/retry"), ("DELETE", ""),
                         ("GET", "/jobs"), ("GET", "/jobs/status"), ("GET", f"/jobs/{ids['a']}")]:
        assert_error(await intruder.client.request(method, f"/workflows/{wid}{path}"), 404, "NOT_FOUND")
    assert (await intruder.client.get("/workflows")).json() == []
    assert await claim(intruder) == []
    assert (await workflow(org, wid))["status"] == "pending"
    assert await statuses(org, wid) == {"a": "pending", "b": "pending"}


async def test_queue_restricted_key_cannot_create_jobs_in_other_queues(org: Org):
    r = await org.client.post("/api-keys", json={"name": "narrow", "queues": ["allowed"]})
    assert r.status_code in (200, 201), r.text
    narrow = org.client.headers.copy()
    narrow["Authorization"] = f"Bearer {r.json()['key']}"
    r = await org.client.post("/workflows", headers=narrow,
                              json={"name": "x", "jobs": [job("a", queue="allowed"), job("b", queue="secret")]})
    assert_error(r, 403, "ACCESS_DENIED")
    assert (await org.client.get("/workflows")).json() == []


async def test_a_running_job_of_a_cancelled_workflow_is_not_retried(org):
    created = await org.client.post("/workflows", json={"name": "cancel-running", "jobs": [
        {"key": "a", "queue_name": "wf-cancel-running", "payload": {}, "max_retries": 3},
        {"key": "b", "queue_name": "wf-cancel-running", "payload": {}, "depends_on": ["a"]}]})
    assert created.status_code == 200, created.text
    wf = created.json()["workflow_id"]
    [job] = (await org.client.post("/jobs/claim", json={"queue_name": "wf-cancel-running",
                                                         "worker_id": "w"})).json()["jobs"]
    assert (await org.client.post(f"/workflows/{wf}/cancel")).status_code == 200
    r = await org.client.post(f"/jobs/{job['id']}/fail", json={"worker_id": "w", "lease_id": job["lease_id"],
                                                               "error": "boom"})
    assert r.status_code == 200 and r.json()["will_retry"] is False
    assert (await org.client.get(f"/jobs/{job['id']}")).json()["status"] == "cancelled"
    assert (await org.client.post("/jobs/claim", json={"queue_name": "wf-cancel-running",
                                                        "worker_id": "w"})).json()["jobs"] == []
