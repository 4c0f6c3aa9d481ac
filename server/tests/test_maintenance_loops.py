"""The two housekeeping loops, driven by run_once() on the shared test database:

- DependencyHealer: a crash between a completion's commit and its release pass (simulated by
  completing parents with plain SQL) leaves children waiting; the healer releases or cancels them.
- RetentionLoop: finished jobs, workflows, schedule runs and webhook records age out by the
  organization's plan retention, and nothing that is still needed goes.
"""

from __future__ import annotations

import uuid
from typing import AsyncIterator

import asyncpg
import pytest

from conftest import Org, OrgFactory
from spooled_server import db
from spooled_server.loops.activator import DueJobActivator
from spooled_server.loops.dependency_healer import DependencyHealer
from spooled_server.loops.retention import RetentionLoop, retention_days
from spooled_server.store import jobs as job_store


async def create_jobs(org: Org, queue: str, n: int) -> list[str]:
    r = await org.client.post("/jobs/bulk", json={"queue_name": queue, "jobs": [{"payload": {"i": i}} for i in range(n)]})
    assert r.status_code == 200, r.text
    return [item["job_id"] for item in r.json()["succeeded"]]


async def wait_on(org: Org, child: str, parents: list[str], mode: str = "all") -> None:
    r = await org.client.post(f"/jobs/{child}/dependencies",
                              json={"dependency_job_ids": parents, "dependency_mode": mode})
    assert r.status_code in (200, 201), r.text


async def claimable(org: Org, queue: str) -> list[str]:
    r = await org.client.post("/jobs/claim", json={"queue_name": queue, "worker_id": "w", "limit": 10})
    assert r.status_code == 200, r.text
    return [j["id"] for j in r.json()["jobs"]]


async def status_of(pool: asyncpg.Pool, job_id: str) -> tuple[str, bool]:
    row = await pool.fetchrow("SELECT status, dependencies_met FROM jobs WHERE id = $1", job_id)
    return row["status"], row["dependencies_met"]


# -- DependencyHealer -----------------------------------------------------------------------------

async def test_healer_releases_children_whose_parents_completed_without_a_release(org: Org, pool):
    a, b, waiting_on_both, waiting_on_one_of = await create_jobs(org, "heal-parents", 4)
    [child_all] = await create_jobs(org, "heal-all", 1)
    [child_any] = await create_jobs(org, "heal-any", 1)
    [child_still_waiting] = await create_jobs(org, "heal-wait", 1)
    await wait_on(org, child_all, [a, b])
    await wait_on(org, child_any, [b, waiting_on_both], mode="any")
    await wait_on(org, child_still_waiting, [a, waiting_on_one_of])
    # The "crash": parents completed by a statement that released nobody.
    await pool.execute("UPDATE jobs SET status = 'completed', completed_at = now() WHERE id = ANY($1::text[])", [a, b])
    assert await claimable(org, "heal-all") == [] and await status_of(pool, child_all) == ("pending", False)

    assert await DependencyHealer(pool, 30).run_once() >= 2
    assert await status_of(pool, child_all) == ("pending", True)
    assert await status_of(pool, child_any) == ("pending", True)
    assert await status_of(pool, child_still_waiting) == ("pending", False)
    assert await claimable(org, "heal-all") == [child_all]
    assert await claimable(org, "heal-any") == [child_any]
    assert await claimable(org, "heal-wait") == []


async def test_healer_cancels_children_of_a_dead_parent_and_their_descendants(org: Org, pool):
    parent, other = await create_jobs(org, "heal-dead", 2)
    [child] = await create_jobs(org, "heal-dead-child", 1)
    [grandchild] = await create_jobs(org, "heal-dead-grandchild", 1)
    [any_child] = await create_jobs(org, "heal-dead-any", 1)
    await wait_on(org, child, [parent, other])
    await wait_on(org, grandchild, [child])
    await wait_on(org, any_child, [parent, other], mode="any")
    await pool.execute("UPDATE jobs SET status = 'deadletter', completed_at = now() WHERE id = $1", parent)

    await DependencyHealer(pool, 30).run_once()
    assert (await status_of(pool, child))[0] == "cancelled"
    assert (await status_of(pool, grandchild))[0] == "cancelled"
    # 'any' still has a live parent: it keeps waiting.
    assert await status_of(pool, any_child) == ("pending", False)


async def test_a_late_cancel_pass_spares_children_of_a_parent_retried_from_the_dlq(org: Org, pool):
    """The healer names a dead parent, then (before its cancel pass) the parent is retried from
    the DLQ: the pass must read the parent as it is now and leave its children waiting."""
    [parent] = await create_jobs(org, "heal-revived", 1)
    [child] = await create_jobs(org, "heal-revived-child", 1)
    await wait_on(org, child, [parent])
    # The parent died, then was retried from the DLQ before this late pass came.
    await pool.execute("UPDATE jobs SET status = 'deadletter' WHERE id = $1", parent)
    await pool.execute("UPDATE jobs SET status = 'pending' WHERE id = $1", parent)
    async with pool.acquire() as conn, conn.transaction():
        assert await job_store.cancel_descendants(conn, [parent], "Dependency failed") == []
    assert await status_of(pool, child) == ("pending", False)


async def test_a_dead_letter_whose_cancel_pass_fails_is_still_answered_and_healed_later(org: Org, pool):
    """The fail commits first; if cancelling its dependents then fails, the worker still gets
    the fail's answer (not a 500 for a job that did dead-letter) and the healer cancels them."""
    [parent] = await create_jobs(org, "dead-pass", 1)
    [child] = await create_jobs(org, "dead-pass-child", 1)
    await wait_on(org, child, [parent])
    [claimed] = (await org.client.post("/jobs/claim", json={"queue_name": "dead-pass", "worker_id": "w"})).json()["jobs"]
    fn, trigger = f"refuse_{uuid.uuid4().hex[:8]}", f"refuse_{uuid.uuid4().hex[:8]}"
    await pool.execute(f"""CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.id = '{child}' AND NEW.status = 'cancelled' THEN RAISE EXCEPTION 'cancel refused'; END IF;
        RETURN NEW; END $$""")
    await pool.execute(f"CREATE TRIGGER {trigger} BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION {fn}()")
    try:
        r = await org.client.post(f"/jobs/{parent}/fail", json={"worker_id": "w", "lease_id": claimed["lease_id"],
                                                               "error": "fatal", "no_retry": True})
    finally:
        await pool.execute(f"DROP TRIGGER {trigger} ON jobs")
        await pool.execute(f"DROP FUNCTION {fn}()")
    assert r.status_code == 200 and r.json()["will_retry"] is False, r.text
    assert (await status_of(pool, parent))[0] == "deadletter" and (await status_of(pool, child))[0] == "pending"

    await DependencyHealer(pool, 30).run_once()
    assert (await status_of(pool, child))[0] == "cancelled"


# -- DueJobActivator ------------------------------------------------------------------------------

@pytest.fixture
async def own_pool(postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A database of its own, with no server (and so no activator loop) running on it: the test
    counts exactly what its activator did."""
    name = f"spooled_activator_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    await db.migrate(url)
    own = await db.create_pool(url, 2)
    try:
        yield own
    finally:
        await own.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


async def test_activator_activates_every_due_job_in_batches(own_pool):
    org_id = await own_pool.fetchval("INSERT INTO organizations (name, slug) VALUES ('a', 'a') RETURNING id")
    due = await own_pool.fetch(
        """INSERT INTO jobs (organization_id, queue_name, status, payload, scheduled_at)
           SELECT $1, 'q', 'scheduled', '{}', now() - interval '1 second' FROM generate_series(1, 5)
           RETURNING id""", org_id)
    later = await own_pool.fetchval(
        """INSERT INTO jobs (organization_id, queue_name, status, payload, scheduled_at)
           VALUES ($1, 'q', 'scheduled', '{}', now() + interval '1 hour') RETURNING id""", org_id)

    async with own_pool.acquire() as conn:  # one statement activates one batch
        _, _, activated, last = await job_store.activate_due(conn, None, 2)
    assert activated == 2 and last is not None
    assert await DueJobActivator(own_pool, 30, batch=2).run_once() == 3  # the rest: 2 + 1
    assert {(await status_of(own_pool, r["id"]))[0] for r in due} == {"pending"}
    assert (await status_of(own_pool, later))[0] == "scheduled"


# -- RetentionLoop --------------------------------------------------------------------------------

def test_retention_days_follow_plan_and_overrides():
    assert retention_days("free", None) == (3, 1)
    assert retention_days("enterprise", None) == (90, 90)
    assert retention_days("pro", {"job_retention_days": 5, "history_retention_days": None}) == (5, 30)
    assert retention_days("pro", {"job_retention_days": 0}) == (1, 30)


async def age(pool: asyncpg.Pool, ids: list[str], status: str, *, created: str, finished: str | None) -> None:
    await pool.execute(
        f"""UPDATE jobs SET status = $2, created_at = now() - interval '{created}',
                   completed_at = {"NULL" if finished is None else f"now() - interval '{finished}'"}
            WHERE id = ANY($1::text[])""", ids, status)


async def exists(pool: asyncpg.Pool, table: str, row_id: str) -> bool:
    return await pool.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE id = $1)", row_id)


async def test_retention_deletes_only_what_aged_out(make_org: OrgFactory, pool):
    short, long = await make_org("pro"), await make_org("enterprise")
    await pool.execute("""UPDATE organizations SET custom_limits = '{"job_retention_days": 2,
                          "history_retention_days": 1}'::jsonb WHERE id = $1""", short.id)
    old_done, old_cancelled, old_dead, recent_done, old_pending, needed_parent, waiting = \
        await create_jobs(short, "ret", 7)
    await age(pool, [old_done], "completed", created="3 days", finished="3 days")
    await age(pool, [old_cancelled], "cancelled", created="5 days", finished="4 days")
    await age(pool, [old_dead], "deadletter", created="3 days", finished="3 days")
    await age(pool, [recent_done], "completed", created="3 days", finished="1 hour")
    await age(pool, [old_pending], "pending", created="9 days", finished=None)
    # A finished parent that a waiting job still needs stays (with a second, unfinished parent).
    await wait_on(short, waiting, [needed_parent, old_pending])
    await age(pool, [needed_parent], "completed", created="3 days", finished="3 days")
    [long_done] = await create_jobs(long, "ret", 1)
    await age(pool, [long_done], "completed", created="3 days", finished="3 days")

    finished_wf = await short.client.post("/workflows", json={"name": "done", "jobs": [
        {"key": "a", "queue_name": "ret-wf", "payload": {}},
        {"key": "b", "queue_name": "ret-wf", "payload": {}, "depends_on": ["a"]}]})
    running_wf = await short.client.post("/workflows", json={"name": "running", "jobs": [
        {"key": "a", "queue_name": "ret-wf", "payload": {}}]})
    assert finished_wf.status_code == 200 and running_wf.status_code == 200, finished_wf.text
    finished_wf_id, running_wf_id = finished_wf.json()["workflow_id"], running_wf.json()["workflow_id"]
    finished_wf_jobs = [m["job_id"] for m in finished_wf.json()["job_ids"]]
    await age(pool, finished_wf_jobs, "completed", created="3 days", finished="3 days")
    await pool.execute("UPDATE workflows SET created_at = now() - interval '3 days' WHERE id = ANY($1::text[])",
                       [finished_wf_id, running_wf_id])

    schedule = await short.client.post("/schedules", json={"name": "s", "cron_expression": "0 0 1 1 *",
                                                           "queue_name": "ret", "payload_template": {}})
    assert schedule.status_code == 201, schedule.text
    sid = schedule.json()["id"]
    runs = {}
    for name, status, started in (("old", "completed", "2 days"), ("old_running", "running", "2 days"),
                                  ("recent", "failed", "1 hour")):
        runs[name] = await pool.fetchval(
            f"""INSERT INTO schedule_runs (schedule_id, organization_id, fire_time, status, started_at)
                VALUES ($1, $2, now() - interval '{started}' - random() * interval '1 minute', $3,
                        now() - interval '{started}') RETURNING id""", sid, short.id, status)
    hook = await pool.fetchval(
        """INSERT INTO outgoing_webhooks (organization_id, name, url, events, enabled)
           VALUES ($1, 'h', 'https://hooks.example.com/', ARRAY['job.created'], false) RETURNING id""", short.id)
    deliveries = {}
    for name, status, created in (("old_success", "success", "2 days"), ("old_pending", "pending", "2 days"),
                                  ("recent", "failed", "1 hour")):
        deliveries[name] = await pool.fetchval(
            f"""INSERT INTO webhook_deliveries_out (webhook_id, organization_id, event, payload, target_url,
                                                    status, created_at)
                VALUES ($1, $2, 'job.created', '{{}}'::jsonb, 'https://hooks.example.com/', $3,
                        now() - interval '{created}') RETURNING id""", hook, short.id, status)
    incoming = await pool.fetchval(
        """INSERT INTO webhook_deliveries_in (organization_id, provider, created_at)
           VALUES ($1, 'custom', now() - interval '2 days') RETURNING id""", short.id)

    assert await RetentionLoop(pool, 600, batch=2).run_once() >= 7  # a batch of 2 forces several rounds

    gone = [old_done, old_cancelled, old_dead, *finished_wf_jobs]
    kept = [recent_done, old_pending, needed_parent, waiting, long_done]
    assert [j for j in gone if await exists(pool, "jobs", j)] == []
    assert [j for j in kept if not await exists(pool, "jobs", j)] == []
    assert not await exists(pool, "workflows", finished_wf_id) and await exists(pool, "workflows", running_wf_id)
    assert (await short.client.get(f"/workflows/{finished_wf_id}")).status_code == 404
    assert [name for name, run in runs.items() if await exists(pool, "schedule_runs", run)] == ["old_running", "recent"]
    assert [name for name, d in deliveries.items()
            if await exists(pool, "webhook_deliveries_out", d)] == ["old_pending", "recent"]
    assert not await exists(pool, "webhook_deliveries_in", incoming)
    assert (await short.client.get(f"/jobs/{recent_done}")).status_code == 200
    # A second pass finds nothing more of this organization's.
    before = await pool.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1", short.id)
    await RetentionLoop(pool, 600).run_once()
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE organization_id = $1", short.id) == before


async def test_an_unknown_plan_uses_the_free_retention(make_org: OrgFactory, pool):
    org = await make_org("pro")
    await pool.execute("UPDATE organizations SET plan_tier = $2 WHERE id = $1", org.id, f"legacy-{uuid.uuid4().hex[:4]}")
    day4, day2 = await create_jobs(org, "ret-free", 2)
    await age(pool, [day4], "completed", created="4 days", finished="4 days")
    await age(pool, [day2], "completed", created="2 days", finished="2 days")
    await RetentionLoop(pool, 600).run_once()
    assert not await exists(pool, "jobs", day4) and await exists(pool, "jobs", day2)
