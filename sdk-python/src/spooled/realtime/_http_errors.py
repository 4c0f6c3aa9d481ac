"""Turns an error answer to a realtime stream or upgrade request into the SDK's error classes
(a request with no answer at all goes through errors.error_from_request_error)."""

from __future__ import annotations

import httpx

from ..errors import SpooledError, error_from_response


def from_status(status: int, headers: list[tuple[str, str]] | httpx.Headers, body: bytes) -> SpooledError:
    """An error answer to a stream or upgrade request, mapped like any REST error."""
    # Framing headers describe the original transfer, not the bytes handed over here.
    kept = [(k, v) for k, v in (headers.multi_items() if isinstance(headers, httpx.Headers) else headers)
            if k.lower() not in _FRAMING]
    return error_from_response(httpx.Response(status, headers=kept, content=bytes(body)))


_FRAMING = frozenset({"content-length", "transfer-encoding", "content-encoding"})
