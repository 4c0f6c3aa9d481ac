"""`spooled-server serve | migrate | bootstrap`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import asyncpg

from . import db
from .embedded_pg import EmbeddedPostgres
from .services.organizations import create_with_key
from .settings import get_settings
from .store import organizations as org_store

log = logging.getLogger("spooled.cli")


# The operator's own organization: enterprise, and with no request rate limit (null lifts
# it), so a self-hosted server is never throttled by its own plan table.
BOOTSTRAP_CUSTOM_LIMITS = {"rate_limit_requests_per_second": None, "rate_limit_burst": None}


async def _bootstrap_first_org(dsn: str, slug: str, production: bool) -> dict | None:
    """On a database with no organizations, creates one (enterprise, unthrottled)."""
    conn = await asyncpg.connect(dsn)
    try:
        await db._init_connection(conn)
        await conn.execute("SELECT pg_advisory_lock(42)")
        try:
            if await conn.fetchval("SELECT count(*) FROM organizations"):
                return None
            async with conn.transaction():
                created = await create_with_key(conn, name="Default Organization", slug=slug,
                                                plan_tier="enterprise", billing_email=None,
                                                production=production)
                await org_store.update(conn, created["organization"]["id"],
                                       {"custom_limits": BOOTSTRAP_CUSTOM_LIMITS})
            return created
        finally:
            await conn.execute("SELECT pg_advisory_unlock(42)")
    finally:
        await conn.close()


def _print_first_key(created: dict, port: int) -> None:
    key = created["api_key"]["key"]
    org = created["organization"]
    print("\n" + "=" * 72, flush=True)
    print(f" Created organization '{org['slug']}' ({org['id']}), plan enterprise, no request rate limit.")
    print(f" Its API key (shown once, keep it safe):\n\n   {key}\n")
    print(f" Try:  curl -s -H 'Authorization: Bearer {key}' http://127.0.0.1:{port}/api/v1/jobs/stats")
    print("=" * 72 + "\n", flush=True)


def serve() -> int:
    settings = get_settings()
    embedded: EmbeddedPostgres | None = None
    dsn = settings.database_url
    if not dsn:
        data_dir = Path(settings.spooled_data_dir)
        print(f"spooled: starting embedded PostgreSQL in {data_dir.resolve()}", flush=True)
        embedded = EmbeddedPostgres(data_dir, port=settings.spooled_embedded_pg_port)
        dsn = embedded.start()
        os.environ["DATABASE_URL"] = dsn
        get_settings.cache_clear()
        settings = get_settings()

    # SIGTERM behaves like Ctrl-C so uvicorn drains and PostgreSQL is stopped below.
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        applied = asyncio.run(db.migrate(dsn))
        if applied:
            print(f"spooled: applied migrations {', '.join(applied)}", flush=True)
        created = asyncio.run(_bootstrap_first_org(dsn, settings.spooled_bootstrap_org_slug,
                                                   settings.is_production))
        if created:
            _print_first_key(created, settings.port)
        import uvicorn

        print(f"spooled: HTTP on {settings.host}:{settings.port}", flush=True)
        if settings.spooled_grpc_enabled:
            print(f"spooled: gRPC on {settings.host}:{settings.grpc_port}", flush=True)
        uvicorn.run("spooled_server.app:create_app", factory=True, host=settings.host,
                    port=settings.port, workers=settings.web_concurrency, log_level=settings.log_level,
                    access_log=False, loop="uvloop", http="httptools", timeout_graceful_shutdown=10)
    except KeyboardInterrupt:
        pass
    finally:
        if embedded is not None:
            print("spooled: stopping embedded PostgreSQL", flush=True)
            embedded.stop()
    return 0


def migrate() -> int:
    settings = get_settings()
    if not settings.database_url:
        print("DATABASE_URL is required for migrate", file=sys.stderr)
        return 2
    applied = asyncio.run(db.migrate(settings.database_url))
    print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spooled-server", description="Spooled job-queue server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP server (embedded PostgreSQL unless DATABASE_URL is set)")
    sub.add_parser("migrate", help="apply database migrations to DATABASE_URL and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=get_settings().log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return {"serve": serve, "migrate": migrate}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
