"""/api/v1/queues: queue configuration, pause/resume and statistics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..services import queues as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import Bool, MaxRetries, QueueRateLimit, SettingsObject, TimeoutSeconds, parse_queue_name
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])


class QueueConfigBody(BaseModel):
    # Some SDKs repeat `queue_name` in the body; the path decides, so it is ignored like any
    # other unknown key (not even checked).
    model_config = ConfigDict(extra="ignore")

    max_retries: MaxRetries | None = None
    default_timeout: TimeoutSeconds | None = None
    rate_limit: QueueRateLimit | None = None
    enabled: Bool | None = None
    settings: SettingsObject | None = None


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str | None = Field(default=None, max_length=500)


@router.get("", operation_id="queues.list")
async def list_queues(request: Request, who: Caller = Depends(caller)):
    return json(await service.list_configs(core_of(request), who.org_id))


@router.get("/{name}", operation_id="queues.get")
async def get_queue(name: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get_config(core_of(request), who.org_id, parse_queue_name(name)))


@router.put("/{name}/config", operation_id="queues.updateConfig")
async def update_config(name: str, request: Request, who: Caller = Depends(caller)):
    name = parse_queue_name(name)
    body = await read_body(request, QueueConfigBody, empty_ok=True)
    cfg = service.QueueConfigInput(max_retries=body.max_retries, default_timeout=body.default_timeout,
                                   rate_limit=body.rate_limit, enabled=body.enabled, settings=body.settings)
    return json(await service.put_config(core_of(request), who.org_id, name, cfg))


@router.get("/{name}/stats", operation_id="queues.stats")
async def queue_stats(name: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.stats(core_of(request), who.org_id, parse_queue_name(name)))


@router.post("/{name}/pause", operation_id="queues.pause")
async def pause_queue(name: str, request: Request, who: Caller = Depends(caller)):
    name = parse_queue_name(name)
    # Several SDKs send no body when no reason is given: empty means {}.
    body = await read_body(request, PauseBody, empty_ok=True)
    return json(await service.pause(core_of(request), who.org_id, name, body.reason))


@router.post("/{name}/resume", operation_id="queues.resume")
async def resume_queue(name: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.resume(core_of(request), who.org_id, parse_queue_name(name)))


@router.delete("/{name}", operation_id="queues.delete")
async def delete_queue(name: str, request: Request, who: Caller = Depends(caller)):
    await service.delete(core_of(request), who.org_id, parse_queue_name(name))
    return no_content()
