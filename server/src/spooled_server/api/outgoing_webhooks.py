"""/api/v1/outgoing-webhooks: notification subscriptions, their deliveries, test and retry.

`secret` is write-only: accepted on create and update, never returned.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..services import webhooks as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import MAX_OFFSET, Bool, check_path_id
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/outgoing-webhooks", tags=["webhooks"])

Name = Annotated[str, Field(min_length=1, max_length=255)]
Url = Annotated[str, Field(min_length=1, max_length=2048)]
Events = Annotated[list[service.Event], Field(min_length=1, max_length=len(service.EVENTS) * 4)]
Secret = Annotated[str, Field(max_length=255)]


class CreateWebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name
    url: Url
    events: Events
    secret: Secret | None = None
    enabled: Bool = True


class UpdateWebhookBody(BaseModel):
    """Partial; for `secret` an omitted key keeps it, null clears it, a string replaces it."""

    model_config = ConfigDict(extra="ignore")

    name: Name | None = None
    url: Url | None = None
    events: Events | None = None
    secret: Secret | None = None
    enabled: Bool | None = None


def _webhook_id(value: str) -> str:
    return check_path_id(value, "Webhook")


@router.get("", operation_id="webhooks.list")
async def list_webhooks(request: Request, who: Caller = Depends(caller)):
    return json(await service.list_webhooks(core_of(request), who.org_id))


@router.post("", operation_id="webhooks.create")
async def create_webhook(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, CreateWebhookBody)
    created = await service.create(core_of(request), who.org_id, name=body.name, url=body.url,
                                   events=list(body.events), secret=body.secret, enabled=body.enabled)
    return json(created, 201)


@router.get("/{webhook_id}", operation_id="webhooks.get")
async def get_webhook(webhook_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get(core_of(request), who.org_id, _webhook_id(webhook_id)))


@router.put("/{webhook_id}", operation_id="webhooks.update")
async def update_webhook(webhook_id: str, request: Request, who: Caller = Depends(caller)):
    webhook_id = _webhook_id(webhook_id)
    body = await read_body(request, UpdateWebhookBody)
    sent = body.model_fields_set
    # null means "keep" for every field except secret, where it means "clear".
    changes = {k: getattr(body, k) for k in sent if k == "secret" or getattr(body, k) is not None}
    if "events" in changes:
        changes["events"] = list(changes["events"])
    return json(await service.update(core_of(request), who.org_id, webhook_id, changes))


@router.delete("/{webhook_id}", operation_id="webhooks.delete")
async def delete_webhook(webhook_id: str, request: Request, who: Caller = Depends(caller)):
    await service.delete(core_of(request), who.org_id, _webhook_id(webhook_id))
    return no_content()


@router.post("/{webhook_id}/test", operation_id="webhooks.test")
async def test_webhook(webhook_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.send_test(core_of(request), who.org_id, _webhook_id(webhook_id)))


@router.get("/{webhook_id}/deliveries", operation_id="webhooks.listDeliveries")
async def list_deliveries(webhook_id: str, request: Request, who: Caller = Depends(caller),
                          status: Literal["pending", "success", "failed"] | None = None,
                          limit: int = Query(100), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    # status, limit and offset are documented parameters; they used to be ignored. limit is
    # clamped to 1..100 like the other list routes; an unknown status or a negative offset is 400.
    return json(await service.deliveries(core_of(request), who.org_id, _webhook_id(webhook_id),
                                         status=status, limit=max(1, min(limit, 100)), offset=offset))


@router.post("/{webhook_id}/retry/{delivery_id}", operation_id="webhooks.retryDelivery")
async def retry_delivery(webhook_id: str, delivery_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.retry_delivery(core_of(request), who.org_id, _webhook_id(webhook_id),
                                             check_path_id(delivery_id, "Delivery")))


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", operation_id="webhooks.retryDeliveryAlt")
async def retry_delivery_alias(webhook_id: str, delivery_id: str, request: Request,
                               who: Caller = Depends(caller)):
    return await retry_delivery(webhook_id, delivery_id, request, who)
