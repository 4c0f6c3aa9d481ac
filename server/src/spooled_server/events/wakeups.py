"""One LISTEN connection per process wakes everything waiting for work in a queue.

NOTIFY is a hint, not a queue: waiters always re-run their claim after waking, and also
re-check on a slow fallback timer, so a notification lost during a reconnect costs at most
one fallback interval.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from ..store.jobs import WAKE_CHANNEL
from .listener import RECONNECT_DELAY, PgListener


class Waiters:
    """asyncio.Events grouped by a string key: a waiter registers one and sleeps on it; notify
    sets every event of a key. Shared by WakeHub and gRPC's SettleSignals (grpc/job_stream.py)."""

    def __init__(self) -> None:
        self._by_key: dict[str, set[asyncio.Event]] = defaultdict(set)

    def register(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._by_key[key].add(event)
        return event

    def unregister(self, key: str, event: asyncio.Event) -> None:
        waiters = self._by_key.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._by_key[key]

    def notify(self, key: str) -> None:
        for event in self._by_key.get(key, ()):
            event.set()

    def notify_all(self) -> None:
        for waiters in self._by_key.values():
            for event in waiters:
                event.set()

    def __len__(self) -> int:
        return sum(len(waiters) for waiters in self._by_key.values())


class WakeHub:
    """Fans `<org>/<queue>` notifications out to local waiters."""

    def __init__(self, dsn: str, reconnect_delay: float = RECONNECT_DELAY):
        self._waiters = Waiters()
        # After a (re)connect every waiter re-checks: anything may have arrived meanwhile.
        self._listener = PgListener(dsn, WAKE_CHANNEL, self._waiters.notify, on_connect=self._waiters.notify_all,
                                    reconnect_delay=reconnect_delay, name="wake-hub")
        self.connected = self._listener.connected

    @staticmethod
    def key(org_id: str, queue_name: str) -> str:
        return f"{org_id}/{queue_name}"

    def register(self, org_id: str, queue_name: str) -> asyncio.Event:
        return self._waiters.register(self.key(org_id, queue_name))

    def unregister(self, org_id: str, queue_name: str, event: asyncio.Event) -> None:
        self._waiters.unregister(self.key(org_id, queue_name), event)

    def waiting(self) -> int:
        """Claims and streams of this process asleep until their queue gets work."""
        return len(self._waiters)

    async def start(self) -> None:
        self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()
