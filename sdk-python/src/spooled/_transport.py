"""The SDK's one HTTP seam: auth headers, timeouts, retries, the circuit breaker, error mapping.

Resources never touch httpx; they build a `Call` and pass it to `SyncTransport.call` or
`AsyncTransport.call`. What happens after each attempt is decided once, in `_Attempts`,
so the sync and async drivers below only send, sleep and loop.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, TypeVar

import httpx

from ._auth import Credentials
from ._breaker import CircuitBreaker
from ._constants import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT
from ._retry import DEFAULT_RETRY, RetryConfig, is_server_failure, parse_retry_after, retry_delay
from ._version import __version__
from ._wire import Call, model_reader, path
from .errors import (AuthenticationError, CircuitBreakerOpenError, RateLimitError, error_from_request_error,
                     error_from_response)
from .generated.models import AuthTokens, RefreshResponse

T = TypeVar("T")
log = logging.getLogger("spooled")


@dataclass
class TransportOptions:
    """Everything the transport needs besides credentials. Clock and randomness are injectable:
    `clock` is Unix time (JWT expiry, Retry-After dates), `random` returns floats in [0, 1)."""

    base_url: str
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    retry: RetryConfig = DEFAULT_RETRY
    headers: dict[str, str] = field(default_factory=dict)
    user_agent: str = f"spooled-python/{__version__}"
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    clock: Callable[[], float] = time.time
    random: Callable[[], float] = _random.random

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if not self.timeout > 0 or not self.connect_timeout > 0:
            raise ValueError("timeouts must be > 0 seconds")


@dataclass
class _Next:
    action: Literal["return", "retry", "renew", "raise"]
    delay: float = 0.0
    error: BaseException | None = None


class _Attempts:
    """The fate of one logical call, attempt by attempt."""

    def __init__(self, options: TransportOptions, call: Call[Any]):
        self.options = options
        self.call = call
        self.request_id = call.headers.get("X-Request-Id") or str(uuid.uuid4())
        self.retries_done = 0
        self.max_retries = options.retry.max_retries if call.max_retries is None else call.max_retries
        self.renewed = False

    def before(self) -> None:
        if not self.options.breaker.allow():
            raise CircuitBreakerOpenError()

    def after_response(self, response: httpx.Response, creds: Credentials) -> _Next:
        status = response.status_code
        breaker = self.options.breaker
        if status < 400:
            breaker.record_success()
            return _Next("return")
        if (status == 401 and self.call.auth == "bearer" and creds.uses_jwt and creds.can_renew
                and not self.renewed):
            self.renewed = True  # one renewal and replay per call; a second 401 is real
            breaker.record_success()
            return _Next("renew")
        # 408 and 5xx (but 501) are server trouble for the breaker; other answers show it healthy.
        (breaker.record_failure if is_server_failure(status) else breaker.record_success)()
        now = self.options.clock()
        error = error_from_response(response, now=now)
        if isinstance(error, RateLimitError):
            retry_after = error.retry_after
        else:
            retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        delay = retry_delay(self.retries_done, self.max_retries, status_code=status,
                            replay_safe=self.call.safe_to_replay, retry_after=retry_after,
                            random=self.options.random, config=self.options.retry)
        return self._retry_or_raise(delay, error)

    def after_exception(self, exc: httpx.RequestError) -> _Next:
        self.options.breaker.record_failure()
        timed_out = isinstance(exc, httpx.TimeoutException)
        # These fail before the request leaves, so even a non-idempotent call may be re-sent.
        unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        error = error_from_request_error(exc, f"{self.call.method} {self.call.path}",
                                         timeout=self.call.timeout or self.options.timeout,
                                         request_id=self.request_id)
        transport_failure = isinstance(exc, httpx.TransportError)
        delay = retry_delay(self.retries_done, self.max_retries, status_code=None,
                            connection_error=transport_failure and not timed_out, timeout=timed_out,
                            replay_safe=self.call.safe_to_replay or unsent, random=self.options.random,
                            config=self.options.retry)
        return self._retry_or_raise(delay, error)

    def _retry_or_raise(self, delay: float | None, error: Exception) -> _Next:
        if delay is None:
            return _Next("raise", error=error)
        self.retries_done += 1
        log.debug("spooled: retrying %s %s in %.2fs (retry %d, %s)", self.call.method, self.call.path,
                  delay, self.retries_done, error)
        return _Next("retry", delay=delay)


class _TransportBase:
    def __init__(self, options: TransportOptions, creds: Credentials):
        self.options = options
        self.creds = creds

    def _headers(self, call: Call[Any], request_id: str, bearer: str | None) -> dict[str, str]:
        headers = {"User-Agent": self.options.user_agent, "Accept": "application/json",
                   **self.options.headers, **call.headers, "X-Request-Id": request_id}
        # A missing credential is not refused here: the request goes out without it and the
        # server's 401 becomes AuthenticationError, exactly as for a wrong credential.
        if call.auth in ("admin", "public") and self.creds.admin_key is not None:
            headers["X-Admin-Key"] = self.creds.admin_key
        elif call.auth == "bearer" and bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        return headers

    def _timeout(self, call: Call[Any]) -> httpx.Timeout:
        total = call.timeout or self.options.timeout
        return httpx.Timeout(total, connect=min(self.options.connect_timeout, total))

    def _build(self, client: httpx.Client | httpx.AsyncClient, call: Call[Any], request_id: str,
               bearer: str | None) -> httpx.Request:
        return client.build_request(call.method, self.options.base_url + call.path, json=call.body,
                                    params=call.query, headers=self._headers(call, request_id, bearer),
                                    timeout=self._timeout(call))

    def _login_call(self) -> Call[AuthTokens]:
        return Call("POST", path("/auth/login"), model_reader(AuthTokens),
                    body={"api_key": self.creds.api_key}, auth="none", replay_safe=True)

    def _refresh_call(self) -> Call[RefreshResponse]:
        return Call("POST", path("/auth/refresh"), model_reader(RefreshResponse),
                    body={"refresh_token": self.creds.refresh_token}, auth="none", replay_safe=True)


class SyncTransport(_TransportBase):
    """Blocking transport over one httpx.Client (thread-safe)."""

    def __init__(self, options: TransportOptions, creds: Credentials, *, http_client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        super().__init__(options, creds)
        self._owns_client = http_client is None
        self._http = http_client or httpx.Client()
        self._sleep = sleep
        self._lock = threading.Lock()

    def call(self, call: Call[T]) -> T:
        """Sends `call` (retrying as the policy allows) and reads the answer."""
        return call.read(self.send(call))

    def send(self, call: Call[Any]) -> httpx.Response:
        """Sends `call`; returns the 2xx response or raises the mapped error."""
        attempts = _Attempts(self.options, call)
        while True:
            attempts.before()
            bearer = self.bearer() if call.auth == "bearer" else None
            try:
                response = self._http.send(self._build(self._http, call, attempts.request_id, bearer))
            except httpx.RequestError as exc:
                step = attempts.after_exception(exc)
            else:
                step = attempts.after_response(response, self.creds)
            if step.action == "return":
                return response
            if step.action == "raise":
                raise step.error  # type: ignore[misc]
            if step.action == "renew":
                self.renew(stale=bearer)
            else:
                self._sleep(step.delay)

    def bearer(self) -> str | None:
        """The Authorization token, renewing the JWT first when it is about to expire."""
        if self.creds.needs_renewal(self.options.clock()):
            self.renew(stale=self.creds.access_token)
        return self.creds.bearer()

    def renew(self, stale: str | None) -> None:
        """Gets a new access token unless another thread already replaced `stale`."""
        with self._lock:
            if self.creds.access_token != stale:
                return
            if self.creds.refresh_token is not None:
                try:
                    self.creds.apply(self.call(self._refresh_call()), self.options.clock())
                    return
                except AuthenticationError:
                    if self.creds.api_key is None:
                        raise
            if self.creds.api_key is not None:
                self.creds.apply(self.call(self._login_call()), self.options.clock())

    def close(self) -> None:
        if self._owns_client:
            self._http.close()


class AsyncTransport(_TransportBase):
    """asyncio transport over one httpx.AsyncClient."""

    def __init__(self, options: TransportOptions, creds: Credentials, *,
                 http_client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep):
        super().__init__(options, creds)
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def call(self, call: Call[T]) -> T:
        """Sends `call` (retrying as the policy allows) and reads the answer."""
        return call.read(await self.send(call))

    async def send(self, call: Call[Any]) -> httpx.Response:
        """Sends `call`; returns the 2xx response or raises the mapped error."""
        attempts = _Attempts(self.options, call)
        while True:
            attempts.before()
            bearer = await self.bearer() if call.auth == "bearer" else None
            try:
                response = await self._http.send(self._build(self._http, call, attempts.request_id, bearer))
            except httpx.RequestError as exc:
                step = attempts.after_exception(exc)
            else:
                step = attempts.after_response(response, self.creds)
            if step.action == "return":
                return response
            if step.action == "raise":
                raise step.error  # type: ignore[misc]
            if step.action == "renew":
                await self.renew(stale=bearer)
            else:
                await self._sleep(step.delay)

    async def bearer(self) -> str | None:
        """The Authorization token, renewing the JWT first when it is about to expire."""
        if self.creds.needs_renewal(self.options.clock()):
            await self.renew(stale=self.creds.access_token)
        return self.creds.bearer()

    async def renew(self, stale: str | None) -> None:
        """Gets a new access token unless another task already replaced `stale`."""
        async with self._lock:
            if self.creds.access_token != stale:
                return
            if self.creds.refresh_token is not None:
                try:
                    self.creds.apply(await self.call(self._refresh_call()), self.options.clock())
                    return
                except AuthenticationError:
                    if self.creds.api_key is None:
                        raise
            if self.creds.api_key is not None:
                self.creds.apply(await self.call(self._login_call()), self.options.clock())

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()
