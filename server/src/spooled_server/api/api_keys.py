"""/api/v1/api-keys: the caller organization's API keys. Secrets appear only on creation."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, StrictBool, field_validator

from ..services import api_keys as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import ApiKeyName, ApiKeyQueues, KeyRateLimit, Timestamp, check_path_id
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/api-keys", tags=["apiKeys"])


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateApiKeyBody(Body):
    name: ApiKeyName
    queues: ApiKeyQueues | None = None
    rate_limit: KeyRateLimit | None = None
    expires_at: Timestamp | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(timezone.utc):
            raise ValueError("expires_at must be in the future")
        return value


class UpdateApiKeyBody(Body):
    # null means "leave as is" for every field (rate_limit cannot be cleared, as in the reference).
    name: ApiKeyName | None = None
    queues: ApiKeyQueues | None = None
    rate_limit: KeyRateLimit | None = None
    is_active: StrictBool | None = None


@router.get("", operation_id="apiKeys.list")
async def list_keys(request: Request, who: Caller = Depends(caller)):
    return json(await service.list_keys(core_of(request), who.org_id))


@router.post("", operation_id="apiKeys.create")
async def create_key(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, CreateApiKeyBody)
    created = await service.create(core_of(request), who.org_id, name=body.name,
                                   queues=body.queues if body.queues is not None else ["*"],
                                   rate_limit=body.rate_limit, expires_at=body.expires_at)
    return json(created, 201)


@router.get("/{key_id}", operation_id="apiKeys.get")
async def get_key(key_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get(core_of(request), who.org_id, check_path_id(key_id, "API key")))


@router.put("/{key_id}", operation_id="apiKeys.update")
async def update_key(key_id: str, request: Request, who: Caller = Depends(caller)):
    check_path_id(key_id, "API key")
    body = await read_body(request, UpdateApiKeyBody)
    changes = body.model_dump(exclude_none=True)
    return json(await service.update(core_of(request), who.org_id, key_id, changes))


@router.delete("/{key_id}", operation_id="apiKeys.delete")
async def revoke_key(key_id: str, request: Request, who: Caller = Depends(caller)):
    await service.revoke(core_of(request), who.org_id, check_path_id(key_id, "API key"))
    return no_content()
