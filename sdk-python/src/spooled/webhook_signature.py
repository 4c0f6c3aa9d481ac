"""Verify that an outgoing-webhook delivery was sent by your Spooled server.

The server signs each delivery whose webhook has a secret:

    X-Spooled-Timestamp: <Unix seconds>
    X-Spooled-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

Verify against the raw request bytes (before any JSON parsing), and reject old timestamps so
a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable, Mapping

from .errors import WebhookSignatureError

SIGNATURE_HEADER = "X-Spooled-Signature"
TIMESTAMP_HEADER = "X-Spooled-Timestamp"
# Deliveries older (or further in the future) than this many seconds are refused.
DEFAULT_TOLERANCE_SECONDS = 300
_PREFIX = "sha256="


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def compute_webhook_signature(secret: str | bytes, timestamp: str | int, body: str | bytes) -> str:
    """The `X-Spooled-Signature` value for a body sent at `timestamp`: "sha256=<hex>"."""
    signed = _as_bytes(str(timestamp)) + b"." + _as_bytes(body)
    return _PREFIX + hmac.new(_as_bytes(secret), signed, hashlib.sha256).hexdigest()


def verify_webhook_signature(body: str | bytes, *, secret: str | bytes, signature: str | None,
                             timestamp: str | int | None, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
                             clock: Callable[[], float] = time.time) -> None:
    """Raises WebhookSignatureError unless `signature` is the server's signature of `body` at
    `timestamp` and the timestamp is within `tolerance_seconds` of `clock()` (Unix seconds).

    The comparison runs in constant time, so timing reveals nothing about the expected value.
    """
    if not signature or timestamp is None or str(timestamp).strip() == "":
        raise WebhookSignatureError("missing signature or timestamp")
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        raise WebhookSignatureError("timestamp is not an integer number of seconds") from None
    if abs(clock() - sent_at) > tolerance_seconds:
        raise WebhookSignatureError("timestamp is outside the tolerance window")
    if not signature.startswith(_PREFIX):
        raise WebhookSignatureError("signature must look like sha256=<hex>")
    expected = compute_webhook_signature(secret, str(sent_at), body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        raise WebhookSignatureError("signature does not match")


def verify_webhook_request(body: str | bytes, headers: Mapping[str, str], *, secret: str | bytes,
                           tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
                           clock: Callable[[], float] = time.time) -> None:
    """verify_webhook_signature, reading the two headers (case-insensitively) from `headers`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    verify_webhook_signature(body, secret=secret, signature=lowered.get(SIGNATURE_HEADER.lower()),
                             timestamp=lowered.get(TIMESTAMP_HEADER.lower()),
                             tolerance_seconds=tolerance_seconds, clock=clock)
