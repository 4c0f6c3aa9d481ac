"""Fixtures for tests against a live server (see server_fixture.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from spooled import SpooledClient, SpooledWorker
from spooled.grpc import SpooledGrpcClient

# The live server comes from the repository's server package (installed by scripts/bootstrap).
pytest.importorskip("spooled_server", reason="integration tests need the spooled-server package")

from .server_fixture import (ADMIN_KEY, Database, LiveServer, Org, create_org, run_sql,  # noqa: E402
                             start_database, start_server)

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test in this folder `integration`, so `-m "not integration"` runs unit tests only."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    database = start_database()
    yield database
    database.stop()


@pytest.fixture(scope="session")
def live_server(database: Database) -> Iterator[LiveServer]:
    server = start_server(database.url)
    yield server
    server.stop()


@pytest.fixture
def org(database: Database, live_server: LiveServer) -> Org:
    """A fresh organization per test."""
    return create_org(database.url)


@pytest.fixture
def client(org: Org, live_server: LiveServer) -> Iterator[SpooledClient]:
    with SpooledClient(org.api_key, base_url=live_server.url) as c:
        yield c


@pytest.fixture
def grpc_client(org: Org, live_server: LiveServer) -> Iterator[SpooledGrpcClient]:
    """A blocking gRPC client for the test's organization (plaintext, the server's gRPC port)."""
    with SpooledGrpcClient(live_server.grpc_target, org.api_key, timeout=15.0) as c:
        yield c


@pytest.fixture
def admin_client(live_server: LiveServer) -> Iterator[SpooledClient]:
    with SpooledClient(admin_key=ADMIN_KEY, base_url=live_server.url) as c:
        yield c


@pytest.fixture
def sql(database: Database) -> Callable[..., list[Any]]:
    """Runs SQL on the test database: sql("UPDATE jobs SET ... WHERE id = $1", job_id)."""
    return lambda statement, *args: run_sql(database.url, statement, *args)


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Polls `predicate` until it holds, failing the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s")


def start_in_thread(worker: SpooledWorker) -> threading.Thread:
    """Runs the blocking worker.start() on a daemon thread and returns the thread."""
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    return thread
