"""Request dependencies: the service context and the calling organization."""

from __future__ import annotations

from fastapi import Request
from starlette.requests import HTTPConnection

from ..services.auth import Caller
from ..services.core import Core

# Where caller() leaves the key's quota for RequestContext to send as X-RateLimit-* headers.
RATE_LIMIT_STATE = "rate_limit"


def core_of(conn: HTTPConnection) -> Core:
    return conn.app.state.core


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


async def authenticate(conn: HTTPConnection, header: str | None) -> Caller:
    """Resolves an `Authorization` value (`Bearer <API key or JWT>`) to the caller's
    organization, and takes one request from its key's rate limit (429 RATE_LIMIT_EXCEEDED when
    it has none left). Every HTTP route, SSE stream and WebSocket authenticates here."""
    core = core_of(conn)
    who = await core.auth.resolve_bearer(header, client_address(conn))
    quota = await core.rate_limiter.check(who)
    if quota is not None:
        conn.scope.setdefault("state", {})[RATE_LIMIT_STATE] = quota
    return who


async def caller(request: Request) -> Caller:
    """The caller behind the request's `Authorization` header (see authenticate)."""
    return await authenticate(request, request.headers.get("authorization"))
