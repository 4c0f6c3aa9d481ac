"""Unit-test helpers: clients whose seam (httpx) is mocked with respx, and whose clock,
randomness and sleep are injected so nothing waits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
import respx

from spooled import AsyncSpooledClient, SpooledClient

BASE = "https://api.test"
API_KEY = "sp_test_unit_key_0123456789"


@dataclass
class FakeTime:
    """Unix time that only moves when told to; sleeping advances it and is recorded."""

    now: float = 1_700_000_000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def make_client(fake_time: FakeTime):
    clients: list[SpooledClient] = []

    def make(api_key: str | None = API_KEY, **kwargs: Any) -> SpooledClient:
        kwargs.setdefault("base_url", BASE)
        kwargs.setdefault("clock", fake_time)
        kwargs.setdefault("monotonic", fake_time)
        kwargs.setdefault("sleep", fake_time.sleep)
        kwargs.setdefault("random", lambda: 0.0)
        client = SpooledClient(api_key, **kwargs)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def client(make_client) -> SpooledClient:
    return make_client()


@pytest.fixture
def make_async_client(fake_time: FakeTime):
    def make(api_key: str | None = API_KEY, **kwargs: Any) -> AsyncSpooledClient:
        kwargs.setdefault("base_url", BASE)
        kwargs.setdefault("clock", fake_time)
        kwargs.setdefault("monotonic", fake_time)
        kwargs.setdefault("sleep", fake_time.async_sleep)
        kwargs.setdefault("random", lambda: 0.0)
        return AsyncSpooledClient(api_key, **kwargs)
    return make


def job_json(job_id: str = "j1", **overrides: Any) -> dict[str, Any]:
    """A complete Job body as the server sends it."""
    body = {"id": job_id, "organization_id": "o1", "queue_name": "q", "status": "pending", "payload": {"a": 1},
            "result": None, "retry_count": 0, "max_retries": 3, "last_error": None,
            "created_at": "2025-01-01T00:00:00.000000Z", "scheduled_at": None, "started_at": None,
            "completed_at": None, "expires_at": None, "priority": 0, "tags": None, "timeout_seconds": 300,
            "parent_job_id": None, "completion_webhook": None, "assigned_worker_id": None, "lease_id": None,
            "lease_expires_at": None, "idempotency_key": None, "updated_at": "2025-01-01T00:00:00.000000Z",
            "workflow_id": None, "dependency_mode": None, "dependencies_met": None}
    body.update(overrides)
    return body
