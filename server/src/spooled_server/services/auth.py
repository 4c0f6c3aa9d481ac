"""API keys, JWTs and caller resolution.

Keys are `sp_<env>_<43 url-safe chars>` (32 random bytes). The database keeps only the key's
SHA-256 (an exact, indexed lookup: no prefix scan, no per-request bcrypt) and a short,
non-secret prefix for display. Resolved keys are cached for AUTH_CACHE_TTL seconds; a
revocation made through this process takes effect at once, one made elsewhere within the TTL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import asyncpg
import jwt

from ..errors import AccessDenied, RateLimited, Unauthorized
from ..settings import Settings
from ..store import api_keys as key_store

AUTH_CACHE_TTL = 2.0
# Failed authentications tolerated per client address per window before answering 429.
FAILED_AUTH_LIMIT = 100
FAILED_AUTH_WINDOW = 60.0
# last_used is written at most this often per key.
LAST_USED_EVERY = 300.0


@dataclass(frozen=True)
class Caller:
    """Who is calling: the organization every query is scoped to, and the key behind it."""

    org_id: str
    api_key_id: str
    queues: tuple[str, ...]
    rate_limit: int | None = None
    via_jwt: bool = False
    jwt_claims: dict | None = None

    def may_use_queue(self, queue_name: str) -> bool:
        return not self.queues or "*" in self.queues or queue_name in self.queues

    def require_queue(self, queue_name: str) -> None:
        """403 ACCESS_DENIED unless this caller's key is scoped to `queue_name`."""
        if not self.may_use_queue(queue_name):
            raise AccessDenied(f"This API key may not use queue '{queue_name}'")


def new_api_key(production: bool) -> tuple[str, str, str]:
    """Returns (raw key, sha256 hex, display prefix)."""
    raw = f"sp_{'live' if production else 'test'}_{secrets.token_urlsafe(32)}"
    return raw, hash_key(raw), raw[:12]


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Cached:
    caller: Caller
    key_hash: str
    until: float


@dataclass
class FailedAuthLimiter:
    """Counts failed authentications per client address in a sliding window."""

    limit: int = FAILED_AUTH_LIMIT
    window: float = FAILED_AUTH_WINDOW
    clock: callable = time.monotonic
    _hits: dict[str, deque] = field(default_factory=dict)

    def _trim(self, client: str) -> deque:
        hits = self._hits.setdefault(client, deque())
        horizon = self.clock() - self.window
        while hits and hits[0] < horizon:
            hits.popleft()
        return hits

    def check(self, client: str) -> None:
        hits = self._trim(client)
        if len(hits) >= self.limit:
            retry = max(1, int(hits[0] + self.window - self.clock()) + 1)
            raise RateLimited("Too many failed authentication attempts",
                              {"retry_after_seconds": retry}, headers={"Retry-After": str(retry)})

    def record_failure(self, client: str) -> None:
        self._trim(client).append(self.clock())
        if len(self._hits) > 10_000:  # bound memory under address churn
            self._hits.pop(next(iter(self._hits)))


class Authenticator:
    """Resolves bearer credentials to a Caller."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings):
        self.pool = pool
        self.settings = settings
        self._by_hash: dict[str, _Cached] = {}
        self._key_state: dict[str, tuple[bool, float]] = {}
        self._revoked_jti: dict[str, tuple[bool, float]] = {}
        self._last_touch: dict[str, float] = {}
        self.failures = FailedAuthLimiter()

    # -- API keys ----------------------------------------------------------------------------
    async def from_api_key(self, raw: str) -> Caller:
        key_hash = hash_key(raw)
        now = time.monotonic()
        hit = self._by_hash.get(key_hash)
        if hit and hit.until > now and hmac.compare_digest(hit.key_hash, key_hash):
            self._maybe_touch(hit.caller.api_key_id, now)
            return hit.caller
        async with self.pool.acquire() as conn:
            row = await key_store.find_for_auth(conn, key_hash)
        if row is None or not hmac.compare_digest(row["key_hash"], key_hash):
            raise Unauthorized("Invalid API key")
        if not row["is_active"]:
            raise Unauthorized("API key is inactive")
        if row["expired"]:
            raise Unauthorized("API key has expired")
        caller = Caller(org_id=row["organization_id"], api_key_id=row["id"],
                        queues=tuple(row["queues"] or ()), rate_limit=row["rate_limit"])
        self._by_hash[key_hash] = _Cached(caller, key_hash, now + AUTH_CACHE_TTL)
        if len(self._by_hash) > 50_000:
            self._by_hash.pop(next(iter(self._by_hash)))
        self._maybe_touch(caller.api_key_id, now)
        return caller

    def _maybe_touch(self, key_id: str, now: float) -> None:
        if now - self._last_touch.get(key_id, -LAST_USED_EVERY) < LAST_USED_EVERY:
            return
        self._last_touch[key_id] = now

        async def touch() -> None:
            try:
                async with self.pool.acquire() as conn:
                    await key_store.touch(conn, key_id)
            except Exception:  # bookkeeping only; never fail a request for it
                pass

        asyncio.get_running_loop().create_task(touch())

    def forget_key(self, key_id: str) -> None:
        """Drops cached state for a key this process just changed (revoked, edited)."""
        for h, cached in list(self._by_hash.items()):
            if cached.caller.api_key_id == key_id:
                del self._by_hash[h]
        self._key_state.pop(key_id, None)

    async def key_is_usable(self, key_id: str) -> bool:
        now = time.monotonic()
        state = self._key_state.get(key_id)
        if state and state[1] > now:
            return state[0]
        async with self.pool.acquire() as conn:
            row = await key_store.find_by_id_for_auth(conn, key_id)
        usable = bool(row and row["is_active"] and not row["expired"])
        self._key_state[key_id] = (usable, now + AUTH_CACHE_TTL)
        return usable

    # -- JWTs ----------------------------------------------------------------------------------
    def issue_tokens(self, caller: Caller) -> dict:
        hours = self.settings.jwt_expiration_hours
        access = self._encode(caller, "access", timedelta(hours=hours))
        refresh = self._encode(caller, "refresh", timedelta(hours=hours * 24))
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                "expires_in": hours * 3600, "refresh_expires_in": hours * 24 * 3600}

    def issue_access(self, claims: dict) -> dict:
        caller = Caller(org_id=claims["org_id"], api_key_id=claims["api_key_id"],
                        queues=tuple(claims.get("queues") or ()))
        hours = self.settings.jwt_expiration_hours
        return {"access_token": self._encode(caller, "access", timedelta(hours=hours)),
                "token_type": "Bearer", "expires_in": hours * 3600}

    def _encode(self, caller: Caller, token_type: str, lifetime: timedelta) -> str:
        now = datetime.now(timezone.utc)
        claims = {"sub": caller.org_id, "org_id": caller.org_id, "api_key_id": caller.api_key_id,
                  "queues": list(caller.queues), "token_type": token_type, "jti": str(uuid.uuid4()),
                  "iat": int(now.timestamp()), "nbf": int(now.timestamp()),
                  "exp": int((now + lifetime).timestamp())}
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256")

    def decode(self, token: str) -> dict:
        """Verifies signature and times; raises Unauthorized('Invalid token') otherwise."""
        try:
            claims = jwt.decode(token, self.settings.jwt_secret, algorithms=["HS256"],
                                options={"require": ["exp", "jti", "org_id", "api_key_id"]})
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("Invalid token") from None
        if not isinstance(claims.get("org_id"), str) or not isinstance(claims.get("api_key_id"), str):
            raise Unauthorized("Invalid token")
        return claims

    async def is_revoked(self, jti: str) -> bool:
        now = time.monotonic()
        state = self._revoked_jti.get(jti)
        if state and state[1] > now:
            return state[0]
        async with self.pool.acquire() as conn:
            revoked = bool(await conn.fetchval("SELECT 1 FROM revoked_tokens WHERE jti = $1", jti))
        self._revoked_jti[jti] = (revoked, now + AUTH_CACHE_TTL)
        if len(self._revoked_jti) > 50_000:
            self._revoked_jti.pop(next(iter(self._revoked_jti)))
        return revoked

    async def revoke(self, claims: dict) -> None:
        expires = datetime.fromtimestamp(int(claims["exp"]), timezone.utc)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                claims["jti"], expires)
        self._revoked_jti[claims["jti"]] = (True, time.monotonic() + 86400)

    async def from_jwt(self, token: str, *, check_key: bool = True) -> Caller:
        claims = self.decode(token)
        if claims.get("token_type") != "access":
            raise Unauthorized("Invalid token type")
        if await self.is_revoked(claims["jti"]):
            raise Unauthorized("Token has been revoked")
        if check_key and not await self.key_is_usable(claims["api_key_id"]):
            raise Unauthorized("API key has been revoked")
        return Caller(org_id=claims["org_id"], api_key_id=claims["api_key_id"],
                      queues=tuple(claims.get("queues") or ()), via_jwt=True, jwt_claims=claims)

    async def resolve_bearer(self, header: str | None, client: str) -> Caller:
        """Resolves an `Authorization` header value; counts failures per client."""
        self.failures.check(client)
        try:
            token = _bearer_token(header)
            if token.startswith("eyJ"):
                return await self.from_jwt(token)
            return await self.from_api_key(token)
        except Unauthorized:
            self.failures.record_failure(client)
            raise


def _bearer_token(header: str | None) -> str:
    if not header or len(header) > 4096:
        raise Unauthorized("Missing or invalid Authorization header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not token.isascii() or not token.isprintable():
        raise Unauthorized("Missing or invalid Authorization header")
    return token
