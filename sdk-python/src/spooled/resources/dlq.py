"""client.jobs.dlq: the dead-letter queue (jobs whose retries ran out)."""

from __future__ import annotations

from .._wire import Call, list_reader, model_reader, path, to_body, to_query
from ..generated.models import DlqPurgeRequest, DlqPurgeResponse, DlqRetryRequest, DlqRetryResponse, JobSummary
from ._base import Params, Resource


class DlqResource(Resource):
    """Dead-lettered jobs: GET /jobs/dlq, POST /jobs/dlq/retry, POST /jobs/dlq/purge."""

    def list(self, params: Params | None = None) -> list[JobSummary]:
        """Dead-lettered jobs, newest first: queue_name, limit, offset."""
        return self._call(Call("GET", path("/jobs/dlq"), list_reader(JobSummary),
                               query=to_query(params, frozenset({"queue_name", "limit", "offset"}))))

    def retry(self, params: Params | None = None) -> DlqRetryResponse:
        """Moves dead-lettered jobs back to pending: job_ids, else queue_name, else all (limit)."""
        return self._call(Call("POST", path("/jobs/dlq/retry"), model_reader(DlqRetryResponse),
                               body=to_body(DlqRetryRequest, params), replay_safe=True))

    def purge(self, params: Params | None = None) -> DlqPurgeResponse:
        """Deletes dead-lettered jobs: queue_name, older_than, limit. Calling purge is the
        confirmation, so `confirm: true` is sent unless the caller set it."""
        body = to_body(DlqPurgeRequest, params)
        body.setdefault("confirm", True)
        return self._call(Call("POST", path("/jobs/dlq/purge"), model_reader(DlqPurgeResponse), body=body,
                               replay_safe=True))
