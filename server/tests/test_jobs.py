"""Jobs CRUD routes: create, bulk, list, get, cancel, retry, priority, stats, batch status."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import Org, assert_error
from unthrottled import lift_rate_limit

JOB_KEYS = {"id", "organization_id", "queue_name", "status", "payload", "result", "retry_count",
            "max_retries", "last_error", "created_at", "scheduled_at", "started_at", "completed_at",
            "expires_at", "priority", "tags", "timeout_seconds", "parent_job_id", "completion_webhook",
            "assigned_worker_id", "lease_id", "lease_expires_at", "idempotency_key", "updated_at",
            "workflow_id", "dependency_mode", "dependencies_met"}
SUMMARY_KEYS = {"id", "queue_name", "status", "priority", "retry_count", "created_at", "scheduled_at",
                "started_at", "completed_at"}


async def create(org: Org, **fields) -> str:
    body = {"queue_name": "q", "payload": {"n": 1}, **fields}
    r = await org.client.post("/jobs", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_create_returns_201_and_full_job_has_all_keys(org: Org):
    job_id = await create(org, priority=7, tags={"team": "a"}, max_retries=5, timeout_seconds=60)
    job = (await org.client.get(f"/jobs/{job_id}")).json()
    assert set(job) == JOB_KEYS
    assert job["status"] == "pending" and job["priority"] == 7 and job["max_retries"] == 5
    assert job["timeout_seconds"] == 60 and job["tags"] == {"team": "a"}
    assert job["organization_id"] == org.id and job["created_at"].endswith("Z")


async def test_defaults_come_from_server_then_queue_config(org: Org, pool):
    job = (await org.client.get(f"/jobs/{await create(org)}")).json()
    assert job["max_retries"] == 3 and job["timeout_seconds"] == 300
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO queue_config (organization_id, queue_name, max_retries, default_timeout)"
                           " VALUES ($1, 'configured', 9, 77)", org.id)
    job = (await org.client.get(f"/jobs/{await create(org, queue_name='configured')}")).json()
    assert job["max_retries"] == 9 and job["timeout_seconds"] == 77


async def test_future_scheduled_at_makes_job_scheduled_and_past_makes_it_pending(org: Org):
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert (await org.client.get(f"/jobs/{await create(org, scheduled_at=future)}")).json()["status"] == "scheduled"
    assert (await org.client.get(f"/jobs/{await create(org, scheduled_at=past)}")).json()["status"] == "pending"


async def test_idempotent_create_returns_200_with_same_id(org: Org):
    first = await org.client.post("/jobs", json={"queue_name": "q", "payload": 1, "idempotency_key": "abc"})
    second = await org.client.post("/jobs", json={"queue_name": "other", "payload": 2, "idempotency_key": "abc"})
    assert first.status_code == 201 and first.json()["created"] is True
    assert second.status_code == 200 and second.json() == {"id": first.json()["id"], "created": False}


@pytest.mark.parametrize("body,field", [
    ({"payload": {}}, "queue_name"),
    ({"queue_name": "q"}, "payload"),
    ({"queue_name": "q", "payload": None}, None),
    ({"queue_name": "", "payload": 1}, "queue_name"),
    ({"queue_name": "x" * 101, "payload": 1}, "queue_name"),
    ({"queue_name": "-lead", "payload": 1}, "queue_name"),
    ({"queue_name": "has space", "payload": 1}, "queue_name"),
    ({"queue_name": "q", "payload": 1, "priority": 101}, "priority"),
    ({"queue_name": "q", "payload": 1, "priority": -101}, "priority"),
    ({"queue_name": "q", "payload": 1, "priority": "5"}, "priority"),
    ({"queue_name": "q", "payload": 1, "priority": 1.5}, "priority"),
    ({"queue_name": "q", "payload": 1, "max_retries": 101}, "max_retries"),
    ({"queue_name": "q", "payload": 1, "timeout_seconds": 0}, "timeout_seconds"),
    ({"queue_name": "q", "payload": 1, "timeout_seconds": 86401}, "timeout_seconds"),
    ({"queue_name": "q", "payload": 1, "scheduled_at": "2030-01-01T00:00:00"}, "scheduled_at"),
    ({"queue_name": "q", "payload": 1, "scheduled_at": 1700000000}, "scheduled_at"),
    ({"queue_name": "q", "payload": 1, "idempotency_key": "k" * 256}, "idempotency_key"),
    ({"queue_name": "q", "payload": 1, "completion_webhook": "not a url"}, "completion_webhook"),
])
async def test_create_validation_errors(org: Org, body, field):
    err = assert_error(await org.client.post("/jobs", json=body), 400, "VALIDATION_ERROR")
    if field:
        assert any(d["field"].startswith(field) for d in err["details"]), err


async def test_unicode_queue_names_are_accepted(org: Org):
    job_id = await create(org, queue_name="émails_日本.v2")
    assert (await org.client.get(f"/jobs/{job_id}")).json()["queue_name"] == "émails_日本.v2"


async def test_malformed_json_is_invalid_json(org: Org):
    r = await org.client.post("/jobs", content=b'{"queue_name": "q", ', headers={"content-type": "application/json"})
    assert_error(r, 400, "INVALID_JSON")
    assert_error(await org.client.post("/jobs", content=b"[1, 2]"), 400)
    assert_error(await org.client.post("/jobs", content=b""), 400, "INVALID_JSON")


async def test_unknown_parent_job_is_404(org: Org):
    assert_error(await org.client.post("/jobs", json={"queue_name": "q", "payload": 1,
                                                      "parent_job_id": "nope"}), 404, "NOT_FOUND")


async def test_list_filters_and_pagination(org: Org):
    a = await create(org, queue_name="list-a", tags={"vip": "1"})
    b = await create(org, queue_name="list-a")
    c = await create(org, queue_name="list-b")
    rows = (await org.client.get("/jobs", params={"queue_name": "list-a"})).json()
    assert [r["id"] for r in rows] == [b, a]
    assert set(rows[0]) == SUMMARY_KEYS
    assert [r["id"] for r in (await org.client.get("/jobs", params={"tag": "vip"})).json()] == [a]
    assert [r["id"] for r in (await org.client.get("/jobs", params={"limit": 1})).json()] == [c]
    assert [r["id"] for r in (await org.client.get("/jobs", params={"limit": 1, "offset": 1})).json()] == [b]
    pending = (await org.client.get("/jobs", params={"status": "pending"})).json()
    assert {r["id"] for r in pending} == {a, b, c}
    assert (await org.client.get("/jobs", params={"status": "completed"})).json() == []
    assert len((await org.client.get("/jobs", params={"limit": 1000})).json()) == 3


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"limit": "ten"}, {"offset": -1},
                                    {"queue_name": ".bad"}])
async def test_list_rejects_bad_query(org: Org, params):
    assert_error(await org.client.get("/jobs", params=params), 400, "VALIDATION_ERROR")


async def test_list_offset_beyond_bigint_is_400_not_500(org: Org):
    # OFFSET is a bigint in PostgreSQL: a larger number is refused before the query.
    r = await org.client.get("/jobs", params={"offset": str(10**20)})
    assert_error(r, 400, "VALIDATION_ERROR")


async def test_get_unknown_job_is_404(org: Org):
    assert_error(await org.client.get("/jobs/does-not-exist"), 404, "NOT_FOUND")


async def test_cancel_pending_then_conflict(org: Org):
    job_id = await create(org)
    r = await org.client.delete(f"/jobs/{job_id}")
    assert r.status_code == 204 and r.content == b""
    assert (await org.client.get(f"/jobs/{job_id}")).json()["status"] == "cancelled"
    assert_error(await org.client.delete(f"/jobs/{job_id}"), 409, "CONFLICT")
    assert_error(await org.client.delete("/jobs/unknown"), 404, "NOT_FOUND")


async def test_retry_only_from_failed_or_deadletter(org: Org):
    job_id = await create(org, queue_name="retry-q", max_retries=0)
    assert_error(await org.client.post(f"/jobs/{job_id}/retry"), 409, "CONFLICT")
    [job] = (await org.client.post("/jobs/claim", json={"queue_name": "retry-q", "worker_id": "w"})).json()["jobs"]
    await org.client.post(f"/jobs/{job_id}/fail", json={"worker_id": "w", "lease_id": job["lease_id"], "error": "x"})
    retried = await org.client.post(f"/jobs/{job_id}/retry")
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert body["status"] == "pending" and body["retry_count"] == 1 and body["last_error"] is None
    assert set(body) == JOB_KEYS
    assert_error(await org.client.post("/jobs/unknown/retry"), 404, "NOT_FOUND")


async def test_priority_boost(org: Org):
    job_id = await create(org, priority=1)
    r = await org.client.put(f"/jobs/{job_id}/priority", json={"priority": 50})
    assert r.json() == {"job_id": job_id, "old_priority": 1, "new_priority": 50}
    assert_error(await org.client.put(f"/jobs/{job_id}/priority", json={"priority": 500}), 400, "VALIDATION_ERROR")
    assert_error(await org.client.put("/jobs/unknown/priority", json={"priority": 5}), 404, "NOT_FOUND")


async def test_stats_counts_each_status(org: Org):
    await create(org)
    await create(org)
    await org.client.delete(f"/jobs/{await create(org)}")
    stats = (await org.client.get("/jobs/stats")).json()
    assert stats == {"pending": 2, "scheduled": 0, "processing": 0, "completed": 0, "failed": 0,
                     "deadletter": 0, "cancelled": 1, "total": 3}


async def test_batch_status(org: Org, make_org):
    a, b = await create(org), await create(org)
    other = await make_org()
    foreign = await create(other)
    rows = (await org.client.get("/jobs/status", params={"ids": f"{a},{b},{foreign},missing"})).json()
    assert [r["id"] for r in rows] == [a, b]
    assert set(rows[0]) == {"id", "status", "queue_name", "retry_count", "created_at", "completed_at"}
    assert (await org.client.get("/jobs/status", params={"ids": ""})).json() == []
    assert_error(await org.client.get("/jobs/status"), 400, "BAD_REQUEST")
    ids = ",".join(f"id{i}" for i in range(101))
    assert_error(await org.client.get("/jobs/status", params={"ids": ids}), 400, "BAD_REQUEST")


async def test_bulk_create_with_defaults_and_idempotency(org: Org):
    body = {"queue_name": "bulk", "default_priority": 5, "default_max_retries": 1,
            "jobs": [{"payload": {"i": 0}}, {"payload": {"i": 1}, "priority": -3, "idempotency_key": "dup"},
                     {"payload": {"i": 2}, "idempotency_key": "dup"}]}
    r = await org.client.post("/jobs/bulk", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["total"] == 3 and out["success_count"] == 3 and out["failure_count"] == 0 and out["failed"] == []
    s = out["succeeded"]
    assert [x["index"] for x in s] == [0, 1, 2]
    assert [x["created"] for x in s] == [True, True, False] and s[1]["job_id"] == s[2]["job_id"]
    first = (await org.client.get(f"/jobs/{s[0]['job_id']}")).json()
    second = (await org.client.get(f"/jobs/{s[1]['job_id']}")).json()
    assert (first["priority"], first["max_retries"]) == (5, 1)
    assert second["priority"] == -3


@pytest.mark.parametrize("jobs", [[], [{"payload": 1}] * 101, [{"payload": 1, "priority": 1000}]])
async def test_bulk_validation_is_all_or_nothing(org: Org, jobs):
    assert_error(await org.client.post("/jobs/bulk", json={"queue_name": "bulk-bad", "jobs": jobs}), 400,
                 "VALIDATION_ERROR")
    assert (await org.client.get("/jobs", params={"queue_name": "bulk-bad"})).json() == []


async def test_free_plan_active_job_quota_is_429(make_org, pool):
    small = await make_org(plan="free")
    await lift_rate_limit(pool, small.id)  # 12 requests at once; the request rate has its own tests
    for i in range(10):
        await create(small, queue_name="quota")
    err = assert_error(await small.client.post("/jobs", json={"queue_name": "quota", "payload": 1}), 429,
                       "QUOTA_EXCEEDED")
    assert err["details"]["limit"] == 10
    assert_error(await small.client.post("/jobs/bulk", json={"queue_name": "quota", "jobs": [{"payload": 1}]}),
                 429, "QUOTA_EXCEEDED")


async def test_free_plan_payload_limit_is_413(make_org):
    small = await make_org(plan="free")
    big = {"blob": "x" * 70_000}
    assert_error(await small.client.post("/jobs", json={"queue_name": "q", "payload": big}), 413,
                 "PAYLOAD_TOO_LARGE")
    assert (await small.client.get("/jobs")).json() == []


@pytest.mark.parametrize("value", [[1, [2, 3]], [], "text", 0, True, {"nested": [{"a": [1]}]}])
async def test_any_json_value_round_trips_through_create_bulk_and_complete(org: Org, value):
    job_id = await create(org, queue_name="json-values", payload=value, tags=value)
    bulk = await org.client.post("/jobs/bulk", json={"queue_name": "json-values",
                                                     "jobs": [{"payload": value}, {"payload": value}]})
    ids = [job_id] + [s["job_id"] for s in bulk.json()["succeeded"]]
    for jid in ids:
        got = (await org.client.get(f"/jobs/{jid}")).json()
        assert got["payload"] == value
    assert (await org.client.get(f"/jobs/{job_id}")).json()["tags"] == value
    claimed = (await org.client.post("/jobs/claim", json={"queue_name": "json-values", "worker_id": "w",
                                                           "limit": 3})).json()["jobs"]
    for c in claimed:
        r = await org.client.post(f"/jobs/{c['id']}/complete",
                                  json={"worker_id": "w", "lease_id": c["lease_id"], "result": value})
        assert r.status_code == 200
        assert (await org.client.get(f"/jobs/{c['id']}")).json()["result"] == value
