"""Jobs: create, inspect, and the worker protocol (claim, complete, fail, heartbeat)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable

import asyncpg
import orjson

from .. import failpoints
from ..db import DATABASE_UNAVAILABLE
from ..errors import Conflict, LeaseExpired, NotFound, PayloadTooLarge, ValidationFailed
from ..metrics import REGISTRY
from ..store import dependencies as dep_store
from ..store import jobs as store
from ..store import organizations as org_store
from ..store import queues as queue_store
from . import ssrf, usage
from .core import Core

log = logging.getLogger("spooled.jobs")

HARD_PAYLOAD_LIMIT = 1024 * 1024
# A claim answers with at most this many bytes of payload (always at least one job); the
# rest of what it leased goes straight back to the queue.
CLAIM_RESPONSE_PAYLOAD_CAP = 16 * 1024 * 1024
# A failed job keeps at most this many characters of its error message.
MAX_ERROR_CHARS = 4096
_TRUNCATED = "… [truncated]"


def stored_error(message: str) -> str:
    if len(message) <= MAX_ERROR_CHARS:
        return message
    return message[:MAX_ERROR_CHARS - len(_TRUNCATED)] + _TRUNCATED


STATUSES = ("pending", "scheduled", "processing", "completed", "failed", "deadletter", "cancelled")


@dataclass
class NewJob:
    """One job to create; None means "use the queue's or the server's default"."""

    queue_name: str
    payload: Any
    priority: int = 0
    max_retries: int | None = None
    timeout_seconds: int | None = None
    scheduled_at: datetime | None = None
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    tags: Any = None
    parent_job_id: str | None = None
    completion_webhook: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def payload_size(payload: Any) -> int:
    try:
        return len(orjson.dumps(payload))
    except orjson.JSONEncodeError as err:
        raise ValidationFailed("Validation failed", [
            {"field": "payload", "message": f"value cannot be stored: {err}", "code": "unsupported_value"}]) from None


def _check_payloads(jobs: list[NewJob], limits: dict[str, Any]) -> None:
    """400 for a null payload, 413 for one beyond the plan's (and the server's) size limit, before any insert."""
    max_payload = min(HARD_PAYLOAD_LIMIT, limits["max_payload_size_bytes"] or HARD_PAYLOAD_LIMIT)
    for i, job in enumerate(jobs):
        if job.payload is None:  # the column is NOT NULL: a 400 from any caller, not a 500 at insert
            raise ValidationFailed("Validation failed", [{
                "field": "payload" if len(jobs) == 1 else f"jobs.{i}.payload",
                "message": "payload is required and must not be null", "code": "value_error"}])
        size = payload_size(job.payload)
        if size > max_payload:
            where = "payload" if len(jobs) == 1 else f"jobs.{i}.payload"
            raise PayloadTooLarge(
                f"Payload is {size} bytes; the limit is {max_payload} bytes",
                {"field": where, "size": size, "limit": max_payload, "plan": limits["tier"]})


def _check_completion_webhooks(core: Core, jobs: list[NewJob]) -> None:
    """400 for a completion_webhook that could never be delivered (the SSRF guard's rules that
    need no DNS); the delivery re-checks the resolved address."""
    for i, job in enumerate(jobs):
        if job.completion_webhook is None:
            continue
        try:
            ssrf.check_static(job.completion_webhook, allow_loopback=core.settings.spooled_webhook_allow_loopback)
        except ssrf.UnsafeUrl as err:
            where = "completion_webhook" if len(jobs) == 1 else f"jobs.{i}.completion_webhook"
            raise ValidationFailed("Validation failed",
                                   [{"field": where, "message": str(err), "code": "unsafe_url"}]) from None


# Runs inside the transaction that inserts the jobs, with the ids it inserted.
AlsoWrite = Callable[[Any, set[str]], Awaitable[None]]


async def create_many(core: Core, org_id: str, jobs: list[NewJob], *,
                      also_write: AlsoWrite | None = None) -> list[tuple[str, bool]]:
    """Creates jobs in one statement; returns (id, created) per input, in input order.

    An idempotency key that already exists (or repeats within the batch) yields the existing
    job with created=False; the unique index makes this hold under concurrent duplicates.
    `also_write` adds rows that must commit with the jobs or not at all (an audit row).
    """
    _check_completion_webhooks(core, jobs)
    limits = await core.limits.for_org(org_id)
    # A key repeated within the batch: the first occurrence is the one inserted.
    first_with_key: dict[str, NewJob] = {}
    unique = []
    for job in jobs:
        if job.idempotency_key is None or job.idempotency_key not in first_with_key:
            unique.append(job)
            if job.idempotency_key is not None:
                first_with_key[job.idempotency_key] = job
    rows = [vars(j) for j in unique]
    defaults = (core.settings.queue_default_max_retries, core.settings.queue_default_timeout_secs)
    parents = {j.parent_job_id for j in jobs if j.parent_job_id}
    if parents:
        async with core.pool.acquire() as conn:
            for parent in parents:
                if not await store.exists(conn, org_id, parent):
                    raise NotFound("Parent job not found", {"field": "parent_job_id"})
    _check_payloads(unique, limits)
    limited = limits["max_jobs_per_day"] is not None or limits["max_active_jobs"] is not None
    if limited or also_write is not None:
        async with core.pool.acquire() as conn, conn.transaction():
            if limited:  # lock the organization row so concurrent creates count exactly
                await org_store.lock(conn, org_id)
                await usage.ensure_job_room(conn, org_id, limits, len(unique))
            inserted = await store.insert_many(conn, org_id, rows, *defaults)
            if limited:
                await org_store.add_jobs_today(conn, org_id, len(inserted))
            if also_write is not None:
                await also_write(conn, inserted)
    else:
        if len(rows) == 1:
            # The hot path: concurrent single creates share one INSERT and one commit. No
            # connection is held while waiting for it.
            row = {**rows[0], "organization_id": org_id}
            inserted = {row["id"]} if await core.writes.creates.submit(row) else set()
        else:
            async with core.pool.acquire() as conn:
                inserted = await store.insert_many(conn, org_id, rows, *defaults)
    failpoints.hit("enqueue.after_commit")
    missing = [j.idempotency_key for j in unique if j.id not in inserted and j.idempotency_key]
    existing: dict[str, str] = {}
    if missing:
        async with core.pool.acquire() as conn:
            existing = await store.ids_by_idempotency_key(conn, org_id, missing)
            await store.touch_many(conn, org_id, list(existing.values()))
    if inserted:
        REGISTRY.inc("spooled_jobs_enqueued_total", len(inserted))
    results: list[tuple[str, bool]] = []
    for job in jobs:
        if job.id in inserted:
            results.append((job.id, True))
        elif job.idempotency_key in existing:
            results.append((existing[job.idempotency_key], False))
        else:  # a repeat, within this batch, of a key this batch inserted
            results.append((first_with_key[job.idempotency_key].id, False))
    return results


async def create(core: Core, org_id: str, job: NewJob, *,
                 also_write: AlsoWrite | None = None) -> tuple[str, bool]:
    return (await create_many(core, org_id, [job], also_write=also_write))[0]


async def get(core: Core, org_id: str, job_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.get(conn, org_id, job_id)
    if row is None:
        raise NotFound("Job not found")
    return dict(row)


async def list_jobs(core: Core, org_id: str, *, queue_name: str | None, status: str | None,
                    tag: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        rows = await store.list_summaries(conn, org_id, queue_name=queue_name, status=status,
                                          tag=tag, limit=limit, offset=offset)
    return [dict(r) for r in rows]


async def stats(core: Core, org_id: str) -> dict[str, int]:
    async with core.pool.acquire() as conn:
        counts = await store.stats(conn, org_id)
    out = {s: counts.get(s, 0) for s in STATUSES}
    out["total"] = sum(out.values())
    return out


async def batch_status(core: Core, org_id: str, ids: list[str]) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        rows = await store.batch_status(conn, org_id, ids)
    by_id = {r["id"]: dict(r) for r in rows}
    return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]


async def cancel(core: Core, org_id: str, job_id: str) -> None:
    async with core.pool.acquire() as conn, conn.transaction():
        row = await store.cancel(conn, org_id, job_id)
        if row is None:
            if not await store.exists(conn, org_id, job_id):
                raise NotFound("Job not found")
            raise Conflict("Only pending or scheduled jobs can be cancelled")
        await store.cancel_descendants(conn, [job_id], "Dependency was cancelled")


async def retry(core: Core, org_id: str, job_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.retry(conn, org_id, job_id)
        if row is None:
            if not await store.exists(conn, org_id, job_id):
                raise NotFound("Job not found")
            raise Conflict("Only failed or dead-lettered jobs can be retried")
        await queue_store.wake(conn, org_id, row["queue_name"])
    return dict(row)


async def boost_priority(core: Core, org_id: str, job_id: str, priority: int) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.set_priority(conn, org_id, job_id, priority)
    if row is None:
        raise NotFound("Job not found or not pending")
    return {"job_id": row["id"], "old_priority": row["old_priority"], "new_priority": row["priority"]}


# -- the worker protocol -----------------------------------------------------------------------

async def claim(core: Core, org_id: str, queue_name: str, worker_id: str, limit: int,
                lease_secs: int, wait_ms: int = 0,
                payload_cap: int = CLAIM_RESPONSE_PAYLOAD_CAP,
                give_up: asyncio.Event | None = None) -> list[dict[str, Any]]:
    """Leases up to `limit` jobs, keeping at most `payload_cap` bytes of payload (always at
    least one job) and handing the rest back in the same connection. With wait_ms, an empty
    queue holds the call until work arrives (woken by NOTIFY) or the wait ends.

    `give_up` is set when the caller disconnects or the server stops: a waiting claim then
    answers empty, and jobs it leased after that go straight back (no attempt counted) rather
    than wait out a lease held by a worker that may no longer exist. A disconnect after that
    check still loses the answer; those jobs come back when their lease expires."""
    deadline = time.monotonic() + min(wait_ms, core.settings.spooled_max_claim_wait_ms) / 1000
    event = core.wake.register(org_id, queue_name) if wait_ms > 0 else None
    relay = None
    if give_up is not None and event is not None:
        relay = asyncio.ensure_future(_wake_when(give_up, event))
    try:
        while True:
            if give_up is not None and give_up.is_set():
                return []
            if event is not None:
                event.clear()
            started = time.perf_counter()
            async with core.pool.acquire() as conn:
                rows = await store.claim(conn, org_id, queue_name, worker_id, limit, lease_secs)
                REGISTRY.claim_latency.observe(time.perf_counter() - started)
                if rows and give_up is not None and give_up.is_set():
                    await store.release_claims(conn, org_id, [r["lease_id"] for r in rows])
                    return []
                if len(rows) > 1:
                    rows = await _cap_response(conn, org_id, rows, payload_cap)
            if rows:
                failpoints.hit("claim.after_commit")
            remaining = deadline - time.monotonic()
            if rows or event is None or remaining <= 0:
                return [dict(r) for r in rows]
            try:
                # The fallback timer covers a notification lost while the listener reconnected.
                await asyncio.wait_for(event.wait(), timeout=min(remaining, 5.0))
            except asyncio.TimeoutError:
                pass
    finally:
        if relay is not None:
            relay.cancel()
        if event is not None:
            core.wake.unregister(org_id, queue_name, event)


async def _wake_when(give_up: asyncio.Event, event: asyncio.Event) -> None:
    await give_up.wait()
    event.set()


async def _cap_response(conn, org_id: str, rows: list, payload_cap: int) -> list:
    total, keep = 0, 0
    for row in rows:
        total += payload_size(row["payload"])
        if keep and total > payload_cap:
            break
        keep += 1
    if keep < len(rows):
        await store.release_claims(conn, org_id, [r["lease_id"] for r in rows[keep:]])
    return rows[:keep]


async def release_claims(core: Core, org_id: str, lease_ids: list[str]) -> None:
    """Gives back jobs a transport claimed but could not send (its message size budget)."""
    if lease_ids:
        async with core.pool.acquire() as conn:
            await store.release_claims(conn, org_id, lease_ids)


def _check_outcome(row, job_id: str, lease_id: str | None, repeat_ok: tuple[str, ...]) -> bool:
    """True when the fenced update took effect. A call the fence refused raises, except an
    exact repeat (same lease token) of a call that already took effect, which is answered
    as it was the first time (False)."""
    if not row["visible"]:
        raise NotFound("Job not found")
    if row["id"] is not None:
        return True
    if lease_id is not None and row["prior_lease"] == lease_id and row["prior_status"] in repeat_ok:
        return False
    raise LeaseExpired("The job's lease has expired or is held by another worker",
                       {"job_id": job_id, "status": row["prior_status"]})


def _count_completion(row) -> None:
    """/metrics: one completion and its run time, counted once (not again for a repeat)."""
    if row["prior_status"] != "processing":
        return
    REGISTRY.inc("spooled_jobs_completed_total")
    if row["started_at"] is not None and row["completed_at"] is not None:
        REGISTRY.job_duration.observe((row["completed_at"] - row["started_at"]).total_seconds())


async def complete(core: Core, org_id: str, job_id: str, *, worker_id: str | None,
                   lease_id: str | None, result: Any) -> None:
    row = await core.writes.completes.submit({"org_id": org_id, "job_id": job_id, "lease_id": lease_id,
                                              "worker_id": worker_id, "result": result})
    failpoints.hit("complete.after_commit")
    if _check_outcome(row, job_id, lease_id, ("completed",)):
        _count_completion(row)


async def complete_batch(core: Core, org_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completes many leased jobs; each item is judged alone and gets its own outcome.
    Items go through the same coalesced path as single completes, so they share commits."""
    rows = await asyncio.gather(*(core.writes.completes.submit({**item, "org_id": org_id}) for item in items))
    outcomes = []
    for item, row in zip(items, rows):
        try:
            if _check_outcome(row, item["job_id"], item.get("lease_id"), ("completed",)):
                _count_completion(row)
            outcomes.append({"job_id": item["job_id"], "success": True, "error": None})
        except (NotFound, LeaseExpired) as err:
            outcomes.append({"job_id": item["job_id"], "success": False,
                             "error": {"code": err.code, "message": err.message}})
    return outcomes


async def fail(core: Core, org_id: str, job_id: str, *, worker_id: str | None, lease_id: str | None,
               error: str, allow_retry: bool = True) -> dict[str, Any]:
    """Fails a leased job; dead-lettering it cancels everything that depends on it.

    The fail is one statement committed on its own, so a retried job costs one round trip.
    Only a dead-lettered job takes a second transaction, which cancels its descendants if the
    job, locked, is still dead (a DLQ retry may have revived it); a crash between the two is
    healed by loops/dependency_healer.py, as for a completion's release pass.
    """
    async with core.pool.acquire() as conn:
        row = await store.fail(conn, org_id, job_id, lease_id, worker_id, stored_error(error), allow_retry,
                               core.settings.spooled_backoff_unit_secs)
        if not _check_outcome(row, job_id, lease_id, ("pending", "scheduled", "deadletter", "failed")):
            return {"will_retry": False, "next_retry_delay_secs": 0, "status": row["prior_status"]}
        if row["status"] == "deadletter":
            await _cancel_dependents_of_dead(conn, org_id, job_id)
    will_retry = row["status"] == "pending"
    REGISTRY.inc("spooled_jobs_failed_total")
    if will_retry:
        REGISTRY.inc("spooled_jobs_retried_total")
    elif row["status"] == "deadletter":
        REGISTRY.inc("spooled_jobs_deadlettered_total")
    delay = max(0, round(float(row["delay_secs"] or 0))) if will_retry else 0
    return {"will_retry": will_retry, "next_retry_delay_secs": delay, "status": row["status"]}


async def _cancel_dependents_of_dead(conn, org_id: str, job_id: str) -> None:
    """The fail is committed: a failure here must not answer it as failed (the worker would
    report an error for a job that did dead-letter). As after a completion's release pass,
    loops/dependency_healer.py cancels the dependents later."""
    try:
        async with conn.transaction():
            locked = await dep_store.lock_job(conn, org_id, job_id)
            if locked is not None and locked["status"] == "deadletter":
                await store.cancel_descendants(conn, [job_id], "Parent job failed or was deadlettered")
    except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE) as err:
        log.warning("cancelling the dependents of dead-lettered job %s failed; the dependency healer "
                    "will: %s", job_id, err)


async def heartbeat(core: Core, org_id: str, job_id: str, *, worker_id: str | None,
                    lease_id: str | None, lease_secs: int) -> datetime:
    row = await core.writes.heartbeats.submit({"org_id": org_id, "job_id": job_id, "lease_id": lease_id,
                                               "worker_id": worker_id, "lease_secs": lease_secs})
    _check_outcome(row, job_id, lease_id, ())
    return row["lease_expires_at"]
