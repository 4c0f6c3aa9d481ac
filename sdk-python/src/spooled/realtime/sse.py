"""Server-Sent Events clients: AsyncSSEClient (asyncio) and SSEClient (blocking, one thread).

    async with AsyncSSEClient("http://localhost:8080", api_key, queue="emails") as sse:
        async for event in sse.events():
            print(event.type, event.data)

The stream is `/api/v1/events` (every event of the organization), `/api/v1/events/queues/{queue}`
(that queue's job events plus `queue.stats` every few seconds) or `/api/v1/events/jobs/{job_id}`
(the job's status changes, ending after a terminal status; such an ending is final and is not
reconnected). The token (an API key or a JWT) goes in the `Authorization` header, which the
server accepts on every realtime route, so it stays out of URLs and access logs. Changing the
filter (`reconnect(queue=..., job_id=...)`, `subscribe`) reopens the stream.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from .._constants import API_PREFIX, DEFAULT_CONNECT_TIMEOUT
from .._version import __version__
from ..errors import error_from_request_error
from ._connection import AsyncRealtimeConnection, ReconnectPolicy, Sleep, StreamEnded, TokenProvider
from ._http_errors import from_status
from ._threaded import SyncRealtimeFacade
from .events import (ConnectionState, RealtimeEvent, SSEConnectionState, SubscriptionFilter, TERMINAL_STATUSES,
                     event_from_text)
from .sse_parser import SSEParser

__all__ = ["AsyncSSEClient", "SSEClient", "SSEConnectionState", "sse_path"]

# The server sends a `:ping` comment every 15 s; a stream silent for this long is dead.
DEFAULT_READ_TIMEOUT = 60.0


def sse_path(queue: str | None = None, job_id: str | None = None) -> str:
    """The stream route for a filter; a job filter wins over a queue filter."""
    if job_id:
        return f"{API_PREFIX}/events/jobs/{quote(job_id, safe='')}"
    if queue:
        return f"{API_PREFIX}/events/queues/{quote(queue, safe='')}"
    return f"{API_PREFIX}/events"


class AsyncSSEClient(AsyncRealtimeConnection):
    """asyncio SSE client with automatic reconnect (see the module docstring).

    `token` is an API key or JWT; `token_provider` (a function, sync or async, returning one)
    is asked again before every (re)connection. `http_client` (an httpx.AsyncClient) and
    `sleep` are injectable for tests.
    """

    def __init__(self, base_url: str, token: str | None = None, *, queue: str | None = None,
                 job_id: str | None = None, auto_reconnect: bool = True, max_reconnect_attempts: int = 10,
                 reconnect_delay: float = 1.0, max_reconnect_delay: float = 30.0,
                 token_provider: TokenProvider | None = None, headers: dict[str, str] | None = None,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 http_client: httpx.AsyncClient | None = None, sleep: Sleep | None = None, debug: bool = False,
                 user_agent: str | None = None):
        super().__init__(ReconnectPolicy(auto_reconnect, max_reconnect_attempts, reconnect_delay,
                                         max_reconnect_delay),
                         token=token, token_provider=token_provider, sleep=sleep, debug=debug)
        base_url = base_url.rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        self.base_url = base_url
        self.filter = SubscriptionFilter(queue=queue, job_id=job_id)
        self._headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache",
                         "User-Agent": user_agent or f"spooled-python/{__version__}", **(headers or {})}
        self._timeout = httpx.Timeout(connect_timeout, read=read_timeout)
        self._owns_http = http_client is None
        self._http = http_client
        self._response: httpx.Response | None = None
        self._parser = SSEParser()
        self._retry_ms: int | None = None

    @property
    def url(self) -> str:
        """The stream URL for the current filter."""
        return self.base_url + sse_path(self.filter.queue, self.filter.job_id)

    async def connect(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002 - public name
        """Opens the stream, for `filter` if given (else the current filter)."""
        if filter is not None:
            self.filter = filter
        await super().connect()

    async def _open(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient()
        headers = dict(self._headers)
        token = await self._current_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self._parser.last_event_id:
            headers["Last-Event-ID"] = self._parser.last_event_id
        request = self._http.build_request("GET", self.url, headers=headers, timeout=self._timeout)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.RequestError as exc:
            raise error_from_request_error(exc, f"GET {request.url.path}", timeout=self._timeout.connect) from None
        if response.status_code != 200:
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            raise from_status(response.status_code, response.headers, body)
        self._response = response
        self._parser = SSEParser()
        self._parser.last_event_id = request.headers.get("Last-Event-ID")

    async def _read(self) -> None:
        response = self._response
        assert response is not None
        job_done = False
        try:
            async for line in response.aiter_lines():
                message = self._parser.feed_line(line)
                if self._parser.retry_ms is not None:
                    self._retry_ms = self._parser.retry_ms
                if message is None:
                    continue
                event = event_from_text(message.data, message.event)
                job_done = job_done or self._ends_job_stream(event)
                self._deliver(event)
        except httpx.RequestError as exc:
            raise error_from_request_error(exc, f"reading {response.url.path}", timeout=self._timeout.read) from None
        if job_done:
            raise StreamEnded()

    def _ends_job_stream(self, event: RealtimeEvent | None) -> bool:
        # A job's stream closes after its terminal status (or its one error event for an unknown
        # job); reopening it would only replay that status.
        if event is None or not self.filter.job_id:
            return False
        return event.type == "error" or (event.type == "job.status_changed"
                                         and event.data.get("new_status") in TERMINAL_STATUSES)

    async def _close_transport(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            await response.aclose()

    def _base_delay(self) -> float | None:
        return None if self._retry_ms is None else self._retry_ms / 1000

    async def reconnect(self, *, queue: str | None = None, job_id: str | None = None) -> None:
        """Reopens the stream with a new filter (both None: every event of the organization)."""
        await self.disconnect()
        await self.connect(SubscriptionFilter(queue=queue, job_id=job_id))

    async def subscribe(self, filter: SubscriptionFilter) -> None:  # noqa: A002 - public name
        """SSE has one filter per stream: replaces it and reopens the stream if it is open."""
        await self._refilter(SubscriptionFilter(filter.queue or self.filter.queue,
                                                filter.job_id or self.filter.job_id))

    async def unsubscribe(self, filter: SubscriptionFilter | None = None) -> None:  # noqa: A002
        """Drops the given parts of the filter (all of it without one) and reopens the stream."""
        if filter is None or (filter.queue is None and filter.job_id is None):
            new = SubscriptionFilter()
        else:
            new = SubscriptionFilter(None if filter.queue else self.filter.queue,
                                     None if filter.job_id else self.filter.job_id)
        await self._refilter(new)

    async def _refilter(self, new: SubscriptionFilter) -> None:
        if new == self.filter:
            return
        if self.state == ConnectionState.DISCONNECTED:
            self.filter = new
            return
        await self.disconnect()
        await self.connect(new)

    async def aclose(self) -> None:
        """Disconnects and releases the HTTP connections it opened."""
        await self.disconnect()
        if self._owns_http and self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    close = aclose


class SSEClient(SyncRealtimeFacade):
    """Blocking SSE client: the AsyncSSEClient run on a background thread of its own.

    Same arguments and methods, called without `await`; `events()` is a plain generator.
    Handlers run on the client's thread. `disconnect()` (or `close()`) ends the thread.
    """

    def __init__(self, base_url: str, token: str | None = None, **kwargs: Any):
        super().__init__(AsyncSSEClient(base_url, token, **kwargs))

    @property
    def filter(self) -> SubscriptionFilter:
        return self._inner.filter

    def reconnect(self, *, queue: str | None = None, job_id: str | None = None) -> None:  # type: ignore[override]
        """Reopens the stream with a new filter (both None: every event)."""
        self.disconnect()
        self.connect(SubscriptionFilter(queue=queue, job_id=job_id))

    def _release(self):  # type: ignore[no-untyped-def]
        # The HTTP client's connections belong to the thread's event loop, which ends here.
        return self._inner.aclose()

    def close(self) -> None:
        """Same as disconnect(): closes the stream, its HTTP connections and the thread."""
        self.disconnect()

