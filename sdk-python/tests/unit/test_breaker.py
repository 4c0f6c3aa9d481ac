"""The circuit breaker with injected clocks (monotonic for the states, wall for the stats)."""

from __future__ import annotations

import httpx
import pytest

import spooled
from spooled import CircuitBreaker, CircuitBreakerConfig, CircuitState
from spooled._constants import BREAKER_FAILURE_THRESHOLD, BREAKER_SUCCESS_THRESHOLD, BREAKER_TIMEOUT

WALL = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(**kw):
    clock = Clock()
    config = CircuitBreakerConfig(**{"failure_threshold": 3, "window_seconds": 10, "timeout": 5,
                                     "success_threshold": 2, **kw})
    return CircuitBreaker(config, clock=clock, wall_clock=lambda: WALL + clock.now), clock


def test_defaults_are_the_reference_sdks():
    config = CircuitBreakerConfig()
    assert (config.enabled, config.failure_threshold, config.success_threshold, config.timeout) == (True, 5, 3, 30.0)
    assert (BREAKER_FAILURE_THRESHOLD, BREAKER_SUCCESS_THRESHOLD, BREAKER_TIMEOUT) == (5, 3, 30.0)
    assert [s.value for s in CircuitState] == ["CLOSED", "OPEN", "HALF_OPEN"]


@pytest.mark.parametrize("kwargs", [
    {"failure_threshold": 0}, {"failure_threshold": 1.5}, {"success_threshold": 0}, {"window_seconds": 0},
    {"timeout": -1}, {"timeout": 0},
])
def test_invalid_options_are_rejected(kwargs):
    with pytest.raises(ValueError):
        CircuitBreakerConfig(**kwargs)


def test_opens_after_threshold_failures_in_a_row():
    breaker, clock = make()
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()


def test_failures_that_slid_out_of_the_window_do_not_count():
    breaker, clock = make()
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 10.0  # both now exactly one window old
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.stats()["failure_count"] == 1


def test_a_success_while_closed_clears_the_count():
    breaker, _ = make()
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    assert breaker.stats()["failure_count"] == 0
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_half_open_after_the_timeout_then_closes_after_enough_successes():
    breaker, clock = make()
    for _ in range(3):
        breaker.record_failure()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is CircuitState.HALF_OPEN and breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.stats()["success_count"] == 1
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert (breaker.stats()["failure_count"], breaker.stats()["success_count"]) == (0, 0)


def test_a_failure_while_half_open_opens_again_for_a_full_timeout():
    breaker, clock = make()
    for _ in range(3):
        breaker.record_failure()
    clock.now += 5
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert breaker.stats()["failure_count"] == 4
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_disabled_breaker_always_allows_and_records_nothing():
    breaker, _ = make(enabled=False)
    for _ in range(10):
        breaker.record_failure()
    assert breaker.allow()
    assert breaker.stats()["state"] == "CLOSED" and breaker.stats()["failure_count"] == 0


@pytest.mark.parametrize("error, counts", [
    (None, True),
    (spooled.ServerError("down", status_code=503), True),
    (spooled.APIError("timeout", status_code=408), True),
    (spooled.NetworkError("refused"), True),
    (spooled.TimeoutError("slow"), True),
    (httpx.ConnectError("refused"), True),
    (RuntimeError("the caller's own failure"), True),
    (spooled.APIError("not implemented", status_code=501), False),
    (spooled.NotFoundError("no", status_code=404), False),
    (spooled.ValidationError("bad", status_code=400), False),
    (spooled.RateLimitError("slow down", status_code=429), False),
    (spooled.CircuitBreakerOpenError(), False),
])
def test_record_failure_ignores_errors_that_say_nothing_about_the_server(error, counts):
    breaker, _ = make(failure_threshold=1)
    breaker.record_failure(error)
    assert (breaker.state is CircuitState.OPEN) is counts


def test_stats_have_the_reference_shape():
    breaker, clock = make()
    assert breaker.stats() == {
        "state": "CLOSED", "failure_count": 0, "success_count": 0, "last_failure_time": None,
        "config": {"enabled": True, "failure_threshold": 3, "success_threshold": 2, "timeout": 5}}
    for _ in range(3):
        breaker.record_failure()
        clock.now += 1
    stats = breaker.stats()
    assert (stats["state"], stats["failure_count"], stats["last_failure_time"]) == ("OPEN", 3, WALL + 102.0)


def test_reset_closes_and_forgets():
    breaker, _ = make()
    for _ in range(3):
        breaker.record_failure()
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()
    assert breaker.stats()["failure_count"] == 0 and breaker.stats()["last_failure_time"] is None
