"""Noticing that an HTTP client has gone away while its request waits (a long-poll claim).

Once a request's body has been read, the only message ASGI still delivers on `receive` is
`http.disconnect`, so a task waiting on it learns the moment the client leaves.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

from starlette.requests import Request


@asynccontextmanager
async def client_gone(request: Request) -> AsyncIterator[asyncio.Event]:
    """An event set when the client disconnects; use it only after the body has been read."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch())
    try:
        yield gone
    finally:
        watcher.cancel()
