"""The operator credential: `X-Admin-Key` compared with ADMIN_API_KEY.

Both sides are hashed with SHA-256 first, so the constant-time comparison also hides the
configured key's length. Wrong or missing keys count toward the same per-client limit of
failed authentications as bearer credentials.
"""

from __future__ import annotations

import hashlib
import hmac

from ..errors import Unauthorized
from .core import Core


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def configured(core: Core) -> bool:
    return bool(core.settings.admin_api_key)


def matches(core: Core, header: str | None, client: str) -> bool:
    """True when `header` equals the configured admin key; a miss is counted as a failure."""
    if not configured(core):
        return False
    core.auth.failures.check(client)
    if header and hmac.compare_digest(_digest(header), _digest(core.settings.admin_api_key)):
        return True
    core.auth.failures.record_failure(client)
    return False


def verify(core: Core, header: str | None, client: str) -> None:
    """Raises 401 unless the request carries the admin key (details.reason says why)."""
    if not configured(core):
        raise Unauthorized("The admin API is not enabled on this server (ADMIN_API_KEY is not set)",
                           {"reason": "admin_not_configured"})
    if matches(core, header, client):
        return
    if not header:
        raise Unauthorized("Missing X-Admin-Key header", {"reason": "missing_admin_key"})
    raise Unauthorized("Invalid admin key", {"reason": "invalid_admin_key"})
