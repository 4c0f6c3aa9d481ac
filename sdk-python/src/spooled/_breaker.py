"""A small circuit breaker: stop calling a server that keeps failing, probe it after a pause.

CLOSED: calls flow; failures are counted in a sliding time window, and reaching the threshold
opens the circuit. OPEN: calls are refused (the transport raises CircuitBreakerOpenError) until
`open_seconds` have passed. HALF_OPEN: calls flow again as trials; `success_threshold`
successes close the circuit, any failure opens it again. The clock is injected.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from ._constants import (BREAKER_FAILURE_THRESHOLD, BREAKER_OPEN_SECONDS, BREAKER_SUCCESS_THRESHOLD,
                         BREAKER_WINDOW_SECONDS)


class CircuitState(str, Enum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """Breaker settings; invalid values raise ValueError when constructed."""

    enabled: bool = True
    failure_threshold: int = BREAKER_FAILURE_THRESHOLD
    window_seconds: float = BREAKER_WINDOW_SECONDS
    open_seconds: float = BREAKER_OPEN_SECONDS
    success_threshold: int = BREAKER_SUCCESS_THRESHOLD

    def __post_init__(self) -> None:
        if not isinstance(self.failure_threshold, int) or self.failure_threshold < 1:
            raise ValueError("failure_threshold must be an integer >= 1")
        if not isinstance(self.success_threshold, int) or self.success_threshold < 1:
            raise ValueError("success_threshold must be an integer >= 1")
        if not self.window_seconds > 0:
            raise ValueError("window_seconds must be > 0")
        if not self.open_seconds > 0:
            raise ValueError("open_seconds must be > 0")


class CircuitBreaker:
    """Thread-safe breaker; `allow` before a call, `record_success`/`record_failure` after it."""

    def __init__(self, config: CircuitBreakerConfig | None = None, *,
                 clock: Callable[[], float] = time.monotonic):
        self.config = config or CircuitBreakerConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._trial_successes = 0

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
        with self._lock:
            if self._current(self._clock()) is CircuitState.HALF_OPEN:
                self._trial_successes += 1
                if self._trial_successes >= self.config.success_threshold:
                    self._close()

    def record_failure(self) -> None:
        """A connection error, timeout, 408 or 5xx."""
        with self._lock:
            now = self._clock()
            state = self._current(now)
            if state is CircuitState.HALF_OPEN:
                self._open(now)
            elif state is CircuitState.CLOSED:
                self._failures.append(now)
                self._trim(now)
                if len(self._failures) >= self.config.failure_threshold:
                    self._open(now)

    def reset(self) -> None:
        """Back to CLOSED with no recorded failures."""
        with self._lock:
            self._close()

    def stats(self) -> dict:
        """State and counters, for logging and debugging."""
        with self._lock:
            now = self._clock()
            state = self._current(now)
            self._trim(now)
            return {"state": state.value, "failures_in_window": len(self._failures),
                    "trial_successes": self._trial_successes, "enabled": self.config.enabled}

    # -- internals (called with the lock held) --
    def _current(self, now: float) -> CircuitState:
        if self._state is CircuitState.OPEN and now - self._opened_at >= self.config.open_seconds:
            self._state = CircuitState.HALF_OPEN
            self._trial_successes = 0
        return self._state

    def _trim(self, now: float) -> None:
        horizon = now - self.config.window_seconds
        while self._failures and self._failures[0] <= horizon:
            self._failures.popleft()

    def _open(self, now: float) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = now
        self._failures.clear()
        self._trial_successes = 0

    def _close(self) -> None:
        self._state = CircuitState.CLOSED
        self._failures.clear()
        self._trial_successes = 0
