"""R12 at CI size: a workflow DAG (1 root -> 50 children -> 1 join) run by concurrent claimers
through the REST API while some of them "die" (claim, then never complete) for the first
10 s, so their leases expire and the reaper hands the jobs back.

Pass: every child's first claim is after the root's completed_at, the join's first claim is
after every child completed, each job completes exactly once, and no database snapshot
shows the root completed while a child is still blocked. Variant: the root is dead-lettered
(its only claimer dies and it has no retries left), so all 51 descendants are cancelled and
none is ever claimed.

Claim instants are database time: the claim answers lease_expires_at = now() + lease, so
the claim happened at lease_expires_at - lease.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from conftest import Org

QUEUE = "r12"
CHILDREN = 50
LEASE_SECS = 5
KILL_WINDOW_SECS = 10.0
CLAIMERS = 8
MORTALS = 3  # claimers 0..MORTALS-1 may die during the kill window
RUN_DEADLINE_SECS = 45.0


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Ledger:
    """What the claimers observed."""

    claims: dict[str, list[datetime]] = field(default_factory=dict)  # job id -> DB claim instants
    completions: Counter = field(default_factory=Counter)          # job id -> accepted completes
    deaths: int = 0
    abandoned_jobs: int = 0
    stale_completes: int = 0
    server_errors: list[str] = field(default_factory=list)


async def claimer(org: Org, n: int, ledger: Ledger, stop: asyncio.Event, *, die_until: float,
                  die_chance: float, rng: random.Random, doomed: dict[str, asyncio.Event] | None = None,
                  start_after: asyncio.Event | None = None) -> None:
    """Claims and completes until stopped. Before `die_until` it may instead "die" holding
    what it just claimed, coming back as a new worker (as a restarted process would). A
    claimer given `doomed` always dies holding the first lease of each job named there (the
    shared map, job id -> event set on that death, is emptied as they go)."""
    if start_after is not None:
        await start_after.wait()
    life = 0
    while not stop.is_set():
        worker = f"r12-{n}-{life}"
        r = await org.client.post("/jobs/claim", json={
            "queue_name": QUEUE, "worker_id": worker, "limit": 5, "lease_duration_secs": LEASE_SECS,
            "wait_ms": 250})
        if r.status_code != 200:
            ledger.server_errors.append(f"claim {r.status_code} {r.text[:200]}")
            continue
        jobs = r.json()["jobs"]
        for job in jobs:
            claimed_at = ts(job["lease_expires_at"]) - timedelta(seconds=LEASE_SECS)
            ledger.claims.setdefault(job["id"], []).append(claimed_at)
        doom = [doomed.pop(j["id"]) for j in jobs if doomed and j["id"] in doomed]
        if doom or (jobs and time.monotonic() < die_until and rng.random() < die_chance):
            for event in doom:
                event.set()
            ledger.deaths += 1
            ledger.abandoned_jobs += len(jobs)
            life += 1
            continue
        for job in jobs:
            done = await org.client.post(f"/jobs/{job['id']}/complete",
                                         json={"worker_id": worker, "lease_id": job["lease_id"]})
            if done.status_code == 200:
                ledger.completions[job["id"]] += 1
            elif done.status_code == 409:
                ledger.stale_completes += 1
            else:
                ledger.server_errors.append(f"complete {done.status_code} {done.text[:200]}")


async def sampler(pool: asyncpg.Pool, workflow_id: str, root: str, join: str, stop: asyncio.Event,
                  violations: list[str]) -> int:
    """Reads one snapshot at a time (a single statement) and records any that shows the root
    completed with a child still blocked, or the join started before every child completed."""
    samples = 0
    async with pool.acquire() as conn:
        while not stop.is_set():
            row = await conn.fetchrow(
                """SELECT (SELECT status FROM jobs WHERE id = $2) AS root,
                          (SELECT status FROM jobs WHERE id = $3) AS join_status,
                          count(*) FILTER (WHERE NOT dependencies_met AND status IN ('pending', 'scheduled')) AS blocked,
                          count(*) FILTER (WHERE status <> 'completed') AS unfinished
                   FROM jobs WHERE workflow_id = $1 AND id <> $2 AND id <> $3""", workflow_id, root, join)
            samples += 1
            if row["root"] == "completed" and row["blocked"]:
                violations.append(f"root completed with {row['blocked']} children blocked")
            if row["join_status"] in ("processing", "completed") and row["unfinished"]:
                violations.append(f"join {row['join_status']} with {row['unfinished']} children unfinished")
            await asyncio.sleep(0.02)  # sampling interval, not synchronisation
    return samples


def dag(root_retries: int) -> dict:
    children = [{"key": f"child-{i}", "queue_name": QUEUE, "payload": {"i": i}, "depends_on": ["root"],
                 "max_retries": 10} for i in range(CHILDREN)]
    return {"name": "R12 fan-out and join", "jobs": [
        {"key": "root", "queue_name": QUEUE, "payload": {"root": True}, "max_retries": root_retries},
        *children,
        {"key": "join", "queue_name": QUEUE, "payload": {"join": True}, "max_retries": 10,
         "depends_on": [c["key"] for c in children]}]}


async def start(org: Org, body: dict) -> tuple[str, dict[str, str]]:
    r = await org.client.post("/workflows", json=body)
    assert r.status_code == 200, r.text
    return r.json()["workflow_id"], {i["key"]: i["job_id"] for i in r.json()["job_ids"]}


async def until(predicate, deadline_secs: float, what: str) -> None:
    deadline = time.monotonic() + deadline_secs
    while not await predicate():
        assert time.monotonic() < deadline, f"not within {deadline_secs}s: {what}"
        await asyncio.sleep(0.05)  # polling interval


async def test_r12_fan_out_and_join_under_worker_deaths(org: Org, pool: asyncpg.Pool):
    began = time.monotonic()
    workflow_id, ids = await start(org, dag(root_retries=10))
    root, join = ids["root"], ids["join"]
    children = [ids[f"child-{i}"] for i in range(CHILDREN)]

    ledger, stop, violations = Ledger(), asyncio.Event(), []
    die_until = time.monotonic() + KILL_WINDOW_SECS
    # The first leases of the root and of one child always die, whoever holds them (only
    # mortal claimers run until the root's has), so both complete only after the reaper
    # handed them back; other deaths are random, by mortal claimers within the kill window.
    root_died = asyncio.Event()
    doomed = {root: root_died, children[0]: asyncio.Event()}
    tasks = [asyncio.create_task(claimer(
        org, n, ledger, stop, die_until=die_until, die_chance=0.5 if n < MORTALS else 0.0,
        rng=random.Random(1200 + n), doomed=doomed,
        start_after=None if n < MORTALS else root_died)) for n in range(CLAIMERS)]
    watch = asyncio.create_task(sampler(pool, workflow_id, root, join, stop, violations))

    async def finished() -> bool:
        return (await org.client.get(f"/workflows/{workflow_id}")).json()["status"] == "completed"

    try:
        await until(finished, RUN_DEADLINE_SECS, "workflow completed")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        samples = await watch

    jobs = {j["id"]: j for j in (await org.client.get(f"/workflows/{workflow_id}/jobs")).json()}
    root_done = ts(jobs[root]["completed_at"])
    last_child_done = max(ts(jobs[c]["completed_at"]) for c in children)

    assert ledger.server_errors == []
    assert violations == [] and samples > 0
    # Each job completed exactly once, whatever happened to its earlier leases.
    assert {i: ledger.completions[i] for i in ids.values()} == {i: 1 for i in ids.values()}
    assert all(j["status"] == "completed" for j in jobs.values())
    # No child was claimed before the root completed; the join not before every child completed.
    early = [c for c in children if min(ledger.claims[c]) <= root_done]
    assert early == [], f"{len(early)} children claimed before the root completed"
    assert min(ledger.claims[join]) > last_child_done
    # Workers really died and their jobs really came back through lease expiry.
    assert ledger.deaths >= 1 and ledger.abandoned_jobs >= 1
    assert len(ledger.claims[root]) >= 2 and len(ledger.claims[children[0]]) >= 2

    wf = (await org.client.get(f"/workflows/{workflow_id}")).json()
    assert (wf["total_jobs"], wf["completed_jobs"], wf["failed_jobs"], wf["progress_percent"]) == (52, 52, 0, 100)
    print(f"\nR12: {time.monotonic() - began:.1f}s, {ledger.deaths} deaths abandoning {ledger.abandoned_jobs} "
          f"jobs, {sum(len(c) for c in ledger.claims.values())} claims for 52 jobs, "
          f"{ledger.stale_completes} stale completes refused, {samples} snapshots, "
          f"first child claim {min(min(ledger.claims[c]) for c in children) - root_done} after root done, "
          f"join claim {min(ledger.claims[join]) - last_child_done} after last child")


async def test_r12_dead_root_cancels_all_descendants_unclaimed(org: Org, pool: asyncpg.Pool):
    workflow_id, ids = await start(org, dag(root_retries=0))
    root = ids["root"]
    descendants = [i for k, i in ids.items() if k != "root"]

    # Every claimer dies holding whatever it claims: the root's only lease expires and, with
    # no retries left, the reaper dead-letters it.
    ledger, stop = Ledger(), asyncio.Event()
    tasks = [asyncio.create_task(claimer(org, n, ledger, stop, die_until=float("inf"), die_chance=1.0,
                                         rng=random.Random(n))) for n in range(4)]

    async def all_cancelled() -> bool:
        r = await org.client.get(f"/workflows/{workflow_id}/jobs/status")
        st = {i["key"]: i["status"] for i in r.json()}
        return st["root"] == "deadletter" and sum(s == "cancelled" for s in st.values()) == CHILDREN + 1

    try:
        await until(all_cancelled, 30.0, "root dead-lettered and descendants cancelled")
    finally:
        stop.set()
        await asyncio.gather(*tasks)

    assert ledger.server_errors == []
    assert set(ledger.claims) == {root} and ledger.deaths >= 1
    async with pool.acquire() as conn:
        started = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE id = ANY($1::text[]) AND started_at IS NOT NULL", descendants)
    assert started == 0
    wf = (await org.client.get(f"/workflows/{workflow_id}")).json()
    assert (wf["status"], wf["completed_jobs"], wf["failed_jobs"]) == ("failed", 0, 1)
