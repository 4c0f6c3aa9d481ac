"""/api/v1/jobs/dlq: dead-lettered jobs. Registered before the jobs router, so these fixed
paths are not taken for /jobs/{job_id}."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..services import dlq as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import MAX_OFFSET, Bool, JobId, Limit100, Limit10000, QueueName, Timestamp, parse_queue_name
from .responses import json

router = APIRouter(prefix="/api/v1/jobs/dlq", tags=["jobs"])


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_ids: list[JobId] | None = Field(default=None, max_length=100)
    queue_name: QueueName | None = None
    limit: Limit100 | None = None


class PurgeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    queue_name: QueueName | None = None
    older_than: Timestamp | None = None
    limit: Limit10000 | None = None
    # Optional here so that a missing confirm gets the same explanatory 400 as confirm:false.
    confirm: Bool | None = None


@router.get("", operation_id="jobs.dlqList")
async def list_dlq(request: Request, who: Caller = Depends(caller), queue_name: str | None = None,
                   limit: int = Query(50), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    if queue_name is not None:
        queue_name = parse_queue_name(queue_name, "queue_name")
    # Out-of-range limits are clamped, as for GET /jobs (reference behaviour).
    rows = await service.list_jobs(core_of(request), who.org_id, queue_name=queue_name,
                                   limit=max(1, min(limit, 100)), offset=offset)
    return json(rows)


@router.post("/retry", operation_id="jobs.dlqRetry")
async def retry_dlq(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, RetryBody, empty_ok=True)
    return json(await service.retry(core_of(request), who.org_id, job_ids=body.job_ids,
                                    queue_name=body.queue_name, limit=body.limit))


@router.post("/purge", operation_id="jobs.dlqPurge")
async def purge_dlq(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, PurgeBody, empty_ok=True)
    return json(await service.purge(core_of(request), who.org_id, confirm=body.confirm,
                                    queue_name=body.queue_name, older_than=body.older_than,
                                    limit=body.limit))
