"""Outgoing webhook signatures against fixed vectors (computed independently with openssl)."""

from __future__ import annotations

import pytest

from spooled_server.services import webhook_signing as signing

BODY = b'{"event":"job.completed","job_id":"j1"}'

VECTORS = [
    ("whsec_test", 1700000000, BODY, "sha256=3a1304cbfa5270ffc0f8e72192b25d803293dc6312d34e40e8b9feea0b574c03"),
    ("k", 0, b"", "sha256=6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7"),
]


@pytest.mark.parametrize(("secret", "ts", "body", "expected"), VECTORS)
def test_signature_matches_the_fixed_vector(secret, ts, body, expected):
    assert signing.signature(secret, ts, body) == expected
    assert signing.verify(secret, ts, body, expected)


def test_verify_refuses_a_changed_body_timestamp_or_secret():
    good = signing.signature("whsec_test", 1700000000, BODY)
    assert not signing.verify("whsec_test", 1700000000, BODY + b" ", good)
    assert not signing.verify("whsec_test", 1700000001, BODY, good)
    assert not signing.verify("other", 1700000000, BODY, good)


def test_headers_carry_event_timestamp_attempt_delivery_id_and_signature():
    h = signing.headers(event="job.completed", body=BODY, secret="whsec_test", timestamp=1700000000,
                        attempt=3, delivery_id="d-1")
    assert h == {
        "Content-Type": "application/json", "User-Agent": "Spooled-Webhook/1.0",
        "X-Spooled-Event": "job.completed", "X-Spooled-Timestamp": "1700000000",
        "X-Spooled-Delivery-Attempt": "3", "X-Spooled-Delivery-Id": "d-1",
        "X-Spooled-Signature": VECTORS[0][3]}


@pytest.mark.parametrize("secret", [None, ""])
def test_signature_header_is_omitted_without_a_secret(secret):
    h = signing.headers(event="job.created", body=BODY, secret=secret, timestamp=1, attempt=1, delivery_id="d")
    assert "X-Spooled-Signature" not in h
    assert h["X-Spooled-Event"] == "job.created"
