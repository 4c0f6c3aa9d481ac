"""client.workers: worker registration and liveness (SpooledWorker does this for you)."""

from __future__ import annotations

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body
from ..generated.models import (RegisterWorkerRequest, RegisterWorkerResponse, Worker, WorkerHeartbeatRequest,
                                WorkerSummary)
from ._base import Params, Resource


class WorkersResource(Resource):
    """Workers: /api/v1/workers and the routes under it."""

    def list(self) -> list[WorkerSummary]:
        """Workers of the organization, most recent heartbeat first (GET /workers)."""
        return self._call(Call("GET", path("/workers"), list_reader(WorkerSummary)))

    def get(self, worker_id: str) -> Worker:
        """One worker (GET /workers/{id})."""
        return self._call(Call("GET", path("/workers/{}", worker_id), model_reader(Worker)))

    def register(self, params: Params) -> RegisterWorkerResponse:
        """Registers a worker (POST /workers/register): queue_name, hostname, worker_id,
        worker_type, max_concurrency, metadata, version. With a worker_id the call is an upsert,
        so it is safe to retry."""
        body = to_body(RegisterWorkerRequest, params)
        return self._call(Call("POST", path("/workers/register"), model_reader(RegisterWorkerResponse),
                               body=body, replay_safe=body.get("worker_id") is not None))

    def heartbeat(self, worker_id: str, params: Params) -> None:
        """Reports liveness (POST /workers/{id}/heartbeat): current_jobs, status, metadata."""
        return self._call(Call("POST", path("/workers/{}/heartbeat", worker_id), read_nothing,
                               body=to_body(WorkerHeartbeatRequest, params), replay_safe=True))

    def deregister(self, worker_id: str) -> None:
        """Marks the worker offline; the server hands its leased jobs back at once
        (POST /workers/{id}/deregister)."""
        return self._call(Call("POST", path("/workers/{}/deregister", worker_id), read_nothing, replay_safe=True))
