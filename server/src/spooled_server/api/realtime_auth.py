"""Authentication shared by the SSE and WebSocket routes.

Both accept `Authorization: Bearer <API key or JWT>` and, because browsers' EventSource and
WebSocket cannot set headers, `?token=<JWT or API key>` as well (and `X-API-Key`, which one SDK sends).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ..services.auth import Caller
from .deps import authenticate


async def realtime_caller(conn: HTTPConnection) -> Caller:
    """Resolves the caller from the Authorization header, else from `?token=` or `X-API-Key`.
    Opening a stream takes one request from the key's rate limit (429 when none is left); what
    flows on it after does not."""
    header = conn.headers.get("authorization")
    if not header:
        token = conn.query_params.get("token") or conn.headers.get("x-api-key")
        header = f"Bearer {token}" if token else None
    return await authenticate(conn, header)
