"""SpooledRealtime: one realtime interface over either transport, as `client.realtime()` returns it.

    realtime = client.realtime(type="sse")          # or "websocket" (the default)

    @realtime.on("job.completed")
    def done(data):
        print("completed", data["job_id"])

    realtime.connect(SubscriptionFilter(queue="emails"))
    for event in realtime.events():                 # or let the handlers do the work
        ...
    realtime.disconnect()

Both transports deliver the same `RealtimeEvent`s. With SSE one filter applies per stream, so
`subscribe` reopens it; a WebSocket changes its filter in place. Reconnection, backoff and the
token provider (asked for a token before every connection) work the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

from .events import ConnectionState, RealtimeEvent, SubscriptionFilter, UnifiedSubscriptionFilter
from .sse import SSEClient
from .websocket import WebSocketClient, WebSocketConnectionOptions

__all__ = ["SpooledRealtime", "SpooledRealtimeOptions", "SubscriptionFilter", "UnifiedSubscriptionFilter"]

RealtimeType = Literal["websocket", "sse"]


@dataclass
class SpooledRealtimeOptions:
    """How to reach the server's realtime routes. `token` is an API key or JWT; `token_provider`
    (sync or async), when given, is asked for a fresh one before every (re)connection."""

    base_url: str
    ws_url: str | None = None
    token: str = ""
    type: RealtimeType = "websocket"
    auto_reconnect: bool = True
    max_reconnect_attempts: int = 10
    reconnect_delay: float = 1.0
    max_reconnect_delay: float = 30.0
    debug: bool = False
    token_provider: Callable[[], Any] | None = None
    headers: dict[str, str] | None = None
    user_agent: str | None = None


class SpooledRealtime:
    """Blocking realtime client over SSE or WebSocket (see the module docstring). Handlers run on
    the client's background thread; `disconnect()` stops that thread."""

    def __init__(self, options: SpooledRealtimeOptions):
        if options.type not in ("websocket", "sse"):
            raise ValueError('type must be "websocket" or "sse"')
        self.options = options
        common: dict[str, Any] = dict(auto_reconnect=options.auto_reconnect,
                                      max_reconnect_attempts=options.max_reconnect_attempts,
                                      reconnect_delay=options.reconnect_delay,
                                      max_reconnect_delay=options.max_reconnect_delay,
                                      token_provider=options.token_provider, debug=options.debug,
                                      user_agent=options.user_agent, headers=dict(options.headers or {}))
        self._client: SSEClient | WebSocketClient
        if options.type == "sse":
            self._client = SSEClient(options.base_url, options.token or None, **common)
        else:
            self._client = WebSocketClient(WebSocketConnectionOptions(
                ws_url=options.ws_url or options.base_url, token=options.token or None, **common))

    @property
    def type(self) -> RealtimeType:
        """"websocket" or "sse"."""
        return self.options.type

    @property
    def transport(self) -> SSEClient | WebSocketClient:
        """The transport client underneath."""
        return self._client

    @property
    def state(self) -> ConnectionState:
        """The connection's current state."""
        return self._client.state

    def get_state(self) -> ConnectionState:
        """The connection's current state."""
        return self._client.state

    def on(self, event_type: Any, handler: Callable[[dict], Any] | None = None) -> Any:
        """Calls `handler(event.data)` for each event of `event_type` (`"job.completed"`, ...);
        usable as a decorator."""
        return self._client.on(event_type, handler)

    def off(self, event_type: Any, handler: Callable[[dict], Any] | None = None) -> None:
        """Removes a handler added with `on`."""
        self._client.off(event_type, handler)

    def on_event(self, handler: Callable[[RealtimeEvent], Any]) -> Callable[[], None]:
        """Calls `handler(event)` for every event; returns a function that removes it."""
        return self._client.on_event(handler)

    def on_state_change(self, handler: Callable[[ConnectionState], Any] | None = None) -> Any:
        """Calls `handler(state)` on every state change; usable as a decorator."""
        return self._client.on_state_change(handler)

    def connect(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002 - public name
        """Opens the connection, limited to `filter` (a queue and/or a job) if given."""
        self._client.connect(filter)

    def disconnect(self) -> None:
        """Closes the connection, ends `events()` and stops the background thread."""
        self._client.close()

    close = disconnect

    def reconnect(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002 - public name
        """Closes and reopens the connection (with `filter`, if given; else the current one)."""
        self._client.disconnect()
        self._client.connect(filter)

    def subscribe(self, filter: SubscriptionFilter) -> None:  # noqa: A002 - public name
        """Narrows delivery to `filter` (SSE reopens its stream; a WebSocket sends a command)."""
        self._client.subscribe(filter)

    def unsubscribe(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002 - public name
        """Drops `filter`'s fields from the filter (SSE reopens; a WebSocket without fields pauses)."""
        self._client.unsubscribe(filter)

    def events(self, timeout: float | None = None) -> Iterator[RealtimeEvent]:
        """Every event until `disconnect()` or the stream's end; `timeout` ends the iteration
        after that many seconds without an event."""
        return self._client.events(timeout)

    def __enter__(self) -> "SpooledRealtime":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()
