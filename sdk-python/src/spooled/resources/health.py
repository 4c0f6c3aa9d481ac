"""client.health: liveness and readiness probes (root paths, no credentials)."""

from __future__ import annotations

from .._wire import Call, model_reader, read_nothing
from ..errors import SpooledError
from ..generated.models import HealthResponse
from ._base import Resource


def _probe(route: str) -> Call[None]:
    # One attempt only: a probe reports the state now; retrying would hide it.
    return Call("GET", route, read_nothing, auth="none", max_retries=0)


class HealthResource(Resource):
    """Health: GET /health, /health/live, /health/ready."""

    def get(self) -> HealthResponse:
        """Overall health; always 200, `status` is "degraded" when the database is down (GET /health)."""
        return self._call(Call("GET", "/health", model_reader(HealthResponse), auth="none"))

    def liveness(self) -> bool:
        """True when the process answers (GET /health/live); any error gives False."""
        return self._answers("/health/live")

    def readiness(self) -> bool:
        """True when the server can serve requests (GET /health/ready); any error gives False."""
        return self._answers("/health/ready")

    def _answers(self, route: str) -> bool:
        try:
            self._call(_probe(route))
            return True
        except SpooledError:
            return False

