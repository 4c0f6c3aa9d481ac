"""Resolves the caller of a gRPC call, exactly as REST resolves `Authorization`.

Credentials: metadata `x-api-key: <key>` (what the Spooled SDKs send) or
`authorization: Bearer <key or JWT>`. Failures count against the same per-address limiter
as REST, so guessing keys over gRPC is throttled too (RESOURCE_EXHAUSTED once exceeded).
"""

from __future__ import annotations

from urllib.parse import unquote

import grpc

from ..services.auth import Caller
from ..services.core import Core


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):  # `-bin` entries arrive as bytes and are never credentials
            found.setdefault(key.lower(), value)
    return found


def client_address(context: grpc.aio.ServicerContext) -> str:
    """The peer's address without its port: "ipv4:1.2.3.4:567" -> "1.2.3.4",
    "ipv6:%5B::1%5D:5" (grpc percent-encodes the brackets) -> "::1"."""
    peer = unquote(context.peer() or "unknown")
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:rest.find("]")] if "]" in rest else rest
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    return peer


async def authenticate(core: Core, context: grpc.aio.ServicerContext) -> Caller:
    """The caller behind the call's credentials; raises Unauthorized (UNAUTHENTICATED). Each
    call (a unary call, or the opening of a stream: not every message on it) takes one request
    from the key's rate limit, as a REST request does (RESOURCE_EXHAUSTED + retry-after)."""
    metadata = _metadata(context)
    api_key = metadata.get("x-api-key")
    header = f"Bearer {api_key.strip()}" if api_key is not None else metadata.get("authorization")
    who = await core.auth.resolve_bearer(header, client_address(context))
    await core.rate_limiter.check(who)
    return who
