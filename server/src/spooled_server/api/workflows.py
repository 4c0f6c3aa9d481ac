"""/api/v1/workflows: DAGs of jobs, their progress, cancel, retry and delete."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ..services import workflows as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import (MAX_OFFSET, MaxRetries, MetadataObject, Payload, Priority, QueueName, TimeoutSeconds,
                     check_path_id, full_match)
from .responses import json, no_content

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])

MAX_JOBS = 100

_NAME = re.compile(r"[A-Za-z0-9 _.()-]+")
_KEY = re.compile(r"[A-Za-z0-9_-]+")

WorkflowName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(
    full_match(_NAME, "may contain only letters, digits, spaces and - _ . ( )"))]
JobKey = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(
    full_match(_KEY, "may contain only letters, digits, '-' and '_'"))]
# Not pattern-checked: a key that names no job is refused by the graph check, which names it.
DependencyKey = Annotated[str, Field(min_length=1, max_length=100)]


class WorkflowJobBody(BaseModel):
    """One job of the workflow. Optional fields sent as null take their defaults."""

    model_config = ConfigDict(extra="ignore")

    key: JobKey
    queue_name: QueueName
    payload: Payload = Field(...)
    depends_on: list[DependencyKey] | None = Field(default=None, max_length=MAX_JOBS)
    dependency_mode: Literal["all", "any"] | None = None
    priority: Priority | None = None
    max_retries: MaxRetries | None = None
    timeout_seconds: TimeoutSeconds | None = None

    @model_validator(mode="after")
    def _payload_present(self) -> "WorkflowJobBody":
        if self.payload is None:
            raise ValueError("payload is required and must not be null")
        return self

    def to_job(self) -> service.WorkflowJob:
        optional = {"dependency_mode": self.dependency_mode, "priority": self.priority,
                    "max_retries": self.max_retries, "timeout_seconds": self.timeout_seconds}
        return service.WorkflowJob(key=self.key, queue_name=self.queue_name, payload=self.payload,
                                   depends_on=list(self.depends_on or []),
                                   **{k: v for k, v in optional.items() if v is not None})


class CreateWorkflowBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: WorkflowName
    description: str | None = Field(default=None, max_length=1000)
    metadata: MetadataObject | None = None
    jobs: list[WorkflowJobBody] = Field(min_length=1, max_length=MAX_JOBS)


def _workflow_id(value: str) -> str:
    return check_path_id(value, "Workflow")


@router.post("", operation_id="workflows.create")
async def create_workflow(request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, CreateWorkflowBody)
    for queue in dict.fromkeys(j.queue_name for j in body.jobs):
        who.require_queue(queue)
    new = service.NewWorkflow(name=body.name, description=body.description, metadata=body.metadata,
                              jobs=[j.to_job() for j in body.jobs])
    # 200, not 201: the reference answers this create with 200.
    return json(await service.create(core_of(request), who.org_id, new))


@router.get("", operation_id="workflows.list")
async def list_workflows(request: Request, who: Caller = Depends(caller),
                         status: Literal["pending", "running", "completed", "failed", "cancelled"] | None = None,
                         limit: int = Query(50), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    # Out-of-range limits are clamped (contract), as for the other lists.
    return json(await service.list_workflows(core_of(request), who.org_id, status=status,
                                             limit=max(1, min(limit, 100)), offset=offset))


@router.get("/{workflow_id}", operation_id="workflows.get")
async def get_workflow(workflow_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get(core_of(request), who.org_id, _workflow_id(workflow_id)))


@router.delete("/{workflow_id}", operation_id="workflows.delete")
async def delete_workflow(workflow_id: str, request: Request, who: Caller = Depends(caller)):
    await service.delete(core_of(request), who.org_id, _workflow_id(workflow_id))
    return no_content()


@router.post("/{workflow_id}/cancel", operation_id="workflows.cancel")
async def cancel_workflow(workflow_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.cancel(core_of(request), who.org_id, _workflow_id(workflow_id)))


@router.post("/{workflow_id}/retry", operation_id="workflows.retry")
async def retry_workflow(workflow_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.retry(core_of(request), who.org_id, _workflow_id(workflow_id)))


@router.get("/{workflow_id}/jobs", operation_id="workflows.listJobs")
async def list_workflow_jobs(workflow_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.list_jobs(core_of(request), who.org_id, _workflow_id(workflow_id)))


# Registered before /jobs/{job_id}, which would otherwise take "status" for a job id.
@router.get("/{workflow_id}/jobs/status", operation_id="workflows.getJobsStatus")
async def workflow_job_statuses(workflow_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.job_statuses(core_of(request), who.org_id, _workflow_id(workflow_id)))


@router.get("/{workflow_id}/jobs/{job_id}", operation_id="workflows.getJob")
async def get_workflow_job(workflow_id: str, job_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get_job(core_of(request), who.org_id, _workflow_id(workflow_id),
                                      check_path_id(job_id, "Job")))
