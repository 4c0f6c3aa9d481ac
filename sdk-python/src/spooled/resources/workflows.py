"""client.workflows: directed acyclic graphs of jobs; `client.workflows.jobs` reads their jobs."""

from __future__ import annotations

# `builtins.list` in annotations below a `list` method: there a bare `list` names the method
# (type checkers resolve annotations in the class's scope).
import builtins
from typing import Any

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body, to_query
from ..generated.models import (AddDependenciesRequest, AddDependenciesResponse, CreateWorkflowRequest,
                                CreateWorkflowResponse, JobDependencies, Workflow, WorkflowJob,
                                WorkflowJobStatus)
from ._base import Params, Resource

LIST_QUERY = frozenset({"status", "limit", "offset"})


class WorkflowJobsResource(Resource):
    """The jobs of a workflow, and job dependencies (shared with client.jobs)."""

    def list(self, workflow_id: str) -> list[WorkflowJob]:
        """Every job of the workflow (GET /workflows/{id}/jobs)."""
        return self._call(Call("GET", path("/workflows/{}/jobs", workflow_id), list_reader(WorkflowJob)))

    def get(self, workflow_id: str, job_id: str) -> WorkflowJob:
        """One job of the workflow (GET /workflows/{id}/jobs/{job_id})."""
        return self._call(Call("GET", path("/workflows/{}/jobs/{}", workflow_id, job_id), model_reader(WorkflowJob)))

    def get_status(self, workflow_id: str) -> builtins.list[WorkflowJobStatus]:
        """Key, job id and status of each job (GET /workflows/{id}/jobs/status)."""
        return self._call(Call("GET", path("/workflows/{}/jobs/status", workflow_id), list_reader(WorkflowJobStatus)))

    def get_dependencies(self, job_id: str) -> JobDependencies:
        """Same as client.jobs.get_dependencies (GET /jobs/{id}/dependencies)."""
        return self._call(Call("GET", path("/jobs/{}/dependencies", job_id), model_reader(JobDependencies)))

    def add_dependencies(self, job_id: str, params: Params) -> AddDependenciesResponse:
        """Same as client.jobs.add_dependencies (POST /jobs/{id}/dependencies)."""
        return self._call(Call("POST", path("/jobs/{}/dependencies", job_id), model_reader(AddDependenciesResponse),
                               body=to_body(AddDependenciesRequest, params), replay_safe=True))


class WorkflowsResource(Resource):
    """Workflows: /api/v1/workflows and the routes under it."""

    def __init__(self, transport: Any):
        super().__init__(transport)
        self.jobs = WorkflowJobsResource(transport)

    def list(self, params: Params | None = None) -> list[Workflow]:
        """Workflows, newest first (GET /workflows): status, limit, offset."""
        return self._call(Call("GET", path("/workflows"), list_reader(Workflow), query=to_query(params, LIST_QUERY)))

    def create(self, params: Params) -> CreateWorkflowResponse:
        """Creates a workflow and its jobs in one call (POST /workflows): name, description,
        jobs [{key, queue_name, payload, depends_on, dependency_mode, ...}], metadata."""
        return self._call(Call("POST", path("/workflows"), model_reader(CreateWorkflowResponse),
                               body=to_body(CreateWorkflowRequest, params)))

    def get(self, workflow_id: str) -> Workflow:
        """One workflow with its progress (GET /workflows/{id})."""
        return self._call(Call("GET", path("/workflows/{}", workflow_id), model_reader(Workflow)))

    def cancel(self, workflow_id: str) -> Workflow:
        """Cancels the workflow's waiting jobs (POST /workflows/{id}/cancel)."""
        return self._call(Call("POST", path("/workflows/{}/cancel", workflow_id), model_reader(Workflow),
                               replay_safe=True))

    def retry(self, workflow_id: str) -> Workflow:
        """Retries the failed jobs of a failed workflow (POST /workflows/{id}/retry)."""
        return self._call(Call("POST", path("/workflows/{}/retry", workflow_id), model_reader(Workflow)))

    def delete(self, workflow_id: str) -> None:
        """Deletes a workflow (DELETE /workflows/{id})."""
        return self._call(Call("DELETE", path("/workflows/{}", workflow_id), read_nothing))
