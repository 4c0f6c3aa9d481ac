"""Listener registry shared by every realtime client: per-type handlers, catch-all handlers and
state-change handlers. A handler that raises is logged and skipped; it never stops delivery."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from .events import ConnectionState, RealtimeEvent, event_type_for

log = logging.getLogger("spooled.realtime")

EventHandler = Callable[[dict[str, Any]], Any]
AnyEventHandler = Callable[[RealtimeEvent], Any]
StateHandler = Callable[[ConnectionState], Any]


def normalize_type(event_type: Any) -> str:
    """`job.created`, RealtimeEventType.JOB_CREATED and `JobCreated` all name the same type."""
    name = event_type_for(str(getattr(event_type, "value", event_type)))
    if name is None:
        raise ValueError(f"unknown realtime event type: {event_type!r}")
    return name


class Handlers:
    """Thread-safe: registration may happen on any thread, delivery on the client's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_type: dict[str, list[EventHandler]] = {}
        self._any: list[AnyEventHandler] = []
        self._state: list[StateHandler] = []

    def on(self, event_type: Any, handler: EventHandler | None = None) -> Any:
        """Calls `handler(event.data)` for events of `event_type`; usable as a decorator."""
        name = normalize_type(event_type)

        def register(fn: EventHandler) -> EventHandler:
            with self._lock:
                self._by_type.setdefault(name, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def off(self, event_type: Any, handler: EventHandler | None = None) -> None:
        """Removes `handler` (or, without one, every handler) of `event_type`."""
        name = normalize_type(event_type)
        with self._lock:
            if handler is None:
                self._by_type.pop(name, None)
            elif handler in self._by_type.get(name, []):
                self._by_type[name].remove(handler)

    def on_event(self, handler: AnyEventHandler) -> Callable[[], None]:
        """Calls `handler(event)` for every event; returns a function that removes it."""
        with self._lock:
            self._any.append(handler)

        def remove() -> None:
            with self._lock:
                if handler in self._any:
                    self._any.remove(handler)

        return remove

    def on_state_change(self, handler: StateHandler | None = None) -> Any:
        """Calls `handler(state)` on every state change; usable as a decorator."""

        def register(fn: StateHandler) -> StateHandler:
            with self._lock:
                self._state.append(fn)
            return fn

        return register if handler is None else register(handler)

    def emit(self, event: RealtimeEvent) -> None:
        with self._lock:
            typed = list(self._by_type.get(event.type, ()))
            catch_all = list(self._any)
        for fn in typed:
            _safely(fn, event.data)
        for fn in catch_all:
            _safely(fn, event)

    def emit_state(self, state: ConnectionState) -> None:
        with self._lock:
            listeners = list(self._state)
        for fn in listeners:
            _safely(fn, state)


def _safely(fn: Callable[[Any], Any], arg: Any) -> None:
    try:
        fn(arg)
    except Exception:  # noqa: BLE001 - a listener's bug must not end the stream
        log.exception("spooled realtime: a listener raised")
