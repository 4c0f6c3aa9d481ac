"""/api/v1/schedules: cron schedules that enqueue jobs from a template.

Unlike the public server (plain-text errors on these routes), every error here is the JSON
envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..services import schedules as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import (MAX_OFFSET, Bool, JsonValue, MaxRetries, MetadataObject, Priority, QueueName, Tags,
                     TimeoutSeconds, check_path_id, parse_queue_name)
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])

class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateScheduleBody(Lenient):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    # Checked by the service, whose message names the problem ("Invalid cron expression: ...").
    cron_expression: str
    timezone: str | None = None
    queue_name: QueueName
    payload_template: JsonValue = Field(...)
    priority: Priority | None = None
    max_retries: MaxRetries | None = None
    timeout_seconds: TimeoutSeconds | None = None
    tags: Tags = None
    metadata: MetadataObject | None = None

    @model_validator(mode="after")
    def _template_present(self) -> "CreateScheduleBody":
        if self.payload_template is None:
            raise ValueError("payload_template is required and must not be null")
        return self


class UpdateScheduleBody(Lenient):
    """Every field optional; omitted and null both mean "keep". queue_name cannot change and
    is ignored (like any unknown key)."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    cron_expression: str | None = None
    timezone: str | None = None
    payload_template: JsonValue = None
    priority: Priority | None = None
    max_retries: MaxRetries | None = None
    timeout_seconds: TimeoutSeconds | None = None
    is_active: Bool | None = None
    tags: Tags = None
    metadata: MetadataObject | None = None


def _schedule_id(value: str) -> str:
    return check_path_id(value, "Schedule")


@router.get("", operation_id="schedules.list")
async def list_schedules(request: Request, who: Caller = Depends(caller), limit: int = Query(100),
                         offset: int = Query(0, ge=0, le=MAX_OFFSET), queue_name: str | None = None,
                         is_active: bool | None = None):
    if queue_name is not None:
        queue_name = parse_queue_name(queue_name, "queue_name")
    rows = await service.list_schedules(core_of(request), who.org_id, queue_name=queue_name,
                                        is_active=is_active, limit=max(1, min(limit, 500)), offset=offset)
    return json(rows)


@router.post("", operation_id="schedules.create")
async def create_schedule(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, CreateScheduleBody)
    created = await service.create(core_of(request), who.org_id, service.NewSchedule(**body.model_dump()))
    return json(created, 201)


@router.get("/{schedule_id}", operation_id="schedules.get")
async def get_schedule(schedule_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get(core_of(request), who.org_id, _schedule_id(schedule_id)))


@router.put("/{schedule_id}", operation_id="schedules.update")
async def update_schedule(schedule_id: str, request: Request, who: Caller = Depends(caller)):
    schedule_id = _schedule_id(schedule_id)
    body = await read_body(request, UpdateScheduleBody)
    changes: dict[str, Any] = {k: v for k, v in body.model_dump().items() if v is not None}
    return json(await service.update(core_of(request), who.org_id, schedule_id, changes))


@router.delete("/{schedule_id}", operation_id="schedules.delete")
async def delete_schedule(schedule_id: str, request: Request, who: Caller = Depends(caller)):
    await service.delete(core_of(request), who.org_id, _schedule_id(schedule_id))
    return no_content()


@router.post("/{schedule_id}/pause", operation_id="schedules.pause")
async def pause_schedule(schedule_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.pause(core_of(request), who.org_id, _schedule_id(schedule_id)))


@router.post("/{schedule_id}/resume", operation_id="schedules.resume")
async def resume_schedule(schedule_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.resume(core_of(request), who.org_id, _schedule_id(schedule_id)))


@router.post("/{schedule_id}/trigger", operation_id="schedules.trigger")
async def trigger_schedule(schedule_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.trigger(core_of(request), who.org_id, _schedule_id(schedule_id)))


@router.get("/{schedule_id}/history", operation_id="schedules.getHistory")
async def schedule_history(schedule_id: str, request: Request, who: Caller = Depends(caller),
                           limit: int = Query(50)):
    return json(await service.history(core_of(request), who.org_id, _schedule_id(schedule_id),
                                      max(1, min(limit, 500))))
