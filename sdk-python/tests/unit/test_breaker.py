"""The circuit breaker with an injected clock."""

from __future__ import annotations

import pytest

from spooled import CircuitBreaker, CircuitBreakerConfig, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(**kw):
    clock = Clock()
    config = CircuitBreakerConfig(**{"failure_threshold": 3, "window_seconds": 10, "open_seconds": 5,
                                     "success_threshold": 2, **kw})
    return CircuitBreaker(config, clock=clock), clock


@pytest.mark.parametrize("kwargs", [
    {"failure_threshold": 0}, {"failure_threshold": 1.5}, {"success_threshold": 0}, {"window_seconds": 0},
    {"open_seconds": -1},
])
def test_invalid_options_are_rejected(kwargs):
    with pytest.raises(ValueError):
        CircuitBreakerConfig(**kwargs)


def test_opens_after_threshold_failures_within_the_window():
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
    assert breaker.stats()["failures_in_window"] == 1


def test_successes_do_not_erase_failures_in_the_window():
    breaker, _ = make()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_half_open_after_the_pause_then_closes_after_enough_successes():
    breaker, clock = make()
    for _ in range(3):
        breaker.record_failure()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is CircuitState.HALF_OPEN and breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.stats()["failures_in_window"] == 0


def test_a_failure_while_half_open_opens_again_for_a_full_pause():
    breaker, clock = make()
    for _ in range(3):
        breaker.record_failure()
    clock.now += 5
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_disabled_breaker_always_allows():
    breaker, _ = make(enabled=False)
    for _ in range(10):
        breaker.record_failure()
    assert breaker.allow()


def test_reset_closes():
    breaker, _ = make()
    for _ in range(3):
        breaker.record_failure()
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()
    assert breaker.stats() == {"state": "closed", "failures_in_window": 0, "trial_successes": 0, "enabled": True}
