"""Incoming webhooks: turn a provider's request into a job, after checking who sent it.

Every provider first requires the organization to exist (404) and, when the organization has
set settings.webhook_token, the X-Webhook-Token header to match it (401). GitHub and Stripe
additionally verify their own HMAC signatures with the server-wide secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any, Callable

from ..errors import NotFound, ServiceUnavailable, Unauthorized
from ..store import organizations as org_store
from . import jobs
from .core import Core

STRIPE_TOLERANCE_SECS = 300
STRIPE_FUTURE_SECS = 60
_QUEUE_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


async def check_sender(core: Core, org_id: str, token: str | None) -> None:
    """404 for an unknown organization; 401 when its webhook token is set and not matched."""
    async with core.pool.acquire() as conn:
        org = await org_store.get(conn, org_id)
    if org is None:
        raise NotFound("Organization not found")
    expected = (org["settings"] or {}).get("webhook_token")
    if isinstance(expected, str) and expected:
        if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
            raise Unauthorized("Invalid or missing X-Webhook-Token")


async def enqueue(core: Core, org_id: str, provider: str, job: jobs.NewJob,
                  event_type: str | None) -> dict[str, Any]:
    """Creates (or, by idempotency key, finds) the job; a created job's audit row commits with it."""

    async def audit(conn, inserted: set[str]) -> None:
        if job.id in inserted:
            await conn.execute(
                """INSERT INTO webhook_deliveries_in (organization_id, provider, event_type, job_id)
                   VALUES ($1, $2, $3, $4)""", org_id, provider, event_type, job.id)

    job_id, created = await jobs.create(core, org_id, job, also_write=audit)
    async with core.pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM jobs WHERE organization_id = $1 AND id = $2",
                                     org_id, job_id)
    return {"job_id": job_id, "queue_name": job.queue_name, "status": status or "pending", "created": created}


def _secret(value: str | None, name: str) -> str:
    if not value:
        raise ServiceUnavailable(f"{name} is not configured on this server")
    return value


def verify_github(secret: str | None, body: bytes, header: str | None) -> None:
    key = _secret(secret, "GITHUB_WEBHOOK_SECRET")
    expected = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    if header is None or not hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        raise Unauthorized("Invalid or missing X-Hub-Signature-256")


def github_queue(event: str | None) -> str:
    return "github-" + _QUEUE_UNSAFE.sub("-", (event or "unknown")[:64])


def verify_stripe(secret: str | None, body: bytes, header: str | None,
                  clock: Callable[[], float] = time.time) -> None:
    """Stripe-Signature `t=<unix>,v1=<hex>[,v1=...]` over "<t>.<body>"; any v1 may match. Older
    than 300 s, or more than 60 s ahead of our clock, is refused as a replay."""
    key = _secret(secret, "STRIPE_WEBHOOK_SECRET")
    if not header:
        raise Unauthorized("Missing Stripe-Signature")
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            candidates.append(value.lower())
    if timestamp is None or not timestamp.isdigit() or not candidates:
        raise Unauthorized("Malformed Stripe-Signature")
    age = clock() - int(timestamp)
    if age > STRIPE_TOLERANCE_SECS or age < -STRIPE_FUTURE_SECS:
        raise Unauthorized("Stripe-Signature timestamp outside the tolerance window")
    expected = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        raise Unauthorized("Invalid Stripe-Signature")


def stripe_queue(event_type: str) -> str:
    return "stripe-" + _QUEUE_UNSAFE.sub("-", event_type.replace(".", "-"))[:100]
