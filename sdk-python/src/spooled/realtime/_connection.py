"""The life of one asyncio realtime connection, whatever carries it (SSE or WebSocket).

A subclass opens the transport (`_open`), reads it until it ends (`_read`, which hands each
event to `_deliver`) and closes it (`_close_transport`). This base owns the rest: the state,
the listeners, the buffer behind `events()`, and reconnecting after the connection drops,
waiting `reconnect_delay × 2^(attempt−1)` (capped at `max_reconnect_delay`) before each of up
to `max_reconnect_attempts` attempts. The first `connect()` does not retry: a wrong key or an
unreachable server is reported to the caller at once.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

from ..errors import AuthenticationError, AuthorizationError, NotFoundError, SpooledError, ValidationError
from ._handlers import Handlers
from .events import ConnectionState, RealtimeEvent

log = logging.getLogger("spooled.realtime")

TokenProvider = Callable[[], "str | None | Awaitable[str | None]"]
Sleep = Callable[[float], Awaitable[Any]]
# Events kept for `events()` when nobody reads them; the oldest are dropped beyond this.
DEFAULT_MAX_BUFFERED_EVENTS = 10_000
# Errors that another attempt with the same credentials and filter cannot cure.
PERMANENT_ERRORS = (AuthenticationError, AuthorizationError, NotFoundError, ValidationError)


@dataclass(frozen=True)
class ReconnectPolicy:
    """When to reconnect after a connection drops."""

    auto_reconnect: bool = True
    max_reconnect_attempts: int = 10
    reconnect_delay: float = 1.0
    max_reconnect_delay: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_reconnect_attempts, int) or self.max_reconnect_attempts < 0:
            raise ValueError("max_reconnect_attempts must be an integer >= 0")
        if self.reconnect_delay < 0 or self.max_reconnect_delay < 0:
            raise ValueError("reconnect delays must be >= 0 seconds")

    def delay(self, attempt: int, base: float | None = None) -> float:
        """Seconds to wait before reconnect attempt `attempt` (1-based)."""
        first = self.reconnect_delay if base is None else base
        return min(first * 2 ** (attempt - 1), self.max_reconnect_delay)

    def schedule(self, base: float | None = None) -> list[float]:
        """Every wait of a full run of attempts, in order."""
        return [self.delay(n, base) for n in range(1, self.max_reconnect_attempts + 1)]


class StreamEnded(Exception):
    """Raised by `_read` when the server ended the stream for good (no reconnect)."""


class AsyncRealtimeConnection:
    """Base of AsyncSSEClient and AsyncWebSocketClient; see the module docstring."""

    def __init__(self, policy: ReconnectPolicy, *, token: str | None = None,
                 token_provider: TokenProvider | None = None, sleep: Sleep | None = None, debug: bool = False,
                 max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS):
        self.policy = policy
        self._token = token or None
        self._token_provider = token_provider
        self._sleep: Sleep = sleep or asyncio.sleep
        self._debug = debug
        self._handlers = Handlers()
        self._state = ConnectionState.DISCONNECTED
        self._buffer: collections.deque[RealtimeEvent] = collections.deque(maxlen=max_buffered_events)
        self._wakeup = asyncio.Event()
        self._finished = True
        self._failure: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Events dropped because the `events()` buffer was full.
        self.dropped_events = 0
        #: Reconnections made since `connect()`.
        self.reconnects = 0

    # ---------------------------------------------------------------- listeners and state
    @property
    def state(self) -> ConnectionState:
        """The connection's current state."""
        return self._state

    def get_state(self) -> ConnectionState:
        """The connection's current state."""
        return self._state

    def on(self, event_type: Any, handler: Callable[[dict], Any] | None = None) -> Any:
        """Calls `handler(event.data)` for each event of `event_type`; usable as a decorator."""
        return self._handlers.on(event_type, handler)

    def off(self, event_type: Any, handler: Callable[[dict], Any] | None = None) -> None:
        """Removes a handler added with `on` (all of that type's handlers without `handler`)."""
        self._handlers.off(event_type, handler)

    def on_event(self, handler: Callable[[RealtimeEvent], Any]) -> Callable[[], None]:
        """Calls `handler(event)` for every event; returns a function that removes it."""
        return self._handlers.on_event(handler)

    def on_state_change(self, handler: Callable[[ConnectionState], Any] | None = None) -> Any:
        """Calls `handler(state)` on every state change; usable as a decorator."""
        return self._handlers.on_state_change(handler)

    def _set_state(self, state: ConnectionState) -> None:
        if state != self._state:
            self._state = state
            self._log("state %s", state.value)
            self._handlers.emit_state(state)

    def _log(self, message: str, *args: Any) -> None:
        if self._debug:
            log.info("[spooled] realtime: " + message, *args)
        else:
            log.debug("spooled realtime: " + message, *args)

    # ---------------------------------------------------------------- what subclasses provide
    async def _open(self) -> None:
        raise NotImplementedError

    async def _read(self) -> None:
        """Reads until the transport ends; raises StreamEnded when it must not be reopened."""
        raise NotImplementedError

    async def _close_transport(self) -> None:
        raise NotImplementedError

    def _base_delay(self) -> float | None:
        """The first reconnect delay when the server chose one (SSE `retry:`)."""
        return None

    # ---------------------------------------------------------------- connection life
    async def _current_token(self) -> str | None:
        if self._token_provider is None:
            return self._token
        if inspect.iscoroutinefunction(self._token_provider):
            token = await self._token_provider()
        else:
            # A blocking provider (an HTTP login, say) must not stall the event loop.
            token = await asyncio.to_thread(self._token_provider)
            if inspect.isawaitable(token):
                token = await token
        return token or self._token

    def _deliver(self, event: RealtimeEvent | None) -> None:
        if event is None:
            return
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped_events += 1
        self._buffer.append(event)
        self._wakeup.set()
        self._handlers.emit(event)

    async def connect(self) -> None:
        """Opens the connection; raises the mapped error if the first attempt fails."""
        if self._task is not None and not self._task.done():
            return
        self._closing = False
        self._failure = None
        self._finished = False
        # A fresh Event each time: a blocking client runs each connection on a new event loop.
        self._wakeup = asyncio.Event()
        self.reconnects = 0
        self._set_state(ConnectionState.CONNECTING)
        try:
            await self._open()
        except BaseException:
            self._finish(ConnectionState.DISCONNECTED)
            raise
        self._set_state(ConnectionState.CONNECTED)
        self._task = asyncio.create_task(self._run(), name="spooled-realtime")

    async def disconnect(self) -> None:
        """Closes the connection and ends `events()`; no reconnect follows."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
        await self._close_quietly()
        self._finish(ConnectionState.DISCONNECTED)

    close = disconnect

    async def _close_quietly(self) -> None:
        try:
            await self._close_transport()
        except Exception:  # noqa: BLE001 - the connection is being dropped anyway
            pass

    def _finish(self, state: ConnectionState) -> None:
        self._finished = True
        self._wakeup.set()
        self._set_state(state)

    async def _run(self) -> None:
        try:
            while True:
                try:
                    await self._read()
                    self._log("the server closed the stream")
                except StreamEnded:
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - a broken stream is reconnected or reported
                    self._log("the stream broke: %s", err)
                    self._failure = err
                await self._close_quietly()
                if self._closing or not self.policy.auto_reconnect or not await self._reconnect():
                    return
        finally:
            if not self._closing:
                await self._close_quietly()
                self._finish(ConnectionState.DISCONNECTED)

    async def _reconnect(self) -> bool:
        """Reopens with backoff; False once the attempts are spent or an error is permanent."""
        for attempt in range(1, self.policy.max_reconnect_attempts + 1):
            self._set_state(ConnectionState.RECONNECTING)
            await self._sleep(self.policy.delay(attempt, self._base_delay()))
            if self._closing:
                return False
            try:
                await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - recorded; maybe retried
                self._log("reconnect attempt %d failed: %s", attempt, err)
                self._failure = err
                if isinstance(err, PERMANENT_ERRORS):
                    return False
                continue
            self._failure = None
            self.reconnects += 1
            self._set_state(ConnectionState.CONNECTED)
            return True
        return False

    # ---------------------------------------------------------------- consuming
    async def events(self) -> AsyncIterator[RealtimeEvent]:
        """Every event from now until `disconnect()` or the stream's end (one consumer at a time).

        Events that arrived since `connect()` and were not read yet come first. Raises the last
        error when the connection broke and could not be reopened.
        """
        while True:
            while self._buffer:
                yield self._buffer.popleft()
            if self._finished:
                if self._failure is not None and not self._closing:
                    failure = self._failure
                    raise failure if isinstance(failure, SpooledError) else _wrap(failure)
                return
            self._wakeup.clear()
            if self._buffer or self._finished:
                continue
            await self._wakeup.wait()

    async def __aenter__(self) -> "AsyncRealtimeConnection":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()


def _wrap(err: BaseException) -> SpooledError:
    from ..errors import NetworkError

    wrapped = NetworkError(f"realtime connection lost: {err.__class__.__name__}: {err}")
    wrapped.__cause__ = err
    return wrapped
