"""/api/v1/workers: registration, heartbeats, deregistration and inspection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..services import workers as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import Hostname, MetadataObject, QueueName, WorkerId, check_path_id
from .responses import empty, json, no_content

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])


class RegisterBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    queue_name: QueueName
    hostname: Hostname
    worker_type: str | None = Field(default=None, max_length=50)
    max_concurrency: StrictInt = Field(default=5, ge=1, le=100)
    metadata: MetadataObject | None = None
    version: str | None = Field(default=None, max_length=50)
    worker_id: WorkerId | None = None


class HeartbeatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    current_jobs: StrictInt = Field(ge=0, le=1000)
    # Any value is accepted; the service records unknown ones as healthy (reference behaviour).
    status: Any = None
    metadata: MetadataObject | None = None


WORKER_DETAIL_KEYS = ("id", "organization_id", "queue_name", "queue_names", "hostname", "worker_type",
                      "max_concurrency", "current_jobs", "status", "last_heartbeat", "metadata",
                      "version", "registered_at", "created_at", "updated_at")


@router.post("/register", operation_id="workers.register")
async def register(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, RegisterBody)
    who.require_queue(body.queue_name)
    reg = service.Registration(queue_name=body.queue_name, hostname=body.hostname,
                               worker_type=body.worker_type, max_concurrency=body.max_concurrency,
                               metadata=body.metadata or {}, version=body.version, worker_id=body.worker_id)
    return json(await service.register(core_of(request), who.org_id, reg), 201)


@router.get("", operation_id="workers.list")
async def list_workers(request: Request, who: Caller = Depends(caller)):
    return json(await service.list_workers(core_of(request), who.org_id))


@router.get("/{worker_id}", operation_id="workers.get")
async def get_worker(worker_id: str, request: Request, who: Caller = Depends(caller)):
    worker = await service.get(core_of(request), who.org_id, check_path_id(worker_id, "Worker"))
    return json({k: worker[k] for k in WORKER_DETAIL_KEYS})


@router.post("/{worker_id}/heartbeat", operation_id="workers.heartbeat")
async def heartbeat(worker_id: str, request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, HeartbeatBody)
    await service.heartbeat(core_of(request), who.org_id, check_path_id(worker_id, "Worker"), current_jobs=body.current_jobs,
                            status=body.status, metadata=body.metadata)
    # The reference answers 200 with an empty body (SDKs treat the call as void).
    return empty(200)


@router.post("/{worker_id}/deregister", operation_id="workers.deregister")
async def deregister(worker_id: str, request: Request, who: Caller = Depends(caller)):
    await service.deregister(core_of(request), who.org_id, check_path_id(worker_id, "Worker"))
    return no_content()
