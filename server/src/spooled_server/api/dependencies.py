"""/api/v1/jobs/{job_id}/dependencies: what a job waits on, and making it wait on more."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..services import dependencies as service
from ..services.auth import Caller
from .body import read_body
from .deps import caller, core_of
from .fields import JobIdList, check_path_id
from .responses import json

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

MAX_DEPENDENCIES = 100


class AddDependenciesBody(BaseModel):
    """The SDKs disagree on the key naming the ids; all three spellings are accepted (and
    merged, should a client send more than one)."""

    model_config = ConfigDict(extra="ignore")

    depends_on: JobIdList | None = None
    depends_on_job_ids: JobIdList | None = None
    dependency_job_ids: JobIdList | None = None
    dependency_mode: Literal["all", "any"] | None = None
    dependency_type: str | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _some_ids(self) -> "AddDependenciesBody":
        if self.depends_on is None and self.depends_on_job_ids is None and self.dependency_job_ids is None:
            raise ValueError("depends_on (or depends_on_job_ids / dependency_job_ids) is required")
        if len(self.ids()) > MAX_DEPENDENCIES:
            raise ValueError(f"at most {MAX_DEPENDENCIES} dependencies per request")
        return self

    def ids(self) -> list[str]:
        lists = (self.depends_on, self.depends_on_job_ids, self.dependency_job_ids)
        return list(dict.fromkeys(i for ids in lists if ids for i in ids))


@router.get("/{job_id}/dependencies", operation_id="jobs.getDependencies")
async def get_dependencies(job_id: str, request: Request, who: Caller = Depends(caller)):
    return json(await service.get(core_of(request), who.org_id, check_path_id(job_id, "Job")))


@router.post("/{job_id}/dependencies", operation_id="jobs.addDependencies")
async def add_dependencies(job_id: str, request: Request, who: Caller = Depends(caller)):
    body = await read_body(request, AddDependenciesBody)
    return json(await service.add(core_of(request), who.org_id, check_path_id(job_id, "Job"), body.ids(),
                                  mode=body.dependency_mode, dependency_type=body.dependency_type))
