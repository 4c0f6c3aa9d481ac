"""Spooled: the official Python SDK of the Spooled job queue.

    from spooled import SpooledClient, SpooledWorker

    client = SpooledClient(api_key="sp_test_...", base_url="http://localhost:8080")
    client.jobs.create({"queue_name": "emails", "payload": {"to": "a@example.com"}})
"""

from ._breaker import CircuitBreaker, CircuitBreakerConfig, CircuitState
from ._retry import RetryConfig
from ._version import __version__
from .client import AsyncSpooledClient, SpooledClient
from .config import SpooledClientConfig
from .errors import (APIError, AuthenticationError, AuthorizationError, CircuitBreakerOpenError, CircuitOpenError,
                     ConflictError, JobAbortedError, LeaseExpiredError, NetworkError, NotFoundError, PayloadTooLargeError,
                     QuotaExceededError, RateLimitError, ResponseValidationError, ServerError, SpooledError,
                     SpooledTimeoutError, TimeoutError, ValidationError, WebhookSignatureError, is_spooled_error)
from .webhook_signature import compute_webhook_signature, verify_webhook_request, verify_webhook_signature

__all__ = [
    "__version__", "SpooledClient", "AsyncSpooledClient", "SpooledWorker", "AsyncSpooledWorker",
    "SpooledRealtime", "SpooledGrpcClient", "SpooledClientConfig",
    "CircuitBreaker", "CircuitBreakerConfig", "CircuitState", "RetryConfig",
    "SpooledError", "APIError", "ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError",
    "ConflictError", "LeaseExpiredError", "PayloadTooLargeError", "RateLimitError", "QuotaExceededError",
    "ServerError", "NetworkError", "TimeoutError", "SpooledTimeoutError", "CircuitBreakerOpenError",
    "CircuitOpenError", "ResponseValidationError", "WebhookSignatureError", "JobAbortedError", "is_spooled_error",
    "compute_webhook_signature", "verify_webhook_signature", "verify_webhook_request",
]


def __getattr__(name: str):
    # The worker, realtime and gRPC clients are imported on first use so that `import spooled`
    # stays light (websockets and grpcio load only when needed).
    if name in ("SpooledWorker", "AsyncSpooledWorker"):
        from . import worker
        return getattr(worker, name)
    if name == "SpooledRealtime":
        from .realtime import SpooledRealtime
        return SpooledRealtime
    if name == "SpooledGrpcClient":
        from .grpc import SpooledGrpcClient
        return SpooledGrpcClient
    raise AttributeError(f"module 'spooled' has no attribute {name!r}")
