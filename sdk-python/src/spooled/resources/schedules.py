"""client.schedules: cron schedules that enqueue jobs from a template."""

from __future__ import annotations

# `builtins.list` in annotations below a `list` method: there a bare `list` names the method
# (type checkers resolve annotations in the class's scope).
import builtins

from .._wire import Call, list_reader, model_reader, path, read_nothing, to_body, to_query
from ..generated.models import (CreateScheduleRequest, CreateScheduleResponse, Schedule, ScheduleRun,
                                TriggerScheduleResponse, UpdateScheduleRequest)
from ._base import Params, Resource

LIST_QUERY = frozenset({"queue_name", "is_active", "limit", "offset"})


class SchedulesResource(Resource):
    """Schedules: /api/v1/schedules and the routes under it."""

    def list(self, params: Params | None = None) -> list[Schedule]:
        """Schedules, newest first (GET /schedules): queue_name, is_active, limit, offset."""
        return self._call(Call("GET", path("/schedules"), list_reader(Schedule), query=to_query(params, LIST_QUERY)))

    def create(self, params: Params) -> CreateScheduleResponse:
        """Creates a schedule (POST /schedules): name, cron_expression (6 fields), timezone,
        queue_name, payload_template, priority, max_retries, timeout_seconds, tags, metadata."""
        return self._call(Call("POST", path("/schedules"), model_reader(CreateScheduleResponse),
                               body=to_body(CreateScheduleRequest, params)))

    def get(self, schedule_id: str) -> Schedule:
        """One schedule (GET /schedules/{id})."""
        return self._call(Call("GET", path("/schedules/{}", schedule_id), model_reader(Schedule)))

    def update(self, schedule_id: str, params: Params) -> Schedule:
        """Changes a schedule; omitted fields keep their value (PUT /schedules/{id})."""
        return self._call(Call("PUT", path("/schedules/{}", schedule_id), model_reader(Schedule),
                               body=to_body(UpdateScheduleRequest, params)))

    def delete(self, schedule_id: str) -> None:
        """Deletes a schedule (DELETE /schedules/{id})."""
        return self._call(Call("DELETE", path("/schedules/{}", schedule_id), read_nothing))

    def pause(self, schedule_id: str) -> Schedule:
        """Stops a schedule from firing (POST /schedules/{id}/pause)."""
        return self._call(Call("POST", path("/schedules/{}/pause", schedule_id), model_reader(Schedule),
                               replay_safe=True))

    def resume(self, schedule_id: str) -> Schedule:
        """Lets a paused schedule fire again (POST /schedules/{id}/resume)."""
        return self._call(Call("POST", path("/schedules/{}/resume", schedule_id), model_reader(Schedule),
                               replay_safe=True))

    def trigger(self, schedule_id: str) -> TriggerScheduleResponse:
        """Enqueues the schedule's job now (POST /schedules/{id}/trigger)."""
        return self._call(Call("POST", path("/schedules/{}/trigger", schedule_id),
                               model_reader(TriggerScheduleResponse)))

    def get_history(self, schedule_id: str, limit: int = 10) -> builtins.list[ScheduleRun]:
        """Recent runs, newest first (GET /schedules/{id}/history)."""
        return self._call(Call("GET", path("/schedules/{}/history", schedule_id), list_reader(ScheduleRun),
                               query={"limit": str(limit)}))
