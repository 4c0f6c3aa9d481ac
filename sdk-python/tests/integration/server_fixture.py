"""A live Spooled server for the SDK's integration tests.

One PostgreSQL (the embedded one, or TEST_DATABASE_URL) gets a fresh database, migrated by the
server package; the server then runs as a uvicorn subprocess on a free port. Each test makes
its own organization directly in the database, which isolates tests without resets.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import asyncpg
import httpx

from spooled_server import db
from spooled_server.embedded_pg import EmbeddedPostgres
from spooled_server.services.organizations import create_with_key

ADMIN_KEY = "sdk-tests-admin-key-" + secrets.token_hex(8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Database:
    url: str
    stop: Callable[[], None]


def start_database() -> Database:
    """A new, migrated database on the embedded PostgreSQL (or on TEST_DATABASE_URL's server)."""
    external = os.environ.get("TEST_DATABASE_URL")
    embedded: EmbeddedPostgres | None = None
    data_dir: Path | None = None
    if external:
        admin_url = external
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="spooled-sdk-pg-"))
        embedded = EmbeddedPostgres(data_dir)
        admin_url = embedded.start()
    name = f"spooled_sdk_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    asyncio.run(create())
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    asyncio.run(db.migrate(url))

    def stop() -> None:
        if embedded is not None:
            embedded.stop()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
    return Database(url, stop)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log_path: Path
    grpc_port: int = 0

    @property
    def grpc_target(self) -> str:
        """Where the server's gRPC listener is: "127.0.0.1:<port>"."""
        return f"127.0.0.1:{self.grpc_port}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log_path.unlink(missing_ok=True)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_server(database_url: str) -> LiveServer:
    """Runs the server on free HTTP and gRPC ports and waits (up to 30 s) until /health/ready
    answers 200 and the gRPC port accepts connections."""
    port = _free_port()
    grpc_port = _free_port()
    while grpc_port == port:
        grpc_port = _free_port()
    log_path = Path(tempfile.mkstemp(prefix="spooled-sdk-server-", suffix=".log")[1])
    env = {**os.environ, "DATABASE_URL": database_url, "ADMIN_API_KEY": ADMIN_KEY, "HOST": "127.0.0.1",
           "PORT": str(port), "GRPC_PORT": str(grpc_port), "LOG_LEVEL": "warning", "JWT_SECRET": "sdk-tests-jwt-secret-" + "z" * 24}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "spooled_server.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200 and _accepts(grpc_port):
                return LiveServer(url, process, log_path, grpc_port)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become ready:\n{log_path.read_text()}")


@dataclass
class Org:
    id: str
    slug: str
    api_key: str


def run_sql(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Runs one statement on the test database (for setup and for simulating other actors)."""
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(go())


def create_org(database_url: str, plan: str = "enterprise") -> Org:
    """An organization with one all-queues API key, written straight into the database."""
    slug = f"sdk-{uuid.uuid4().hex[:12]}"

    async def go() -> dict[str, Any]:
        conn = await asyncpg.connect(database_url)
        try:
            return await create_with_key(conn, name=f"SDK test {slug}", slug=slug, plan_tier=plan,
                                         billing_email=None, production=False)
        finally:
            await conn.close()
    created = asyncio.run(go())
    return Org(created["organization"]["id"], slug, created["api_key"]["key"])
