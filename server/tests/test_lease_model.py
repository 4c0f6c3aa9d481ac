"""R3: the lease state machine, model-checked with Hypothesis against real PostgreSQL.

Rules drive the job service (enqueue, claim, heartbeat, complete, fail, expire, reap,
retry, cancel, time passing); an in-memory model predicts each outcome. Invariants: at most
one current lease per job, only the current lease changes a job, every transition is in
the documented graph, attempts never decrease except on a manual retry, a completed job
never changes again, and nothing is accepted at or after lease_expires_at.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import asyncpg
import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from spooled_server import db
from spooled_server.errors import Conflict, LeaseExpired
from spooled_server.events.wakeups import WakeHub
from spooled_server.loops.reaper import LeaseReaper
from spooled_server.services import jobs as service
from spooled_server.services.auth import Authenticator
from spooled_server.services.core import Core
from spooled_server.services.limits import LimitsCache
from spooled_server.services.organizations import create_with_key
from spooled_server.settings import Settings

ALLOWED = {
    ("pending", "processing"), ("processing", "completed"), ("processing", "pending"),
    ("processing", "deadletter"), ("pending", "cancelled"), ("deadletter", "pending"),
}


@dataclass
class ModelJob:
    id: str
    seq: int
    max_retries: int
    status: str = "pending"
    retry_count: int = 0
    lease: str | None = None       # the current lease token while processing
    delayed: bool = False          # pending but held back by a retry backoff
    expired: bool = False          # lease moved into the past, not yet reaped
    dead_leases: set[str] = field(default_factory=set)


class Harness:
    """Owns an event loop and a Core on the test database for the synchronous state machine."""

    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.settings = Settings(database_url=url)
        pool = self.run(db.create_pool(url, 4))
        self.core = Core(settings=self.settings, pool=pool, auth=Authenticator(pool, self.settings),
                         limits=LimitsCache(pool), wake=WakeHub(url))
        self.reaper = LeaseReaper(pool, 1.0)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.core.pool.close())
        self.loop.close()


async def _private_database(url: str) -> str:
    name = f"r3_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    private = url.rsplit("/", 1)[0] + "/" + name
    await db.migrate(private)
    return private


def make_machine(harness: Harness):
    class LeaseMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            async def new_org():
                async with harness.core.pool.acquire() as conn:
                    slug = f"r3-{uuid.uuid4().hex[:12]}"
                    created = await create_with_key(conn, name="r3", slug=slug, plan_tier="enterprise",
                                                    billing_email=None, production=False)
                return created["organization"]["id"]
            self.org = harness.run(new_org())
            self.queue = "r3"
            self.jobs: dict[str, ModelJob] = {}
            self.seq = 0
            self.history: dict[str, list[str]] = {}

        # -- helpers ---------------------------------------------------------------------------
        def _move(self, job: ModelJob, status: str) -> None:
            assert (job.status, status) in ALLOWED, (job.status, status)
            job.status = status

        def _processing(self) -> list[ModelJob]:
            return [j for j in self.jobs.values() if j.status == "processing"]

        def _call(self, coro):
            try:
                harness.run(coro)
                return None
            except (LeaseExpired, Conflict) as err:
                return err

        # -- rules ------------------------------------------------------------------------------
        @rule(max_retries=st.integers(0, 2))
        def enqueue(self, max_retries):
            job_id, created = harness.run(service.create(harness.core, self.org, service.NewJob(
                queue_name=self.queue, payload={"seq": self.seq}, max_retries=max_retries)))
            assert created
            self.jobs[job_id] = ModelJob(job_id, self.seq, max_retries)
            self.seq += 1

        @rule()
        def claim(self):
            rows = harness.run(service.claim(harness.core, self.org, self.queue, "w", 1, 30))
            ready = sorted((j for j in self.jobs.values() if j.status == "pending" and not j.delayed),
                           key=lambda j: j.seq)
            if not ready:
                assert rows == []
                return
            [row] = rows
            assert row["id"] == ready[0].id
            job = self.jobs[row["id"]]
            self._move(job, "processing")
            job.lease, job.expired = row["lease_id"], False

        @precondition(lambda self: self._processing())
        @rule(data=st.data(), stale=st.booleans())
        def complete(self, data, stale):
            job = data.draw(st.sampled_from(self._processing()))
            token = (next(iter(job.dead_leases)) if job.dead_leases else "bogus") if stale else job.lease
            err = self._call(service.complete(harness.core, self.org, job.id, worker_id="w", lease_id=token,
                                              result={"ok": True}))
            if stale or job.expired:
                assert isinstance(err, LeaseExpired)
            else:
                assert err is None
                self._move(job, "completed")
                job.dead_leases.add(job.lease)
                job.lease = None

        @precondition(lambda self: self._processing())
        @rule(data=st.data(), retry=st.booleans())
        def fail(self, data, retry):
            job = data.draw(st.sampled_from(self._processing()))
            err = self._call(service.fail(harness.core, self.org, job.id, worker_id="w", lease_id=job.lease,
                                          error="e", allow_retry=retry))
            if job.expired:
                assert isinstance(err, LeaseExpired)
                return
            assert err is None
            job.dead_leases.add(job.lease)
            job.lease = None
            if retry and job.retry_count < job.max_retries:
                self._move(job, "pending")
                job.retry_count += 1
                job.delayed = True
            else:
                self._move(job, "deadletter")

        @precondition(lambda self: self._processing())
        @rule(data=st.data())
        def heartbeat(self, data):
            job = data.draw(st.sampled_from(self._processing()))
            err = self._call(service.heartbeat(harness.core, self.org, job.id, worker_id="w",
                                               lease_id=job.lease, lease_secs=30))
            assert isinstance(err, LeaseExpired) if job.expired else err is None

        @precondition(lambda self: self._processing())
        @rule(data=st.data())
        def expire(self, data):
            """Moves a lease to exactly now: the expiry instant already belongs to the reaper."""
            job = data.draw(st.sampled_from(self._processing()))

            async def go():
                async with harness.core.pool.acquire() as conn:
                    await conn.execute("UPDATE jobs SET lease_expires_at = now() WHERE id = $1", job.id)
            harness.run(go())
            job.expired = True

        @rule()
        def reap(self):
            harness.run(harness.reaper.run_once())
            for job in self._processing():
                if not job.expired:
                    continue
                job.dead_leases.add(job.lease)
                job.lease, job.expired = None, False
                if job.retry_count < job.max_retries:
                    self._move(job, "pending")
                    job.retry_count += 1
                    job.delayed = False
                else:
                    self._move(job, "deadletter")

        @rule()
        def time_passes(self):
            """Every retry backoff elapses."""
            async def go():
                async with harness.core.pool.acquire() as conn:
                    await conn.execute("UPDATE jobs SET scheduled_at = now() - interval '1 second' "
                                       "WHERE organization_id = $1 AND scheduled_at > now()", self.org)
            harness.run(go())
            for job in self.jobs.values():
                job.delayed = False

        @precondition(lambda self: self.jobs)
        @rule(data=st.data())
        def retry(self, data):
            job = data.draw(st.sampled_from(list(self.jobs.values())))
            err = self._call(service.retry(harness.core, self.org, job.id))
            if job.status == "deadletter":
                assert err is None
                self._move(job, "pending")
                job.retry_count += 1
                job.delayed = False
            else:
                assert isinstance(err, Conflict)

        @precondition(lambda self: self.jobs)
        @rule(data=st.data())
        def cancel(self, data):
            job = data.draw(st.sampled_from(list(self.jobs.values())))
            err = self._call(service.cancel(harness.core, self.org, job.id))
            if job.status == "pending":
                assert err is None
                self._move(job, "cancelled")
            else:
                assert isinstance(err, Conflict)

        # -- invariants ------------------------------------------------------------------------
        @invariant()
        def database_matches_model(self):
            if not getattr(self, "jobs", None):
                return

            async def rows():
                async with harness.core.pool.acquire() as conn:
                    return await conn.fetch(
                        "SELECT id, status, retry_count, lease_id, lease_expires_at IS NOT NULL AS leased "
                        "FROM jobs WHERE organization_id = $1", self.org)
            for row in harness.run(rows()):
                job = self.jobs[row["id"]]
                assert row["status"] == job.status, (row["status"], job)
                assert row["retry_count"] == job.retry_count, (row["retry_count"], job)
                if job.status == "processing":
                    assert row["lease_id"] == job.lease and row["leased"]
                else:
                    assert not row["leased"]

    return LeaseMachine


def test_r3_lease_state_machine(postgres_url):
    # Its own database: the shared test server's reaper would otherwise reap the leases this
    # machine expires before the model's own `reap` rule runs.
    url = asyncio.run(_private_database(postgres_url))
    harness = Harness(url)
    try:
        machine = make_machine(harness)
        machine.TestCase.settings = settings(max_examples=500, stateful_step_count=15, deadline=None,
                                             suppress_health_check=list(HealthCheck), database=None)
        machine.TestCase().runTest()
    finally:
        harness.close()
