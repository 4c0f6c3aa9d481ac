"""The shape every background loop shares: immediate first tick, jittered interval, idempotent
start/stop, failures logged and retried on the next tick."""

from __future__ import annotations

import asyncio
import logging
import random

log = logging.getLogger("spooled.loops")


class Loop:
    """Subclasses implement run_once() -> int (how many things it acted on)."""

    name = "loop"

    def __init__(self, interval: float, jitter: float = 0.1):
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.jitter = jitter
        self._task: asyncio.Task | None = None

    async def run_once(self) -> int:
        raise NotImplementedError

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

    async def _run(self) -> None:
        while True:
            try:
                acted = await self.run_once()
                if acted:
                    log.info("%s: acted on %d", self.name, acted)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the database may be restarting; try again next tick
                log.warning("%s: tick failed: %s", self.name, err)
            await asyncio.sleep(self.interval * (1 + random.uniform(-self.jitter, self.jitter)))
