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


async def taken_slugs(conn: asyncpg.Connection, candidates: list[str]) -> set[str]:
    rows = await conn.fetch("SELECT slug FROM organizations WHERE slug = ANY($1::text[])", candidates)
    return {r["slug"] for r in rows}


async def replace_settings(conn: asyncpg.Connection, org_id: str, settings: dict[str, Any]) -> asyncpg.Record | None:
    """Replaces settings wholesale except `webhook_token`, which only its own routes change
    (so saving unrelated settings can never silently open webhook ingestion)."""
    return await conn.fetchrow(
        f"""UPDATE organizations SET
              settings = ($2::jsonb - 'webhook_token')
                         || jsonb_strip_nulls(jsonb_build_object('webhook_token', settings->'webhook_token')),
              updated_at = now()
            WHERE id = $1 RETURNING {COLUMNS}""", org_id, settings)


async def set_webhook_token(conn: asyncpg.Connection, org_id: str, token: str | None) -> asyncpg.Record | None:
    """Sets (or with None removes) settings.webhook_token; returns the new settings."""
    return await conn.fetchrow(
        """UPDATE organizations SET
              settings = CASE WHEN $2::text IS NULL THEN settings - 'webhook_token'
                              ELSE settings || jsonb_build_object('webhook_token', $2::text) END,
              updated_at = now()
           WHERE id = $1 RETURNING settings""", org_id, token)


async def lock(conn: asyncpg.Connection, org_id: str) -> bool:
    """Row-locks the organization for the rest of the transaction (serialises cap checks)."""
    return bool(await conn.fetchval("SELECT true FROM organizations WHERE id = $1 FOR UPDATE", org_id))


# Sort keys the admin list accepts, mapped to trusted column names.
SORT_COLUMNS = {"name": "name", "slug": "slug", "plan_tier": "plan_tier",
                "updated_at": "updated_at", "created_at": "created_at"}


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern in which the user's %, _ and \\ match only themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ADMIN_FILTER = """($1::text IS NULL OR plan_tier = $1)
    AND ($2::text IS NULL OR name ILIKE $2 ESCAPE '\\' OR slug ILIKE $2 ESCAPE '\\')"""


async def admin_page(conn: asyncpg.Connection, *, plan_tier: str | None, search: str | None,
                     sort_by: str, descending: bool, limit: int, offset: int) -> list[asyncpg.Record]:
    column = SORT_COLUMNS[sort_by]
    direction = "DESC" if descending else "ASC"
    pattern = like_pattern(search) if search else None
    return await conn.fetch(
        f"""SELECT {COLUMNS} FROM organizations WHERE {_ADMIN_FILTER}
            ORDER BY {column} {direction}, id {direction} LIMIT $3 OFFSET $4""",
        plan_tier, pattern, limit, offset)


async def admin_count(conn: asyncpg.Connection, *, plan_tier: str | None, search: str | None) -> int:
    pattern = like_pattern(search) if search else None
    return await conn.fetchval(f"SELECT count(*) FROM organizations WHERE {_ADMIN_FILTER}",
                               plan_tier, pattern)
