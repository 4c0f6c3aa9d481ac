"""spooled.utils: the reference SDK's helper names over our own casing, retry policy and breaker."""

from __future__ import annotations

import httpx
import pytest

import spooled
import spooled.utils as utils
from spooled import CircuitBreakerConfig, RetryConfig
from spooled import _wire
from spooled._constants import RETRY_AFTER_CAP, RETRY_JITTER
from spooled.utils import (calculate_delay, convert_query_params, convert_request, convert_response,
                           should_retry, to_camel_case, to_snake_case, with_retry)
from spooled.utils.retry import with_retry_async

FAST = RetryConfig(max_retries=3, base_delay=0.1, max_delay=1.0, factor=3.0, jitter=False)


def test_exports_are_the_reference_names_and_reuse_the_clients_code():
    assert sorted(utils.__all__) == sorted([
        "to_snake_case", "to_camel_case", "convert_request", "convert_response", "convert_query_params",
        "CircuitBreaker", "CircuitState", "with_retry", "calculate_delay", "should_retry"])
    assert utils.CircuitBreaker is spooled.CircuitBreaker and utils.CircuitState is spooled.CircuitState
    assert (to_snake_case, to_camel_case, convert_request) == (
        _wire.to_snake_case, _wire.to_camel_case, _wire.convert_request)


def test_casing():
    assert (to_snake_case("maxRetries"), to_snake_case("queue_name"), to_camel_case("queue_name")) == (
        "max_retries", "queue_name", "queueName")
    body = {"queueName": "q", "nested": {"innerKey": [{"deepKey": 1}]}, "payload": {"camelKey": {"aB": 1}},
            "result": {"x": {"yZ": 1}}, "details": {"dK": 1}, "extra": {"eK": 1}, "settings": {"sK": 1},
            "customLimits": {"maxJobs": 1}, "payloadTemplate": {"tK": 1}}
    assert convert_request(body) == {
        "queue_name": "q", "nested": {"inner_key": [{"deep_key": 1}]}, "payload": {"camelKey": {"aB": 1}},
        "result": {"x": {"yZ": 1}}, "details": {"dK": 1}, "extra": {"eK": 1}, "settings": {"sK": 1},
        "custom_limits": {"maxJobs": 1}, "payload_template": {"tK": 1}}
    response = {"queueName": "kept", "payload": {"aB": 1}}
    assert convert_response(response) is response


def test_convert_query_params():
    assert convert_query_params({"queueName": "q", "includeDone": True, "dryRun": False, "limit": 10,
                                 "cursor": None}) == {
        "queue_name": "q", "include_done": "true", "dry_run": "false", "limit": "10"}


@pytest.mark.parametrize("attempt, config, retry_after, expected", [
    (1, FAST, None, 0.1), (2, FAST, None, 0.3), (3, FAST, None, 0.9), (4, FAST, None, 1.0),
    (1, None, None, 0.5), (2, None, None, 1.0),                       # the shared defaults
    (1, FAST, 7, 7.0), (1, FAST, 0, 0.0), (1, FAST, 600, RETRY_AFTER_CAP),
])
def test_calculate_delay(attempt, config, retry_after, expected):
    assert calculate_delay(attempt, config, retry_after, random=lambda: 0.9) == pytest.approx(
        expected if config is FAST or retry_after is not None else expected * (1 - RETRY_JITTER * 0.9))


def test_calculate_delay_counts_attempts_from_one():
    with pytest.raises(ValueError):
        calculate_delay(0, FAST)


@pytest.mark.parametrize("error, attempt, idempotent, expected", [
    (spooled.ServerError("down", status_code=503), 1, True, True),
    (spooled.ServerError("down", status_code=503), 3, True, True),
    (spooled.ServerError("down", status_code=503), 4, True, False),          # past max_retries
    (spooled.ServerError("down", status_code=503), 1, False, False),         # may have acted
    (spooled.RateLimitError("slow", status_code=429, retry_after=2), 1, False, True),
    (spooled.RateLimitError("slow", status_code=429, retry_after=3600), 1, True, False),  # beyond the cap
    (spooled.APIError("not implemented", status_code=501), 1, True, False),
    (spooled.APIError("request timeout", status_code=408), 1, True, True),
    (spooled.NotFoundError("no", status_code=404), 1, True, False),
    (spooled.ConflictError("taken", status_code=409), 1, True, False),
    (spooled.NetworkError("refused"), 1, True, True),
    (spooled.TimeoutError("slow"), 1, True, True),
    (httpx.ConnectError("refused"), 1, True, True),
    (httpx.ReadTimeout("slow"), 1, True, True),
    (ConnectionResetError(), 1, True, True),
    (spooled.CircuitBreakerOpenError(), 1, True, False),
    (ValueError("a bug"), 1, True, False),
])
def test_should_retry(error, attempt, idempotent, expected):
    assert should_retry(error, attempt, RetryConfig(max_retries=3), idempotent) is expected


class Flaky:
    """Raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_with_retry_waits_the_backoff_and_reports_each_retry():
    slept: list[float] = []
    seen: list[tuple[int, str, float]] = []
    fn = Flaky(spooled.ServerError("a", status_code=502), spooled.NetworkError("b"))
    result = with_retry(fn, FAST, on_retry=lambda n, e, d: seen.append((n, str(e), d)), sleep=slept.append)
    assert (result, fn.calls, slept) == ("ok", 3, [pytest.approx(0.1), pytest.approx(0.3)])
    assert [(n, d) for n, _, d in seen] == [(1, pytest.approx(0.1)), (2, pytest.approx(0.3))]


def test_with_retry_honours_retry_after():
    slept: list[float] = []
    fn = Flaky(spooled.RateLimitError("slow", status_code=429, retry_after=4))
    assert with_retry(fn, FAST, idempotent=False, sleep=slept.append) == "ok" and slept == [4]


def test_with_retry_raises_the_last_error_when_the_budget_is_spent():
    slept: list[float] = []
    fn = Flaky(*[spooled.ServerError(str(i), status_code=500) for i in range(5)])
    with pytest.raises(spooled.ServerError, match="3"):
        with_retry(fn, FAST, sleep=slept.append)
    assert fn.calls == 4 and len(slept) == 3


@pytest.mark.parametrize("error, idempotent", [
    (ValueError("a bug"), True), (spooled.ValidationError("bad", status_code=400), True),
    (spooled.ServerError("down", status_code=503), False),
])
def test_with_retry_does_not_retry_what_the_policy_refuses(error, idempotent):
    fn = Flaky(error)
    with pytest.raises(type(error)):
        with_retry(fn, FAST, idempotent=idempotent, sleep=lambda d: pytest.fail("slept"))
    assert fn.calls == 1


async def test_with_retry_accepts_a_coroutine_function():
    slept: list[float] = []
    flaky = Flaky(httpx.ConnectError("refused"), spooled.TimeoutError("slow"))

    async def fn() -> str:
        return flaky()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    assert await with_retry(fn, FAST, sleep=sleep) == "ok"
    assert slept == [pytest.approx(0.1), pytest.approx(0.3)]
    flaky.errors = [spooled.ServerError("down", status_code=500)]
    assert await with_retry_async(fn, FAST, sleep=slept.append) == "ok" and len(slept) == 3


def test_a_breaker_guards_calls_of_your_own():
    now = [0.0]
    breaker = utils.CircuitBreaker(spooled.CircuitBreakerConfig(failure_threshold=2, timeout=10),
                                   clock=lambda: now[0])
    breaker.record_failure(spooled.NotFoundError("no", status_code=404))  # not the server's fault
    breaker.record_failure(spooled.ServerError("down", status_code=503))
    breaker.record_failure(httpx.ConnectError("refused"))
    assert breaker.state is utils.CircuitState.OPEN and not breaker.allow()
    now[0] = 10.0
    assert breaker.state.value == "HALF_OPEN"


def test_with_retry_retries_a_plain_function_that_returns_a_coroutine():
    """`lambda: async_client.jobs.get(id)` is not a coroutine function but hands one back."""
    import asyncio

    from spooled import NetworkError
    from spooled.utils import with_retry

    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise NetworkError("reset")
        return "ok"

    async def no_wait(_seconds):
        return None

    assert asyncio.run(with_retry(lambda: flaky(), sleep=no_wait)) == "ok"
    assert len(calls) == 3


def test_circuit_breaker_keeps_the_reference_method_names():
    from spooled import CircuitBreakerOpenError, ServerError
    from spooled.utils import CircuitBreaker, CircuitState

    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, timeout=30), clock=lambda: 0.0)
    assert breaker.execute(lambda: 7) == 7 and breaker.is_allowed() and breaker.get_state() is CircuitState.CLOSED

    def down():
        raise ServerError("down", status_code=503)
    with pytest.raises(ServerError):
        breaker.execute(down)
    assert breaker.get_state() is CircuitState.OPEN and breaker.get_stats()["state"] == "OPEN"
    with pytest.raises(CircuitBreakerOpenError):
        breaker.execute(lambda: 7)
