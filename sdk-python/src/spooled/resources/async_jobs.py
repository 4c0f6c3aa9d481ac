"""AsyncJobsResource: the generated async twin of JobsResource, finished by hand.

These two methods make more than one request (or none), so awaiting the sync method's answer
would be wrong; they are written out here, and the generator leaves them out of the base.
"""

from __future__ import annotations

from typing import Awaitable, Sequence, cast

from ..generated.models import Job, JobStatusEntry
from ._base import Params
from .generated.async_resources import AsyncJobsResourceBase


class AsyncJobsResource(AsyncJobsResourceBase):
    """The async twin of JobsResource: the same methods, each to be awaited."""

    async def create_and_get(self, params: Params) -> Job:  # type: ignore[override]
        """Enqueues a job and reads it back."""
        created = await self.create(params)
        return await self.get(created.id)

    async def batch_status(self, job_ids: Sequence[str]) -> list[JobStatusEntry]:  # type: ignore[override]
        """Statuses of up to 100 jobs in one call (GET /jobs/status?ids=); unknown ids are left out."""
        ids = self._batch_ids(job_ids)
        if not ids:
            return []
        # The async transport answers with a coroutine; `_call`'s sync signature cannot say so.
        return await cast("Awaitable[list[JobStatusEntry]]", self._call(self._batch_status_call(ids)))
