"""SpooledClient and AsyncSpooledClient: credentials and settings in, resources out.

    client = SpooledClient(api_key="sp_test_...", base_url="http://localhost:8080")
    job = client.jobs.create({"queue_name": "emails", "payload": {"to": "a@example.com"}})
    print(job.id)
"""

from __future__ import annotations

import dataclasses
import random as _random
import time
from typing import Any, Callable

import httpx

from ._auth import Credentials, jwt_expiry
from ._breaker import CircuitBreaker, CircuitBreakerConfig
from ._constants import DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, JWT_REFRESH_MARGIN
from ._retry import RetryConfig
from ._transport import AsyncTransport, SyncTransport, TransportOptions
from ._version import __version__
from .resources import (AdminResource, ApiKeysResource, AsyncHealthResource, AsyncJobsResource, AuthResource,
                        BillingResource, DashboardResource, HealthResource, IngestResource, JobsResource,
                        MetricsResource, OrganizationsResource, QueuesResource, SchedulesResource,
                        WebhooksResource, WorkersResource, WorkflowsResource)

__all__ = ["SpooledClient", "AsyncSpooledClient"]


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
            breaker=CircuitBreaker(breaker_config, clock=monotonic or time.monotonic),
            clock=clock or time.time, random=random or _random.random)
        self._jwt: tuple[str, float | None] | None = None

    def _wire_resources(self, jobs: Any, health: Any) -> None:
        t = self._transport
        self.jobs = jobs
        self.queues = QueuesResource(t)
        self.workers = WorkersResource(t)
        self.schedules = SchedulesResource(t)
        self.workflows = WorkflowsResource(t)
        self.webhooks = WebhooksResource(t)
        self.ingest = IngestResource(t)
        self.api_keys = ApiKeysResource(t)
        self.organizations = OrganizationsResource(t)
        self.auth = AuthResource(t)
        self.health = health
        self.metrics = MetricsResource(t)
        self.dashboard = DashboardResource(t)
        self.admin = AdminResource(t)
        self.billing = BillingResource(t)

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        return self._options.base_url

    @property
    def api_key(self) -> str | None:
        """The API key the client was built with, if any."""
        return self._creds.api_key

    def get_circuit_breaker_stats(self) -> dict:
        """The breaker's state and counters."""
        return self._options.breaker.stats()

    def reset_circuit_breaker(self) -> None:
        """Closes the breaker and forgets past failures."""
        self._options.breaker.reset()

    def _cached_jwt(self, force: bool) -> str | None:
        if force or self._jwt is None:
            return None
        token, expires_at = self._jwt
        if expires_at is not None and self._options.clock() >= expires_at - JWT_REFRESH_MARGIN:
            return None
        return token

    def _remember_jwt(self, tokens: Any) -> str:
        expires = jwt_expiry(tokens.access_token) or self._options.clock() + float(tokens.expires_in)
        self._jwt = (tokens.access_token, expires)
        return tokens.access_token


class SpooledClient(_ClientBase):
    """Blocking client. Thread-safe; close it (or use `with`) to release connections.

    Credentials: `api_key` (sent as a Bearer token), or `access_token` (+ `refresh_token`) JWTs;
    `use_jwt=True` exchanges the API key for a JWT and renews it before it expires.
    `admin_key` enables `client.admin`. With no credential at all only the public routes work.
    Tuning: `timeout`, `connect_timeout` (seconds), `max_retries` (0-10; shorthand that overrides
    `retry.max_retries`), `retry` (a RetryConfig: retries and backoff), `circuit_breaker` (a
    CircuitBreakerConfig, or False to disable),
    `headers`, `user_agent`, `http_client` (your own httpx.Client). Tests may inject `clock`
    (Unix time), `monotonic` (breaker clock), `random` and `sleep`.
    """

    def __init__(self, api_key: str | None = None, *, access_token: str | None = None,
                 refresh_token: str | None = None, admin_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, connect_timeout: float | None = None,
                 max_retries: int | None = None, retry: RetryConfig | None = None,
                 headers: dict[str, str] | None = None,
                 user_agent: str | None = None, use_jwt: bool = False, auto_refresh_token: bool = True,
                 circuit_breaker: CircuitBreakerConfig | bool | None = None,
                 http_client: httpx.Client | None = None, clock: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] | None = None, random: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None):
        self._configure(api_key, access_token, refresh_token, admin_key, base_url, timeout, connect_timeout,
                        max_retries, retry, headers, user_agent, use_jwt, auto_refresh_token, circuit_breaker,
                        clock, monotonic, random)
        self._transport = SyncTransport(self._options, self._creds, http_client=http_client,
                                        sleep=sleep or time.sleep)
        self._wire_resources(JobsResource(self._transport), HealthResource(self._transport))

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

    def close(self) -> None:
        """Closes the HTTP connections (not a client passed in as http_client)."""
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

    def __init__(self, api_key: str | None = None, *, access_token: str | None = None,
                 refresh_token: str | None = None, admin_key: str | None = None, base_url: str | None = None,
                 timeout: float | None = None, connect_timeout: float | None = None,
                 max_retries: int | None = None, retry: RetryConfig | None = None,
                 headers: dict[str, str] | None = None,
                 user_agent: str | None = None, use_jwt: bool = False, auto_refresh_token: bool = True,
                 circuit_breaker: CircuitBreakerConfig | bool | None = None,
                 http_client: httpx.AsyncClient | None = None, clock: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] | None = None, random: Callable[[], float] | None = None,
                 sleep: Callable[[float], Any] | None = None):
        self._configure(api_key, access_token, refresh_token, admin_key, base_url, timeout, connect_timeout,
                        max_retries, retry, headers, user_agent, use_jwt, auto_refresh_token, circuit_breaker,
                        clock, monotonic, random)
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self._transport = AsyncTransport(self._options, self._creds, http_client=http_client, **kwargs)
        self._wire_resources(AsyncJobsResource(self._transport), AsyncHealthResource(self._transport))

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

    async def close(self) -> None:
        """Closes the HTTP connections (not a client passed in as http_client)."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncSpooledClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
