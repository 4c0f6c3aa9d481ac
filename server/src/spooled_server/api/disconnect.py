"""When a long poll should stop waiting: its client has gone, or the server is shutting down.

Once a request's body has been read, the only message ASGI still delivers on `receive` is
`http.disconnect`, so a task waiting on it learns the moment the client leaves. Shutdown is the
event hub's `stopping` (set on SIGTERM/SIGINT, before uvicorn waits for open requests), so a
waiting claim answers at once instead of holding the shutdown to its grace deadline.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

from starlette.requests import Request


@asynccontextmanager
async def wait_ended(request: Request) -> AsyncIterator[asyncio.Event]:
    """An event set when the client disconnects or the server begins to stop; enter it only
    after the body has been read."""
    ended = asyncio.Event()

    async def client_left() -> None:
        try:
            while (await request.receive())["type"] != "http.disconnect":
                pass
        finally:
            ended.set()  # a receive that fails ends the wait too, rather than leave it to run out

    async def server_stopping(stopping: asyncio.Event) -> None:
        await stopping.wait()
        ended.set()

    watchers = [asyncio.ensure_future(client_left())]
    hub = getattr(request.app.state, "events", None)
    if hub is not None:
        watchers.append(asyncio.ensure_future(server_stopping(hub.stopping)))
    try:
        yield ended
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
