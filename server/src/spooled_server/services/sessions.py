"""JWT sessions: exchange an API key for tokens, refresh, log out, introspect.

Tokens are minted and checked by services.auth.Authenticator; this module adds the rules of
each route. Failed logins and refreshes count toward the per-client limit of failed
authentications (100 per 60 s, then 429), like failed bearer credentials.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..errors import NotFound, Unauthorized
from ..store import api_keys as key_store
from .auth import Caller
from .core import Core

_CLAIM_KEYS = ("sub", "api_key_id", "org_id", "iat", "exp", "nbf", "jti", "queues", "token_type")


def _when(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), timezone.utc) if isinstance(seconds, int) else None


async def login(core: Core, api_key: str, client: str) -> dict[str, Any]:
    core.auth.failures.check(client)
    try:
        who = await core.auth.from_api_key(api_key)
    except Unauthorized:
        core.auth.failures.record_failure(client)
        raise
    return core.auth.issue_tokens(who)


async def refresh(core: Core, refresh_token: str, client: str) -> dict[str, Any]:
    """A new access token from a live refresh token whose key is still usable.

    The key row is read fresh (not cached) so the new token carries the key's current queues.
    """
    core.auth.failures.check(client)
    try:
        claims = core.auth.decode(refresh_token)
        if claims.get("token_type") != "refresh":
            raise Unauthorized("Invalid token type")
        if await core.auth.is_revoked(claims["jti"]):
            raise Unauthorized("Token has been revoked")
        async with core.pool.acquire() as conn:
            key = await key_store.find_by_id_for_auth(conn, claims["api_key_id"])
        if key is None or key["organization_id"] != claims["org_id"]:
            raise Unauthorized("API key not found")
        if not key["is_active"] or key["expired"]:
            raise Unauthorized("API key has been revoked")
    except Unauthorized:
        core.auth.failures.record_failure(client)
        raise
    return core.auth.issue_access({**claims, "queues": list(key["queues"] or ())})


def _require_jwt(who: Caller) -> dict[str, Any]:
    if not who.via_jwt or not who.jwt_claims:
        raise Unauthorized("This route needs a JWT access token from /api/v1/auth/login, not an API key")
    return who.jwt_claims


async def logout(core: Core, who: Caller) -> None:
    """Revokes the presented access token until it would have expired."""
    await core.auth.revoke(_require_jwt(who))


def me(who: Caller) -> dict[str, Any]:
    claims = _require_jwt(who)
    return {"organization_id": claims["org_id"], "api_key_id": claims["api_key_id"],
            "queues": list(claims.get("queues") or ()), "issued_at": _when(claims.get("iat")),
            "expires_at": _when(claims.get("exp"))}


async def validate(core: Core, token: str) -> dict[str, Any]:
    """Always an answer, never an error: {valid: true, claims, ...} or {valid: false, error}."""
    try:
        claims = core.auth.decode(token)
    except Unauthorized:
        return {"valid": False, "error": "Invalid token"}
    if await core.auth.is_revoked(claims["jti"]):
        return {"valid": False, "error": "Token has been revoked"}
    if not await core.auth.key_is_usable(claims["api_key_id"]):
        return {"valid": False, "error": "API key has been revoked"}
    return {"valid": True, "claims": {k: claims.get(k) for k in _CLAIM_KEYS},
            "organization_id": claims["org_id"], "api_key_id": claims["api_key_id"],
            "expires_at": _when(claims.get("exp"))}


def email_login_unavailable() -> None:
    """Email login belongs to the hosted service; self-hosted servers have no user accounts."""
    raise NotFound("Email login is not available on self-hosted servers; "
                   "authenticate with an API key (POST /api/v1/auth/login)")
