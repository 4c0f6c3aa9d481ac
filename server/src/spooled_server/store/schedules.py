"""The schedules and schedule_runs tables.

Every function scopes by organization_id except the scheduler's own claim, which spans
organizations; an id from another organization behaves as unknown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

FULL = """id, organization_id, name, description, cron_expression, timezone, queue_name,
    payload_template, priority, max_retries, timeout_seconds, is_active, last_run_at, next_run_at,
    run_count, tags, metadata, created_at, updated_at"""

RUN = "id, schedule_id, job_id, status, error_message, started_at, completed_at"

# Columns a caller may change (names come from code, never from input).
UPDATABLE = ("name", "description", "cron_expression", "timezone", "payload_template", "priority",
             "max_retries", "timeout_seconds", "is_active", "next_run_at", "tags", "metadata")


async def db_now(conn: asyncpg.Connection) -> datetime:
    """The database's clock (the transaction's start inside a transaction): the only "now"
    schedules use, so process clocks that disagree cannot move a fire."""
    return await conn.fetchval("SELECT now()")


async def lock_creations(conn: asyncpg.Connection, org_id: str) -> None:
    """Serialises activations per organization until the transaction ends, so two concurrent
    creates (or resumes) cannot both pass the plan's max_schedules check."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('spooled.schedules'), hashtext($1))", org_id)


async def count_active(conn: asyncpg.Connection, org_id: str) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM schedules WHERE organization_id = $1 AND is_active", org_id)


async def insert(conn: asyncpg.Connection, org_id: str, values: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO schedules (organization_id, name, description, cron_expression, timezone,
                                   queue_name, payload_template, priority, max_retries,
                                   timeout_seconds, next_run_at, tags, metadata)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            RETURNING {FULL}""",
        org_id, values["name"], values["description"], values["cron_expression"], values["timezone"],
        values["queue_name"], values["payload_template"], values["priority"], values["max_retries"],
        values["timeout_seconds"], values["next_run_at"], values["tags"], values["metadata"])


async def get(conn: asyncpg.Connection, org_id: str, schedule_id: str, *,
              for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {FULL} FROM schedules WHERE organization_id = $1 AND id = $2{lock}", org_id, schedule_id)


async def list_for_org(conn: asyncpg.Connection, org_id: str, *, queue_name: str | None,
                       is_active: bool | None, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {FULL} FROM schedules
            WHERE organization_id = $1
              AND ($2::text IS NULL OR queue_name = $2)
              AND ($3::boolean IS NULL OR is_active = $3)
            ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5""",
        org_id, queue_name, is_active, limit, offset)


async def update(conn: asyncpg.Connection, org_id: str, schedule_id: str,
                 changes: dict[str, Any]) -> asyncpg.Record | None:
    """Sets the given columns (keys must be in UPDATABLE) and bumps updated_at."""
    names = list(changes)
    if not set(names) <= set(UPDATABLE):
        raise ValueError(f"not updatable: {sorted(set(names) - set(UPDATABLE))}")
    sets = "".join(f"{name} = ${i + 3}, " for i, name in enumerate(names))
    return await conn.fetchrow(
        f"""UPDATE schedules SET {sets}updated_at = now()
            WHERE organization_id = $1 AND id = $2 RETURNING {FULL}""",
        org_id, schedule_id, *changes.values())


async def delete(conn: asyncpg.Connection, org_id: str, schedule_id: str) -> bool:
    return bool(await conn.fetchval(
        "DELETE FROM schedules WHERE organization_id = $1 AND id = $2 RETURNING true", org_id, schedule_id))


async def record_trigger(conn: asyncpg.Connection, org_id: str, schedule_id: str, job_id: str) -> None:
    """A manual trigger counts as a run (run_count, last_run_at) but leaves next_run_at alone.
    It writes no history row, so its schedule.triggered webhook event is emitted here (a cron
    fire's comes from the trigger on schedule_runs, migration 005)."""
    await conn.execute(
        """WITH s AS (
               UPDATE schedules SET run_count = run_count + 1, last_run_at = now(), updated_at = now()
               WHERE organization_id = $1 AND id = $2 RETURNING id, name, queue_name)
           SELECT spooled_outbox_emit($1, 'schedule.triggered', jsonb_build_object(
                      'schedule_id', s.id, 'schedule_name', s.name, 'queue_name', s.queue_name,
                      'run_id', NULL, 'job_id', $3::text, 'status', 'completed', 'error', NULL,
                      'fire_time', NULL, 'manual', true))
           FROM s""", org_id, schedule_id, job_id)


async def history(conn: asyncpg.Connection, org_id: str, schedule_id: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {RUN} FROM schedule_runs
            WHERE organization_id = $1 AND schedule_id = $2
            ORDER BY started_at DESC, fire_time DESC LIMIT $3""",
        org_id, schedule_id, limit)


# -- the scheduler -------------------------------------------------------------------------------

async def claim_due(conn: asyncpg.Connection, batch: int) -> list[asyncpg.Record]:
    """Active schedules due by the database's now(), locked until the transaction ends.

    SKIP LOCKED lets several scheduler processes share the work without waiting on each
    other; a row another process has already advanced no longer matches once it commits.
    """
    return await conn.fetch(
        f"""SELECT {FULL} FROM schedules
            WHERE is_active AND next_run_at <= now()
            ORDER BY next_run_at
            LIMIT $1 FOR UPDATE SKIP LOCKED""", batch)


async def start_run(conn: asyncpg.Connection, schedule: asyncpg.Record) -> str | None:
    """Records that the schedule fired for its current next_run_at; None when a run for that
    due time already exists. The unique (schedule_id, fire_time) key is what makes a fire
    happen once: only the caller that gets an id back may create the job."""
    return await conn.fetchval(
        """INSERT INTO schedule_runs (schedule_id, organization_id, fire_time, status)
           VALUES ($1, $2, $3, 'running')
           ON CONFLICT (schedule_id, fire_time) DO NOTHING RETURNING id""",
        schedule["id"], schedule["organization_id"], schedule["next_run_at"])


async def finish_run(conn: asyncpg.Connection, run_id: str, *, job_id: str | None,
                     error: str | None) -> None:
    await conn.execute(
        """UPDATE schedule_runs SET job_id = $2, status = $3, error_message = $4, completed_at = now()
           WHERE id = $1""",
        run_id, job_id, "failed" if error is not None else "completed", error)


async def advance(conn: asyncpg.Connection, schedule_id: str, next_run_at: datetime | None, *,
                  fired: bool) -> None:
    """Moves next_run_at on; a fire that happened also counts in run_count and last_run_at."""
    await conn.execute(
        """UPDATE schedules SET next_run_at = $2,
                  run_count = run_count + $3::int,
                  last_run_at = CASE WHEN $3::int > 0 THEN now() ELSE last_run_at END,
                  updated_at = now()
           WHERE id = $1""",
        schedule_id, next_run_at, 1 if fired else 0)


async def delete_runs_before(conn: asyncpg.Connection, org_ids: list[str], cutoff: datetime, batch: int) -> int:
    """Retention: deletes up to `batch` finished runs of `org_ids` started before `cutoff`."""
    return len(await conn.fetch(
        """DELETE FROM schedule_runs WHERE id IN (
               SELECT id FROM schedule_runs
               WHERE status <> 'running' AND started_at < $2 AND organization_id = ANY($1::text[])
               LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING id""", org_ids, cutoff, batch))
