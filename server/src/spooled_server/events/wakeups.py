"""One LISTEN connection per process wakes everything waiting for work in a queue.

NOTIFY is a hint, not a queue: waiters always re-run their claim after waking, and also
re-check on a slow fallback timer, so a notification lost during a reconnect costs at most
one fallback interval.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from ..store.jobs import WAKE_CHANNEL
from .listener import PgListener


class WakeHub:
    """Fans `<org>/<queue>` notifications out to local waiters."""

    def __init__(self, dsn: str, reconnect_delay: float = 1.0):
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        # After a (re)connect every waiter re-checks: anything may have arrived meanwhile.
        self._listener = PgListener(dsn, WAKE_CHANNEL, self.notify_local, on_connect=self._wake_all,
                                    reconnect_delay=reconnect_delay, name="wake-hub")
        self.connected = self._listener.connected

    @staticmethod
    def key(org_id: str, queue_name: str) -> str:
        return f"{org_id}/{queue_name}"

    def register(self, org_id: str, queue_name: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters[self.key(org_id, queue_name)].add(event)
        return event

    def unregister(self, org_id: str, queue_name: str, event: asyncio.Event) -> None:
        key = self.key(org_id, queue_name)
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]

    def waiting(self) -> int:
        """Claims and streams of this process asleep until their queue gets work."""
        return sum(len(waiters) for waiters in self._waiters.values())

    def notify_local(self, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def start(self) -> None:
        self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()
