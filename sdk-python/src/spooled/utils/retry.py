"""The client's retry policy (see `spooled._retry`), for retrying calls of your own.

    job = with_retry(lambda: client.jobs.create({**params, "idempotency_key": "order-42"}))

The client already retries every request it sends; use these around work it cannot see
(several calls that must succeed together, or your own HTTP calls). The rules are the
client's: connection errors, timeouts, 408, 429 and 5xx (but 501) are retried; any other 4xx,
and exceptions that are not about reaching a server (a bug, an open circuit breaker), are not.
A failure that may have left the server acting is retried only for idempotent work; a 429 is
always retried, because the server refused it before doing anything.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import random as _random
import time
from typing import Any, Awaitable, Callable, TypeVar

from .._constants import RETRY_AFTER_CAP
from .._failures import describe
from .._retry import DEFAULT_RETRY, RetryConfig, backoff_delay, retry_delay

__all__ = ["with_retry", "with_retry_async", "calculate_delay", "should_retry", "RetryConfig"]

T = TypeVar("T")
#: Called before each retry with (the attempt that failed, its error, the seconds about to be waited).
OnRetry = Callable[[int, BaseException, float], None]


def _next_delay(error: BaseException, attempt: int, config: RetryConfig, idempotent: bool,
                random: Callable[[], float]) -> float | None:
    failure = describe(error)
    if failure is None:
        return None
    return retry_delay(attempt - 1, config.max_retries, status_code=failure.status_code,
                       connection_error=failure.connection_error, timeout=failure.timeout,
                       replay_safe=idempotent, retry_after=failure.retry_after, random=random, config=config)


def should_retry(error: BaseException, attempt: int, config: RetryConfig | None = None,
                 idempotent: bool = True) -> bool:
    """Whether the policy tries again after attempt number `attempt` (1 for the first call)
    failed with `error`.

    False once `attempt` exceeds `config.max_retries`, for errors the policy never retries (see
    the module docstring), for a non-idempotent call failing any way but 429, and for a
    Retry-After longer than the SDK waits out (60 s: the caller decides when to come back).
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    return _next_delay(error, attempt, config or DEFAULT_RETRY, idempotent, lambda: 0.0) is not None


def calculate_delay(attempt: int, config: RetryConfig | None = None, retry_after: float | None = None, *,
                    random: Callable[[], float] = _random.random) -> float:
    """Seconds to wait after attempt number `attempt` (1 for the first call) failed:
    base_delay x factor^(attempt-1), capped at max_delay, shortened by up to 25 % when
    `config.jitter`. A server's `retry_after` (seconds) is used instead, capped at 60 s.
    `random` returns floats in [0, 1) (injectable for tests)."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if retry_after is not None:
        return min(max(0.0, float(retry_after)), RETRY_AFTER_CAP)
    return backoff_delay(attempt - 1, random, config or DEFAULT_RETRY)


def with_retry(fn: Callable[[], Any], config: RetryConfig | None = None, on_retry: OnRetry | None = None,
               idempotent: bool = True, *, sleep: Callable[[float], Any] | None = None,
               random: Callable[[], float] = _random.random) -> Any:
    """Calls `fn()` and retries it per the policy; returns its result or raises its last error.

    `idempotent` says whether repeating `fn` is harmless (the default: say False for a write
    without an idempotency key). A coroutine function is accepted too: then this returns an
    awaitable (the same as `with_retry_async`). `sleep` and `random` are injectable for tests.
    """
    config = config or DEFAULT_RETRY
    if inspect.iscoroutinefunction(fn):
        return with_retry_async(fn, config, on_retry, idempotent, sleep=sleep, random=random)
    pause = sleep or time.sleep
    for attempt in itertools.count(1):
        try:
            result = fn()
            if attempt == 1 and inspect.isawaitable(result):
                # `lambda: async_client.jobs.get(id)`: a plain function handing back a coroutine.
                return with_retry_async(fn, config, on_retry, idempotent, sleep=sleep, random=random,
                                        _first=result)
            return result
        except Exception as exc:
            delay = _next_delay(exc, attempt, config, idempotent, random)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            pause(delay)
    raise AssertionError("unreachable")  # itertools.count never ends


async def with_retry_async(fn: Callable[[], Awaitable[T]], config: RetryConfig | None = None,
                           on_retry: OnRetry | None = None, idempotent: bool = True, *,
                           sleep: Callable[[float], Any] | None = None,
                           random: Callable[[], float] = _random.random,
                           _first: Awaitable[T] | None = None) -> T:
    """`with_retry` for a coroutine function: awaits `fn()` and waits with asyncio.sleep (or
    `sleep`, which may be a plain function or a coroutine function)."""
    config = config or DEFAULT_RETRY
    pause = sleep or asyncio.sleep
    for attempt in itertools.count(1):
        try:
            if attempt == 1 and _first is not None:
                return await _first  # already started by with_retry
            return await fn()
        except Exception as exc:
            delay = _next_delay(exc, attempt, config, idempotent, random)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            waited = pause(delay)
            if inspect.isawaitable(waited):
                await waited
    raise AssertionError("unreachable")
