"""Connection pool and migrations. JSON columns round-trip through orjson."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources

import asyncpg
import orjson

log = logging.getLogger("spooled.db")

# Errors meaning "the database is unreachable right now" (REST answers 503, gRPC UNAVAILABLE):
# no connection, the server shutting down or crashing under a session (SQLSTATE 57P01/57P02),
# or still starting (57P03). InternalClientError is asyncpg's view of such a session in the
# moment between the server's FATAL message and the socket closing (the pool then replaces
# the connection). A cancelled statement (57014) is not here: a query that always times out
# is a bug to see as a 500, not an outage.
DATABASE_UNAVAILABLE = (asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.AdminShutdownError,
                        asyncpg.exceptions.CrashShutdownError, asyncpg.exceptions.CannotConnectNowError,
                        asyncpg.exceptions.TooManyConnectionsError, asyncpg.exceptions.InterfaceError,
                        asyncpg.exceptions.InternalClientError, OSError, asyncio.TimeoutError)


def database_unavailable(err: BaseException) -> bool:
    """Whether `err` means the database cannot be reached now. asyncpg's DataError (a query
    argument it could not encode) is an InterfaceError too, but it is our bug, not an outage."""
    return isinstance(err, DATABASE_UNAVAILABLE) and not isinstance(err, asyncpg.exceptions.DataError)


# One advisory lock key serialises migrations across replicas starting together.
_MIGRATION_LOCK = 0x5370_6F6F_6C65_64


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb's binary format is a version byte (1) followed by the JSON text.
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", format="binary",
        encoder=lambda v: b"\x01" + orjson.dumps(v),
        decoder=lambda b: orjson.loads(b[1:]),
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook. asyncpg's default reset costs a round trip per release; our pooled
    connections never change session state (no SET, LISTEN or session advisory locks), and
    asyncpg still rolls back any transaction left open before calling this."""


async def create_pool(dsn: str, max_size: int) -> asyncpg.Pool:
    """A pool whose connections speak JSON natively and time out instead of hanging."""
    return await asyncpg.create_pool(
        dsn,
        reset=_keep_session,
        min_size=min(2, max_size),
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        timeout=10,
        max_inactive_connection_lifetime=300,
    )


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("spooled_server") / "migrations"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name, p.read_text()) for p in files]


async def migrate(dsn: str) -> list[str]:
    """Applies every migration not yet applied, in order, each in its own transaction."""
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in _migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied_now.append(name)
            log.info("applied migration %s", name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        await conn.close()
    return applied_now
