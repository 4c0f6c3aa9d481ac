"""S1: tenant isolation (OWASP API1/API5), generated from openapi/spooled.yaml.

Every operation with a resource id in its path is called with organization B's key on
organization A's object: the answer must be 404 (never 200, never a 403 that confirms the
object exists, never 500) and A's rows must be byte-identical afterwards. A new route with
an id fails this test until it is classified below.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from conftest import Org, assert_error

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi" / "spooled.yaml").read_text())

# Operations that are not tenant-scoped by a caller's key, with the reason.
NOT_TENANT_ROUTES = {
    "admin.": "authenticated by the operator's admin key, which sees every organization",
    "ingest.": "public ingestion addressed by organization id and guarded by its webhook token",
    "events.": "streams; isolation of real-time events is tested with the realtime server",
}

# A valid body per operation, so that B's call would succeed if A's object were visible.
BODIES = {
    "organizations.update": {"name": "Hijacked"},
    "apiKeys.update": {"name": "hijacked", "is_active": False},
    "jobs.boostPriority": {"priority": 100},
    "jobs.complete": {"worker_id": "wa", "result": {"by": "B"}},
    "jobs.fail": {"worker_id": "wa", "error": "by B"},
    "jobs.heartbeat": {"worker_id": "wa", "lease_duration_secs": 3600},
    "jobs.addDependencies": {"depends_on": [str(uuid.uuid4())]},
    "queues.updateConfig": {"max_retries": 0, "enabled": False},
    "queues.pause": {"reason": "by B"},
    "workers.heartbeat": {"current_jobs": 0, "status": "offline"},
    "schedules.update": {"name": "hijacked"},
    "webhooks.update": {"name": "hijacked"},
}

TABLES = {  # tenant tables and the columns that identify A's rows
    "organizations": "id", "api_keys": "organization_id", "jobs": "organization_id",
    "queue_config": "organization_id", "workers": "organization_id",
}


def operations():
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete") and "{" in path:
                yield method.upper(), path, op["operationId"]


async def snapshot(pool, org_id: str) -> dict[str, list]:
    out = {}
    async with pool.acquire() as conn:
        for table, column in TABLES.items():
            rows = await conn.fetch(f"SELECT row_to_json(t)::text AS r FROM {table} t WHERE {column} = $1 "
                                    "ORDER BY 1", org_id)
            out[table] = [r["r"] for r in rows]
    return out


@pytest.fixture
async def tenants(make_org, pool):
    a, b = await make_org(), await make_org()
    ids = {}
    r = await a.client.post("/jobs", json={"queue_name": "emails", "payload": {"secret": "A"}})
    ids["pending_job"] = r.json()["id"]
    r = await a.client.post("/jobs", json={"queue_name": "emails", "payload": {"secret": "A2"}})
    claimed = (await a.client.post("/jobs/claim", json={"queue_name": "emails", "worker_id": "wa",
                                                         "lease_duration_secs": 600})).json()["jobs"]
    ids["processing_job"] = claimed[0]["id"]
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO workers (id, organization_id, queue_name, queue_names, hostname) "
                           "VALUES ($1, $2, 'emails', ARRAY['emails'], 'host-a')", f"wa-{a.id}", a.id)
        await conn.execute("INSERT INTO queue_config (organization_id, queue_name) VALUES ($1, 'emails')", a.id)
    ids["worker"] = f"wa-{a.id}"
    return a, b, ids


def path_for(path: str, a: Org, ids: dict) -> str:
    if path.startswith("/api/v1/jobs/") or path.startswith("/api/v1/workflows/{id}/jobs/{job_id}"):
        job = ids["processing_job"]
    else:
        job = ids["pending_job"]
    resource = {
        "/api/v1/organizations/": a.id, "/api/v1/api-keys/": a.key_id, "/api/v1/jobs/": job,
        "/api/v1/workers/": ids["worker"],
    }
    value = next((v for prefix, v in resource.items() if path.startswith(prefix)), str(uuid.uuid4()))
    return (path.replace("{id}", value).replace("{name}", "emails").replace("{job_id}", ids["processing_job"])
            .replace("{delivery_id}", str(uuid.uuid4()))).removeprefix("/api/v1")


async def test_s1_foreign_ids_are_404_and_change_nothing(tenants, pool):
    a, b, ids = tenants
    before = await snapshot(pool, a.id)
    for method, path, op_id in operations():
        if any(op_id.startswith(prefix) for prefix in NOT_TENANT_ROUTES):
            continue
        url = path_for(path, a, ids)
        r = await b.client.request(method, url, json=BODIES.get(op_id))
        if "{name}" in path:
            # Queue names are per-organization namespaces: B reaches its own (empty) queue.
            assert r.status_code in (200, 201, 204, 404), (op_id, r.status_code, r.text)
            assert "secret" not in r.text and a.id not in r.text, (op_id, r.text)
            if op_id == "queues.stats":
                assert r.json()["pending_jobs"] == 0 and r.json()["processing_jobs"] == 0
            continue
        assert_error(r, 404, "NOT_FOUND")
    assert await snapshot(pool, a.id) == before


async def test_s1_lists_never_show_another_tenants_rows(tenants):
    a, b, ids = tenants
    for url in ("/jobs", "/jobs/dlq", "/workers", "/api-keys", "/queues", "/organizations",
                "/jobs/status?ids=" + ",".join(ids.values()), "/jobs?queue_name=emails"):
        r = await b.client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text)
        for value in (*ids.values(), a.id, a.key_id):
            assert value not in r.text, (url, value)
    stats = (await b.client.get("/jobs/stats")).json()
    assert stats["total"] == 0
    claimed = (await b.client.post("/jobs/claim", json={"queue_name": "emails", "worker_id": "wb",
                                                         "limit": 100})).json()["jobs"]
    assert claimed == []
