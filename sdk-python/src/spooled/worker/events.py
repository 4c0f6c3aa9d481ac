"""Worker lifecycle events: names, their payloads, and the emitter.

    @worker.on("job:completed")
    def done(event: JobCompletedEventData): ...

Listeners run on the worker's threads (or its event loop); an exception in a listener is
logged and swallowed so it cannot break job processing.
"""

from __future__ import annotations

import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("spooled.worker")

WORKER_EVENTS = ("started", "stopped", "error", "job:claimed", "job:started", "job:completed", "job:failed",
                 "job:lease_lost")


@dataclass(frozen=True)
class StartedEventData:
    """Emitted once the worker is registered and about to claim."""

    worker_id: str
    queue_name: str


@dataclass(frozen=True)
class StoppedEventData:
    """Emitted when the worker has stopped; reason is "graceful" or "error"."""

    worker_id: str
    reason: str = "graceful"


@dataclass(frozen=True)
class ErrorEventData:
    """A failure the worker survived (or, with state "error", the one that stopped it)."""

    error: BaseException


@dataclass(frozen=True)
class JobClaimedEventData:
    """A job was leased to this worker."""

    job_id: str
    queue_name: str


@dataclass(frozen=True)
class JobStartedEventData:
    """The handler is about to run for a job."""

    job_id: str
    queue_name: str


@dataclass(frozen=True)
class JobCompletedEventData:
    """The server accepted the handler's result."""

    job_id: str
    queue_name: str
    result: Any


@dataclass(frozen=True)
class JobFailedEventData:
    """The server recorded the handler's failure; will_retry says whether it runs again."""

    job_id: str
    queue_name: str
    error: str
    will_retry: bool


@dataclass(frozen=True)
class JobLeaseLostEventData:
    """The worker no longer holds the job (its lease expired or was taken over); the handler's
    result, if it still returns one, is dropped."""

    job_id: str
    queue_name: str
    reason: str


Listener = Callable[[Any], Any]


class EventEmitter:
    """Registers listeners per event name and calls them in registration order."""

    def __init__(self, *, awaits_listeners: bool = True) -> None:
        # False for the blocking worker, which never awaits what emit returns: an async listener
        # there would never run, so it is refused when added.
        self._awaits_listeners = awaits_listeners
        self._listeners: dict[str, list[Listener]] = {name: [] for name in WORKER_EVENTS}
        self._lock = threading.Lock()

    def on(self, event: str, handler: Listener | None = None) -> Any:
        """Adds a listener; without `handler` it returns a decorator."""
        if event not in self._listeners:
            raise ValueError(f"unknown worker event {event!r}; known: {', '.join(WORKER_EVENTS)}")
        if handler is None:
            def decorator(fn: Listener) -> Listener:
                self.on(event, fn)
                return fn
            return decorator
        if not self._awaits_listeners and inspect.iscoroutinefunction(handler):
            raise TypeError("async listeners need AsyncSpooledWorker")
        with self._lock:
            self._listeners[event].append(handler)
        return handler

    def off(self, event: str, handler: Listener) -> None:
        """Removes a listener added with `on`."""
        with self._lock:
            if handler in self._listeners.get(event, []):
                self._listeners[event].remove(handler)

    def emit(self, event: str, data: Any) -> list[Any]:
        """Calls each listener with `data`; returns the coroutines of async listeners (the async
        worker awaits them)."""
        with self._lock:
            listeners = list(self._listeners[event])
        pending = []
        for listener in listeners:
            try:
                outcome = listener(data)
                if inspect.isawaitable(outcome):
                    pending.append(outcome)
            except Exception:  # a listener must not break the worker
                log.exception("listener for %s raised", event)
        return pending
