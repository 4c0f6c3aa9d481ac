"""The retry policy: which failures are retried, and how long to wait before the next attempt.

Everything here is pure: time and randomness come in as arguments, so the whole policy is
tested with tables and never sleeps. The transport asks `retry_delay` after every failed
attempt and either waits the answer or gives up.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import Callable

from ._constants import (DEFAULT_MAX_RETRIES, INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, RETRY_AFTER_CAP, RETRY_FACTOR,
                         RETRY_JITTER)

# 501 Not Implemented is permanent (a feature the deployment does not offer, such as billing on
# a self-hosted server): retrying it only delays the answer.
_PERMANENT_5XX = frozenset({501})


@dataclass(frozen=True)
class RetryConfig:
    """How many times a client retries and how long it waits in between.

    The defaults are the policy shared by every Spooled SDK (`_constants.py`); change them only
    when you have a reason (tests, latency budgets). `base_delay` is the wait before the first
    retry, multiplied by `factor` (> 1) for each further one and capped at `max_delay`
    (seconds). `jitter` shortens each wait by up to RETRY_JITTER (25 %) at random so that many
    clients do not retry in step; it never lengthens one, so `max_delay` stays a real cap (the
    reference SDK adds 0-25 % instead).
    Which failures are retried is not configurable (see `should_retry`). Invalid values raise
    ValueError when constructed.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    base_delay: float = INITIAL_RETRY_DELAY
    max_delay: float = MAX_RETRY_DELAY
    factor: float = RETRY_FACTOR
    jitter: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool) \
                or not 0 <= self.max_retries <= 10:
            raise ValueError("max_retries must be an integer from 0 to 10")
        if not self.base_delay > 0:
            raise ValueError("base_delay must be > 0 seconds")
        if not self.max_delay >= self.base_delay:
            raise ValueError("max_delay must be >= base_delay")
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or not self.factor > 1:
            raise ValueError("factor must be a number > 1")


DEFAULT_RETRY = RetryConfig()


def is_server_failure(status_code: int) -> bool:
    """Whether a status is the server in trouble (what the circuit breaker counts): 408 and
    5xx but 501, which is a permanent answer."""
    return status_code == 408 or (500 <= status_code <= 599 and status_code not in _PERMANENT_5XX)


def should_retry(status_code: int | None, *, connection_error: bool = False, timeout: bool = False,
                 replay_safe: bool = True) -> bool:
    """Whether a failed attempt may be tried again.

    `status_code` is None when no response arrived (then `connection_error` or `timeout` says
    why). Retried: connection errors, timeouts, 408, 429 and 5xx. Never retried: any other 4xx,
    in particular 409 (a conflict or a lost lease does not heal by repeating the call).
    `replay_safe` is False for requests that could do their work twice if re-sent after the
    server may have acted (for example creating an API key); those are only retried on 429,
    which the server answers before doing anything.
    """
    if status_code == 429:
        return True
    if not replay_safe:
        return False
    if status_code is None:
        return connection_error or timeout
    if status_code == 408:
        return True
    return 500 <= status_code <= 599 and status_code not in _PERMANENT_5XX


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.

    `now` is the current Unix time (injected so the date form is testable). Returns None when
    the header is missing or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(retries_done: int, random: Callable[[], float], config: RetryConfig = DEFAULT_RETRY) -> float:
    """Jittered exponential backoff after `retries_done` retries (0 before the first retry):
    base_delay * factor**retries_done, capped at max_delay.

    `random` returns a float in [0, 1); with `config.jitter` the delay loses up to RETRY_JITTER
    of itself.
    """
    try:
        base = min(config.base_delay * (config.factor ** retries_done), config.max_delay)
    except OverflowError:  # a huge retry number: far past the cap anyway
        base = config.max_delay
    return base * (1.0 - RETRY_JITTER * random()) if config.jitter else base


def retry_delay(retries_done: int, max_retries: int, *, status_code: int | None,
                connection_error: bool = False, timeout: bool = False, replay_safe: bool = True,
                retry_after: float | None = None, random: Callable[[], float],
                config: RetryConfig = DEFAULT_RETRY) -> float | None:
    """Seconds to wait before the next attempt, or None to give up and raise.

    A Retry-After from the server wins over the backoff when it is within RETRY_AFTER_CAP; a
    longer one gives up at once (the error carries it for the caller). `config` shapes the
    backoff; `max_retries` is passed apart because a single call may override it.
    """
    if retries_done >= max_retries:
        return None
    if not should_retry(status_code, connection_error=connection_error, timeout=timeout,
                        replay_safe=replay_safe):
        return None
    if retry_after is not None:
        return retry_after if retry_after <= RETRY_AFTER_CAP else None
    return backoff_delay(retries_done, random, config)
