"""SpooledClient and AsyncSpooledClient: credentials and settings in, resources out.

    client = SpooledClient(api_key="sp_test_...", base_url="http://localhost:8080")
    job = client.jobs.create({"queue_name": "emails", "payload": {"to": "a@example.com"}})
    print(job.id)
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import random as _random
import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

import httpx

from ._auth import Credentials, expiring, token_expiry
from ._breaker import CircuitBreaker, CircuitBreakerConfig
from ._constants import DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT
from ._retry import RetryConfig
from ._transport import AsyncTransport, SyncTransport, TransportOptions
from ._version import __version__
from .config import SpooledClientConfig, derive_ws_url
from . import resources as r

if TYPE_CHECKING:
    from .grpc import SpooledGrpcClient
    from .realtime import SpooledRealtime

__all__ = ["SpooledClient", "AsyncSpooledClient", "SpooledClientConfig", "create_client", "create_async_client"]

# Each client's resources: attribute -> class (the async client's coroutine twins).
SYNC_RESOURCES: dict[str, type] = {
    "jobs": r.JobsResource, "queues": r.QueuesResource, "workers": r.WorkersResource,
    "schedules": r.SchedulesResource, "workflows": r.WorkflowsResource, "webhooks": r.WebhooksResource,
    "ingest": r.IngestResource, "api_keys": r.ApiKeysResource, "organizations": r.OrganizationsResource,
    "auth": r.AuthResource, "health": r.HealthResource, "metrics": r.MetricsResource,
    "dashboard": r.DashboardResource, "admin": r.AdminResource, "billing": r.BillingResource}
ASYNC_RESOURCES: dict[str, type] = {
    "jobs": r.AsyncJobsResource, "queues": r.AsyncQueuesResource, "workers": r.AsyncWorkersResource,
    "schedules": r.AsyncSchedulesResource, "workflows": r.AsyncWorkflowsResource,
    "webhooks": r.AsyncWebhooksResource, "ingest": r.AsyncIngestResource, "api_keys": r.AsyncApiKeysResource,
    "organizations": r.AsyncOrganizationsResource, "auth": r.AsyncAuthResource, "health": r.AsyncHealthResource,
    "metrics": r.AsyncMetricsResource, "dashboard": r.AsyncDashboardResource, "admin": r.AsyncAdminResource,
    "billing": r.AsyncBillingResource}

# The port of the server's gRPC listener; `client.grpc` pairs it with the host of base_url.
GRPC_PORT = 50051
# Arguments that are objects shared with the original client rather than settings.
_SHARED = ("http_client", "clock", "monotonic", "random", "sleep")


class _ClientBase:
    """Validates the constructor arguments shared by both clients."""

    def _configure(self, api_key: str | None, access_token: str | None, refresh_token: str | None,
                   admin_key: str | None, base_url: str | None, timeout: float | None,
                   connect_timeout: float | None, max_retries: int | None, retry: RetryConfig | None,
                   headers: dict[str, str] | None, user_agent: str | None, use_jwt: bool,
                   auto_refresh_token: bool, circuit_breaker: CircuitBreakerConfig | bool | None,
                   clock: Callable[[], float] | None, monotonic: Callable[[], float] | None,
                   random: Callable[[], float] | None) -> None:
        # No credential at all is allowed: such a client calls the public routes (health,
        # metrics, auth.login/refresh/validate, organizations.create); any other route is sent
        # without credentials and the server's 401 arrives as AuthenticationError.
        self._creds = Credentials(api_key=api_key, access_token=access_token, refresh_token=refresh_token,
                                  admin_key=admin_key, use_jwt=use_jwt, auto_refresh=auto_refresh_token)
        retry_config = retry or RetryConfig()
        if max_retries is not None:
            retry_config = dataclasses.replace(retry_config, max_retries=max_retries)
        if circuit_breaker is False:
            breaker_config = CircuitBreakerConfig(enabled=False)
        elif isinstance(circuit_breaker, CircuitBreakerConfig):
            breaker_config = circuit_breaker
        else:
            breaker_config = CircuitBreakerConfig()
        self._options = TransportOptions(
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            connect_timeout=DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
            retry=retry_config,
            headers=dict(headers or {}),
            user_agent=user_agent or f"spooled-python/{__version__}",
            breaker=CircuitBreaker(breaker_config, clock=monotonic or time.monotonic, wall_clock=clock or time.time),
            clock=clock or time.time, random=random or _random.random)
        self._jwt: tuple[str, float | None] | None = None
        self._grpc: Any = None

    def _remember(self, settings: dict[str, Any], config: SpooledClientConfig | None) -> dict[str, Any]:
        """Resolves `config=` (which replaces every other setting) and keeps the arguments for
        with_options and get_config."""
        shared = {k: settings.pop(k) for k in _SHARED}
        if config is not None:
            settings = config.client_kwargs()
        self._settings = settings
        self._shared = shared
        self._ws_url = (settings.get("ws_url") or "").rstrip("/") or None
        self._debug = bool(settings.get("debug"))
        return {**settings, **shared}

    def _configure_from(self, s: dict[str, Any]) -> None:
        self._configure(s["api_key"], s["access_token"], s["refresh_token"], s["admin_key"], s["base_url"],
                        s["timeout"], s["connect_timeout"], s["max_retries"], s["retry"], s["headers"],
                        s["user_agent"], s["use_jwt"], s["auto_refresh_token"], s["circuit_breaker"],
                        s["clock"], s["monotonic"], s["random"])

    def with_options(self, **overrides: Any) -> Any:
        """A new client with this one's settings, changed by `overrides` (None values are ignored).

        Takes the constructor's keyword arguments (api_key, access_token, base_url, timeout,
        debug, retry, ...). The new client has its own connections (unless this one was given an
        `http_client`, which both then share) and its own circuit breaker.
        """
        unknown = set(overrides) - set(self._settings) - set(_SHARED)
        if unknown:
            raise TypeError(f"with_options() got unexpected arguments: {sorted(unknown)}")
        merged = {**self._settings, **self._shared, **{k: v for k, v in overrides.items() if v is not None}}
        return type(self)(**merged)

    def get_config(self) -> SpooledClientConfig:
        """The client's settings, resolved: defaults filled in and ws_url derived from base_url."""
        o = self._options
        breaker = o.breaker.config
        return SpooledClientConfig(
            api_key=self._creds.api_key, access_token=self._creds.access_token,
            refresh_token=self._creds.refresh_token, admin_key=self._creds.admin_key, base_url=o.base_url,
            ws_url=self.ws_url, timeout=o.timeout, connect_timeout=o.connect_timeout,
            max_retries=o.retry.max_retries, retry=o.retry, circuit_breaker=breaker, headers=dict(o.headers),
            user_agent=o.user_agent, use_jwt=self._creds.use_jwt, auto_refresh_token=self._creds.auto_refresh,
            debug=self._debug)

    @property
    def ws_url(self) -> str:
        """The WebSocket root: `ws_url` if given, else base_url with ws:// or wss://."""
        return self._ws_url or derive_ws_url(self._options.base_url)

    @property
    def grpc(self) -> SpooledGrpcClient:
        """A gRPC client for the same server, made on first use and closed by close().

        Its address is the host of base_url with port 50051, over TLS when base_url is https;
        it authenticates with the API key, else the access token.
        """
        if self._grpc is None:
            from .grpc import SpooledGrpcClient

            parts = urlsplit(self._options.base_url)
            host = parts.hostname or "localhost"
            if ":" in host:
                host = f"[{host}]"
            key = self._creds.api_key or self._creds.access_token
            self._grpc = SpooledGrpcClient(f"{host}:{GRPC_PORT}", key, use_tls=parts.scheme == "https")
        return self._grpc

    def _realtime_options(self, type: str, auto_reconnect: bool, max_reconnect_attempts: int,
                          reconnect_delay: float, max_reconnect_delay: float, token: str | None,
                          token_provider: Callable[[], Any] | None) -> Any:
        from .realtime import SpooledRealtimeOptions

        return SpooledRealtimeOptions(
            base_url=self._options.base_url, ws_url=self.ws_url, token=token or "", type=type,  # type: ignore[arg-type]
            auto_reconnect=auto_reconnect, max_reconnect_attempts=max_reconnect_attempts,
            reconnect_delay=reconnect_delay, max_reconnect_delay=max_reconnect_delay, debug=self._debug,
            token_provider=token_provider, headers=dict(self._options.headers), user_agent=self._options.user_agent)

    def _wire_resources(self, resources: dict[str, type]) -> None:
        """One instance of each resource class (attribute name -> class) on this transport."""
        for attribute, resource in resources.items():
            setattr(self, attribute, resource(self._transport))

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        return self._options.base_url

    @property
    def api_key(self) -> str | None:
        """The API key the client was built with, if any."""
        return self._creds.api_key

    def get_circuit_breaker_stats(self) -> dict[str, Any]:
        """The breaker's state, counters and settings: `state` ("CLOSED", "OPEN" or "HALF_OPEN"),
        `failure_count`, `success_count`, `last_failure_time` (Unix seconds or None) and
        `config` (enabled, failure_threshold, success_threshold, timeout)."""
        return self._options.breaker.stats()

    def reset_circuit_breaker(self) -> None:
        """Closes the breaker and forgets past failures."""
        self._options.breaker.reset()

    def _cached_jwt(self, force: bool) -> str | None:
        if force or self._jwt is None:
            return None
        token, expires_at = self._jwt
        return None if expiring(expires_at, self._options.clock()) else token

    def _remember_jwt(self, tokens: Any) -> str:
        self._jwt = (tokens.access_token, token_expiry(tokens, self._options.clock()))
        return tokens.access_token


class SpooledClient(_ClientBase):
    """Blocking client. Thread-safe; close it (or use `with`) to release connections.

    Credentials: `api_key` (sent as a Bearer token), or `access_token` (+ `refresh_token`) JWTs;
    `use_jwt=True` exchanges the API key for a JWT and renews it before it expires.
    `admin_key` enables `client.admin`. With no credential at all only the public routes work.
    Tuning: `timeout`, `connect_timeout` (seconds), `max_retries` (0-10; shorthand that overrides
    `retry.max_retries`), `retry` (a RetryConfig: retries and backoff), `circuit_breaker` (a
    CircuitBreakerConfig, or False to disable),
    `headers`, `user_agent`, `http_client` (your own httpx.Client), `ws_url` (WebSocket root for
    `realtime()`, derived from base_url when None), `debug` (realtime connections log their
    progress at INFO on the "spooled.realtime" logger). `config=` (a SpooledClientConfig)
    replaces all of these. Tests may inject `clock` (Unix time), `monotonic` (breaker clock),
    `random` and `sleep`.
    """

    # Set by _wire_resources(SYNC_RESOURCES); declared so type checkers see them.
    jobs: r.JobsResource
    queues: r.QueuesResource
    workers: r.WorkersResource
    schedules: r.SchedulesResource
    workflows: r.WorkflowsResource
    webhooks: r.WebhooksResource
    ingest: r.IngestResource
    api_keys: r.ApiKeysResource
    organizations: r.OrganizationsResource
    auth: r.AuthResource
    health: r.HealthResource
    metrics: r.MetricsResource
    dashboard: r.DashboardResource
    admin: r.AdminResource
    billing: r.BillingResource

    def __init__(self, api_key: str | None = None, *, access_token: str | None = None,
                 refresh_token: str | None = None, admin_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, connect_timeout: float | None = None,
                 max_retries: int | None = None, retry: RetryConfig | None = None,
                 headers: dict[str, str] | None = None,
                 user_agent: str | None = None, use_jwt: bool = False, auto_refresh_token: bool = True,
                 circuit_breaker: CircuitBreakerConfig | bool | None = None,
                 http_client: httpx.Client | None = None, clock: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] | None = None, random: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None, ws_url: str | None = None, debug: bool = False,
                 config: SpooledClientConfig | None = None):
        s = self._remember(dict(
            api_key=api_key, access_token=access_token, refresh_token=refresh_token, admin_key=admin_key,
            base_url=base_url, timeout=timeout, connect_timeout=connect_timeout, max_retries=max_retries,
            retry=retry, headers=headers, user_agent=user_agent, use_jwt=use_jwt,
            auto_refresh_token=auto_refresh_token, circuit_breaker=circuit_breaker, ws_url=ws_url, debug=debug,
            http_client=http_client, clock=clock, monotonic=monotonic, random=random, sleep=sleep), config)
        self._configure_from(s)
        self._transport = SyncTransport(self._options, self._creds, http_client=s["http_client"],
                                        sleep=s["sleep"] or time.sleep)
        self._wire_resources(SYNC_RESOURCES)

    def get_jwt_token(self, *, force_refresh: bool = False) -> str:
        """A JWT access token for this client (for realtime connections): the one in use when the
        client authenticates with JWTs, else one from auth.login, cached until shortly before it expires."""
        if self._creds.uses_jwt:
            if force_refresh:
                self._transport.renew(stale=self._creds.access_token)
            token = self._transport.bearer()
            assert token is not None
            return token
        cached = self._cached_jwt(force_refresh)
        if cached is not None:
            return cached
        if self._creds.api_key is None:
            raise ValueError("get_jwt_token needs an api_key or access_token")
        return self._remember_jwt(self.auth.login({"api_key": self._creds.api_key}))

    def realtime(self, type: str = "websocket", *, auto_reconnect: bool = True,  # noqa: A002 - public name
                 max_reconnect_attempts: int = 10, reconnect_delay: float = 1.0,
                 max_reconnect_delay: float = 30.0) -> SpooledRealtime:
        """A realtime client (`type` "websocket" or "sse") for this server and credentials; call
        its connect(). API-key clients send the key; JWT clients send a JWT from get_jwt_token,
        asked for again before every reconnection so an expired one is renewed."""
        from .realtime import SpooledRealtime

        token: str | None = self._creds.api_key
        provider = None
        if self._creds.uses_jwt:
            token, provider = None, self.get_jwt_token
        return SpooledRealtime(self._realtime_options(type, auto_reconnect, max_reconnect_attempts,
                                                      reconnect_delay, max_reconnect_delay, token, provider))

    def close(self) -> None:
        """Closes the HTTP connections (not a client passed in as http_client) and the gRPC client."""
        grpc, self._grpc = self._grpc, None
        if grpc is not None:
            grpc.close()
        self._transport.close()

    def __enter__(self) -> SpooledClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSpooledClient(_ClientBase):
    """asyncio client: the same resources and arguments as SpooledClient, every call awaited.

    Use `async with AsyncSpooledClient(...) as client:` or `await client.close()`. `sleep` must
    be a coroutine function when injected; `http_client` an httpx.AsyncClient.
    """

    # Set by _wire_resources(ASYNC_RESOURCES); declared so type checkers see them.
    jobs: r.AsyncJobsResource
    queues: r.AsyncQueuesResource
    workers: r.AsyncWorkersResource
    schedules: r.AsyncSchedulesResource
    workflows: r.AsyncWorkflowsResource
    webhooks: r.AsyncWebhooksResource
    ingest: r.AsyncIngestResource
    api_keys: r.AsyncApiKeysResource
    organizations: r.AsyncOrganizationsResource
    auth: r.AsyncAuthResource
    health: r.AsyncHealthResource
    metrics: r.AsyncMetricsResource
    dashboard: r.AsyncDashboardResource
    admin: r.AsyncAdminResource
    billing: r.AsyncBillingResource

    def __init__(self, api_key: str | None = None, *, access_token: str | None = None,
                 refresh_token: str | None = None, admin_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, connect_timeout: float | None = None,
                 max_retries: int | None = None, retry: RetryConfig | None = None,
                 headers: dict[str, str] | None = None,
                 user_agent: str | None = None, use_jwt: bool = False, auto_refresh_token: bool = True,
                 circuit_breaker: CircuitBreakerConfig | bool | None = None,
                 http_client: httpx.AsyncClient | None = None, clock: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] | None = None, random: Callable[[], float] | None = None,
                 sleep: Callable[[float], Any] | None = None, ws_url: str | None = None, debug: bool = False,
                 config: SpooledClientConfig | None = None):
        s = self._remember(dict(
            api_key=api_key, access_token=access_token, refresh_token=refresh_token, admin_key=admin_key,
            base_url=base_url, timeout=timeout, connect_timeout=connect_timeout, max_retries=max_retries,
            retry=retry, headers=headers, user_agent=user_agent, use_jwt=use_jwt,
            auto_refresh_token=auto_refresh_token, circuit_breaker=circuit_breaker, ws_url=ws_url, debug=debug,
            http_client=http_client, clock=clock, monotonic=monotonic, random=random, sleep=sleep), config)
        self._configure_from(s)
        kwargs: dict[str, Any] = {"sleep": s["sleep"]} if s["sleep"] is not None else {}
        self._transport = AsyncTransport(self._options, self._creds, http_client=s["http_client"], **kwargs)
        self._wire_resources(ASYNC_RESOURCES)

    async def get_jwt_token(self, *, force_refresh: bool = False) -> str:
        """See SpooledClient.get_jwt_token."""
        if self._creds.uses_jwt:
            if force_refresh:
                await self._transport.renew(stale=self._creds.access_token)
            token = await self._transport.bearer()
            assert token is not None
            return token
        cached = self._cached_jwt(force_refresh)
        if cached is not None:
            return cached
        if self._creds.api_key is None:
            raise ValueError("get_jwt_token needs an api_key or access_token")
        return self._remember_jwt(await self.auth.login({"api_key": self._creds.api_key}))

    async def realtime(self, type: str = "websocket", *, auto_reconnect: bool = True,  # noqa: A002
                       max_reconnect_attempts: int = 10, reconnect_delay: float = 1.0,
                       max_reconnect_delay: float = 30.0) -> SpooledRealtime:
        """See SpooledClient.realtime; returns the same (blocking) SpooledRealtime. For events in
        asyncio, use spooled.realtime.AsyncSSEClient / AsyncWebSocketClient (see the README)."""
        from .realtime import SpooledRealtime

        token: str | None = self._creds.api_key
        provider: Callable[[], str] | None = None
        if self._creds.uses_jwt:
            token = await self.get_jwt_token()
            loop = asyncio.get_running_loop()

            def mint() -> str:
                # Runs on the realtime thread; the token is minted on the loop this client lives on.
                return asyncio.run_coroutine_threadsafe(self.get_jwt_token(), loop).result(
                    self._options.timeout * 2)
            provider = mint

        return SpooledRealtime(self._realtime_options(type, auto_reconnect, max_reconnect_attempts,
                                                      reconnect_delay, max_reconnect_delay, token, provider))

    async def close(self) -> None:
        """Closes the HTTP connections (not a client passed in as http_client) and the gRPC client."""
        grpc, self._grpc = self._grpc, None
        if grpc is not None:
            closed = grpc.close()
            if inspect.isawaitable(closed):
                await closed
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncSpooledClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def create_client(api_key: str | None = None, **kwargs: Any) -> SpooledClient:
    """Same as SpooledClient(api_key, **kwargs)."""
    return SpooledClient(api_key, **kwargs)


async def create_async_client(api_key: str | None = None, **kwargs: Any) -> AsyncSpooledClient:
    """Same as AsyncSpooledClient(api_key, **kwargs), for code that prefers to await a factory."""
    return AsyncSpooledClient(api_key, **kwargs)
