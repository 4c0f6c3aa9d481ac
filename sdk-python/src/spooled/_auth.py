"""Which credential a request carries, and when a JWT must be renewed.

Two ways to authenticate REST calls:
- API key (default): `Authorization: Bearer <api key>` on every call; nothing expires.
- JWT: an access token, either given by the caller or obtained by exchanging the API key at
  `auth.login` (`use_jwt=True`). It is renewed JWT_REFRESH_MARGIN seconds before its `exp`
  (with the refresh token, else by logging in again), and once more after a 401.

This module only keeps the state and makes the decisions; the transport performs the HTTP
calls. Times are Unix seconds from an injected clock.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from ._constants import JWT_REFRESH_MARGIN


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (Unix seconds), read without verifying the signature."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


def token_expiry(tokens: Any, now: float) -> float:
    """When the access token of an auth.login or auth.refresh answer expires (Unix seconds): its
    JWT `exp`, else `now` plus the answer's `expires_in`."""
    return jwt_expiry(tokens.access_token) or now + float(tokens.expires_in)


def expiring(expires_at: float | None, now: float) -> bool:
    """Whether a token expiring at `expires_at` is within JWT_REFRESH_MARGIN seconds of it
    (a token without a known expiry never is)."""
    return expires_at is not None and now >= expires_at - JWT_REFRESH_MARGIN


def clean(value: str | None) -> str | None:
    """Credentials are trimmed; empty or whitespace-only values count as not given."""
    if value is None:
        return None
    value = value.strip()
    return value or None


@dataclass
class Credentials:
    """The client's credentials and the current JWT, if any."""

    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    admin_key: str | None = None
    use_jwt: bool = False
    auto_refresh: bool = True
    expires_at: float | None = None

    def __post_init__(self) -> None:
        self.api_key = clean(self.api_key)
        self.access_token = clean(self.access_token)
        self.refresh_token = clean(self.refresh_token)
        self.admin_key = clean(self.admin_key)
        if self.use_jwt and self.api_key is None and self.access_token is None:
            raise ValueError("use_jwt needs an api_key (to log in) or an access_token")
        if self.access_token is not None and self.expires_at is None:
            self.expires_at = jwt_expiry(self.access_token)

    @property
    def uses_jwt(self) -> bool:
        """Whether REST calls carry a JWT rather than the API key."""
        return self.use_jwt or self.access_token is not None

    @property
    def can_renew(self) -> bool:
        """Whether a new access token can be obtained without the caller's help."""
        return self.auto_refresh and (self.refresh_token is not None or self.api_key is not None)

    def needs_renewal(self, now: float) -> bool:
        """No token yet, or the current one expires within JWT_REFRESH_MARGIN seconds."""
        if not self.uses_jwt:
            return False
        if self.access_token is None:
            return True
        return self.can_renew and expiring(self.expires_at, now)

    def bearer(self) -> str | None:
        """The token for the Authorization header."""
        return self.access_token if self.uses_jwt else self.api_key

    def apply(self, tokens: Any, now: float) -> None:
        """Stores an auth.login or auth.refresh answer (a refresh answer keeps the old refresh token)."""
        self.access_token = tokens.access_token
        new_refresh = getattr(tokens, "refresh_token", None)
        if new_refresh:
            self.refresh_token = new_refresh
        self.expires_at = token_expiry(tokens, now)
