"""client.dashboard: a one-call overview of the organization."""

from __future__ import annotations

from .._wire import Call, model_reader, path
from ..generated.models import Dashboard
from ._base import Resource


class DashboardResource(Resource):
    """Dashboard: GET /api/v1/dashboard."""

    def get(self) -> Dashboard:
        """System, job, queue, worker and recent-activity figures."""
        return self._call(Call("GET", path("/dashboard"), model_reader(Dashboard)))
