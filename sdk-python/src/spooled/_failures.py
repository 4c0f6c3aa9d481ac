"""What a raised exception means to the retry policy and the circuit breaker.

The transport sees raw responses and httpx errors; code outside it (`spooled.utils.with_retry`,
a CircuitBreaker guarding the caller's own calls) sees exceptions. This module translates an
exception back into the inputs of `_retry.should_retry`, so both paths apply one policy.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

import httpx

from ._retry import is_server_failure
from .errors import APIError, NetworkError, RateLimitError, SpooledError


@dataclass(frozen=True)
class Failure:
    """A failed attempt in the policy's terms: an error status, or no answer and why."""

    status_code: int | None = None
    connection_error: bool = False
    timeout: bool = False
    retry_after: float | None = None


def describe(error: BaseException) -> Failure | None:
    """The failure an exception reports, or None when it is not about reaching the server (a
    bug in the caller, a refused call of an open breaker, a body that breaks the contract)."""
    if isinstance(error, RateLimitError):
        return Failure(429, retry_after=error.retry_after)
    if isinstance(error, APIError):
        return Failure(error.status_code)
    # Spooled's TimeoutError is also a builtins.TimeoutError; httpx's timeouts are TransportErrors.
    if isinstance(error, (builtins.TimeoutError, httpx.TimeoutException)):
        return Failure(timeout=True)
    if isinstance(error, (NetworkError, httpx.TransportError, ConnectionError)):
        return Failure(connection_error=True)
    return None


def counts_against_server(error: BaseException) -> bool:
    """Whether a breaker should count `error` as the server failing: no answer, 408 or 5xx
    (but 501) do; other SDK errors (4xx, 429, an open breaker) do not. An exception from outside
    the SDK that does not name a network problem counts, since the caller reported it as one."""
    failure = describe(error)
    if failure is None:
        return not isinstance(error, SpooledError)
    if failure.status_code is None:
        return True
    return is_server_failure(failure.status_code)
