"""What a job handler receives: the job, a cancellation signal, progress and log helpers."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

LogLevel = Literal["debug", "info", "warn", "warning", "error"]
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING,
           "error": logging.ERROR}

CancelReason = Literal["shutdown", "lease_lost"]


@dataclass
class _ContextBase:
    job_id: str
    queue_name: str
    payload: Any
    retry_count: int
    max_retries: int
    lease_id: str | None
    worker_id: str
    cancel_reason: CancelReason | None = field(default=None, init=False)

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure now dead-letters the job instead of retrying it."""
        return self.retry_count >= self.max_retries

    def _progress(self, percent: float, message: str | None) -> int:
        value = int(max(0, min(100, percent)))
        logging.getLogger(f"spooled.worker.job.{self.job_id}").info(
            "progress %d%%%s", value, f": {message}" if message else "")
        return value

    def _log(self, level: LogLevel, message: str, meta: dict[str, Any] | None) -> None:
        logging.getLogger(f"spooled.worker.job.{self.job_id}").log(
            _LEVELS.get(level, logging.INFO), message, extra={"spooled_meta": meta or {}})


@dataclass
class JobContext(_ContextBase):
    """Handed to a sync handler.

    `signal` is set when the handler should stop early: the worker is shutting down
    (`cancel_reason == "shutdown"`; a job abandoned this way goes back to the queue without using
    a retry) or the lease was lost (`"lease_lost"`; another worker may be running the job and
    this handler's result will not be reported).
    """

    signal: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self.signal.is_set()

    def progress(self, percent: float, message: str | None = None) -> None:
        """Reports progress (clamped to 0-100) to the log; the server has no progress route."""
        self._progress(percent, message)

    def log(self, level: LogLevel, message: str, meta: dict[str, Any] | None = None) -> None:
        """Logs through the `spooled.worker.job.<job_id>` logger."""
        self._log(level, message, meta)

    def _cancel(self, reason: CancelReason) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.signal.set()


@dataclass
class AsyncJobContext(_ContextBase):
    """Handed to an async handler; `signal` is an asyncio.Event (see JobContext)."""

    signal: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def cancelled(self) -> bool:
        return self.signal.is_set()

    async def progress(self, percent: float, message: str | None = None) -> None:
        """Reports progress (clamped to 0-100) to the log."""
        self._progress(percent, message)

    async def log(self, level: LogLevel, message: str, meta: dict[str, Any] | None = None) -> None:
        """Logs through the `spooled.worker.job.<job_id>` logger."""
        self._log(level, message, meta)

    def _cancel(self, reason: CancelReason) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.signal.set()
