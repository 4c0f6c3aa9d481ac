"""client.queues: per-queue configuration, statistics, pause and resume. Queues exist implicitly."""

from __future__ import annotations

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body
from ..generated.models import (PauseQueueResponse, QueueConfig, QueueConfigSummary, QueueStats,
                                ResumeQueueResponse, UpdateQueueConfigRequest)
from ._base import Params, Resource


class QueuesResource(Resource):
    """Queues: /api/v1/queues and the routes under it."""

    def list(self) -> list[QueueConfigSummary]:
        """Configured queues, by name (GET /queues)."""
        return self._call(Call("GET", path("/queues"), list_reader(QueueConfigSummary)))

    def get(self, name: str) -> QueueConfig:
        """A queue's configuration (GET /queues/{name}); NotFoundError when it has none."""
        return self._call(Call("GET", path("/queues/{}", name), model_reader(QueueConfig)))

    def update_config(self, name: str, config: Params) -> QueueConfig:
        """Creates or updates a queue's configuration (PUT /queues/{name}/config): max_retries,
        default_timeout, rate_limit, enabled, settings."""
        return self._call(Call("PUT", path("/queues/{}/config", name), model_reader(QueueConfig),
                               body=to_body(UpdateQueueConfigRequest, config)))

    def get_stats(self, name: str) -> QueueStats:
        """Counts and timings of one queue (GET /queues/{name}/stats); works for unconfigured queues."""
        return self._call(Call("GET", path("/queues/{}/stats", name), model_reader(QueueStats)))

    def pause(self, name: str, reason: str | None = None) -> PauseQueueResponse:
        """Stops the queue handing out jobs (POST /queues/{name}/pause)."""
        body = {"reason": reason} if reason is not None else {}
        return self._call(Call("POST", path("/queues/{}/pause", name), model_reader(PauseQueueResponse),
                               body=body, replay_safe=True))

    def resume(self, name: str) -> ResumeQueueResponse:
        """Lets a paused queue hand out jobs again (POST /queues/{name}/resume)."""
        return self._call(Call("POST", path("/queues/{}/resume", name), model_reader(ResumeQueueResponse),
                               replay_safe=True))

    def delete(self, name: str) -> None:
        """Deletes the queue's configuration (DELETE /queues/{name}); jobs are kept."""
        return self._call(Call("DELETE", path("/queues/{}", name), read_nothing))
