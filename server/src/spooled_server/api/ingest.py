"""/api/v1/webhooks/{org_id}/{custom,github,stripe}: public ingestion of external events as jobs.

No API key: the organization's webhook token (when set) and, for GitHub and Stripe, the
provider's signature authenticate the sender. Answers 200 {job_id, queue_name, status, created}.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..errors import BadRequest, ValidationFailed
from ..services import ingest as service
from ..services.jobs import NewJob
from .body import contains_nul, dumps, parse_json_bytes
from .deps import core_of
from .fields import IdempotencyKey, JsonValue, Priority, QueueName, check_path_id
from .responses import json

router = APIRouter(prefix="/api/v1/webhooks", tags=["ingest"])


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null")
    return value


# A job's payload is NOT NULL in the database: JSON null is a 400 here, as on POST /jobs, not
# a constraint violation (500) at insert time.
JobPayload = Annotated[JsonValue, AfterValidator(_not_null)]


class CustomBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    queue_name: QueueName
    event_type: Annotated[str, Field(max_length=100)] | None = None
    payload: JobPayload = Field(...)
    idempotency_key: IdempotencyKey | None = None
    priority: Priority = 0


class _StripeData(BaseModel):
    model_config = ConfigDict(extra="ignore")
    object: JobPayload = Field(...)


class StripeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=255)]
    type: Annotated[str, Field(min_length=1, max_length=200)]
    data: _StripeData
    created: int | None = None


async def _sender_ok(request: Request, org_id: str) -> str:
    org_id = check_path_id(org_id, "Organization")
    core = core_of(request)
    if core.settings.is_production and request.headers.get("x-forwarded-proto", "").lower() != "https":
        raise BadRequest("Webhooks must be delivered over HTTPS")
    await service.check_sender(core, org_id, request.headers.get("x-webhook-token"))
    return org_id


@router.post("/{org_id}/custom", operation_id="ingest.custom")
async def ingest_custom(org_id: str, request: Request):
    org_id = await _sender_ok(request, org_id)
    body = parse_json_bytes(await request.body(), CustomBody)
    job = NewJob(queue_name=body.queue_name, payload=body.payload, priority=body.priority,
                 idempotency_key=body.idempotency_key)
    return json(await service.enqueue(core_of(request), org_id, "custom", job, body.event_type))


@router.post("/{org_id}/github", operation_id="ingest.github")
async def ingest_github(org_id: str, request: Request):
    org_id = await _sender_ok(request, org_id)
    raw = await request.body()
    service.verify_github(core_of(request).settings.github_webhook_secret, raw,
                          request.headers.get("x-hub-signature-256"))
    try:
        payload: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("GitHub payload is not valid JSON") from None
    dumps(payload)  # refuses values PostgreSQL cannot store
    if payload is None:
        raise ValidationFailed("Validation failed", [
            {"field": "body", "message": "GitHub payload must not be null", "code": "value_error"}])
    if b"\\u0000" in raw and contains_nul(payload):
        raise ValidationFailed("Validation failed", [
            {"field": "body", "message": "strings must not contain NUL (\\u0000) characters",
             "code": "nul_character"}])
    event = request.headers.get("x-github-event")
    delivery = request.headers.get("x-github-delivery")
    job = NewJob(queue_name=service.github_queue(event), payload=payload,
                 idempotency_key=f"github:{delivery}"[:255] if delivery else None)
    return json(await service.enqueue(core_of(request), org_id, "github", job, event or "unknown"))


@router.post("/{org_id}/stripe", operation_id="ingest.stripe")
async def ingest_stripe(org_id: str, request: Request):
    org_id = await _sender_ok(request, org_id)
    raw = await request.body()
    service.verify_stripe(core_of(request).settings.stripe_webhook_secret, raw,
                          request.headers.get("stripe-signature"))
    event = parse_json_bytes(raw, StripeEvent)
    job = NewJob(queue_name=service.stripe_queue(event.type), payload=event.data.object,
                 idempotency_key=event.id)
    return json(await service.enqueue(core_of(request), org_id, "stripe", job, event.type))
