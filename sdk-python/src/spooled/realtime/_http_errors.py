"""Turns the failures of opening a realtime connection into the SDK's error classes."""

from __future__ import annotations

import httpx

from ..errors import NetworkError, SpooledError, SpooledTimeoutError, error_from_response


def from_request_error(exc: httpx.RequestError, what: str, timeout: float | None = None) -> SpooledError:
    """An httpx failure (no usable response) as NetworkError or TimeoutError."""
    error: SpooledError
    if isinstance(exc, httpx.TimeoutException):
        error = SpooledTimeoutError(f"{what} timed out", timeout_seconds=timeout)
    else:
        error = NetworkError(f"{what} failed: {exc.__class__.__name__}: {exc}")
    error.__cause__ = exc
    return error


def from_status(status: int, headers: list[tuple[str, str]] | httpx.Headers, body: bytes) -> SpooledError:
    """An error answer to a stream or upgrade request, mapped like any REST error."""
    # Framing headers describe the original transfer, not the bytes handed over here.
    kept = [(k, v) for k, v in (headers.multi_items() if isinstance(headers, httpx.Headers) else headers)
            if k.lower() not in _FRAMING]
    return error_from_response(httpx.Response(status, headers=kept, content=bytes(body)))


_FRAMING = frozenset({"content-length", "transfer-encoding", "content-encoding"})
