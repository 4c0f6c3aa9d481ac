"""client.jobs: enqueue, inspect and process jobs; `client.jobs.dlq` is the dead-letter queue.

Retry safety of creates: a retried POST /jobs must never create a second job. When the caller
gives no `idempotency_key`, `create` generates one for that logical call and every retry of it
re-sends the same key, so the server answers the retry with the job the first attempt made
(`created: false`). `bulk_enqueue` does the same per item. Pass `idempotency_key=None`
explicitly to opt out (such a create is then not retried after an unanswered attempt).
"""

from __future__ import annotations

# `builtins.list` in annotations below a `list` method: there a bare `list` names the method
# (type checkers resolve annotations in the class's scope).
import builtins
import uuid
from typing import Any, Sequence

from .._constants import LONG_POLL_TIMEOUT_MARGIN
from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body, to_query
from ..generated.models import (AddDependenciesRequest, AddDependenciesResponse, BoostPriorityResponse,
                                CompleteJobsBatchRequest, CompleteJobsBatchResponse,
                                BulkCreateJobsRequest, BulkCreateJobsResponse, ClaimRequest, ClaimResponse,
                                CompleteJobRequest, CreateJobRequest, CreateJobResponse, FailJobRequest,
                                FailJobResponse, Job, JobDependencies, JobHeartbeatRequest, JobHeartbeatResponse,
                                JobStats, JobStatusEntry, JobSummary, SuccessResponse)
from ._base import Params, Resource
from .dlq import DlqResource

LIST_QUERY = frozenset({"queue_name", "status", "tag", "limit", "offset", "order_by", "order_dir"})
MAX_BATCH_STATUS_IDS = 100


def new_idempotency_key() -> str:
    """A key for a create the caller did not key: unique, and recognisable as SDK-made."""
    return f"spooled-auto-{uuid.uuid4()}"


class JobsResource(Resource):
    """Jobs: POST/GET /api/v1/jobs and the routes under it."""

    def __init__(self, transport: Any):
        super().__init__(transport)
        self.dlq = DlqResource(transport)

    def create(self, params: Params) -> CreateJobResponse:
        """Enqueues a job (POST /jobs). `created` is False when the idempotency key matched."""
        body = to_body(CreateJobRequest, params)
        if "idempotency_key" not in body:
            body["idempotency_key"] = new_idempotency_key()
        return self._call(Call("POST", path("/jobs"), model_reader(CreateJobResponse), body=body,
                               replay_safe=body["idempotency_key"] is not None))

    def create_and_get(self, params: Params) -> Job:
        """Enqueues a job and reads it back."""
        return self.get(self.create(params).id)

    def list(self, params: Params | None = None) -> list[JobSummary]:
        """Jobs, newest first (GET /jobs): queue_name, status, tag, limit, offset, order_by, order_dir."""
        return self._call(Call("GET", path("/jobs"), list_reader(JobSummary), query=to_query(params, LIST_QUERY)))

    def get(self, job_id: str) -> Job:
        """One job with all its fields (GET /jobs/{id})."""
        return self._call(Call("GET", path("/jobs/{}", job_id), model_reader(Job)))

    def cancel(self, job_id: str) -> None:
        """Cancels a pending or scheduled job (DELETE /jobs/{id}); other states raise ConflictError."""
        return self._call(Call("DELETE", path("/jobs/{}", job_id), read_nothing))

    def retry(self, job_id: str) -> Job:
        """Puts a failed or dead-lettered job back to pending (POST /jobs/{id}/retry)."""
        return self._call(Call("POST", path("/jobs/{}/retry", job_id), model_reader(Job)))

    def boost_priority(self, job_id: str, priority: int) -> BoostPriorityResponse:
        """Changes a waiting job's priority (PUT /jobs/{id}/priority)."""
        return self._call(Call("PUT", path("/jobs/{}/priority", job_id), model_reader(BoostPriorityResponse),
                               body={"priority": priority}))

    def get_stats(self) -> JobStats:
        """Job counts by status for the organization (GET /jobs/stats)."""
        return self._call(Call("GET", path("/jobs/stats"), model_reader(JobStats)))

    def batch_status(self, job_ids: Sequence[str]) -> builtins.list[JobStatusEntry]:
        """Statuses of up to 100 jobs in one call (GET /jobs/status?ids=); unknown ids are left out."""
        ids = self._batch_ids(job_ids)
        if not ids:
            return []
        return self._call(self._batch_status_call(ids))

    def bulk_enqueue(self, params: Params) -> BulkCreateJobsResponse:
        """Enqueues up to 100 jobs in one queue (POST /jobs/bulk); items without an
        idempotency_key get one each, so a retry of the batch creates nothing twice."""
        body = to_body(BulkCreateJobsRequest, params)
        jobs = body.get("jobs")
        if isinstance(jobs, list):
            for item in jobs:
                if isinstance(item, dict) and "idempotency_key" not in item:
                    item["idempotency_key"] = new_idempotency_key()
        return self._call(Call("POST", path("/jobs/bulk"), model_reader(BulkCreateJobsResponse), body=body,
                               replay_safe=True))

    def claim(self, params: Params) -> ClaimResponse:
        """Leases up to `limit` jobs to a worker (POST /jobs/claim). With `wait_ms` the server
        holds the request until a job arrives or the wait ends (long poll)."""
        body = to_body(ClaimRequest, params)
        wait_ms = body.get("wait_ms")
        timeout = None
        if isinstance(wait_ms, int) and wait_ms > 0:
            timeout = wait_ms / 1000 + LONG_POLL_TIMEOUT_MARGIN
        # Re-sending a claim cannot run a job twice: jobs a lost answer leased come back when
        # their lease expires.
        return self._call(Call("POST", path("/jobs/claim"), model_reader(ClaimResponse), body=body,
                               replay_safe=True, timeout=timeout))

    def complete(self, job_id: str, params: Params) -> SuccessResponse:
        """Marks a leased job completed (POST /jobs/{id}/complete): worker_id and/or lease_id
        (one is required), result. A stale lease raises LeaseExpiredError."""
        return self._call(Call("POST", path("/jobs/{}/complete", job_id), model_reader(SuccessResponse),
                               body=to_body(CompleteJobRequest, params), replay_safe=True))

    def complete_batch(self, params: Params) -> CompleteJobsBatchResponse:
        """Completes up to 100 leased jobs in one request (POST /jobs/complete): worker_id (for
        items without their own), jobs [{job_id, lease_id?, worker_id?, result?}]. Each item gets
        its own outcome in `results`; a stale lease fails only that item."""
        return self._call(Call("POST", path("/jobs/complete"), model_reader(CompleteJobsBatchResponse),
                               body=to_body(CompleteJobsBatchRequest, params), replay_safe=True))

    def fail(self, job_id: str, params: Params) -> FailJobResponse:
        """Records a failure (POST /jobs/{id}/fail): worker_id and/or lease_id, error (up to 65536
        characters; the server keeps the first 4096), no_retry. The job is retried with backoff
        while retries remain, else dead-lettered; the answer says which (`will_retry`) and when
        (`next_retry_delay_secs`)."""
        return self._call(Call("POST", path("/jobs/{}/fail", job_id), model_reader(FailJobResponse),
                               body=to_body(FailJobRequest, params), replay_safe=True))

    def heartbeat(self, job_id: str, params: Params) -> JobHeartbeatResponse:
        """Extends a lease (POST /jobs/{id}/heartbeat): worker_id and/or lease_id,
        lease_duration_secs (the server's default lease when omitted). The answer carries the new
        `lease_expires_at`."""
        return self._call(Call("POST", path("/jobs/{}/heartbeat", job_id), model_reader(JobHeartbeatResponse),
                               body=to_body(JobHeartbeatRequest, params), replay_safe=True))

    def get_dependencies(self, job_id: str) -> JobDependencies:
        """What the job waits on and what waits on it (GET /jobs/{id}/dependencies)."""
        return self._call(Call("GET", path("/jobs/{}/dependencies", job_id), model_reader(JobDependencies)))

    def add_dependencies(self, job_id: str, params: Params) -> AddDependenciesResponse:
        """Makes the job wait on others (POST /jobs/{id}/dependencies): dependency_job_ids
        (or depends_on), dependency_mode "all" | "any"."""
        return self._call(Call("POST", path("/jobs/{}/dependencies", job_id), model_reader(AddDependenciesResponse),
                               body=to_body(AddDependenciesRequest, params), replay_safe=True))

    # -- helpers --
    @staticmethod
    def _batch_ids(job_ids: Sequence[str]) -> builtins.list[str]:
        if isinstance(job_ids, str):
            raise TypeError("job_ids must be a sequence of ids, not one string")
        ids = list(job_ids)
        if len(ids) > MAX_BATCH_STATUS_IDS:
            raise ValueError(f"batch_status takes at most {MAX_BATCH_STATUS_IDS} ids")
        return ids

    @staticmethod
    def _batch_status_call(ids: builtins.list[str]) -> Call[builtins.list[JobStatusEntry]]:
        return Call("GET", path("/jobs/status"), list_reader(JobStatusEntry), query={"ids": ",".join(ids)})

