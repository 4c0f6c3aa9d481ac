"""The claim loop behind one StreamJobs call.

A server stream has no acknowledgement, and gRPC buffers whatever the server writes (HTTP/2
windows grow to megabytes), so "lease one job and send it" alone would lease a whole backlog
to a worker that has read one message, and those leases would expire unprocessed. The loop
therefore keeps at most `window` jobs outstanding per stream: the worker's registered
max_concurrency (5, the registration default, for a worker id that never registered). A slot
frees when the job is settled: at once when it is completed or failed through this process
(SettleSignals), otherwise at the next re-check of which leases are still held. Free slots are
filled by one claim, not one claim per job.

Waiting is event-driven: an empty queue sleeps until a NOTIFY for it (or the fallback timer,
like the REST long poll); a full window sleeps until a settle signal (or the re-check timer).
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from ..errors import NotFound, ServiceUnavailable
from ..events.wakeups import Waiters
from ..services import held_leases, jobs, workers
from ..services.core import Core
from .shutdown import StreamGate

# An idle stream re-claims this often without a notification (covers a NOTIFY lost while the
# listener reconnected).
EMPTY_QUEUE_RECHECK_SECS = 5.0
# A full stream re-checks its leases this often when no settle signal arrives (settled through
# REST or another process, expired, released).
FULL_WINDOW_RECHECK_SECS = 1.0
DEFAULT_WINDOW = 5


class SettleSignals(Waiters):
    """Wakes this process's streams of an organization (the key: its id) when one of its jobs
    is settled here."""


async def _sleep_on(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


async def window_for(core: Core, org_id: str, worker_id: str) -> int:
    try:
        return (await workers.get(core, org_id, worker_id))["max_concurrency"] or DEFAULT_WINDOW
    except NotFound:
        return DEFAULT_WINDOW


async def leased_jobs(core: Core, gate: StreamGate, settles: SettleSignals, *, org_id: str, queue_name: str,
                      worker_id: str, lease_secs: int, window: int) -> AsyncIterator[dict]:
    """Yields job rows as they are leased to `worker_id`, never more than `window` unsettled.
    Ends with ServiceUnavailable when the server stops."""
    held: dict[str, str] = {}
    unsent: list[dict] = []
    wake = core.wake.register(org_id, queue_name)
    settled = settles.register(org_id)
    gate.watch(wake)
    gate.watch(settled)
    try:
        while not gate.closing:
            if len(held) >= window:
                settled.clear()  # before the check: a settle during it is not lost
                held = await held_leases.still_held(core, org_id, held)
                if len(held) >= window:
                    await _sleep_on(settled, FULL_WINDOW_RECHECK_SECS)
                    continue
            wake.clear()  # before the claim, for the same reason
            # Every free slot in one claim: a stream refilling one job per query is capped by
            # the round trip, not by the worker.
            unsent = await jobs.claim(core, org_id, queue_name, worker_id, window - len(held), lease_secs)
            if not unsent:
                await _sleep_on(wake, EMPTY_QUEUE_RECHECK_SECS)
                continue
            while unsent:
                row = unsent.pop(0)
                held[row["id"]] = row["lease_id"]
                yield row
    finally:
        if unsent:  # the client went away mid-batch: what it never received goes straight back
            await jobs.release_claims(core, org_id, [row["lease_id"] for row in unsent])
        for event in (wake, settled):
            gate.unwatch(event)
        settles.unregister(org_id, settled)
        core.wake.unregister(org_id, queue_name, wake)
    raise ServiceUnavailable("The server is shutting down; reconnect")
