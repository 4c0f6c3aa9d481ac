"""The client's surface beyond resources: realtime(), grpc, with_options, get_config, config=,
the factories, and what `spooled` exports."""

from __future__ import annotations

import sys
import types

import pytest

import spooled
from spooled import AsyncSpooledClient, SpooledClient, SpooledClientConfig
from spooled.client import create_async_client, create_client
from spooled.realtime import SpooledRealtime

from .conftest import API_KEY, BASE


class FakeGrpcClient:
    def __init__(self, address, api_key, **kwargs):
        self.address, self.api_key, self.kwargs = address, api_key, kwargs
        self.closed = False

    def close(self):
        self.closed = True


@pytest.fixture
def fake_grpc(monkeypatch):
    module = types.ModuleType("spooled.grpc")
    module.SpooledGrpcClient = FakeGrpcClient
    monkeypatch.setitem(sys.modules, "spooled.grpc", module)
    return module


def test_realtime_with_an_api_key_sends_the_key():
    client = SpooledClient(API_KEY, base_url="https://api.test/", headers={"X-Extra": "1"})
    realtime = client.realtime(type="sse", max_reconnect_attempts=3, reconnect_delay=0.5, max_reconnect_delay=4)
    assert isinstance(realtime, SpooledRealtime)
    o = realtime.options
    assert (o.type, o.base_url, o.ws_url, o.token, o.token_provider) == ("sse", BASE, "wss://api.test", API_KEY,
                                                                          None)
    assert (o.auto_reconnect, o.max_reconnect_attempts, o.reconnect_delay, o.max_reconnect_delay) == (True, 3, 0.5, 4)
    assert o.headers == {"X-Extra": "1"} and o.user_agent.startswith("spooled-python/")
    assert client.realtime().options.type == "websocket"
    assert realtime.state == "disconnected"


def test_realtime_with_jwts_asks_for_a_token_per_connection():
    client = SpooledClient(API_KEY, base_url="http://localhost:8080", use_jwt=True, ws_url="ws://events:9000/")
    realtime = client.realtime()
    assert realtime.options.token == "" and realtime.options.token_provider == client.get_jwt_token
    assert realtime.options.ws_url == "ws://events:9000"


async def test_async_realtime_returns_the_blocking_client():
    client = AsyncSpooledClient(access_token="jwt-abc", base_url="http://localhost:8080")
    realtime = await client.realtime(type="sse")
    assert isinstance(realtime, SpooledRealtime)
    assert realtime.options.token == "jwt-abc" and callable(realtime.options.token_provider)
    await client.close()


def test_get_config_resolves_defaults():
    config = SpooledClient(API_KEY, base_url="http://localhost:8080", timeout=5).get_config()
    assert isinstance(config, SpooledClientConfig)
    assert (config.api_key, config.base_url, config.ws_url, config.timeout) == (
        API_KEY, "http://localhost:8080", "ws://localhost:8080", 5)
    assert config.retry.max_retries == 3 and config.circuit_breaker.enabled


def test_config_object_replaces_the_arguments():
    config = SpooledClientConfig(api_key=API_KEY, base_url="http://h:1", timeout=7, max_retries=1)
    client = SpooledClient("ignored-key-000000", config=config)
    assert (client.api_key, client.base_url) == (API_KEY, "http://h:1")
    assert client.get_config().timeout == 7 and client.get_config().max_retries == 1
    with pytest.raises(Exception):
        SpooledClientConfig(api_key=API_KEY, no_such_field=1)


def test_with_options_makes_an_independent_client():
    client = SpooledClient(API_KEY, base_url=BASE, timeout=5)
    other = client.with_options(timeout=9, api_key=None, admin_key="admin-key")
    assert isinstance(other, SpooledClient) and other is not client
    assert (other.api_key, other.get_config().timeout, other.get_config().admin_key) == (API_KEY, 9, "admin-key")
    assert client.get_config().timeout == 5 and client.get_config().admin_key is None
    with pytest.raises(TypeError):
        client.with_options(no_such_option=1)


async def test_async_with_options():
    client = AsyncSpooledClient(API_KEY, base_url=BASE)
    other = client.with_options(base_url="http://other:1")
    assert isinstance(other, AsyncSpooledClient) and other.base_url == "http://other:1"
    await client.close()
    await other.close()


@pytest.mark.parametrize("base_url, address, tls", [
    ("https://api.spooled.cloud", "api.spooled.cloud:50051", True),
    ("http://localhost:8080", "localhost:50051", False),
    ("http://[::1]:8080", "[::1]:50051", False),
])
def test_grpc_property_is_lazy_and_closed_with_the_client(fake_grpc, base_url, address, tls):
    client = SpooledClient(API_KEY, base_url=base_url)
    grpc = client.grpc
    assert client.grpc is grpc
    assert (grpc.address, grpc.api_key, grpc.kwargs) == (address, API_KEY, {"use_tls": tls})
    client.close()
    assert grpc.closed


async def test_async_grpc_uses_the_access_token_without_a_key(fake_grpc):
    client = AsyncSpooledClient(access_token="jwt-abc", base_url="http://localhost:8080")
    grpc = client.grpc
    assert grpc.api_key == "jwt-abc"
    await client.close()
    assert grpc.closed


def test_close_without_grpc_never_imports_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "spooled.grpc", None)   # importing it would fail
    SpooledClient(API_KEY, base_url=BASE).close()


async def test_factories():
    client = create_client(API_KEY, base_url=BASE)
    assert isinstance(client, SpooledClient) and client.api_key == API_KEY
    client.close()
    async_client = await create_async_client(API_KEY, base_url=BASE)
    assert isinstance(async_client, AsyncSpooledClient)
    await async_client.close()
    assert not hasattr(spooled, "create_client")
    from spooled import async_client as async_module  # where Spooled's SDK keeps the async factory
    assert async_module.create_async_client is create_async_client


def test_exports():
    assert spooled.SpooledRealtime is SpooledRealtime
    assert issubclass(spooled.JobAbortedError, Exception)
    assert not issubclass(spooled.JobAbortedError, spooled.SpooledError)
    err = spooled.JobAbortedError(job_id="j1", reason="lease_lost")
    assert (str(err), err.job_id, err.reason) == ("Job aborted", "j1", "lease_lost")
    for name in ("SpooledRealtime", "SpooledClientConfig", "JobAbortedError"):
        assert name in spooled.__all__
    with pytest.raises(AttributeError):
        spooled.NoSuchThing  # noqa: B018


def test_worker_type_names_of_the_spooled_sdk():
    from typing import get_args

    from spooled.worker import WORKER_EVENTS, SpooledWorkerOptions, WorkerEvent, WorkerOptions, WorkerState
    from spooled.worker import types as worker_types
    assert SpooledWorkerOptions is WorkerOptions and get_args(WorkerEvent) == WORKER_EVENTS
    assert "running" in get_args(WorkerState)
    for name in ("AsyncJobContext", "ErrorEventData", "JobStartedEventData", "SpooledWorkerOptions"):
        assert hasattr(worker_types, name)


def test_async_client_resources_are_coroutine_twins():
    """Every public resource method of the async client is a coroutine function (nested
    resources too), under the Async*Resource names Spooled's SDK exports."""
    import inspect

    from spooled import resources
    from spooled.client import ASYNC_RESOURCES, SYNC_RESOURCES

    client = AsyncSpooledClient(API_KEY, base_url=BASE)
    targets = [getattr(client, name) for name in ASYNC_RESOURCES] + [client.jobs.dlq, client.workflows.jobs]
    for resource in targets:
        assert type(resource).__name__.startswith("Async"), type(resource)
        public = [m for m in dir(resource) if not m.startswith("_") and callable(getattr(resource, m))]
        assert public, type(resource)
        for name in public:
            assert inspect.iscoroutinefunction(getattr(resource, name)), f"{type(resource).__name__}.{name}"
    for name, sync_class in SYNC_RESOURCES.items():
        twin = getattr(resources, "Async" + sync_class.__name__)
        assert issubclass(twin, sync_class) and ASYNC_RESOURCES[name] is twin
    sync = SpooledClient(API_KEY, base_url=BASE)
    assert not inspect.iscoroutinefunction(sync.queues.get) and type(sync.jobs.dlq).__name__ == "DlqResource"
    sync.close()


async def test_async_twin_awaits_the_transport(respx_mock):
    respx_mock.get(f"{BASE}/api/v1/queues").respond(200, json=[])
    async with AsyncSpooledClient(API_KEY, base_url=BASE) as client:
        assert await client.queues.list() == []


async def test_async_children_and_hand_finished_twins_await_the_transport(respx_mock):
    respx_mock.get(f"{BASE}/api/v1/jobs/dlq").respond(200, json=[])
    respx_mock.get(f"{BASE}/api/v1/workflows/w/jobs").respond(200, json=[])
    respx_mock.get(f"{BASE}/api/v1/jobs/status").respond(200, json=[])
    respx_mock.get(f"{BASE}/health/live").respond(200)
    respx_mock.get(f"{BASE}/health/ready").respond(503, json={"code": "UNAVAILABLE", "message": "down"})
    async with AsyncSpooledClient(API_KEY, base_url=BASE) as client:
        assert await client.jobs.dlq.list() == []
        assert await client.workflows.jobs.list("w") == []
        assert await client.jobs.batch_status([]) == [] and await client.jobs.batch_status(["a"]) == []
        assert await client.health.liveness() is True and await client.health.readiness() is False
