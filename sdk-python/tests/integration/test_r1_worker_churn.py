"""R1, worker SIGKILL churn, at CI size (reliability-scenarios.md section 2.1).

Four SpooledWorker processes (REST, concurrency 8, lease 5 s) run 2,000 jobs whose handler
sleeps 5-50 ms. Every 5 s for 30 s the test SIGKILLs one worker at random and starts a
replacement (a new process with a new worker id) within 1 s. The killed worker's jobs come back
only through lease expiry and the server's reaper.

Oracles, all read outside the workers:
- completions: the jobs table's statement triggers NOTIFY every status change on
  'spooled_events' (migrations/003_events.sql). A connection LISTENing for the whole run
  counts each job's transitions to `completed`, so a second accepted completion would show even
  though the row itself can only hold one.
- executions: each worker process writes "S <job id>" with one write(2) when its handler starts
  (r1_worker_process.py), so a SIGKILL loses none. re-executions = executions - jobs.
- inflight(k): jobs `processing` under the victim's worker id, read right after the SIGKILL
  returned (the victim can change nothing after that; the reaper cannot have taken them yet,
  since their leases were renewed less than a lease ago). A long-poll claim the victim left
  waiting is dropped by the server when the connection closes (it leases nothing more), and a
  claim that committed just as the victim died comes back by lease expiry without having run,
  so it is no re-execution either.
- stuck leases: sampled every second, the longest any job has stayed `processing` past its
  lease_expires_at.
- 5xx: the server's request counter on /metrics (spooled_api_requests_total by status), read
  before and after. It counts every 5xx the server sent, including ones the SDK retried away
  and the worker never saw; the workers also log any 5xx that reached their "error" event.

The 2,000 jobs arrive in one burst per kill (its first 100 just before the kill, the rest just
after): four workers drain 2,000 such jobs in a few seconds, so a prefilled queue (or an even
trickle) would leave most kills nothing to interrupt. The victim is killed once its handlers
have started on the burst, so each kill interrupts running handlers, not only fresh claims.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from spooled import AsyncSpooledClient
from spooled_server.settings import Settings

from .r1_worker_process import CONCURRENCY, LEASE_SECONDS
from .server_fixture import Database, LiveServer, Org

JOBS = 2_000
WORKERS = 4
KILL_EVERY = 5.0
KILL_WINDOW = 30.0
MIN_KILLS = 5
RESTART_WITHIN = 1.0
DRAIN_DEADLINE = 60.0  # after the last kill
MAX_RETRIES = 10  # every kill costs an attempt; no job may dead-letter because of kills
BULK = 100  # the most POST /jobs/bulk takes
WORKER_SCRIPT = Path(__file__).with_name("r1_worker_process.py")
_5XX = re.compile(r'^spooled_api_requests_total\{.*status="5\d\d"\} (\S+)$', re.M)


@dataclass
class Worker:
    """One worker process; each (re)start is a new incarnation with its own id and log."""

    slot: int
    generation: int
    worker_id: str
    log_path: Path
    process: subprocess.Popen


@dataclass
class Kill:
    worker_id: str
    inflight: int
    restarted_after: float


@dataclass
class Run:
    kills: list[Kill] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    completions: Counter = field(default_factory=Counter)
    max_stuck: float = 0.0
    drained_after_last_kill: float = 0.0


class Supervisor:
    """Starts, SIGKILLs and restarts the worker processes."""

    def __init__(self, live_server: LiveServer, org: Org, queue: str, workdir: Path):
        self.live_server, self.org, self.queue, self.workdir = live_server, org, queue, workdir
        self.workers: list[Worker] = []
        self.logs: list[Path] = []

    def start(self, slot: int, generation: int = 0) -> Worker:
        worker_id = f"r1-w{slot}-g{generation}-{self.queue[-6:]}"
        log_path = self.workdir / f"{worker_id}.log"
        out = (self.workdir / f"{worker_id}.out").open("wb")
        process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), self.live_server.url, self.org.api_key, self.queue, worker_id,
             str(log_path)], stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        out.close()
        worker = Worker(slot, generation, worker_id, log_path, process)
        self.logs.append(log_path)
        if slot < len(self.workers):
            self.workers[slot] = worker
        else:
            self.workers.append(worker)
        return worker

    def kill(self, slot: int) -> tuple[Worker, bool]:
        """SIGKILLs a worker and waits for it to die; True if the SIGKILL is what ended it."""
        victim = self.workers[slot]
        victim.process.send_signal(signal.SIGKILL)
        return victim, victim.process.wait(5) == -signal.SIGKILL

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers:
            try:
                worker.process.wait(10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


def log_size(worker: Worker) -> int:
    return worker.log_path.stat().st_size if worker.log_path.exists() else 0


async def running_jobs(worker: Worker, seen: int, deadline: float = 2.0) -> None:
    """Waits (up to `deadline` s, then goes on) until the worker's handlers start on new jobs,
    so the kill interrupts handlers, not just claims."""
    end = time.monotonic() + deadline
    while log_size(worker) <= seen and time.monotonic() < end:
        await asyncio.sleep(0.005)


async def server_5xx(live_server: LiveServer) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(live_server.url + "/metrics", timeout=10)).text
    return sum(float(v) for v in _5XX.findall(text))


async def enqueue(client: AsyncSpooledClient, queue: str, count: int, created: list[str]) -> None:
    """Enqueues `count` more jobs (payload seq continues from what `created` holds)."""
    first = len(created)
    for start in range(first, first + count, BULK):
        answer = await client.jobs.bulk_enqueue({
            "queue_name": queue, "default_max_retries": MAX_RETRIES,
            "jobs": [{"payload": {"seq": n}} for n in range(start, min(start + BULK, first + count))]})
        assert answer.failure_count == 0, answer.failed
        created.extend(item.job_id for item in answer.succeeded)


async def churn(database: Database, live_server: LiveServer, org: Org, workdir: Path,
                created: list[str]) -> Run:
    run = Run()
    queue = f"r1-{os.urandom(3).hex()}"
    listener = await asyncpg.connect(database.url)
    conn = await asyncpg.connect(database.url)

    def on_change(_conn, _pid, _channel, payload: str) -> None:
        for change in json.loads(payload):
            if change.get("o") == org.id and change.get("s") == "completed" and "j" in change:
                run.completions[change["j"]] += 1

    await listener.add_listener("spooled_events", on_change)
    supervisor = Supervisor(live_server, org, queue, workdir)
    try:
        async with AsyncSpooledClient(org.api_key, base_url=live_server.url) as client:
            for slot in range(WORKERS):
                supervisor.start(slot)
            kills_planned = int(KILL_WINDOW // KILL_EVERY)
            began = time.monotonic()
            next_kill, last_kill = began + KILL_EVERY, began
            while True:
                kills_left = len(created) < JOBS
                await asyncio.sleep(max(0.0, min(1.0, next_kill - time.monotonic())) if kills_left else 1.0)
                stuck = await conn.fetchval(
                    """SELECT coalesce(max(extract(epoch FROM now() - lease_expires_at)), 0)::float8 FROM jobs
                       WHERE organization_id = $1 AND status = 'processing' AND lease_expires_at < now()""", org.id)
                run.max_stuck = max(run.max_stuck, stuck)
                if kills_left and time.monotonic() >= next_kill:
                    burst = min(-(-(JOBS - len(created)) // (kills_planned - len(run.kills) or 1)),
                                JOBS - len(created))
                    # One bulk lands first so every worker is busy at the kill; the rest of the
                    # burst arrives while the victim is down.
                    slot = random.randrange(WORKERS)
                    seen = log_size(supervisor.workers[slot])
                    await enqueue(client, queue, min(BULK, burst), created)
                    await running_jobs(supervisor.workers[slot], seen)
                    killed_at = time.monotonic()
                    victim, delivered = supervisor.kill(slot)
                    # Right at the kill: what the victim held is what the reaper must hand out again.
                    inflight = await conn.fetchval(
                        "SELECT count(*) FROM jobs WHERE organization_id = $1 AND assigned_worker_id = $2"
                        " AND status = 'processing'", org.id, victim.worker_id)
                    supervisor.start(slot, victim.generation + 1)
                    restarted_after = time.monotonic() - killed_at  # before the enqueue below
                    await enqueue(client, queue, burst - min(BULK, burst), created)
                    assert delivered, f"{victim.worker_id} did not die of the SIGKILL"
                    run.kills.append(Kill(victim.worker_id, inflight, restarted_after))
                    next_kill += KILL_EVERY
                    last_kill = time.monotonic()
                    continue
                if kills_left:
                    continue
                done = await conn.fetchval(
                    "SELECT count(*) FROM jobs WHERE organization_id = $1 AND queue_name = $2 AND status = 'completed'",
                    org.id, queue)
                run.drained_after_last_kill = time.monotonic() - last_kill
                if done == JOBS or run.drained_after_last_kill > DRAIN_DEADLINE:
                    break
    finally:
        supervisor.stop_all()
        run.logs = supervisor.logs
        await listener.close()
        await conn.close()
    return run


def read_logs(paths: list[Path]) -> tuple[Counter, Counter, list[str]]:
    """Handler starts and accepted results per job id, and the 5xx lines, over every worker's log."""
    started, completed, errors = Counter(), Counter(), []
    for path in paths:
        for line in path.read_text().splitlines() if path.exists() else []:
            kind, _, rest = line.partition(" ")
            if kind == "S":
                started[rest] += 1
            elif kind == "C":
                completed[rest] += 1
            elif kind == "E":
                errors.append(f"{path.name}: {rest}")
    return started, completed, errors


async def test_r1_worker_sigkill_churn_loses_nothing_and_completes_each_job_once(
        database: Database, live_server: LiveServer, org: Org, tmp_path: Path):
    reaper_interval = Settings().spooled_reaper_interval_secs  # the server inherits this environment
    stuck_limit = LEASE_SECONDS + 2 * reaper_interval
    errors_before = await server_5xx(live_server)
    created: list[str] = []
    run = await churn(database, live_server, org, tmp_path, created)
    errors_after = await server_5xx(live_server)

    rows = await _rows(database.url, org.id)
    statuses = Counter(r["status"] for r in rows)
    executions, accepted, worker_5xx = read_logs(run.logs)
    job_ids = set(created)
    inflight_total = sum(k.inflight for k in run.kills)
    re_executions = sum(executions.values()) - len(job_ids)
    print(f"\nR1: jobs={len(job_ids)} kills={len(run.kills)} re-executions={re_executions} "
          f"sum_inflight={inflight_total} inflight={[k.inflight for k in run.kills]} "
          f"max_stuck={run.max_stuck:.2f}s (limit {stuck_limit:.0f}s) "
          f"drained={run.drained_after_last_kill:.1f}s after last kill "
          f"retried_jobs={sum(1 for r in rows if r['retry_count'] > 0)} "
          f"restart_max={max((k.restarted_after for k in run.kills), default=0):.3f}s "
          f"server_5xx={errors_after - errors_before:.0f} worker_5xx={len(worker_5xx)}")

    # (a) nothing lost, nothing unexpected, no completion accepted twice
    assert len(job_ids) == JOBS
    assert statuses == {"completed": JOBS}, \
        f"lost or unfinished jobs: {statuses}; server log:\n{live_server.log_tail()}"
    assert {r["id"] for r in rows} == job_ids
    assert set(executions) <= job_ids, f"unexpected executions: {set(executions) - job_ids}"
    assert set(executions) == job_ids, f"jobs completed without an execution: {job_ids - set(executions)}"
    assert set(run.completions) == job_ids and max(run.completions.values()) == 1, \
        f"completion transitions per job: {Counter(run.completions.values())}"
    assert max(accepted.values()) == 1, f"results accepted twice: {[j for j, n in accepted.items() if n > 1]}"
    # (b) enough SIGKILLs delivered, each replacement started within a second
    assert len(run.kills) >= MIN_KILLS
    assert all(k.restarted_after <= RESTART_WITHIN for k in run.kills), run.kills
    # (c) re-executions bounded by what the victims held
    assert re_executions <= inflight_total <= len(run.kills) * CONCURRENCY, (re_executions, run.kills)
    # (d) the rescue path really ran
    assert any(r["retry_count"] >= 1 for r in rows) and max(executions.values()) >= 2
    # (e) drained within the deadline after the last kill
    assert run.drained_after_last_kill <= DRAIN_DEADLINE
    # (f) no expired lease outlived lease + 2 x reaper interval
    assert run.max_stuck <= stuck_limit
    # (g) the server answered no request with a 5xx
    assert errors_after - errors_before == 0 and worker_5xx == [], worker_5xx


async def _rows(url: str, org_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch("SELECT id, status, retry_count FROM jobs WHERE organization_id = $1", org_id)
    finally:
        await conn.close()
