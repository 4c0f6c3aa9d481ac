"""SpooledClientConfig: every client setting in one validated object.

    config = SpooledClientConfig(api_key="sp_test_...", base_url="http://localhost:8080", timeout=10)
    client = SpooledClient(config=config)          # the same as passing the fields as arguments
    client.get_config().ws_url                      # "ws://localhost:8080" (derived)

`SpooledClient(...)` / `AsyncSpooledClient(...)` accept each field as a keyword argument; a
`config=` replaces all of them. `get_config()` answers the resolved settings in this shape.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from ._breaker import CircuitBreakerConfig
from ._constants import DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT
from ._retry import RetryConfig
from ._version import __version__

__all__ = ["SpooledClientConfig", "ResolvedConfig", "derive_ws_url", "DEFAULT_GRPC_ADDRESS"]

# The hosted service's gRPC endpoint (the reference SDK's default; see `client.grpc` for how the
# client itself chooses the gRPC address).
DEFAULT_GRPC_ADDRESS = "grpc.spooled.cloud:443"


def derive_ws_url(base_url: str) -> str:
    """The WebSocket root for an HTTP root: https:// -> wss://, http:// -> ws://."""
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://"):]
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://"):]
    return base_url


class SpooledClientConfig(BaseModel):
    """Client settings; see the README's "Client options" for what each one does."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_assignment=True)

    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    admin_key: str | None = None
    base_url: str = DEFAULT_BASE_URL
    #: WebSocket root; None derives it from base_url.
    ws_url: str | None = None
    #: Recorded for compatibility; `client.grpc` uses the host of base_url and port 50051.
    grpc_address: str = DEFAULT_GRPC_ADDRESS
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_retries: int | None = None
    retry: RetryConfig = RetryConfig()
    circuit_breaker: CircuitBreakerConfig | bool = CircuitBreakerConfig()
    headers: dict[str, str] = {}
    user_agent: str = f"spooled-python/{__version__}"
    use_jwt: bool = False
    auto_refresh_token: bool = True
    debug: bool = False

    @field_validator("base_url", "ws_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if isinstance(value, str) else value

    def resolved_ws_url(self) -> str:
        """`ws_url`, or the one derived from `base_url`."""
        return self.ws_url or derive_ws_url(self.base_url)

    def client_kwargs(self) -> dict[str, Any]:
        """The fields as SpooledClient keyword arguments."""
        return self.model_dump(exclude={"grpc_address"}, round_trip=True) | {
            "retry": self.retry, "circuit_breaker": self.circuit_breaker}


# What `client.get_config()` returns: the same shape, every default filled in.
ResolvedConfig = SpooledClientConfig
