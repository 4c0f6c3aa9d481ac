"""Schedule routes against the real server: every route, each documented error, plan caps,
tenant isolation, and the live scheduler loop firing a schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import Org, assert_error, wait_until
from unthrottled import lift_rate_limit

SCHEDULE_KEYS = {"id", "organization_id", "name", "description", "cron_expression", "timezone", "queue_name",
                 "payload_template", "priority", "max_retries", "timeout_seconds", "is_active", "last_run_at",
                 "next_run_at", "run_count", "tags", "metadata", "created_at", "updated_at"}
RUN_KEYS = {"id", "schedule_id", "job_id", "status", "error_message", "started_at", "completed_at"}
YEARLY = "0 0 0 1 1 *"


def ts(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def create(org: Org, **fields) -> dict:
    body = {"name": "report", "cron_expression": YEARLY, "queue_name": "reports", "payload_template": {"k": 1},
            **fields}
    r = await org.client.post("/schedules", json=body)
    assert r.status_code == 201, r.text
    return r.json()


# -- create / get ---------------------------------------------------------------------------------

async def test_create_answers_201_and_get_shows_the_full_schedule(org: Org):
    r = await org.client.post("/schedules", json={
        "name": "nightly", "cron_expression": "0 0 3 * * *", "queue_name": "reports",
        "payload_template": {"kind": "nightly"}})
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "name", "cron_expression", "next_run_at"}
    assert created["name"] == "nightly" and created["cron_expression"] == "0 0 3 * * *"
    next_run = ts(created["next_run_at"])
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 0, 0)
    assert timedelta(0) < next_run - datetime.now(timezone.utc) <= timedelta(days=1, minutes=5)

    got = (await org.client.get(f"/schedules/{created['id']}")).json()
    assert set(got) == SCHEDULE_KEYS
    assert got["organization_id"] == org.id and got["next_run_at"] == created["next_run_at"]
    assert (got["timezone"], got["priority"], got["max_retries"], got["timeout_seconds"]) == ("UTC", 0, 3, 300)
    assert got["is_active"] is True and got["run_count"] == 0 and got["last_run_at"] is None
    assert got["description"] is None and got["tags"] is None and got["metadata"] is None
    assert got["created_at"].endswith("Z") and got["updated_at"].endswith("Z")


async def test_create_with_every_field(org: Org):
    body = {"name": "full", "description": "d" * 1000, "cron_expression": "0 30 9 * * 1-5",
            "timezone": "America/New_York", "queue_name": "emails", "payload_template": [1, "two", None],
            "priority": -100, "max_retries": 100, "timeout_seconds": 86400, "tags": {"team": "growth"},
            "metadata": {"owner": "ops"}}
    created = await create(org, **body)
    got = (await org.client.get(f"/schedules/{created['id']}")).json()
    for key, value in body.items():
        assert got[key] == value, key
    # 09:30 in New York is 13:30 or 14:30 UTC, on a weekday.
    next_run = ts(got["next_run_at"])
    assert (next_run.hour, next_run.minute) in ((13, 30), (14, 30)) and next_run.weekday() < 5


@pytest.mark.parametrize("zone", ["UTC", "GMT", "Etc/GMT+5", "+05:30", "-03:00", "Europe/Madrid", "Asia/Tokyo"])
async def test_timezones_accepted_and_stored_as_given(org: Org, zone):
    created = await create(org, timezone=zone)
    assert (await org.client.get(f"/schedules/{created['id']}")).json()["timezone"] == zone


@pytest.mark.parametrize("expr", ["*/5 * * * *", "0 9 * * 1-5", "0 0-30/10 * * * *"])
async def test_five_field_form_and_stepped_ranges_are_accepted(org: Org, expr):
    created = await create(org, cron_expression=expr)
    assert created["cron_expression"] == expr and created["next_run_at"] is not None


@pytest.mark.parametrize("expr,problem", [
    ("*/5 * * *", "fields"), ("every day at noon", "fields"), ("0 0 12 * * MON", "names"),
    ("60 * * * * *", "out of range"), ("*/0 * * * * *", "step"), ("0 0 0 32 * *", "day-of-month"),
    ("0 0 0 ? * *", "'?'"), ("", "fields"), ("0 " * 60, "100"),
])
async def test_invalid_cron_is_400_naming_the_problem(org: Org, expr, problem):
    r = await org.client.post("/schedules", json={"name": "x", "cron_expression": expr, "queue_name": "q",
                                                  "payload_template": {}})
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("Invalid cron expression: ") and problem in body["message"], body
    assert body["details"][0]["field"] == "cron_expression"
    assert (await org.client.get("/schedules")).json() == []


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "localtime", "+25:00", "../../etc/passwd", ""])
async def test_invalid_timezone_is_400(org: Org, zone):
    r = await org.client.post("/schedules", json={"name": "x", "cron_expression": YEARLY, "timezone": zone,
                                                  "queue_name": "q", "payload_template": {}})
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("Invalid timezone") and body["details"][0]["field"] == "timezone"


@pytest.mark.parametrize("change", [
    {"name": ""}, {"name": "n" * 256}, {"description": "d" * 1001}, {"queue_name": "bad name!"},
    {"queue_name": ""}, {"priority": 101}, {"priority": "1"}, {"max_retries": 101}, {"max_retries": -1},
    {"timeout_seconds": 0}, {"timeout_seconds": 86401}, {"payload_template": None}, {"metadata": [1]},
    {"cron_expression": 5}, {"tags": {"big": "x" * 70_000}},
])
async def test_create_validation_errors(org: Org, change):
    body = {"name": "x", "cron_expression": YEARLY, "queue_name": "q", "payload_template": {}, **change}
    assert_error(await org.client.post("/schedules", json=body), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("missing", ["name", "cron_expression", "queue_name", "payload_template"])
async def test_create_missing_field(org: Org, missing):
    body = {"name": "x", "cron_expression": YEARLY, "queue_name": "q", "payload_template": {}}
    del body[missing]
    assert_error(await org.client.post("/schedules", json=body), 400, "VALIDATION_ERROR")


async def test_create_malformed_json(org: Org):
    r = await org.client.post("/schedules", content=b"{nope", headers={"content-type": "application/json"})
    assert_error(r, 400, "INVALID_JSON")


async def test_template_over_one_mib_is_413(org: Org):
    r = await org.client.post("/schedules", json={"name": "x", "cron_expression": YEARLY, "queue_name": "q",
                                                  "payload_template": {"x": "y" * (1024 * 1024)}})
    body = assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["field"] == "payload_template"


async def test_template_over_the_plans_payload_limit_is_413(make_org):
    free = await make_org(plan="free")  # 64 KiB payloads
    r = await free.client.post("/schedules", json={"name": "x", "cron_expression": YEARLY, "queue_name": "q",
                                                   "payload_template": {"x": "y" * 70_000}})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")


async def test_no_fire_within_a_year_gives_null_next_run(org: Org):
    created = await create(org, cron_expression="0 0 0 30 2 *")
    assert created["next_run_at"] is None


# -- list -----------------------------------------------------------------------------------------

async def test_list_newest_first_with_limit_offset_and_filters(org: Org):
    ids = [(await create(org, name=f"s{i}", queue_name="a" if i % 2 else "b"))["id"] for i in range(5)]
    await org.client.post(f"/schedules/{ids[0]}/pause")
    listed = (await org.client.get("/schedules")).json()
    assert [s["id"] for s in listed] == ids[::-1] and all(set(s) == SCHEDULE_KEYS for s in listed)
    assert [s["id"] for s in (await org.client.get("/schedules", params={"limit": 2})).json()] == ids[:2:-1]
    page = (await org.client.get("/schedules", params={"limit": 2, "offset": 2})).json()
    assert [s["id"] for s in page] == [ids[2], ids[1]]
    by_queue = (await org.client.get("/schedules", params={"queue_name": "a"})).json()
    assert {s["id"] for s in by_queue} == {ids[1], ids[3]}
    paused = (await org.client.get("/schedules", params={"is_active": "false"})).json()
    assert [s["id"] for s in paused] == [ids[0]]
    # Out-of-range limits are clamped, as on the other list routes.
    assert len((await org.client.get("/schedules", params={"limit": 10_000})).json()) == 5
    assert len((await org.client.get("/schedules", params={"limit": 0})).json()) == 1


@pytest.mark.parametrize("params", [{"limit": "many"}, {"offset": -1}, {"is_active": "perhaps"},
                                    {"queue_name": "bad name!"}])
async def test_list_bad_query_is_400(org: Org, params):
    assert_error(await org.client.get("/schedules", params=params), 400)


async def test_list_offset_beyond_bigint_is_400_not_500(org: Org):
    assert_error(await org.client.get("/schedules", params={"offset": str(10**20)}), 400, "VALIDATION_ERROR")


# -- update ---------------------------------------------------------------------------------------

async def test_update_changes_only_given_fields(org: Org):
    created = await create(org, cron_expression="0 0 3 * * *", priority=2, payload_template={"v": 1},
                           tags={"a": "1"}, description="first")
    before = (await org.client.get(f"/schedules/{created['id']}")).json()
    r = await org.client.put(f"/schedules/{created['id']}", json={
        "cron_expression": "0 30 4 * * *", "description": None, "queue_name": "ignored", "name": None,
        "max_retries": 7})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["cron_expression"] == "0 30 4 * * *" and after["max_retries"] == 7
    assert (after["name"], after["priority"], after["payload_template"], after["queue_name"]) == (
        "report", 2, {"v": 1}, "reports")
    assert after["description"] == "first" and after["tags"] == {"a": "1"}
    next_run = ts(after["next_run_at"])
    assert (next_run.hour, next_run.minute) == (4, 30) and after["next_run_at"] != before["next_run_at"]
    assert ts(after["updated_at"]) >= ts(before["updated_at"])
    assert (await org.client.get(f"/schedules/{created['id']}")).json() == after


async def test_update_timezone_recomputes_next_run(org: Org):
    created = await create(org, cron_expression="0 0 9 * * *")
    after = (await org.client.put(f"/schedules/{created['id']}", json={"timezone": "Asia/Tokyo"})).json()
    assert after["timezone"] == "Asia/Tokyo" and ts(after["next_run_at"]).hour == 0  # 09:00 JST


async def test_update_every_other_field(org: Org):
    created = await create(org)
    change = {"name": "renamed", "description": "new", "payload_template": [1], "priority": 9,
              "max_retries": 0, "timeout_seconds": 5, "tags": {"t": "x"}, "metadata": {"m": 1}}
    after = (await org.client.put(f"/schedules/{created['id']}", json=change)).json()
    assert {k: after[k] for k in change} == change


async def test_update_is_active_pauses_and_reactivates(org: Org):
    created = await create(org)
    paused = (await org.client.put(f"/schedules/{created['id']}", json={"is_active": False})).json()
    assert paused["is_active"] is False
    active = (await org.client.put(f"/schedules/{created['id']}", json={"is_active": True})).json()
    assert active["is_active"] is True and active["next_run_at"] is not None


@pytest.mark.parametrize("change,code", [
    ({"cron_expression": "* * * *"}, "VALIDATION_ERROR"), ({"timezone": "Nowhere/Land"}, "VALIDATION_ERROR"),
    ({"priority": 500}, "VALIDATION_ERROR"), ({"name": ""}, "VALIDATION_ERROR"), ({"is_active": "yes"}, "VALIDATION_ERROR"),
])
async def test_update_validation_errors(org: Org, change, code):
    created = await create(org)
    assert_error(await org.client.put(f"/schedules/{created['id']}", json=change), 400, code)
    assert (await org.client.get(f"/schedules/{created['id']}")).json()["cron_expression"] == YEARLY


async def test_update_bad_cron_names_the_problem(org: Org):
    created = await create(org)
    body = assert_error(await org.client.put(f"/schedules/{created['id']}", json={"cron_expression": "0 0 25 * * *"}),
                        400, "VALIDATION_ERROR")
    assert "hour: 25" in body["message"]


# -- delete, pause, resume ------------------------------------------------------------------------

async def test_delete_then_not_found(org: Org):
    created = await create(org)
    r = await org.client.delete(f"/schedules/{created['id']}")
    assert r.status_code == 204 and r.content == b""
    assert_error(await org.client.get(f"/schedules/{created['id']}"), 404, "NOT_FOUND")
    assert_error(await org.client.delete(f"/schedules/{created['id']}"), 404, "NOT_FOUND")


async def test_pause_and_resume(org: Org):
    created = await create(org, cron_expression="0 0 * * * *")
    paused = (await org.client.post(f"/schedules/{created['id']}/pause")).json()
    assert paused["is_active"] is False and set(paused) == SCHEDULE_KEYS
    # A body is neither needed nor read.
    resumed = await org.client.post(f"/schedules/{created['id']}/resume", json={"anything": 1})
    assert resumed.status_code == 200
    assert resumed.json()["is_active"] is True
    assert ts(resumed.json()["next_run_at"]) > datetime.now(timezone.utc) - timedelta(seconds=5)


async def test_resume_skips_missed_fires(org: Org, pool):
    created = await create(org, cron_expression="0 0 * * * *")
    await org.client.post(f"/schedules/{created['id']}/pause")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE schedules SET next_run_at = now() - interval '3 hours' WHERE id = $1",
                           created["id"])
        db_now = await conn.fetchval("SELECT now()")
    resumed = (await org.client.post(f"/schedules/{created['id']}/resume")).json()
    assert db_now < ts(resumed["next_run_at"]) <= db_now + timedelta(hours=1)


# -- trigger and history --------------------------------------------------------------------------

async def test_trigger_enqueues_from_the_template_even_when_paused(org: Org, pool):
    created = await create(org, payload_template={"kind": "adhoc"}, priority=4, max_retries=1,
                           timeout_seconds=60, tags={"src": "cron"})
    await org.client.post(f"/schedules/{created['id']}/pause")
    r = await org.client.post(f"/schedules/{created['id']}/trigger")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"job_id", "triggered_at"} and body["triggered_at"].endswith("Z")
    job = (await org.client.get(f"/jobs/{body['job_id']}")).json()
    assert (job["queue_name"], job["payload"], job["priority"], job["status"]) == ("reports", {"kind": "adhoc"}, 4,
                                                                                   "pending")
    assert (job["max_retries"], job["timeout_seconds"], job["tags"]) == (1, 60, {"src": "cron"})
    got = (await org.client.get(f"/schedules/{created['id']}")).json()
    assert got["run_count"] == 1 and got["last_run_at"] is not None and got["is_active"] is False
    assert got["next_run_at"] == created["next_run_at"]
    # A trigger writes no history row.
    assert (await org.client.get(f"/schedules/{created['id']}/history")).json() == []


async def test_trigger_obeys_the_plans_active_job_cap(make_org, pool):
    free = await make_org(plan="free")  # 10 active jobs
    await lift_rate_limit(pool, free.id)  # 12 requests at once; more than the free request rate
    for _ in range(10):
        assert (await free.client.post("/jobs", json={"queue_name": "q", "payload": {}})).status_code == 201
    created = await create(free)
    assert_error(await free.client.post(f"/schedules/{created['id']}/trigger"), 429, "QUOTA_EXCEEDED")


async def test_live_scheduler_fires_and_history_lists_runs_newest_first(org: Org, pool):
    created = await create(org, cron_expression="* * * * * *", queue_name="ticks", payload_template={"tick": True})

    async def two_runs() -> bool:
        runs = (await org.client.get(f"/schedules/{created['id']}/history")).json()
        return len(runs) >= 2

    await wait_until(two_runs, timeout=60, interval=0.25)
    await org.client.post(f"/schedules/{created['id']}/pause")
    runs = (await org.client.get(f"/schedules/{created['id']}/history")).json()
    assert all(set(run) == RUN_KEYS for run in runs)
    assert all(run["schedule_id"] == created["id"] and run["status"] == "completed" for run in runs)
    assert [ts(run["started_at"]) for run in runs] == sorted((ts(run["started_at"]) for run in runs), reverse=True)
    assert len((await org.client.get(f"/schedules/{created['id']}/history", params={"limit": 1})).json()) == 1
    job = (await org.client.get(f"/jobs/{runs[0]['job_id']}")).json()
    assert job["queue_name"] == "ticks" and job["payload"] == {"tick": True}
    schedule = (await org.client.get(f"/schedules/{created['id']}")).json()
    assert schedule["run_count"] >= 2 and schedule["last_run_at"] is not None
    async with pool.acquire() as conn:
        fire_times = await conn.fetch("SELECT fire_time FROM schedule_runs WHERE schedule_id = $1", created["id"])
    assert len(fire_times) == len({r["fire_time"] for r in fire_times}) == schedule["run_count"]


# -- unknown and foreign ids ----------------------------------------------------------------------

ROUTES = [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/pause"), ("POST", "/resume"), ("POST", "/trigger"),
          ("GET", "/history")]


@pytest.mark.parametrize("method,suffix", ROUTES)
async def test_unknown_and_foreign_ids_are_404(make_org, pool, method, suffix):
    owner, intruder = await make_org(), await make_org()
    created = await create(owner)
    before = (await owner.client.get(f"/schedules/{created['id']}")).json()
    for schedule_id in (created["id"], "00000000-0000-4000-8000-000000000000", "x" * 300):
        r = await intruder.client.request(method, f"/schedules/{schedule_id}{suffix}",
                                          json={"name": "hijacked"} if method == "PUT" else None)
        assert_error(r, 404, "NOT_FOUND")
    assert (await owner.client.get(f"/schedules/{created['id']}")).json() == before
    assert (await intruder.client.get("/schedules")).json() == []
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1", intruder.id) == 0


async def test_requires_authentication(anon):
    assert_error(await anon.get("/api/v1/schedules"), 401)
    assert_error(await anon.post("/api/v1/schedules", json={}), 401)


# -- plan cap, usage and organization delete ------------------------------------------------------

async def test_plan_caps_active_schedules(make_org):
    free = await make_org(plan="free")  # max_schedules 1
    first = await create(free)
    r = await free.client.post("/schedules", json={"name": "second", "cron_expression": YEARLY,
                                                   "queue_name": "q", "payload_template": {}})
    body = assert_error(r, 429, "QUOTA_EXCEEDED")
    assert body["details"]["resource"] == "schedules" and body["details"]["limit"] == 1
    # Paused schedules do not count; re-activating one does.
    await free.client.post(f"/schedules/{first['id']}/pause")
    second = await create(free, name="second")
    assert_error(await free.client.post(f"/schedules/{first['id']}/resume"), 429, "QUOTA_EXCEEDED")
    assert_error(await free.client.put(f"/schedules/{first['id']}", json={"is_active": True}), 429, "QUOTA_EXCEEDED")
    # Resuming an already active schedule is not a new activation.
    assert (await free.client.post(f"/schedules/{second['id']}/resume")).status_code == 200
    usage = (await free.client.get("/organizations/usage")).json()["usage"]["schedules"]
    assert usage == {"current": 1, "limit": 1, "percentage": 100.0, "is_disabled": False}


async def test_organization_delete_refused_while_a_schedule_is_active(make_org, pool):
    doomed = await make_org()
    created = await create(doomed)
    body = assert_error(await doomed.client.delete(f"/organizations/{doomed.id}"), 409, "CONFLICT")
    assert body["details"]["active_schedules"] == 1
    await doomed.client.post(f"/schedules/{created['id']}/pause")
    assert (await doomed.client.delete(f"/organizations/{doomed.id}")).status_code == 204
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM schedules WHERE organization_id = $1", doomed.id) == 0
