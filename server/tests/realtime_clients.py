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
