"""SQL of outgoing webhooks and their delivery outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

_PUBLIC = """id, organization_id, name, url, events, enabled, consecutive_failures AS failure_count,
             last_triggered_at, last_status, created_at, updated_at"""
_DELIVERY = """id, webhook_id, event, payload, status, status_code, response_body, error, attempts,
               created_at, delivered_at"""


async def list_for_org(conn: asyncpg.Connection, org_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_PUBLIC} FROM outgoing_webhooks WHERE organization_id = $1 ORDER BY created_at DESC, id",
        org_id)


async def get(conn: asyncpg.Connection, org_id: str, webhook_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_PUBLIC} FROM outgoing_webhooks WHERE organization_id = $1 AND id = $2", org_id, webhook_id)


async def get_with_secret(conn: asyncpg.Connection, org_id: str, webhook_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_PUBLIC}, secret FROM outgoing_webhooks WHERE organization_id = $1 AND id = $2",
        org_id, webhook_id)


async def count_enabled(conn: asyncpg.Connection, org_id: str, excluding: str | None = None) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM outgoing_webhooks WHERE organization_id = $1 AND enabled AND id IS DISTINCT FROM $2",
        org_id, excluding)


async def insert(conn: asyncpg.Connection, org_id: str, *, name: str, url: str, events: list[str],
                 secret: str | None, enabled: bool) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO outgoing_webhooks (organization_id, name, url, events, secret, enabled)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_PUBLIC}""",
        org_id, name, url, events, secret, enabled)


async def update(conn: asyncpg.Connection, org_id: str, webhook_id: str,
                 changes: dict[str, Any]) -> asyncpg.Record | None:
    """Sets the given columns (name, url, events, secret, enabled). Re-enabling clears the
    failure streak so an auto-disabled webhook starts afresh."""
    allowed = ("name", "url", "events", "secret", "enabled")
    sets, args = [], [org_id, webhook_id]
    for column in allowed:
        if column in changes:
            args.append(changes[column])
            sets.append(f"{column} = ${len(args)}")
    if changes.get("enabled") is True:
        sets.append("consecutive_failures = CASE WHEN enabled THEN consecutive_failures ELSE 0 END")
        sets.append("last_status = CASE WHEN enabled OR last_status IS DISTINCT FROM 'auto_disabled' "
                    "THEN last_status ELSE NULL END")
    sets.append("updated_at = now()")
    return await conn.fetchrow(
        f"UPDATE outgoing_webhooks SET {', '.join(sets)} WHERE organization_id = $1 AND id = $2 "
        f"RETURNING {_PUBLIC}", *args)


async def delete(conn: asyncpg.Connection, org_id: str, webhook_id: str) -> bool:
    status = await conn.execute("DELETE FROM outgoing_webhooks WHERE organization_id = $1 AND id = $2",
                                org_id, webhook_id)
    return status != "DELETE 0"


async def deliveries(conn: asyncpg.Connection, org_id: str, webhook_id: str, limit: int = 100, *,
                     status: str | None = None, offset: int = 0) -> list[asyncpg.Record]:
    """Newest first, optionally only one status."""
    return await conn.fetch(
        f"""SELECT {_DELIVERY} FROM webhook_deliveries_out
            WHERE organization_id = $1 AND webhook_id = $2 AND ($3::text IS NULL OR status = $3)
            ORDER BY created_at DESC, id LIMIT $4 OFFSET $5""",
        org_id, webhook_id, status, limit, offset)


async def requeue(conn: asyncpg.Connection, org_id: str, webhook_id: str, delivery_id: str) -> asyncpg.Record | None:
    """Puts a failed delivery back in the outbox with a fresh attempt budget; None when the
    delivery does not exist (for this webhook and organization); unchanged row when not failed."""
    row = await conn.fetchrow(
        """UPDATE webhook_deliveries_out
           SET status = 'pending', attempts = 0, next_attempt_at = now(), error = NULL
           WHERE organization_id = $1 AND webhook_id = $2 AND id = $3 AND status = 'failed'
           RETURNING id, status""", org_id, webhook_id, delivery_id)
    if row is not None:
        return row
    return await conn.fetchrow(
        "SELECT id, status FROM webhook_deliveries_out WHERE organization_id = $1 AND webhook_id = $2 AND id = $3",
        org_id, webhook_id, delivery_id)


# -- the dispatcher ---------------------------------------------------------------------------------

async def claim_due(conn: asyncpg.Connection, limit: int, lease_secs: float) -> list[asyncpg.Record]:
    """Takes up to `limit` due deliveries and hides them for `lease_secs` (so a replica that
    dies mid-request leaves them to be retried). SKIP LOCKED lets N dispatchers share the outbox.
    Deliveries of a disabled webhook wait until it is enabled again."""
    return await conn.fetch(
        """WITH due AS (
               SELECT d.id FROM webhook_deliveries_out d
               WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                 AND (d.webhook_id IS NULL OR EXISTS (
                        SELECT 1 FROM outgoing_webhooks w WHERE w.id = d.webhook_id AND w.enabled))
               ORDER BY d.next_attempt_at
               LIMIT $1
               FOR UPDATE OF d SKIP LOCKED)
           UPDATE webhook_deliveries_out d
           SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
           FROM due WHERE d.id = due.id
           RETURNING d.id, d.webhook_id, d.organization_id, d.event, d.payload, d.target_url, d.attempts,
                     (SELECT w.secret FROM outgoing_webhooks w WHERE w.id = d.webhook_id) AS secret""",
        limit, lease_secs)


async def record_success(conn: asyncpg.Connection, delivery_id: str, status_code: int | None,
                         response_body: str | None) -> None:
    webhook_id = await conn.fetchval(
        """UPDATE webhook_deliveries_out
           SET status = 'success', status_code = $2, response_body = $3, error = NULL, delivered_at = now()
           WHERE id = $1 RETURNING webhook_id""", delivery_id, status_code, response_body)
    if webhook_id is not None:
        await conn.execute(
            """UPDATE outgoing_webhooks SET consecutive_failures = 0, last_status = 'success',
                      last_triggered_at = now() WHERE id = $1""", webhook_id)


async def record_retry(conn: asyncpg.Connection, delivery_id: str, status_code: int | None,
                       response_body: str | None, error: str | None, delay_secs: float) -> None:
    await conn.execute(
        """UPDATE webhook_deliveries_out
           SET status_code = $2, response_body = $3, error = $4,
               next_attempt_at = now() + make_interval(secs => $5)
           WHERE id = $1""", delivery_id, status_code, response_body, error, delay_secs)


async def record_failure(conn: asyncpg.Connection, delivery_id: str, status_code: int | None,
                         response_body: str | None, error: str | None, disable_after: int) -> None:
    """The delivery gave up: it counts once against its webhook's failure streak, and a streak
    of `disable_after` switches the webhook off."""
    webhook_id = await conn.fetchval(
        """UPDATE webhook_deliveries_out
           SET status = 'failed', status_code = $2, response_body = $3, error = $4, delivered_at = now()
           WHERE id = $1 RETURNING webhook_id""", delivery_id, status_code, response_body, error)
    if webhook_id is not None:
        await conn.execute(
            """UPDATE outgoing_webhooks
               SET consecutive_failures = consecutive_failures + 1,
                   enabled = enabled AND consecutive_failures + 1 < $2,
                   last_status = CASE WHEN enabled AND consecutive_failures + 1 >= $2 THEN 'auto_disabled'
                                      WHEN last_status = 'auto_disabled' THEN last_status
                                      ELSE 'failed' END,
                   last_triggered_at = now(), updated_at = now()
               WHERE id = $1""", webhook_id, disable_after)


async def delete_history_before(conn: asyncpg.Connection, org_ids: list[str], cutoff: datetime,
                                batch: int) -> int:
    """Retention: deletes up to `batch` settled outgoing deliveries (pending ones are still
    owed) and up to `batch` incoming-webhook records of `org_ids` older than `cutoff`."""
    out = await conn.fetch(
        """DELETE FROM webhook_deliveries_out WHERE id IN (
               SELECT id FROM webhook_deliveries_out
               WHERE status <> 'pending' AND created_at < $2 AND organization_id = ANY($1::text[])
               LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING id""", org_ids, cutoff, batch)
    incoming = await conn.fetch(
        """DELETE FROM webhook_deliveries_in WHERE id IN (
               SELECT id FROM webhook_deliveries_in
               WHERE organization_id = ANY($1::text[]) AND created_at < $2
               LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING id""", org_ids, cutoff, batch)
    return len(out) + len(incoming)
