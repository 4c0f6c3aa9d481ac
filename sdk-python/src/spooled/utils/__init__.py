"""Helpers the Spooled SDK publishes for code of its own: key casing, the retry policy, the breaker.

    from spooled.utils import with_retry, CircuitBreaker, convert_request

They are the implementations the client itself uses (casing from `_wire`, the policy from
`_retry`, the breaker from `_breaker`), exposed under the names of the reference SDK.
"""

from .casing import convert_query_params, convert_request, convert_response, to_camel_case, to_snake_case
from .circuit_breaker import CircuitBreaker, CircuitState
from .retry import calculate_delay, should_retry, with_retry, with_retry_async  # noqa: F401 (not in __all__: the reference names only)

__all__ = [
    "to_snake_case", "to_camel_case", "convert_request", "convert_response", "convert_query_params",
    "CircuitBreaker", "CircuitState", "with_retry", "calculate_delay", "should_retry",
]
