"""Handing just-claimed jobs straight back to their queue.

A transport whose messages have a size budget (gRPC clients refuse messages over 4 MiB by
default) claims a batch, keeps what fits, and releases the rest through here: the jobs
become pending again at once, with no attempt counted, and the queue's waiters are woken.
"""

from __future__ import annotations

from ..store import jobs as job_store
from ..store import queues as queue_store
from .core import Core


async def release(core: Core, org_id: str, queue_name: str, lease_ids: list[str]) -> None:
    if not lease_ids:
        return
    async with core.pool.acquire() as conn, conn.transaction():
        await job_store.release_claims(conn, org_id, lease_ids)
        await queue_store.wake(conn, org_id, queue_name)
