"""Server-Sent Events: /api/v1/events, /events/jobs/{id}, /events/queues/{name}.

Every frame is `event: <dotted name>` plus `data: <{type, data} JSON>`; a `:ping` comment
keeps idle connections alive and every stream ends after 30 minutes (clients reconnect). A
stream ends early when the client disconnects (Starlette cancels the generator), when the
server shuts down, or when the subscriber overflowed its bounded queue (after one `error`
event saying how many events it dropped).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import AsyncIterator, Awaitable, Callable

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..db import DATABASE_UNAVAILABLE
from ..events.hub import EventHub, Subscription
from ..events.messages import TERMINAL_STATUSES, message, parse_event_names, sse_frame
from ..store import realtime as store
from .deps import core_of
from .fields import parse_queue_name
from .realtime_auth import realtime_caller

router = APIRouter(prefix="/api/v1/events", tags=["events"])

HEALTH_EVERY = 10.0
STATS_EVERY = 5.0
COUNTS_FRESH_SECS = 1.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(msg: dict, name: str) -> str:
    return sse_frame(name, json.dumps(msg, separators=(",", ":")))


def hub_of(request: Request) -> EventHub:
    return request.app.state.events


async def pump(hub: EventHub, sub: Subscription, *, initial: list[str] = (),
               tick: Callable[[], Awaitable[str | None]] | None = None, tick_every: float = 0,
               stop_after: Callable[[dict], bool] | None = None) -> AsyncIterator[str]:
    """The body of every stream: initial frames, then live events, ticks and pings."""
    settings = hub.settings
    ping_every, max_secs = settings.spooled_sse_ping_secs, settings.spooled_sse_max_secs
    try:
        # First on every stream: an EventSource that loses the connection (a server restart, a
        # replica going away) reconnects after this long instead of the browser's default.
        yield f"retry: {settings.spooled_sse_retry_ms}\n\n"
        for chunk in initial:
            yield chunk
        started = last_out = time.monotonic()
        next_tick = started if tick else float("inf")
        while not hub.stopping.is_set():
            now = time.monotonic()
            if now - started >= max_secs:
                return
            if now >= next_tick:
                chunk = await tick()
                next_tick = now + tick_every
                if chunk:
                    yield chunk
                    last_out = time.monotonic()
            wait = min(next_tick, last_out + ping_every, started + max_secs) - time.monotonic()
            event = await sub.get(timeout=max(wait, 0.0))
            if event is not None:
                yield event.sse_frame()
                last_out = time.monotonic()
                if stop_after and stop_after(event.message):
                    return
            elif sub.overflowed:
                yield frame(message("Error", message=f"dropped {sub.dropped} events"), "error")
                return
            elif sub.closed.is_set():
                return
            elif time.monotonic() - last_out >= ping_every:
                yield ":ping\n\n"
                last_out = time.monotonic()
    finally:
        hub.unsubscribe(sub)


def stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=HEADERS)


@router.get("")
async def all_events(request: Request, events: str | None = None) -> StreamingResponse:
    """Every event of the caller's organization, optionally limited to `events=` names."""
    caller = await realtime_caller(request)
    hub = hub_of(request)
    names = parse_event_names(events)
    sub = hub.subscribe(caller.org_id, events=names)

    async def health() -> str | None:
        if names is not None and "system.health" not in names:
            return None
        state = "healthy" if hub.connected.is_set() else "degraded"
        return frame(message("SystemHealth", database=state, redis="not_used"), "system.health")

    return stream(pump(hub, sub, tick=health, tick_every=HEALTH_EVERY))


@router.get("/jobs/{job_id}")
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """One job's status changes; the first frame is its current status, the last a terminal one."""
    caller = await realtime_caller(request)
    hub = hub_of(request)
    # Subscribe before reading the current status so no change falls in between.
    sub = hub.subscribe(caller.org_id, job_id=job_id, events=frozenset({"job.status"}))
    try:
        async with core_of(request).pool.acquire() as conn:
            found = await store.job_status(conn, caller.org_id, job_id)
    except BaseException:  # e.g. the database is down (503): the subscription must not leak
        hub.unsubscribe(sub)
        raise
    if found is None:
        hub.unsubscribe(sub)

        async def not_found() -> AsyncIterator[str]:
            yield frame(message("Error", message="Job not found"), "error")

        return stream(not_found())
    status, queue = found
    first = frame(message("JobStatusChange", job_id=job_id, queue_name=queue, old_status="",
                          new_status=status), "job.status")
    if status in TERMINAL_STATUSES:
        hub.unsubscribe(sub)

        async def done() -> AsyncIterator[str]:
            yield first

        return stream(done())

    def terminal(msg: dict) -> bool:
        return msg["data"].get("new_status") in TERMINAL_STATUSES

    return stream(pump(hub, sub, initial=[first], stop_after=terminal))


class SharedQueueCounts:
    """QueueStats counts shared by every stream of one queue in this process: at most one
    query per queue per COUNTS_FRESH_SECS, not one per subscriber every STATS_EVERY (500
    subscribers of a queue were 100 queries/s)."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], tuple[float, asyncio.Future]] = {}

    async def get(self, pool, org_id: str, queue_name: str) -> dict[str, int]:
        key = (org_id, queue_name)
        now = time.monotonic()
        cached = self._latest.get(key)
        if cached is None or now - cached[0] >= COUNTS_FRESH_SECS or (
                cached[1].done() and cached[1].exception() is not None):
            if len(self._latest) > 10_000:  # bounded: forget everything rather than grow
                self._latest.clear()
            cached = (now, asyncio.ensure_future(self._read(pool, org_id, queue_name)))
            self._latest[key] = cached
        return await asyncio.shield(cached[1])

    @staticmethod
    async def _read(pool, org_id: str, queue_name: str) -> dict[str, int]:
        async with pool.acquire() as conn:
            return await asyncio.wait_for(store.queue_counts(conn, org_id, queue_name), 10)


def queue_counts_of(request: Request) -> SharedQueueCounts:
    """The application's shared counts (one per app: its futures belong to its event loop)."""
    state = request.app.state
    if getattr(state, "queue_counts", None) is None:
        state.queue_counts = SharedQueueCounts()
    return state.queue_counts


@router.get("/queues/{queue_name}")
async def queue_events(request: Request, queue_name: str) -> StreamingResponse:
    """`queue.stats` now and every 5 s, plus the queue's live job events."""
    caller = await realtime_caller(request)
    # An invalid name is a 400 as on every /queues/{name} route (the contract's QueueNamePath),
    # not a stream of stats for a queue that cannot exist.
    queue_name = parse_queue_name(queue_name, "name")
    hub = hub_of(request)
    pool = core_of(request).pool
    counts_cache = queue_counts_of(request)
    sub = hub.subscribe(caller.org_id, queue=queue_name)

    async def stats() -> str | None:
        try:
            counts = await counts_cache.get(pool, caller.org_id, queue_name)
        except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE):
            return None
        return frame(message("QueueStats", queue_name=queue_name, **counts), "queue.stats")

    return stream(pump(hub, sub, tick=stats, tick_every=STATS_EVERY))
