"""The cron scheduler loop (R13): exactly once across replicas, through downtime, DST and a
clock that runs backwards. Driven by calling run_once(), never by sleeping.

These tests use a database of their own, so the test server's own scheduler never races them
and every count below is exact. Time is driven by moving next_run_at into the past.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta

import asyncpg
import pytest

from spooled_server import db
from spooled_server.loops.scheduler import CronScheduler
from spooled_server.services import cron, schedule_runner
from spooled_server.store import jobs as job_store
from spooled_server.store import organizations as org_store
from spooled_server.store import schedules as schedule_store

YEARLY = "0 0 0 1 1 *"   # due only when a test moves next_run_at into the past
EVERY_SECOND = "* * * * * *"


@pytest.fixture(scope="module")
async def loop_db(postgres_url: str):
    name = f"spooled_loop_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    await db.migrate(url)
    yield url
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def pools(loop_db: str):
    """Two pools: two server processes, as far as the database can tell."""
    first, second = await db.create_pool(loop_db, 5), await db.create_pool(loop_db, 5)
    yield first, second
    await first.close()
    await second.close()


@pytest.fixture
async def org_id(pools) -> str:
    async with pools[0].acquire() as conn:
        # Nothing left active by an earlier test may be fired by this one.
        await conn.execute("UPDATE schedules SET is_active = false")
        row = await org_store.insert(conn, name="Loop test", slug=f"loop-{secrets.token_hex(6)}",
                                     plan_tier="free", billing_email=None)
    return row["id"]


async def add_schedule(pool, org_id: str, cron_expression: str = YEARLY, tz: str = "UTC", **extra) -> str:
    values = {"name": "s", "description": None, "cron_expression": cron_expression, "timezone": tz,
              "queue_name": "cron", "payload_template": {"from": "cron"}, "priority": 3, "max_retries": 2,
              "timeout_seconds": 60, "next_run_at": None, "tags": {"t": "1"}, "metadata": None, **extra}
    async with pool.acquire() as conn:
        return (await schedule_store.insert(conn, org_id, values))["id"]


async def due_at(pool, schedule_ids: list[str], fire_time: datetime) -> None:
    async with pool.acquire() as conn:
        await conn.execute("UPDATE schedules SET next_run_at = $2 WHERE id = ANY($1::text[])", schedule_ids, fire_time)


async def db_now(pool) -> datetime:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT now()")


async def ledger(pool, org_id: str) -> dict:
    async with pool.acquire() as conn:
        runs = await conn.fetch("SELECT * FROM schedule_runs WHERE organization_id = $1", org_id)
        jobs = await conn.fetch("SELECT * FROM jobs WHERE organization_id = $1", org_id)
        schedules = await conn.fetch("SELECT * FROM schedules WHERE organization_id = $1", org_id)
    return {"runs": runs, "jobs": jobs, "schedules": {s["id"]: s for s in schedules}}


# -- R13 (a): replicas ----------------------------------------------------------------------------

async def test_two_replicas_fire_each_of_60_due_times_exactly_once(pools, org_id):
    first, second = CronScheduler(pools[0], 1.0), CronScheduler(pools[1], 1.0)
    schedule_id = await add_schedule(pools[0], org_id)
    base = await db_now(pools[0]) - timedelta(days=1)
    for tick in range(60):
        await due_at(pools[0], [schedule_id], base + timedelta(seconds=tick))
        fired = await asyncio.gather(first.run_once(), second.run_once())
        assert sum(fired) == 1, (tick, fired)
    seen = await ledger(pools[0], org_id)
    assert len(seen["jobs"]) == 60 and len(seen["runs"]) == 60
    assert sorted(r["fire_time"] for r in seen["runs"]) == [base + timedelta(seconds=t) for t in range(60)]
    assert {r["job_id"] for r in seen["runs"]} == {j["id"] for j in seen["jobs"]}
    assert all(r["status"] == "completed" and r["completed_at"] is not None for r in seen["runs"])
    schedule = seen["schedules"][schedule_id]
    assert schedule["run_count"] == 60 and schedule["next_run_at"] > await db_now(pools[0]) - timedelta(seconds=1)
    job = seen["jobs"][0]
    assert (job["queue_name"], job["payload"], job["priority"], job["max_retries"], job["timeout_seconds"],
            job["tags"], job["status"]) == ("cron", {"from": "cron"}, 3, 2, 60, {"t": "1"}, "pending")


async def test_replicas_split_a_large_backlog_without_duplicates(pools, org_id):
    ids = [await add_schedule(pools[0], org_id) for _ in range(250)]
    await due_at(pools[0], ids, await db_now(pools[0]) - timedelta(minutes=5))
    # Small batches so the two replicas interleave many claims.
    replicas = [CronScheduler(pools[0], 1.0, batch=7), CronScheduler(pools[1], 1.0, batch=7)]
    fired = await asyncio.gather(*(r.run_once() for r in replicas), *(r.run_once() for r in replicas))
    assert sum(fired) == 250
    seen = await ledger(pools[0], org_id)
    assert len(seen["jobs"]) == 250 and len(seen["runs"]) == 250
    assert {r["schedule_id"] for r in seen["runs"]} == set(ids)
    assert all(s["run_count"] == 1 for s in seen["schedules"].values())


async def test_a_stale_read_of_the_same_due_time_creates_one_job(pools, org_id):
    """Two transactions fire the same schedule row as read before either committed (what two
    replicas without row locks would do): the unique (schedule_id, fire_time) key lets one
    through."""
    schedule_id = await add_schedule(pools[0], org_id)
    await due_at(pools[0], [schedule_id], await db_now(pools[0]) - timedelta(seconds=30))
    async with pools[0].acquire() as conn:
        row = await schedule_store.get(conn, org_id, schedule_id)

    async def fire(pool) -> int:
        async with pool.acquire() as conn, conn.transaction():
            return await schedule_runner._fire(conn, row, await schedule_store.db_now(conn))

    assert sorted(await asyncio.gather(fire(pools[0]), fire(pools[1]))) == [0, 1]
    seen = await ledger(pools[0], org_id)
    assert len(seen["jobs"]) == 1 and len(seen["runs"]) == 1
    assert seen["schedules"][schedule_id]["run_count"] == 1


# -- R13 (b): downtime ----------------------------------------------------------------------------

async def test_downtime_collapses_missed_fires_into_one_catch_up_run(pools, org_id):
    schedule_id = await add_schedule(pools[0], org_id, EVERY_SECOND)
    missed_since = await db_now(pools[0]) - timedelta(seconds=125)
    await due_at(pools[0], [schedule_id], missed_since)
    assert await CronScheduler(pools[0], 1.0).run_once() == 1
    after = await db_now(pools[0])
    seen = await ledger(pools[0], org_id)
    assert len(seen["runs"]) == 1 and len(seen["jobs"]) == 1
    assert seen["runs"][0]["fire_time"] == missed_since
    schedule = seen["schedules"][schedule_id]
    assert schedule["run_count"] == 1 and schedule["last_run_at"] is not None
    # Moved past the database's now (not replaying the 125 missed seconds), to a whole second.
    assert missed_since + timedelta(seconds=125) < schedule["next_run_at"] <= after + timedelta(seconds=1)
    assert schedule["next_run_at"].microsecond == 0


async def test_paused_and_never_due_schedules_do_not_fire(pools, org_id):
    paused = await add_schedule(pools[0], org_id, EVERY_SECOND)
    never = await add_schedule(pools[0], org_id, "0 0 0 30 2 *")
    await due_at(pools[0], [paused], await db_now(pools[0]) - timedelta(seconds=10))
    async with pools[0].acquire() as conn:
        await conn.execute("UPDATE schedules SET is_active = false WHERE id = $1", paused)
    assert await CronScheduler(pools[0], 1.0).run_once() == 0
    seen = await ledger(pools[0], org_id)
    assert seen["runs"] == [] and seen["jobs"] == [] and seen["schedules"][never]["next_run_at"] is None


# -- R13 (c): DST ---------------------------------------------------------------------------------

def fires_on_local_day(expr: str, zone: str, day: str) -> list[str]:
    tz = cron.parse_timezone(zone)
    t = datetime.fromisoformat(day).replace(tzinfo=tz) - timedelta(hours=6)
    out = []
    while True:
        t = cron.next_fire(expr, zone, t)
        local = t.astimezone(tz)
        if local.date().isoformat() > day:
            return out
        if local.date().isoformat() == day:
            out.append(local.strftime("%H:%M:%S%z"))


def test_new_york_fall_back_hour_fires_once():
    # 2025-11-02: 01:30 happens twice (EDT, then EST); the schedule fires at the first one only.
    assert fires_on_local_day("0 30 1 * * *", "America/New_York", "2025-11-02") == ["01:30:00-0400"]


def test_new_york_spring_forward_gap_fires_once_when_the_gap_ends():
    # 2025-03-09: 02:30 does not exist; the schedule fires once, at 03:00 local.
    assert fires_on_local_day("0 30 2 * * *", "America/New_York", "2025-03-09") == ["03:00:00-0400"]
    assert fires_on_local_day("0 30 2 * * *", "America/New_York", "2025-03-10") == ["02:30:00-0400"]


# -- R13 (d): a clock that goes back --------------------------------------------------------------

async def test_replaying_an_already_fired_due_time_creates_nothing(pools, org_id):
    """A replica whose clock was turned back would compute a due time that already fired. The
    scheduler reads no process clock, and the unique key refuses the repeat: the replayed tick
    only moves next_run_at on."""
    schedule_id = await add_schedule(pools[0], org_id)
    fire_time = await db_now(pools[0]) - timedelta(hours=1)
    await due_at(pools[0], [schedule_id], fire_time)
    assert await CronScheduler(pools[0], 1.0).run_once() == 1
    for pool in pools:  # replayed on both "processes"
        await due_at(pool, [schedule_id], fire_time)
        assert await CronScheduler(pool, 1.0).run_once() == 0
    seen = await ledger(pools[0], org_id)
    assert len(seen["runs"]) == 1 and len(seen["jobs"]) == 1
    schedule = seen["schedules"][schedule_id]
    assert schedule["run_count"] == 1 and schedule["next_run_at"] > await db_now(pools[0])


# -- failures -------------------------------------------------------------------------------------

async def test_failed_job_insert_is_recorded_and_the_schedule_still_advances(pools, org_id, monkeypatch):
    schedule_id = await add_schedule(pools[0], org_id)
    fire_time = await db_now(pools[0]) - timedelta(seconds=5)
    await due_at(pools[0], [schedule_id], fire_time)

    async def refuse(*_args, **_kwargs):
        raise asyncpg.CheckViolationError("simulated: the jobs table refused the row")

    monkeypatch.setattr(job_store, "insert_many", refuse)
    assert await CronScheduler(pools[0], 1.0).run_once() == 1
    seen = await ledger(pools[0], org_id)
    [run] = seen["runs"]
    assert run["status"] == "failed" and run["job_id"] is None and "simulated" in run["error_message"]
    assert run["fire_time"] == fire_time and seen["jobs"] == []
    schedule = seen["schedules"][schedule_id]
    assert schedule["next_run_at"] > fire_time and schedule["run_count"] == 1


async def test_an_expression_that_no_longer_parses_stops_with_a_failed_run(pools, org_id):
    schedule_id = await add_schedule(pools[0], org_id, "0 0 0 1 JAN *")
    await due_at(pools[0], [schedule_id], await db_now(pools[0]) - timedelta(seconds=5))
    assert await CronScheduler(pools[0], 1.0).run_once() == 1
    seen = await ledger(pools[0], org_id)
    assert seen["runs"][0]["status"] == "failed" and "cannot be evaluated" in seen["runs"][0]["error_message"]
    assert seen["schedules"][schedule_id]["next_run_at"] is None and seen["jobs"] == []


def test_scheduler_config_is_validated():
    with pytest.raises(ValueError):
        CronScheduler(None, 0)
    with pytest.raises(ValueError):
        CronScheduler(None, 1.0, batch=0)
