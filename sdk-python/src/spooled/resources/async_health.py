"""AsyncHealthResource: the generated async twin of HealthResource, finished by hand.

The probes turn any error into False, so they await the request inside their own try; the
generator leaves them out of the base.
"""

from __future__ import annotations

from typing import Awaitable, cast

from ..errors import SpooledError
from .generated.async_resources import AsyncHealthResourceBase
from .health import _probe


class AsyncHealthResource(AsyncHealthResourceBase):
    """The async twin of HealthResource: the same methods, each to be awaited."""

    async def liveness(self) -> bool:  # type: ignore[override]
        """True when the process answers (GET /health/live); any error gives False."""
        return await self._answers("/health/live")

    async def readiness(self) -> bool:  # type: ignore[override]
        """True when the server can serve requests (GET /health/ready); any error gives False."""
        return await self._answers("/health/ready")

    async def _answers(self, route: str) -> bool:
        try:
            await cast("Awaitable[None]", self._call(_probe(route)))
            return True
        except SpooledError:
            return False
