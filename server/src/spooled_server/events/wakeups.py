"""One LISTEN connection per process wakes everything waiting for work in a queue.

NOTIFY is a hint, not a queue: waiters always re-run their claim after waking, and also
re-check on a slow fallback timer, so a notification lost during a reconnect costs at most
one fallback interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import asyncpg

from ..store.jobs import WAKE_CHANNEL

log = logging.getLogger("spooled.wakeups")


class WakeHub:
    """Fans `<org>/<queue>` notifications out to local waiters."""

    def __init__(self, dsn: str, reconnect_delay: float = 1.0):
        self.dsn = dsn
        self.reconnect_delay = reconnect_delay
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None
        self.connected = asyncio.Event()

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

    def notify_local(self, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        self.notify_local(payload)

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wake-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def _run(self) -> None:
        while True:
            try:
                self._conn = await asyncpg.connect(self.dsn)
                lost = asyncio.Event()
                self._conn.add_termination_listener(lambda _c: lost.set())
                await self._conn.add_listener(WAKE_CHANNEL, self._on_notify)
                self.connected.set()
                # Anything that arrived while we were not listening: let every waiter re-check.
                self._wake_all()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), timeout=5.0)
                    except asyncio.TimeoutError:
                        # Probe the connection so a half-open socket is noticed.
                        await asyncio.wait_for(self._conn.execute("SELECT 1"), timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # connection refused, lost, probe timed out
                log.warning("wake listener lost its connection (%s); reconnecting", err)
            self.connected.clear()
            if self._conn is not None and not self._conn.is_closed():
                self._conn.terminate()
            await asyncio.sleep(self.reconnect_delay)
