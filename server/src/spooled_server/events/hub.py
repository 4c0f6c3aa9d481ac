"""Real-time event fan-out to SSE and WebSocket subscribers.

One LISTEN connection per process receives the coalesced notifications the database triggers
send (migration 003) and hands each event to the local subscribers it matches. Every
subscription is pinned to one organization: tenants never see each other's events.

Each subscriber has a bounded queue. A subscriber that falls behind by more than its queue
size is marked `overflowed` and stops receiving; its connection handler tells the client how
many events it dropped and closes. A slow consumer therefore costs at most one full queue.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

from ..settings import Settings
from .listener import RECONNECT_DELAY, PgListener
from .messages import Event, from_notification

log = logging.getLogger("spooled.events")

EVENTS_CHANNEL = "spooled_events"
# Events buffered per subscriber before it is cut off (settings: SPOOLED_EVENT_QUEUE_SIZE).
DEFAULT_QUEUE_SIZE = 1000


@dataclass(eq=False)
class Subscription:
    """One SSE or WebSocket consumer: its filters and its bounded queue.

    The queue is a deque with one waiter future rather than an asyncio.Queue raced against the
    close event: with hundreds of subscribers every event wakes each of them, and two tasks
    plus asyncio.wait per wake-up was most of the fan-out's cost.
    """

    org_id: str
    queue: str | None = None
    job_id: str | None = None
    events: frozenset[str] | None = None  # dotted names; None = all
    max_size: int = DEFAULT_QUEUE_SIZE
    dropped: int = 0
    paused: bool = False
    _queue: deque = field(init=False, default_factory=deque)
    _waiter: asyncio.Future | None = field(init=False, default=None)
    closed: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    @property
    def overflowed(self) -> bool:
        return self.dropped > 0

    def matches(self, event: Event) -> bool:
        if event.org_id != self.org_id or self.paused:
            return False
        if self.queue is not None and self.queue != "*" and event.queue != self.queue:
            return False
        if self.job_id is not None and event.job_id != self.job_id:
            return False
        return self.events is None or event.name in self.events

    def offer(self, event: Event) -> None:
        """Queues an event without blocking; past the bound, counts it as dropped."""
        if self.dropped:
            self.dropped += 1
            return
        if len(self._queue) >= self.max_size:
            self.dropped = 1
            self.close()
            return
        self._queue.append(event)
        self._wake()

    def cut_off(self) -> None:
        """Gives up on a consumer that stopped reading: everything still queued is dropped."""
        self.dropped += max(len(self._queue), 1)
        self._queue.clear()
        self.close()

    def close(self) -> None:
        self.closed.set()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None on timeout, overflow or close."""
        if self.closed.is_set():
            return None
        if not self._queue:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _settle, waiter) if timeout is not None else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if self.closed.is_set() or not self._queue:
                return None
        return self._queue.popleft()


def _settle(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class EventHub:
    """Owns the process's LISTEN connection and its subscribers."""

    def __init__(self, dsn: str, settings: Settings | None = None, reconnect_delay: float = RECONNECT_DELAY):
        self.settings = settings or Settings()
        self.queue_size = self.settings.spooled_event_queue_size
        self._by_org: dict[str, set[Subscription]] = defaultdict(set)
        self._listener = PgListener(dsn, EVENTS_CHANNEL, self._on_notify, reconnect_delay=reconnect_delay,
                                    name="event-hub")
        self.connected = self._listener.connected
        self._started = False
        self.stopping = asyncio.Event()

    # -- subscribers -------------------------------------------------------------------------
    def subscribe(self, org_id: str, *, queue: str | None = None, job_id: str | None = None,
                  events: frozenset[str] | None = None) -> Subscription:
        sub = Subscription(org_id, queue, job_id, events, self.queue_size)
        self._by_org[org_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._by_org.get(sub.org_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_org[sub.org_id]
        sub.close()

    def publish(self, event: Event) -> None:
        """Hands one event to every matching local subscriber."""
        for sub in tuple(self._by_org.get(event.org_id, ())):
            if sub.matches(event):
                sub.offer(event)

    def _on_notify(self, payload: str) -> None:
        if not self._by_org:
            return
        for event in from_notification(payload):
            if event.org_id in self._by_org:
                self.publish(event)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if not self._started:
            self._started = True
            self.stopping.clear()
            self._listener.start()
            self._watch_shutdown_signals()

    def _watch_shutdown_signals(self) -> None:
        """Ends open streams as soon as SIGTERM/SIGINT arrives.

        uvicorn shuts the application down only after open responses finish, and an event
        stream never finishes by itself; so the hub chains onto uvicorn's signal handlers and
        sets `stopping`, which every stream watches.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def handler(sig, frame, previous=previous):
                loop.call_soon_threadsafe(self._begin_stopping)
                previous(sig, frame)

            try:
                signal.signal(signum, handler)
            except (ValueError, OSError):
                pass

    def _begin_stopping(self) -> None:
        self.stopping.set()
        for subs in list(self._by_org.values()):
            for sub in subs:
                sub.close()

    async def stop(self) -> None:
        self._begin_stopping()
        self._started = False
        await self._listener.stop()
