"""Leases a streaming consumer was given and has not settled yet.

A stream that pushes jobs has no acknowledgement of its own: it learns that a job is done
(completed, failed, expired, released) by asking which of its leases are still held.
"""

from __future__ import annotations

from ..store import held_leases as store
from .core import Core


async def still_held(core: Core, org_id: str, leases: dict[str, str]) -> dict[str, str]:
    """The subset of {job_id: lease_id} whose job is still processing under that lease."""
    if not leases:
        return {}
    async with core.pool.acquire() as conn:
        held = await store.still_held(conn, org_id, list(leases), list(leases.values()))
    return {job_id: lease for job_id, lease in leases.items() if job_id in held}
