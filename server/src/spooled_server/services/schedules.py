"""Schedules: cron expressions that enqueue a job from a template (CRUD, pause, trigger).

Every "now" here is the database's clock, as in the scheduler loop, so next_run_at never
depends on which process answered.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from ..errors import NotFound, PayloadTooLarge, ValidationFailed
from ..store import jobs as job_store
from ..store import organizations as org_store
from ..store import schedules as store
from . import cron, usage
from .core import Core

# Six-field expressions with seconds, and also the classic five-field form (seconds = 0) and
# `a-b/n` (services/cron.py): users paste crontab lines, and refusing them helps nobody.
CRON_EXTENSIONS = True
# A template becomes a job payload, so it obeys the job payload ceiling (and the plan's).
MAX_TEMPLATE_BYTES = 1024 * 1024


@dataclass
class NewSchedule:
    """A schedule to create; None selects the documented default."""

    name: str
    cron_expression: str
    queue_name: str
    payload_template: Any
    description: str | None = None
    timezone: str | None = None
    priority: int | None = None
    max_retries: int | None = None
    timeout_seconds: int | None = None
    tags: Any = None
    metadata: dict[str, Any] | None = None


def check_cron(expression: str) -> None:
    """400 VALIDATION_ERROR naming what is wrong with the expression."""
    try:
        cron.parse(expression, extended=CRON_EXTENSIONS)
    except cron.CronError as err:
        raise ValidationFailed(f"Invalid cron expression: {err}", [
            {"field": "cron_expression", "message": str(err), "code": "invalid_cron"}]) from None


def check_timezone(name: str) -> None:
    try:
        cron.parse_timezone(name)
    except cron.TimezoneError as err:
        raise ValidationFailed(f"Invalid timezone: {err}", [
            {"field": "timezone", "message": str(err), "code": "invalid_timezone"}]) from None


def _check_template(template: Any, limits: dict[str, Any]) -> None:
    limit = min(MAX_TEMPLATE_BYTES, limits["max_payload_size_bytes"] or MAX_TEMPLATE_BYTES)
    size = len(orjson.dumps(template))
    if size > limit:
        raise PayloadTooLarge(f"payload_template is {size} bytes; the limit is {limit} bytes",
                              {"field": "payload_template", "size": size, "limit": limit,
                               "plan": limits["tier"]})


async def _ensure_room(conn: asyncpg.Connection, org_id: str, limits: dict[str, Any]) -> None:
    """429 QUOTA_EXCEEDED when one more active schedule would pass the plan's max_schedules."""
    if limits["max_schedules"] is None:
        return
    await store.lock_creations(conn, org_id)
    usage.ensure_room(limits, "schedules", await store.count_active(conn, org_id))


def view(row: asyncpg.Record) -> dict[str, Any]:
    """The public Schedule object."""
    return dict(row)


def job_from_template(schedule: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """A row for store.jobs.insert_many: a pending job carrying the schedule's template."""
    return {"id": str(uuid.uuid4()), "queue_name": schedule["queue_name"],
            "payload": schedule["payload_template"], "priority": schedule["priority"],
            "max_retries": schedule["max_retries"], "timeout_seconds": schedule["timeout_seconds"],
            "tags": schedule["tags"]}


async def _required(conn: asyncpg.Connection, org_id: str, schedule_id: str) -> asyncpg.Record:
    row = await store.get(conn, org_id, schedule_id, for_update=True)
    if row is None:
        raise NotFound("Schedule not found")
    return row


# -- routes --------------------------------------------------------------------------------------

async def create(core: Core, org_id: str, new: NewSchedule) -> dict[str, Any]:
    values = asdict(new)
    values["timezone"] = new.timezone if new.timezone is not None else "UTC"
    values["priority"] = new.priority if new.priority is not None else 0
    values["max_retries"] = new.max_retries if new.max_retries is not None else 3
    values["timeout_seconds"] = new.timeout_seconds if new.timeout_seconds is not None else 300
    check_cron(new.cron_expression)
    check_timezone(values["timezone"])
    limits = await core.limits.for_org(org_id)
    _check_template(new.payload_template, limits)
    async with core.pool.acquire() as conn, conn.transaction():
        await _ensure_room(conn, org_id, limits)
        now = await store.db_now(conn)
        values["next_run_at"] = cron.next_fire(new.cron_expression, values["timezone"], now)
        try:
            row = await store.insert(conn, org_id, values)
        except asyncpg.ForeignKeyViolationError:  # the organization was deleted meanwhile
            raise NotFound("Organization not found") from None
    return {k: row[k] for k in ("id", "name", "cron_expression", "next_run_at")}


async def list_schedules(core: Core, org_id: str, *, queue_name: str | None, is_active: bool | None,
                         limit: int, offset: int) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        rows = await store.list_for_org(conn, org_id, queue_name=queue_name, is_active=is_active,
                                        limit=limit, offset=offset)
    return [view(r) for r in rows]


async def get(core: Core, org_id: str, schedule_id: str) -> dict[str, Any]:
    async with core.pool.acquire() as conn:
        row = await store.get(conn, org_id, schedule_id)
    if row is None:
        raise NotFound("Schedule not found")
    return view(row)


async def update(core: Core, org_id: str, schedule_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Applies the given fields (None values were already dropped: null means keep).

    A new cron expression or timezone, or re-activation, recomputes next_run_at from now;
    re-activation also counts against max_schedules.
    """
    if "cron_expression" in changes:
        check_cron(changes["cron_expression"])
    if "timezone" in changes:
        check_timezone(changes["timezone"])
    limits = await core.limits.for_org(org_id)
    if "payload_template" in changes:
        _check_template(changes["payload_template"], limits)
    async with core.pool.acquire() as conn, conn.transaction():
        current = await _required(conn, org_id, schedule_id)
        activating = changes.get("is_active") is True and not current["is_active"]
        if activating:
            await _ensure_room(conn, org_id, limits)
        if activating or "cron_expression" in changes or "timezone" in changes:
            merged = {**dict(current), **changes}
            changes["next_run_at"] = cron.next_fire(merged["cron_expression"], merged["timezone"],
                                                    await store.db_now(conn))
        row = await store.update(conn, org_id, schedule_id, changes)
    return view(row)


async def delete(core: Core, org_id: str, schedule_id: str) -> None:
    async with core.pool.acquire() as conn:
        if not await store.delete(conn, org_id, schedule_id):
            raise NotFound("Schedule not found")


async def pause(core: Core, org_id: str, schedule_id: str) -> dict[str, Any]:
    return await update(core, org_id, schedule_id, {"is_active": False})


async def resume(core: Core, org_id: str, schedule_id: str) -> dict[str, Any]:
    """Re-activates the schedule with next_run_at computed from now, so missed fires are not
    replayed (an already active schedule is recomputed too)."""
    limits = await core.limits.for_org(org_id)
    async with core.pool.acquire() as conn, conn.transaction():
        current = await _required(conn, org_id, schedule_id)
        if not current["is_active"]:
            await _ensure_room(conn, org_id, limits)
        following = cron.next_fire(current["cron_expression"], current["timezone"], await store.db_now(conn))
        row = await store.update(conn, org_id, schedule_id, {"is_active": True, "next_run_at": following})
    return view(row)


async def trigger(core: Core, org_id: str, schedule_id: str) -> dict[str, Any]:
    """Enqueues the template now, paused or not; counts as a run but writes no history row."""
    limits = await core.limits.for_org(org_id)
    async with core.pool.acquire() as conn, conn.transaction():
        # Organization first, schedule second: an organization delete takes them in that
        # order too (its cascade reaches the schedule), so the two cannot deadlock.
        if not await org_store.lock(conn, org_id):
            raise NotFound("Schedule not found")
        schedule = await _required(conn, org_id, schedule_id)
        # A manual trigger is an on-demand create, so it obeys the plan's job caps (the cron
        # loop's fires do not, as in the reference), under the lock job creation takes.
        await usage.ensure_job_room(conn, org_id, limits, 1)
        job = job_from_template(schedule)
        await job_store.insert_many(conn, org_id, [job], schedule["max_retries"], schedule["timeout_seconds"])
        if limits["max_jobs_per_day"] is not None or limits["max_active_jobs"] is not None:
            await org_store.add_jobs_today(conn, org_id, 1)  # counted as job creation counts it
        await store.record_trigger(conn, org_id, schedule_id, job["id"])
        triggered_at: datetime = await store.db_now(conn)
    return {"job_id": job["id"], "triggered_at": triggered_at}


async def history(core: Core, org_id: str, schedule_id: str, limit: int) -> list[dict[str, Any]]:
    async with core.pool.acquire() as conn:
        if await store.get(conn, org_id, schedule_id) is None:
            raise NotFound("Schedule not found")
        rows = await store.history(conn, org_id, schedule_id, limit)
    return [dict(r) for r in rows]
