"""The client's circuit breaker (see `spooled._breaker`), for guarding calls of your own.

    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=3, timeout=10))
    if breaker.allow():
        try:
            call()
        except Exception as exc:
            breaker.record_failure(exc)
            raise
        breaker.record_success()
"""

from .._breaker import CircuitBreaker, CircuitBreakerConfig, CircuitState

__all__ = ["CircuitBreaker", "CircuitBreakerConfig", "CircuitState"]
