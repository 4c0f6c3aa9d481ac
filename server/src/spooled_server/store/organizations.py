"""The organizations table."""

from __future__ import annotations

from typing import Any

import asyncpg

COLUMNS = ("id, name, slug, plan_tier, billing_email, settings, custom_limits, "
           "created_at, updated_at")


async def insert(conn: asyncpg.Connection, *, name: str, slug: str, plan_tier: str,
                 billing_email: str | None, org_id: str | None = None) -> asyncpg.Record | None:
    """Inserts an organization; None when the slug is taken."""
    return await conn.fetchrow(
        f"""INSERT INTO organizations (id, name, slug, plan_tier, billing_email)
            VALUES (COALESCE($1, gen_random_uuid()::text), $2, $3, $4, $5)
            ON CONFLICT (slug) DO NOTHING
            RETURNING {COLUMNS}""",
        org_id, name, slug, plan_tier, billing_email)


async def get(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM organizations WHERE id = $1", org_id)


async def get_by_slug(conn: asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM organizations WHERE slug = $1", slug)


async def slug_exists(conn: asyncpg.Connection, slug: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM organizations WHERE slug = $1", slug))


async def update(conn: asyncpg.Connection, org_id: str, fields: dict[str, Any]) -> asyncpg.Record | None:
    """Updates the given columns (names come from code, never from input)."""
    if not fields:
        return await get(conn, org_id)
    names = list(fields)
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    return await conn.fetchrow(
        f"UPDATE organizations SET {sets}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
        org_id, *fields.values())


async def delete(conn: asyncpg.Connection, org_id: str) -> bool:
    return await conn.fetchval("DELETE FROM organizations WHERE id = $1 RETURNING true", org_id) or False


async def jobs_today(conn: asyncpg.Connection, org_id: str) -> int:
    """Jobs created today (UTC); the counter resets lazily when the day changes."""
    return await conn.fetchval(
        """SELECT CASE WHEN usage_day = (now() AT TIME ZONE 'utc')::date
                       THEN jobs_created_today ELSE 0 END
           FROM organizations WHERE id = $1""", org_id) or 0


async def add_jobs_today(conn: asyncpg.Connection, org_id: str, count: int) -> None:
    if count <= 0:
        return
    await conn.execute(
        """UPDATE organizations SET
             jobs_created_today = CASE WHEN usage_day = (now() AT TIME ZONE 'utc')::date
                                       THEN jobs_created_today + $2 ELSE $2 END,
             usage_day = (now() AT TIME ZONE 'utc')::date
           WHERE id = $1""", org_id, count)


async def reset_jobs_today(conn: asyncpg.Connection, org_id: str) -> bool:
    return bool(await conn.fetchval(
        "UPDATE organizations SET jobs_created_today = 0 WHERE id = $1 RETURNING true", org_id))
