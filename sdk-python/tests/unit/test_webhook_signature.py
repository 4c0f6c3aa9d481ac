"""Verifying outgoing-webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", 300 s window."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from spooled import WebhookSignatureError, compute_webhook_signature, verify_webhook_request, verify_webhook_signature

SECRET = "whsec_test"
BODY = b'{"event":"job.completed","job_id":"j1"}'
NOW = 1_700_000_000


def sign(ts: int | str = NOW, body: bytes = BODY, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def test_compute_matches_the_documented_construction():
    assert compute_webhook_signature(SECRET, NOW, BODY) == sign()
    assert compute_webhook_signature(SECRET.encode(), str(NOW), BODY.decode()) == sign()


@pytest.mark.parametrize("offset", [0, 300, -300, 299])
def test_valid_signatures_inside_the_window_pass(offset):
    verify_webhook_signature(BODY, secret=SECRET, signature=sign(), timestamp=str(NOW), clock=lambda: NOW + offset)


@pytest.mark.parametrize("signature, timestamp, clock_offset, reason", [
    (None, str(NOW), 0, "missing"),
    ("", str(NOW), 0, "missing"),
    (sign(), None, 0, "missing"),
    (sign(), "yesterday", 0, "integer"),
    (sign(), str(NOW), 301, "tolerance"),
    (sign(), str(NOW), -301, "tolerance"),
    (sign().removeprefix("sha256="), str(NOW), 0, "sha256="),
    (sign(secret="other"), str(NOW), 0, "does not match"),
    (sign(ts=NOW + 1), str(NOW), 0, "does not match"),
    (sign(body=BODY + b" "), str(NOW), 0, "does not match"),
    (sign().upper().replace("SHA256=", "sha256="), str(NOW), 0, "does not match"),
])
def test_bad_signatures_are_rejected(signature, timestamp, clock_offset, reason):
    with pytest.raises(WebhookSignatureError, match=reason):
        verify_webhook_signature(BODY, secret=SECRET, signature=signature, timestamp=timestamp,
                                 clock=lambda: NOW + clock_offset)


def test_custom_tolerance():
    with pytest.raises(WebhookSignatureError):
        verify_webhook_signature(BODY, secret=SECRET, signature=sign(), timestamp=NOW, tolerance_seconds=10,
                                 clock=lambda: NOW + 11)


def test_headers_are_read_case_insensitively():
    headers = {"x-spooled-signature": sign(), "X-SPOOLED-TIMESTAMP": str(NOW), "Content-Type": "application/json"}
    verify_webhook_request(BODY, headers, secret=SECRET, clock=lambda: NOW)
    with pytest.raises(WebhookSignatureError):
        verify_webhook_request(BODY, {"X-Spooled-Timestamp": str(NOW)}, secret=SECRET, clock=lambda: NOW)


def test_error_is_a_spooled_error():
    from spooled import SpooledError
    with pytest.raises(SpooledError) as caught:
        verify_webhook_signature(BODY, secret=SECRET, signature="sha256=00", timestamp=NOW, clock=lambda: NOW)
    assert caught.value.code == "invalid_signature"
