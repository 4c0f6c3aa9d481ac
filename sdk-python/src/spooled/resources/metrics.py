"""client.metrics: the server's Prometheus exposition."""

from __future__ import annotations

from .._wire import Call, read_text
from ._base import Resource


class MetricsResource(Resource):
    """Metrics: GET /metrics (root path, no credentials)."""

    def get(self) -> str:
        """Prometheus text format."""
        return self._call(Call("GET", "/metrics", read_text, auth="none", headers={"Accept": "text/plain"}))
