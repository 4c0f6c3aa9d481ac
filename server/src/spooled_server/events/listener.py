"""One LISTEN connection that survives PostgreSQL restarts and half-open sockets.

It reconnects with backoff, re-LISTENs after every reconnect, and probes the connection every
few seconds so a socket that silently died is noticed. Notifications sent while it was not
connected are lost (NOTIFY is a hint, not a queue): `on_connect` runs after each (re)connect
so its owner can re-check whatever it may have missed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Callable

import asyncpg

log = logging.getLogger("spooled.listener")

PROBE_EVERY = 5.0
# Reconnects start fast and back off to at most twice a second: an attempt against a database
# that is down costs a refused connection, and a long backoff would leave every waiting claim
# on the 5 s fallback re-check for that long after the database is back.
RECONNECT_DELAY = 0.25
MAX_RECONNECT_DELAY = 0.5
# A host that drops packets instead of refusing must not hold a reconnect for asyncpg's 60 s.
CONNECT_TIMEOUT = 2 * PROBE_EVERY


class PgListener:
    def __init__(self, dsn: str, channel: str, on_notify: Callable[[str], None], *,
                 on_connect: Callable[[], None] | None = None, reconnect_delay: float = RECONNECT_DELAY, name: str = "listener"):
        self.dsn = dsn
        self.channel = channel
        self.on_notify = on_notify
        self.on_connect = on_connect
        self.reconnect_delay = reconnect_delay
        self.name = name
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self.connected.clear()

    def _deliver(self, _conn, _pid, _channel, payload: str) -> None:
        self.on_notify(payload)

    async def _run(self) -> None:
        delay = self.reconnect_delay
        failures = 0
        while True:
            try:
                self._conn = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
                lost = asyncio.Event()
                self._conn.add_termination_listener(lambda _c: lost.set())
                await self._conn.add_listener(self.channel, self._deliver)
                self.connected.set()
                if failures:
                    log.info("%s reconnected after %d failed attempts", self.name, failures)
                delay, failures = self.reconnect_delay, 0
                if self.on_connect is not None:
                    self.on_connect()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), timeout=PROBE_EVERY)
                    except asyncio.TimeoutError:
                        await asyncio.wait_for(self._conn.execute("SELECT 1"), timeout=PROBE_EVERY)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # connection refused, lost, probe timed out
                # One warning per outage; the attempts during it (two a second) log at debug.
                (log.warning if failures == 0 else log.debug)("%s lost its connection (%s); reconnecting",
                                                              self.name, err)
                failures += 1
            self.connected.clear()
            if self._conn is not None and not self._conn.is_closed():
                self._conn.terminate()
            # Jitter, so the listeners of many processes do not all knock at once.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, MAX_RECONNECT_DELAY)
