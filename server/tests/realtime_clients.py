"""Small real clients for the SSE and WebSocket tests: read frames with deadlines, never sleep."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable

import httpx

DEADLINE = 30.0  # generous: the machine is shared


@dataclass
class Frame:
    event: str | None
    data: dict | None
    comment: str | None = None


class SSEStream:
    """An open `text/event-stream` response, read one frame at a time."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self._lines = response.aiter_lines()
        self.closed = False

    async def next(self, timeout: float = DEADLINE) -> Frame | None:
        """The next frame (events and comments), or None when the server closed the stream."""
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> Frame | None:
        event = data = comment = None
        async for line in self._lines:
            if line == "":
                if event or data or comment:
                    return Frame(event, json.loads(data) if data else None, comment)
                continue
            if line.startswith(":"):
                comment = line[1:]
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
        self.closed = True
        return None

    async def wait_for(self, match: Callable[[Frame], bool], timeout: float = DEADLINE,
                       seen: list[Frame] | None = None) -> Frame:
        """Reads until a frame matches; every frame read is appended to `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("expected event did not arrive in time")
            frame = await self.next(remaining)
            if frame is None:
                raise AssertionError("stream closed before the expected event")
            if seen is not None:
                seen.append(frame)
            if match(frame):
                return frame


@asynccontextmanager
async def sse(base_url: str, path: str, *, key: str | None = None,
              params: dict | None = None) -> AsyncIterator[SSEStream]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(DEADLINE, read=60)) as client:
        async with client.stream("GET", path, headers=headers, params=params) as response:
            assert response.status_code == 200, (response.status_code, await response.aread())
            assert response.headers["content-type"].startswith("text/event-stream")
            yield SSEStream(response)


def job_event(name: str, job_id: str) -> Callable[[Frame], bool]:
    return lambda f: f.event == name and f.data["data"].get("job_id") == job_id


async def recv_json(ws, timeout: float = DEADLINE) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def ws_wait_for(ws, match: Callable[[dict], bool], timeout: float = DEADLINE,
                      seen: list[dict] | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("expected message did not arrive in time")
        msg = await recv_json(ws, remaining)
        if seen is not None:
            seen.append(msg)
        if match(msg):
            return msg


class EventSource:
    """What a browser's EventSource does: reads frames, and when the connection ends or cannot
    be made, waits the server's `retry:` delay and connects again, until closed. Frames of every
    connection go to one queue; `connects` counts successful connections."""

    def __init__(self, url: str, params: dict | None = None):
        self.url, self.params = url, params
        self.retry_ms = 3000  # the browser default until the server says otherwise
        self.connects = 0
        self.frames: asyncio.Queue[tuple[int, Frame]] = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=60)) as client:
            while True:
                try:
                    async with client.stream("GET", self.url, params=self.params) as response:
                        if response.status_code == 200:
                            self.connects += 1
                            await self._read(response)
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(self.retry_ms / 1000)  # the protocol's reconnect delay

    async def _read(self, response: httpx.Response) -> None:
        event = data = None
        async for line in response.aiter_lines():
            if line.startswith("retry:"):
                self.retry_ms = int(line[6:].strip())
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif line == "" and (event or data):
                await self.frames.put((self.connects, Frame(event, json.loads(data) if data else None)))
                event = data = None

    async def wait_for(self, match: Callable[[Frame], bool], timeout: float = DEADLINE) -> tuple[int, Frame]:
        """The first (connection number, frame) that matches, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("expected event did not arrive in time")
            connection, frame = await asyncio.wait_for(self.frames.get(), remaining)
            if match(frame):
                return connection, frame

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
