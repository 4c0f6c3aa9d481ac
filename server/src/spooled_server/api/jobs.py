"""/api/v1/jobs: create and inspect jobs, and the worker protocol."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from ..errors import BadRequest, ValidationFailed
from ..services import jobs as service
from ..services.auth import Caller
from .body import read_body
from .disconnect import wait_ended
from .deps import caller, core_of
from .fields import (MAX_OFFSET, IdempotencyKey, JsonValue, LeaseSeconds, Limit100, MaxRetries, Payload, Priority,
                     QueueName, Tags, TimeoutSeconds, Timestamp, check_queue_name)
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateJobBody(Strict):
    queue_name: QueueName
    payload: Payload = Field(...)
    priority: Priority = 0
    max_retries: MaxRetries | None = None
    timeout_seconds: TimeoutSeconds | None = None
    scheduled_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    idempotency_key: IdempotencyKey | None = None
    tags: Tags = None
    parent_job_id: str | None = Field(default=None, min_length=1, max_length=255)
    completion_webhook: HttpUrl | None = None

    @model_validator(mode="after")
    def _payload_present(self) -> "CreateJobBody":
        if self.payload is None:
            raise ValueError("payload is required and must not be null")
        return self


class BulkItem(Strict):
    payload: Payload = Field(...)
    priority: Priority | None = None
    idempotency_key: IdempotencyKey | None = None
    scheduled_at: Timestamp | None = None
    max_retries: MaxRetries | None = None
    timeout_seconds: TimeoutSeconds | None = None

    @model_validator(mode="after")
    def _payload_present(self) -> "BulkItem":
        if self.payload is None:
            raise ValueError("payload is required and must not be null")
        return self


class BulkBody(Strict):
    queue_name: QueueName
    jobs: list[BulkItem] = Field(min_length=1, max_length=100)
    default_priority: Priority | None = None
    default_max_retries: MaxRetries | None = None
    default_timeout_seconds: TimeoutSeconds | None = None


class ClaimBody(Strict):
    queue_name: QueueName
    worker_id: str = Field(min_length=1, max_length=255)
    limit: Limit100 = 1
    lease_duration_secs: LeaseSeconds | None = None
    # Extension: hold an empty claim up to this long for work to arrive (old clients never send it).
    wait_ms: int = Field(default=0, ge=0, le=30_000, strict=True)


class CompleteBody(Strict):
    worker_id: str | None = Field(default=None, min_length=1, max_length=255)
    lease_id: str | None = Field(default=None, min_length=1, max_length=255)
    result: JsonValue = None


class BatchCompleteItem(Strict):
    job_id: str = Field(min_length=1, max_length=255)
    lease_id: str | None = Field(default=None, min_length=1, max_length=255)
    worker_id: str | None = Field(default=None, min_length=1, max_length=255)
    result: JsonValue = None


class BatchCompleteBody(Strict):
    worker_id: str | None = Field(default=None, min_length=1, max_length=255)
    jobs: list[BatchCompleteItem] = Field(min_length=1, max_length=100)


class FailBody(Strict):
    worker_id: str | None = Field(default=None, min_length=1, max_length=255)
    lease_id: str | None = Field(default=None, min_length=1, max_length=255)
    # Long messages (stack traces) are accepted and truncated when stored, never refused.
    error: str | None = Field(default=None, min_length=1, max_length=65536)
    reason: str | None = Field(default=None, min_length=1, max_length=65536)
    no_retry: bool = False

    @model_validator(mode="after")
    def _message(self) -> "FailBody":
        if self.error is None and self.reason is None:
            raise ValueError("error is required")
        return self


class HeartbeatBody(Strict):
    worker_id: str | None = Field(default=None, min_length=1, max_length=255)
    lease_id: str | None = Field(default=None, min_length=1, max_length=255)
    lease_duration_secs: LeaseSeconds | None = None
    extension_secs: LeaseSeconds | None = None


class PriorityBody(Strict):
    priority: Priority


def _require_fence(worker_id: str | None, lease_id: str | None, field: str = "worker_id") -> None:
    if worker_id is None and lease_id is None:
        raise ValidationFailed("Validation failed", [
            {"field": field, "message": "worker_id or lease_id is required", "code": "missing"}])


@router.post("", operation_id="jobs.create")
async def create_job(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, CreateJobBody)
    who.require_queue(body.queue_name)
    job = service.NewJob(
        queue_name=body.queue_name, payload=body.payload, priority=body.priority,
        max_retries=body.max_retries, timeout_seconds=body.timeout_seconds,
        scheduled_at=body.scheduled_at, expires_at=body.expires_at,
        idempotency_key=body.idempotency_key, tags=body.tags, parent_job_id=body.parent_job_id,
        completion_webhook=str(body.completion_webhook) if body.completion_webhook else None)
    job_id, created = await service.create(core_of(request), who.org_id, job)
    return json({"id": job_id, "created": created}, 201 if created else 200)


@router.post("/bulk", operation_id="jobs.bulkCreate")
async def bulk_create(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, BulkBody)
    who.require_queue(body.queue_name)
    jobs = [service.NewJob(
        queue_name=body.queue_name, payload=item.payload,
        priority=item.priority if item.priority is not None else (body.default_priority or 0),
        max_retries=item.max_retries if item.max_retries is not None else body.default_max_retries,
        timeout_seconds=item.timeout_seconds if item.timeout_seconds is not None else body.default_timeout_seconds,
        scheduled_at=item.scheduled_at, idempotency_key=item.idempotency_key) for item in body.jobs]
    results = await service.create_many(core_of(request), who.org_id, jobs)
    succeeded = [{"index": i, "job_id": job_id, "created": created}
                 for i, (job_id, created) in enumerate(results)]
    return json({"succeeded": succeeded, "failed": [], "total": len(results),
                 "success_count": len(succeeded), "failure_count": 0})


@router.get("", operation_id="jobs.list")
async def list_jobs(request: Request, who: Caller = Depends(caller),
                    queue_name: str | None = None, status: str | None = None, tag: str | None = None,
                    limit: int = Query(50), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    if queue_name is not None:
        try:
            check_queue_name(queue_name)
        except ValueError as err:
            raise ValidationFailed(str(err), [{"field": "queue_name", "message": str(err), "code": "invalid"}])
    if status is not None and status not in service.STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(service.STATUSES)}",
                               [{"field": "status", "message": "unknown status", "code": "invalid"}])
    if tag is not None and not 1 <= len(tag) <= 255:
        raise ValidationFailed("tag must be 1-255 characters")
    rows = await service.list_jobs(core_of(request), who.org_id, queue_name=queue_name, status=status,
                                   tag=tag, limit=max(1, min(limit, 100)), offset=offset)
    return json(rows)


@router.get("/stats", operation_id="jobs.stats")
async def job_stats(request: Request, who: Caller = Depends(caller)):
    return json(await service.stats(core_of(request), who.org_id))


@router.get("/status", operation_id="jobs.batchStatus")
async def batch_status(request: Request, who: Caller = Depends(caller), ids: str | None = None):
    if ids is None:
        raise BadRequest("The ids query parameter is required (comma-separated job ids)")
    id_list = [i.strip() for i in ids.split(",") if i.strip()]
    if len(id_list) > 100:
        raise BadRequest("At most 100 ids per request")
    return json(await service.batch_status(core_of(request), who.org_id, id_list))


@router.post("/claim", operation_id="jobs.claim")
async def claim(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, ClaimBody)
    who.require_queue(body.queue_name)
    core = core_of(request)
    lease = body.lease_duration_secs or core.settings.worker_lease_duration_secs
    if body.wait_ms:  # a long poll ends early if its worker dies or the server stops
        async with wait_ended(request) as ended:
            jobs = await service.claim(core, who.org_id, body.queue_name, body.worker_id, body.limit,
                                       lease, body.wait_ms, give_up=ended)
    else:
        jobs = await service.claim(core, who.org_id, body.queue_name, body.worker_id, body.limit, lease)
    return json({"jobs": [{k: j[k] for k in ("id", "queue_name", "payload", "retry_count", "max_retries",
                                             "timeout_seconds", "lease_expires_at", "lease_id",
                                             "status", "priority", "created_at")} for j in jobs]})


@router.post("/complete", operation_id="jobs.completeBatch")
async def complete_batch(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, BatchCompleteBody)
    items = []
    for i, item in enumerate(body.jobs):
        worker_id = item.worker_id or body.worker_id
        _require_fence(worker_id, item.lease_id, f"jobs.{i}")
        items.append({"job_id": item.job_id, "lease_id": item.lease_id, "worker_id": worker_id,
                      "result": item.result})
    results = await service.complete_batch(core_of(request), who.org_id, items)
    ok = sum(1 for r in results if r["success"])
    return json({"results": results, "success_count": ok, "failure_count": len(results) - ok})


@router.get("/{job_id}", operation_id="jobs.get")
async def get_job(job_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get(core_of(request), who.org_id, job_id))


@router.delete("/{job_id}", operation_id="jobs.cancel")
async def cancel_job(job_id: str, request: Request, who: Caller = Depends(caller)):
    await service.cancel(core_of(request), who.org_id, job_id)
    return no_content()


@router.post("/{job_id}/retry", operation_id="jobs.retry")
async def retry_job(job_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.retry(core_of(request), who.org_id, job_id))


@router.put("/{job_id}/priority", operation_id="jobs.boostPriority")
async def boost_priority(job_id: str, request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, PriorityBody)
    return json(await service.boost_priority(core_of(request), who.org_id, job_id, body.priority))


@router.post("/{job_id}/complete", operation_id="jobs.complete")
async def complete(job_id: str, request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, CompleteBody)
    _require_fence(body.worker_id, body.lease_id)
    await service.complete(core_of(request), who.org_id, job_id, worker_id=body.worker_id,
                           lease_id=body.lease_id, result=body.result)
    return json({"success": True})


@router.post("/{job_id}/fail", operation_id="jobs.fail")
async def fail(job_id: str, request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, FailBody)
    _require_fence(body.worker_id, body.lease_id)
    message = body.error or body.reason or ""
    outcome = await service.fail(core_of(request), who.org_id, job_id, worker_id=body.worker_id,
                                 lease_id=body.lease_id, error=message, allow_retry=not body.no_retry)
    return json({"success": True, "will_retry": outcome["will_retry"],
                 "next_retry_delay_secs": outcome["next_retry_delay_secs"]})


@router.post("/{job_id}/heartbeat", operation_id="jobs.heartbeat")
async def heartbeat(job_id: str, request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, HeartbeatBody)
    _require_fence(body.worker_id, body.lease_id)
    core = core_of(request)
    lease = body.lease_duration_secs or body.extension_secs or core.settings.worker_lease_duration_secs
    expires = await service.heartbeat(core, who.org_id, job_id, worker_id=body.worker_id,
                                      lease_id=body.lease_id, lease_secs=lease)
    return json({"success": True, "lease_expires_at": expires})
