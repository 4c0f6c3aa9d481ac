"""Ends long-lived streams promptly when the server stops, instead of at the grace deadline."""

from __future__ import annotations

import asyncio


class StreamGate:
    """Streams register the event they sleep on; closing the gate wakes them all, and each one
    then ends with UNAVAILABLE so its client reconnects (to another process, or after restart)."""

    def __init__(self) -> None:
        self.closing = False
        self.closed = asyncio.Event()
        self._sleepers: set[asyncio.Event] = set()

    def watch(self, event: asyncio.Event) -> None:
        self._sleepers.add(event)

    def unwatch(self, event: asyncio.Event) -> None:
        self._sleepers.discard(event)

    def close(self) -> None:
        self.closing = True
        self.closed.set()
        for event in self._sleepers:
            event.set()
