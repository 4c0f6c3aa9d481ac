"""Request dependencies: the service context and the calling organization."""

from __future__ import annotations

from fastapi import Request

from ..services.auth import Caller
from ..services.core import Core


def core_of(request: Request) -> Core:
    return request.app.state.core


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def caller(request: Request) -> Caller:
    """Resolves `Authorization: Bearer <API key or JWT>` to the caller's organization."""
    core = core_of(request)
    return await core.auth.resolve_bearer(request.headers.get("authorization"), client_address(request))
