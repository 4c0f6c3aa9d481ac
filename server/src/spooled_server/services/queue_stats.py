"""A queue's jobs counted by status, as the gRPC GetQueueStats call reports them."""

from __future__ import annotations

from typing import Any

from ..store import queue_stats as store
from .core import Core


async def counts(core: Core, org_id: str, queue_name: str) -> dict[str, Any]:
    """pending, scheduled, processing, completed, failed, deadletter, total (every status,
    cancelled included) and max_age_ms (oldest job waiting to be claimed; 0 when none).
    An unknown queue has all counts 0."""
    async with core.pool.acquire() as conn:
        row = await store.counts(conn, org_id, queue_name)
    return {"queue_name": queue_name, **dict(row)}
