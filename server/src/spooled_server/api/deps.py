"""Request dependencies: the service context and the calling organization."""

from __future__ import annotations

from fastapi import Request

from ..services.auth import Caller
from ..services.core import Core

# Where caller() leaves the key's quota for RequestContext to send as X-RateLimit-* headers.
RATE_LIMIT_STATE = "rate_limit"


def core_of(request: Request) -> Core:
    return request.app.state.core


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def caller(request: Request) -> Caller:
    """Resolves `Authorization: Bearer <API key or JWT>` to the caller's organization, and takes
    one request from its key's rate limit (429 RATE_LIMIT_EXCEEDED when it has none left)."""
    core = core_of(request)
    who = await core.auth.resolve_bearer(request.headers.get("authorization"), client_address(request))
    quota = await core.rate_limiter.check(who)
    if quota is not None:
        request.scope.setdefault("state", {})[RATE_LIMIT_STATE] = quota
    return who
