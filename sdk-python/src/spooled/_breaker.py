"""A small circuit breaker: stop calling a server that keeps failing, probe it after a pause.

CLOSED: calls flow; failures are counted, and `failure_threshold` of them opens the circuit. A
success clears the count (so only an unbroken run of failures opens it), and failures older
than `window_seconds` stop counting, so a trickle of failures over hours never adds up. OPEN:
calls are refused (the transport raises CircuitBreakerOpenError) until `timeout` seconds have
passed. HALF_OPEN: calls flow again as trials; `success_threshold` successes close the
circuit, any failure opens it again. Both clocks are injected: `clock` (monotonic) runs the
state machine, `wall_clock` (Unix time) only stamps `last_failure_time` for the stats.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, TypeVar

from ._constants import (BREAKER_FAILURE_THRESHOLD, BREAKER_SUCCESS_THRESHOLD, BREAKER_TIMEOUT,
                         BREAKER_WINDOW_SECONDS)
from ._failures import counts_against_server
from .errors import CircuitBreakerOpenError

T = TypeVar("T")


class CircuitState(str, Enum):
    """Where the breaker stands; the values are the state strings every Spooled SDK reports."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """Breaker settings; invalid values raise ValueError when constructed.

    `timeout` is the seconds the breaker stays OPEN before letting trial calls through.
    `window_seconds` is this SDK's extension: failures older than that no longer count.
    """

    enabled: bool = True
    failure_threshold: int = BREAKER_FAILURE_THRESHOLD
    success_threshold: int = BREAKER_SUCCESS_THRESHOLD
    timeout: float = BREAKER_TIMEOUT
    window_seconds: float = BREAKER_WINDOW_SECONDS

    def __post_init__(self) -> None:
        if not isinstance(self.failure_threshold, int) or self.failure_threshold < 1:
            raise ValueError("failure_threshold must be an integer >= 1")
        if not isinstance(self.success_threshold, int) or self.success_threshold < 1:
            raise ValueError("success_threshold must be an integer >= 1")
        if not self.timeout > 0:
            raise ValueError("timeout must be > 0 seconds")
        if not self.window_seconds > 0:
            raise ValueError("window_seconds must be > 0 seconds")


class CircuitBreaker:
    """Thread-safe breaker; `allow` before a call, `record_success`/`record_failure` after it."""

    def __init__(self, config: CircuitBreakerConfig | None = None, *,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time):
        self.config = config or CircuitBreakerConfig()
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures: deque[float] = deque()  # monotonic times of the failures counted while CLOSED
        self._failures_when_opened = 0          # what failure_count reads while OPEN or HALF_OPEN
        self._opened_at = 0.0
        self._trial_successes = 0
        self._last_failure_time: float | None = None

    @property
    def state(self) -> CircuitState:
        """The current state (an open breaker whose pause is over reads as half-open)."""
        with self._lock:
            return self._current(self._clock())

    def allow(self) -> bool:
        """Whether a call may go out now."""
        if not self.config.enabled:
            return True
        with self._lock:
            return self._current(self._clock()) is not CircuitState.OPEN

    def record_success(self) -> None:
        """The server answered (any status that is not a server failure)."""
        if not self.config.enabled:
            return
        with self._lock:
            state = self._current(self._clock())
            if state is CircuitState.HALF_OPEN:
                self._trial_successes += 1
                if self._trial_successes >= self.config.success_threshold:
                    self._close()
            elif state is CircuitState.CLOSED:
                self._failures.clear()

    def record_failure(self, error: BaseException | None = None) -> None:
        """A connection error, timeout, 408 or 5xx.

        `error` is optional: an SDK error that says nothing about the server's health (a 4xx, a
        429, an open breaker) is ignored, so callers may pass whatever their call raised.
        """
        if not self.config.enabled:
            return
        if error is not None and not counts_against_server(error):
            return
        with self._lock:
            now = self._clock()
            self._last_failure_time = self._wall_clock()
            state = self._current(now)
            if state is CircuitState.HALF_OPEN:
                self._open(now, self._failures_when_opened + 1)
            elif state is CircuitState.CLOSED:
                self._failures.append(now)
                self._trim(now)
                if len(self._failures) >= self.config.failure_threshold:
                    self._open(now, len(self._failures))

    def reset(self) -> None:
        """Back to CLOSED, forgetting every failure."""
        with self._lock:
            self._close()
            self._last_failure_time = None

    def stats(self) -> dict[str, Any]:
        """State, counters and settings, in the shape `client.get_circuit_breaker_stats()` returns.

        `failure_count`: failures counting toward opening (while OPEN or HALF_OPEN: those that
        opened it). `success_count`: successful trial calls while HALF_OPEN. `last_failure_time`:
        Unix time of the last recorded failure, or None.
        """
        with self._lock:
            now = self._clock()
            state = self._current(now)
            if state is CircuitState.CLOSED:
                self._trim(now)
                failures = len(self._failures)
            else:
                failures = self._failures_when_opened
            c = self.config
            return {"state": state.value, "failure_count": failures, "success_count": self._trial_successes,
                    "last_failure_time": self._last_failure_time,
                    "config": {"enabled": c.enabled, "failure_threshold": c.failure_threshold,
                               "success_threshold": c.success_threshold, "timeout": c.timeout}}

    # -- the reference SDK's names, so code written for it keeps working --
    def is_allowed(self) -> bool:
        return self.allow()

    def get_state(self) -> CircuitState:
        return self.state

    def get_stats(self) -> dict[str, Any]:
        return self.stats()

    def execute(self, fn: Callable[[], T]) -> T:
        """Calls `fn` through the breaker: refused with CircuitBreakerOpenError while open;
        its outcome is recorded (a failure only if it says the server is in trouble)."""
        if not self.allow():
            raise CircuitBreakerOpenError()
        try:
            result = fn()
        except Exception as exc:
            self.record_failure(exc)
            raise
        self.record_success()
        return result

    # -- internals (called with the lock held) --
    def _current(self, now: float) -> CircuitState:
        if self._state is CircuitState.OPEN and now - self._opened_at >= self.config.timeout:
            self._state = CircuitState.HALF_OPEN
            self._trial_successes = 0
        return self._state

    def _trim(self, now: float) -> None:
        horizon = now - self.config.window_seconds
        while self._failures and self._failures[0] <= horizon:
            self._failures.popleft()

    def _open(self, now: float, failures: int) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = now
        self._failures.clear()
        self._failures_when_opened = failures
        self._trial_successes = 0

    def _close(self) -> None:
        self._state = CircuitState.CLOSED
        self._failures.clear()
        self._failures_when_opened = 0
        self._trial_successes = 0
