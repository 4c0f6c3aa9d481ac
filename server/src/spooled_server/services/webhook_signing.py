"""Signing of outgoing webhook requests.

Receivers verify `X-Spooled-Signature: sha256=<hex>` where hex is HMAC-SHA256 keyed with the
webhook's secret over "<X-Spooled-Timestamp>.<raw body>". Without a secret the signature header
is left out (the other headers are always sent).
"""

from __future__ import annotations

import hashlib
import hmac

USER_AGENT = "Spooled-Webhook/1.0"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """"sha256=<lowercase hex>" over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """Constant-time check of a received signature header (what a receiver does)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def headers(*, event: str, body: bytes, secret: str | None, timestamp: int, attempt: int,
            delivery_id: str | None) -> dict[str, str]:
    """Every header of one delivery attempt; the delivery id stays the same across retries."""
    out = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Spooled-Event": event,
           "X-Spooled-Timestamp": str(timestamp), "X-Spooled-Delivery-Attempt": str(attempt)}
    if delivery_id is not None:
        out["X-Spooled-Delivery-Id"] = delivery_id
    if secret:
        out["X-Spooled-Signature"] = signature(secret, timestamp, body)
    return out
