"""The retry policy, as tables: no clocks, no sleeps."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from spooled._constants import (DEFAULT_MAX_RETRIES, INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, RETRY_AFTER_CAP,
                                RETRY_FACTOR, RETRY_JITTER)
from spooled._retry import RetryConfig, backoff_delay, parse_retry_after, retry_delay, should_retry


def test_constants_are_the_shared_policy():
    assert (INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, DEFAULT_MAX_RETRIES, RETRY_AFTER_CAP) == (0.5, 8.0, 3, 60.0)


@pytest.mark.parametrize("status, connection_error, timeout, replay_safe, expected", [
    (None, True, False, True, True),      # connection refused / reset
    (None, False, True, True, True),      # timed out
    (None, False, False, True, False),    # no response and no reason: nothing to retry
    (408, False, False, True, True),
    (429, False, False, True, True),
    (500, False, False, True, True),
    (502, False, False, True, True),
    (503, False, False, True, True),
    (504, False, False, True, True),
    (599, False, False, True, True),
    (501, False, False, True, False),     # Not Implemented is permanent
    (400, False, False, True, False),
    (401, False, False, True, False),
    (403, False, False, True, False),
    (404, False, False, True, False),
    (409, False, False, True, False),     # never 409: a conflict or lost lease does not heal
    (413, False, False, True, False),
    (422, False, False, True, False),
    (200, False, False, True, False),
    # a request that could act twice: only 429 (refused before any work) is retried
    (429, False, False, False, True),
    (503, False, False, False, False),
    (408, False, False, False, False),
    (None, True, False, False, False),
    (None, False, True, False, False),
])
def test_should_retry(status, connection_error, timeout, replay_safe, expected):
    assert should_retry(status, connection_error=connection_error, timeout=timeout,
                        replay_safe=replay_safe) is expected


NOW = 1_700_000_000.0


@pytest.mark.parametrize("header, expected", [
    (None, None), ("", None), ("   ", None), ("soon", None), ("nan", None),
    ("0", 0.0), ("7", 7.0), (" 12 ", 12.0), ("1.5", 1.5), ("-3", 0.0),
    (format_datetime(datetime.fromtimestamp(NOW + 30, timezone.utc), usegmt=True), 30.0),
    (format_datetime(datetime.fromtimestamp(NOW - 30, timezone.utc), usegmt=True), 0.0),
    ("Wed, 21 Oct 2015 07:28:00", None),   # a date without a zone is unreadable
])
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize("retries_done, rand, expected", [
    (0, 0.0, 0.5), (1, 0.0, 1.0), (2, 0.0, 2.0), (3, 0.0, 4.0), (4, 0.0, 8.0), (5, 0.0, 8.0), (20, 0.0, 8.0),
    (0, 0.5, 0.5 * (1 - RETRY_JITTER * 0.5)),
    (4, 0.999, 8.0 * (1 - RETRY_JITTER * 0.999)),
])
def test_backoff_is_exponential_capped_and_jittered(retries_done, rand, expected):
    assert backoff_delay(retries_done, lambda: rand) == pytest.approx(expected)


def test_jitter_never_exceeds_the_base_nor_goes_below_three_quarters():
    for rand in (0.0, 0.25, 0.5, 0.75, 0.9999):
        delay = backoff_delay(1, lambda: rand)
        assert 0.75 * 1.0 <= delay <= 1.0


@pytest.mark.parametrize("kwargs, expected", [
    (dict(retries_done=0, status_code=503), 0.5),
    (dict(retries_done=2, status_code=503), 2.0),
    (dict(retries_done=3, status_code=503), None),                     # budget spent
    (dict(retries_done=0, status_code=400), None),
    (dict(retries_done=0, status_code=429, retry_after=12.0), 12.0),   # Retry-After wins
    (dict(retries_done=0, status_code=503, retry_after=0.0), 0.0),
    (dict(retries_done=0, status_code=429, retry_after=60.0), 60.0),   # at the cap
    (dict(retries_done=0, status_code=429, retry_after=61.0), None),   # beyond it: give up, caller decides
    (dict(retries_done=3, status_code=429, retry_after=1.0), None),
    (dict(retries_done=0, status_code=None, connection_error=True), 0.5),
    (dict(retries_done=0, status_code=None, timeout=True, replay_safe=False), None),
])
def test_retry_delay(kwargs, expected):
    retries_done = kwargs.pop("retries_done")
    assert retry_delay(retries_done, 3, random=lambda: 0.0, **kwargs) == expected


@pytest.mark.parametrize("config, retries_done, rand, expected", [
    (RetryConfig(base_delay=0.01, max_delay=0.05, jitter=False), 0, 0.9, 0.01),
    (RetryConfig(base_delay=0.01, max_delay=0.05, jitter=False), 2, 0.9, 0.04),
    (RetryConfig(base_delay=0.01, max_delay=0.05, jitter=False), 3, 0.9, 0.05),     # capped
    (RetryConfig(base_delay=0.01, max_delay=0.05, jitter=True), 0, 0.5, 0.01 * (1 - RETRY_JITTER * 0.5)),
    (RetryConfig(), 1, 0.0, 1.0),                                                    # the shared defaults
])
def test_retry_config_shapes_the_backoff(config, retries_done, rand, expected):
    assert backoff_delay(retries_done, lambda: rand, config) == pytest.approx(expected)
    assert retry_delay(retries_done, 5, status_code=503, random=lambda: rand, config=config) == pytest.approx(expected)


def test_retry_config_defaults_are_the_shared_constants():
    assert RetryConfig() == RetryConfig(DEFAULT_MAX_RETRIES, INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, RETRY_FACTOR, True)
    assert RETRY_FACTOR == 2.0


@pytest.mark.parametrize("factor", [1, 1.0, 0.5, 0, -2, True, "2"])
def test_factor_must_be_a_number_above_one(factor):
    with pytest.raises(ValueError, match="factor"):
        RetryConfig(factor=factor)


@pytest.mark.parametrize("factor, retries_done, expected", [
    (3.0, 0, 0.1), (3.0, 1, 0.3), (3.0, 2, 0.9), (3.0, 3, 2.0),   # 2.7 capped at max_delay
    (1.5, 2, 0.225), (2, 1, 0.2),
    (2.0, 5000, 2.0),                                              # float overflow reads as the cap
])
def test_factor_multiplies_each_further_delay(factor, retries_done, expected):
    config = RetryConfig(base_delay=0.1, max_delay=2.0, factor=factor, jitter=False)
    assert backoff_delay(retries_done, lambda: 0.5, config) == pytest.approx(expected)
