"""WebSocket clients: AsyncWebSocketClient (asyncio) and WebSocketClient (blocking, one thread).

    options = WebSocketConnectionOptions(ws_url="ws://localhost:8080", token=api_key)
    async with AsyncWebSocketClient(options) as ws:
        await ws.subscribe(SubscriptionFilter(queue="emails"))
        async for event in ws.events():
            print(event.type, event.data)

One socket to `/api/v1/ws` carries every event of the organization the current filter lets
through. The filter starts as the `connect(filter)` argument (sent as query parameters, so it
applies before the first event) and changes with `subscribe` / `unsubscribe` commands, which
the server acknowledges (`Subscribed` / `Unsubscribed`; the SDK waits up to `command_timeout`
for that and does not deliver the acknowledgement as an event). The filter in force is
re-applied after every reconnection. The token (API key or JWT) is sent in the
`Authorization` header of the upgrade request, which the server prefers over `?token=`.
"""

from __future__ import annotations

import asyncio
import collections
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus, WebSocketException

from .._constants import API_PREFIX
from .._version import __version__
from ..errors import NetworkError, SpooledError, SpooledTimeoutError
from ._connection import AsyncRealtimeConnection, ReconnectPolicy, Sleep, TokenProvider
from ._http_errors import from_status
from ._threaded import SyncRealtimeFacade
from .events import SubscriptionFilter, event_from_text

__all__ = ["WebSocketConnectionOptions", "AsyncWebSocketClient", "WebSocketClient", "SubscribeCommand",
           "UnsubscribeCommand", "PingCommand", "websocket_url"]

WS_PATH = f"{API_PREFIX}/ws"
_ACKS = ("Subscribed", "Unsubscribed")


def websocket_url(url: str) -> str:
    """The socket endpoint for a server root or an endpoint URL, with a ws:// or wss:// scheme."""
    parts = urlsplit(url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError("ws_url must start with ws://, wss://, http:// or https://")
    path = parts.path if parts.path.endswith(WS_PATH) else parts.path + WS_PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))


@dataclass
class SubscribeCommand:
    """Narrows the socket to a queue and/or a job (fields not given are kept)."""

    queue: str | None = None
    job_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cmd": "subscribe", **_fields(self.queue, self.job_id)}


@dataclass
class UnsubscribeCommand:
    """Clears the given filter fields; with none, pauses delivery until the next subscribe."""

    queue: str | None = None
    job_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cmd": "unsubscribe", **_fields(self.queue, self.job_id)}


@dataclass
class PingCommand:
    """Asks the server for a `Ping` event."""

    def to_dict(self) -> dict[str, Any]:
        return {"cmd": "ping"}


def _fields(queue: str | None, job_id: str | None) -> dict[str, str]:
    return {k: v for k, v in (("queue", queue), ("job_id", job_id)) if v is not None}


@dataclass
class WebSocketConnectionOptions:
    """Settings of a WebSocket client. `ws_url` is the server root (http(s):// or ws(s)://) or
    the full `/api/v1/ws` URL; `token` an API key or JWT; `token_provider` (sync or async) is
    asked for a fresh token before every (re)connection."""

    ws_url: str
    token: str | None = None
    auto_reconnect: bool = True
    max_reconnect_attempts: int = 10
    reconnect_delay: float = 1.0
    max_reconnect_delay: float = 30.0
    command_timeout: float = 10.0
    debug: bool | None = None
    token_provider: TokenProvider | None = None
    headers: dict[str, str] = field(default_factory=dict)
    open_timeout: float = 10.0
    user_agent: str | None = None
    sleep: Sleep | None = None


class AsyncWebSocketClient(AsyncRealtimeConnection):
    """asyncio WebSocket client with automatic reconnect (see the module docstring)."""

    def __init__(self, options: WebSocketConnectionOptions | None = None, **kwargs: Any):
        options = options or WebSocketConnectionOptions(**kwargs)
        super().__init__(ReconnectPolicy(options.auto_reconnect, options.max_reconnect_attempts,
                                         options.reconnect_delay, options.max_reconnect_delay),
                         token=options.token, token_provider=options.token_provider, sleep=options.sleep,
                         debug=bool(options.debug))
        self.options = options
        self.url = websocket_url(options.ws_url)
        self.filter = SubscriptionFilter()
        self._paused = False
        self._ws: ClientConnection | None = None
        self._acks: collections.deque[asyncio.Future[dict]] = collections.deque()

    async def connect(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002 - public name
        """Opens the socket, limited to `filter` from the first event on."""
        if filter is not None:
            self.filter = filter
            self._paused = False
        await super().connect()

    async def _open(self) -> None:
        headers = dict(self.options.headers)
        token = await self._current_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        query = urlencode(_fields(self.filter.queue, self.filter.job_id))
        try:
            self._ws = await ws_connect(self.url + (f"?{query}" if query else ""), additional_headers=headers,
                                        open_timeout=self.options.open_timeout,
                                        user_agent_header=self.options.user_agent
                                        or f"spooled-python/{__version__}")
        except InvalidStatus as exc:
            response = exc.response
            raise from_status(response.status_code, list(response.headers.raw_items()), response.body or b"") \
                from None
        except asyncio.TimeoutError as exc:
            raise SpooledTimeoutError(f"opening {self.url} timed out",
                                      timeout_seconds=self.options.open_timeout) from exc
        except (OSError, WebSocketException) as exc:
            raise NetworkError(f"opening {self.url} failed: {exc.__class__.__name__}: {exc}") from exc
        if self._paused:
            await self.send_command(UnsubscribeCommand())

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for raw in ws:
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if isinstance(message, dict) and message.get("type") in _ACKS:
                    self._settle_ack(message)
                    continue
                self._deliver(event_from_text(text))
        except ConnectionClosedOK:
            pass
        except ConnectionClosed as exc:
            raise NetworkError(f"the WebSocket closed: {exc}") from exc
        finally:
            self._fail_acks(NetworkError("the WebSocket closed before the server acknowledged the command"))

    def _settle_ack(self, message: dict) -> None:
        while self._acks:
            future = self._acks.popleft()
            if not future.done():
                future.set_result(message)
                return

    def _fail_acks(self, error: SpooledError) -> None:
        while self._acks:
            future = self._acks.popleft()
            if not future.done():
                future.set_exception(error)

    async def _close_transport(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    # ---------------------------------------------------------------- commands
    async def send_command(self, command: Any) -> None:
        """Sends a command (a dict, or a SubscribeCommand/UnsubscribeCommand/PingCommand) as is."""
        if self._ws is None:
            raise NetworkError("the WebSocket is not connected")
        payload = command.to_dict() if hasattr(command, "to_dict") else dict(command)
        try:
            await self._ws.send(json.dumps(payload))
        except ConnectionClosed as exc:
            raise NetworkError(f"the WebSocket closed: {exc}") from exc

    async def _acknowledged(self, command: Any) -> dict:
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._acks.append(future)
        try:
            await self.send_command(command)
        except BaseException:
            # Never sent, so never acknowledged: left queued, it would take the next command's ack.
            if future in self._acks:  # the reader may already have failed and dropped it
                self._acks.remove(future)
            raise
        try:
            return await asyncio.wait_for(future, self.options.command_timeout)
        except asyncio.TimeoutError:
            raise SpooledTimeoutError(f"no acknowledgement of {command.to_dict()['cmd']} within "
                                      f"{self.options.command_timeout}s",
                                      timeout_seconds=self.options.command_timeout) from None

    async def subscribe(self, filter: SubscriptionFilter) -> None:  # noqa: A002 - public name
        """Limits delivery to `filter`'s queue and/or job (fields it leaves None are kept)."""
        self.filter = SubscriptionFilter(filter.queue or self.filter.queue, filter.job_id or self.filter.job_id)
        self._paused = False
        if self._ws is not None:
            await self._acknowledged(SubscribeCommand(filter.queue, filter.job_id))

    async def unsubscribe(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002
        """Clears `filter`'s fields from the filter; without fields, pauses delivery."""
        if filter is None or (filter.queue is None and filter.job_id is None):
            self._paused = True
            command = UnsubscribeCommand()
        else:
            self.filter = SubscriptionFilter(None if filter.queue else self.filter.queue,
                                             None if filter.job_id else self.filter.job_id)
            command = UnsubscribeCommand(filter.queue, filter.job_id)
        if self._ws is not None:
            await self._acknowledged(command)

    async def ping(self) -> None:
        """Asks the server for a `Ping` event (delivered like any other event)."""
        await self.send_command(PingCommand())

    async def reconnect(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002
        """Closes the socket and opens a new one (with `filter`, if given)."""
        await self.disconnect()
        await self.connect(filter)


class WebSocketClient(SyncRealtimeFacade):
    """Blocking WebSocket client: the AsyncWebSocketClient run on a background thread.

    Same options and methods, called without `await`; `events()` is a plain generator and
    handlers run on the client's thread. `connect_async()` opens it from asyncio code.
    """

    def __init__(self, options: WebSocketConnectionOptions | None = None, **kwargs: Any):
        super().__init__(AsyncWebSocketClient(options, **kwargs))

    @property
    def filter(self) -> SubscriptionFilter:
        return self._inner.filter

    async def connect_async(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002
        """`connect` for asyncio callers: runs it without blocking the caller's loop."""
        await asyncio.to_thread(self.connect, filter)

    def ping(self) -> None:
        """Asks the server for a `Ping` event."""
        self._call(self._inner.ping())

    def send_command(self, command: Any) -> None:
        """Sends a raw command (see AsyncWebSocketClient.send_command)."""
        self._call(self._inner.send_command(command))

    def reconnect(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002
        """Closes the socket and opens a new one (with `filter`, if given)."""
        self.disconnect()
        self.connect(filter)

    def close(self) -> None:
        """Same as disconnect()."""
        self.disconnect()
