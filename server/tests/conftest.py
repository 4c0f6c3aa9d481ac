"""Shared fixtures: one real PostgreSQL and one real server process per test session.

Each test gets its own organization (and so its own API key), which isolates tests from
each other without resetting the database. Set TEST_DATABASE_URL to use an external
PostgreSQL instead of the embedded one.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from spooled_server import db
from spooled_server.embedded_pg import EmbeddedPostgres
from spooled_server.services.organizations import create_with_key

ADMIN_KEY = "test-admin-key-" + "x" * 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A fresh database on the embedded (or TEST_DATABASE_URL) PostgreSQL, migrated."""
    external = os.environ.get("TEST_DATABASE_URL")
    embedded = None
    if external:
        admin_url = external
    else:
        data = Path(tempfile.mkdtemp(prefix="spooled-test-pg-"))
        embedded = EmbeddedPostgres(data)
        admin_url = embedded.start()
    name = f"spooled_test_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    asyncio.run(create())
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    asyncio.run(db.migrate(url))
    yield url
    if embedded is not None:
        embedded.stop()


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]


def start_server(database_url: str, port: int | None = None, **env_overrides: str) -> ServerProcess:
    """Starts a real server process (uvicorn) and waits until it answers /health/ready; on a
    free port unless `port` is given (a restart on the same address)."""
    port = port or free_port()
    log_path = Path(tempfile.mkstemp(prefix="spooled-server-", suffix=".log")[1])
    env = {**os.environ, "DATABASE_URL": database_url, "ADMIN_API_KEY": ADMIN_KEY,
           "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "warning",
           # Every test server gets its own gRPC port, never the default 50051.
           "GRPC_PORT": str(free_port()),
           "JWT_SECRET": "test-jwt-secret-0123456789abcdefghij", **env_overrides}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "spooled_server.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                return ServerProcess(url, proc, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not become ready:\n{log_path.read_text()}")


def stop_server(server: ServerProcess) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(postgres_url: str) -> ServerProcess:
    srv = start_server(postgres_url)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def base_url(server: ServerProcess) -> str:
    return server.url


@pytest.fixture(scope="session")
async def pool(postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test database, for assertions that read rows directly."""
    p = await db.create_pool(postgres_url, 10)
    yield p
    await p.close()


@dataclass
class Org:
    id: str
    slug: str
    api_key: str
    key_id: str
    client: httpx.AsyncClient


OrgFactory = Callable[..., Awaitable[Org]]


@pytest.fixture
async def make_org(pool: asyncpg.Pool, base_url: str) -> AsyncIterator[OrgFactory]:
    """Creates organizations (directly in the database) with an authenticated client each."""
    clients: list[httpx.AsyncClient] = []

    async def factory(plan: str = "enterprise") -> Org:
        slug = f"t-{uuid.uuid4().hex[:12]}"
        async with pool.acquire() as conn:
            created = await create_with_key(conn, name=f"Test {slug}", slug=slug, plan_tier=plan,
                                            billing_email=None, production=False)
        key = created["api_key"]["key"]
        client = httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                                   headers={"Authorization": f"Bearer {key}"})
        clients.append(client)
        return Org(created["organization"]["id"], slug, key, created["api_key"]["id"], client)

    yield factory
    for c in clients:
        await c.aclose()


@pytest.fixture
async def org(make_org: OrgFactory) -> Org:
    return await make_org()


@pytest.fixture
async def anon(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An unauthenticated client on the server root."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def admin(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending the admin key."""
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=30,
                                 headers={"X-Admin-Key": ADMIN_KEY}) as client:
        yield client


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0,
                     interval: float = 0.05) -> None:
    """Polls `predicate` until it is true or the deadline passes (then fails the test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """Asserts the one error envelope: {code, message, details?} with the given status."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body
    if code is not None:
        assert body["code"] == code, body
    assert "Traceback" not in response.text
    return body
