"""The api_keys table. Only a SHA-256 of each key and a non-secret prefix are stored."""

from __future__ import annotations

from datetime import datetime

import asyncpg

SUMMARY = "id, name, queues, rate_limit, is_active, created_at, last_used, expires_at"


async def insert(conn: asyncpg.Connection, *, org_id: str, key_hash: str, key_prefix: str,
                 name: str, queues: list[str], rate_limit: int | None,
                 expires_at: datetime | None) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO api_keys (organization_id, key_hash, key_prefix, name, queues, rate_limit, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {SUMMARY}""",
        org_id, key_hash, key_prefix, name, queues, rate_limit, expires_at)


# What authentication needs of a key, with whether it has expired by the database's clock.
_FOR_AUTH = """SELECT id, organization_id, key_hash, queues, rate_limit, is_active, expires_at,
                      expires_at IS NOT NULL AND expires_at <= now() AS expired
               FROM api_keys"""


async def find_for_auth(conn: asyncpg.Connection, key_hash: str) -> asyncpg.Record | None:
    """The key row by hash (an indexed, exact lookup)."""
    return await conn.fetchrow(f"{_FOR_AUTH} WHERE key_hash = $1", key_hash)


async def find_by_id_for_auth(conn: asyncpg.Connection, key_id: str) -> asyncpg.Record | None:
    """The key row by id (a session token names its key)."""
    return await conn.fetchrow(f"{_FOR_AUTH} WHERE id = $1", key_id)


async def touch(conn: asyncpg.Connection, key_id: str) -> None:
    await conn.execute("UPDATE api_keys SET last_used = now() WHERE id = $1", key_id)


async def list_for_org(conn: asyncpg.Connection, org_id: str, limit: int = 100) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {SUMMARY} FROM api_keys WHERE organization_id = $1 ORDER BY created_at DESC LIMIT $2",
        org_id, limit)


async def get(conn: asyncpg.Connection, org_id: str, key_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {SUMMARY} FROM api_keys WHERE organization_id = $1 AND id = $2", org_id, key_id)


async def update(conn: asyncpg.Connection, org_id: str, key_id: str, fields: dict) -> asyncpg.Record | None:
    if not fields:
        return await get(conn, org_id, key_id)
    names = list(fields)
    sets = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(names))
    return await conn.fetchrow(
        f"UPDATE api_keys SET {sets} WHERE organization_id = $1 AND id = $2 RETURNING {SUMMARY}",
        org_id, key_id, *fields.values())


async def revoke(conn: asyncpg.Connection, org_id: str, key_id: str) -> bool:
    return bool(await conn.fetchval(
        "UPDATE api_keys SET is_active = false WHERE organization_id = $1 AND id = $2 RETURNING true",
        org_id, key_id))


async def count_active(conn: asyncpg.Connection, org_id: str) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM api_keys WHERE organization_id = $1 AND is_active", org_id)


async def list_active_members(conn: asyncpg.Connection, org_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, name, queues, created_at FROM api_keys
           WHERE organization_id = $1 AND is_active ORDER BY created_at""", org_id)


async def ids_for_org(conn: asyncpg.Connection, org_id: str) -> list[str]:
    rows = await conn.fetch("SELECT id FROM api_keys WHERE organization_id = $1", org_id)
    return [r["id"] for r in rows]
