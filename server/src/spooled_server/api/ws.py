"""WebSocket GET /api/v1/ws: the organization's live events, filtered per connection.

Authentication (`?token=` JWT or API key, or `Authorization: Bearer`) and the connection cap
are checked before the upgrade is accepted: failures get an HTTP 401/400/429 JSON response
(close code 1008/1013 on servers without denial responses). Query `queue`, `job_id` and
`events` set the initial filter.

After the upgrade the server sends `Ping` at once and every 30 s. Client commands are JSON
objects tagged by `cmd`, matched case-insensitively:

| command | effect | reply |
| --- | --- | --- |
| `{"cmd": "subscribe", "queue"?, "job_id"?, "events"?}` | sets the given filter fields (others kept) and resumes delivery | `{"type": "Subscribed", "data": {queue, job_id, events, timestamp}}` |
| `{"cmd": "unsubscribe", "queue"?, "job_id"?, "events"?}` | with fields: clears those filters; without: pauses delivery | `{"type": "Unsubscribed", "data": {...}}` |
| `{"cmd": "ping"}` | | `{"type": "Ping", ...}` |

Anything else (bad JSON, unknown command) is answered with an `Error` event; the connection
stays open. A client that stops reading fills its bounded queue (or blocks one send for
SPOOLED_WS_STALL_SECS); it is then sent an `Error` ("dropped N events") if possible and closed
with code 1013. Socket buffers (a few MB on loopback) absorb a stalled client's first events
before either limit trips; they are kernel memory, not server RSS.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ..errors import BadRequest, DomainError, RateLimited, ValidationFailed
from ..events.hub import EventHub, Subscription
from ..events.messages import message, parse_event_names
from .error_responses import render_error
from .realtime_auth import realtime_caller

router = APIRouter(prefix="/api/v1", tags=["realtime"])

SEND_TIMEOUT = 5.0
QUEUE_PATTERN = re.compile(r"[A-Za-z0-9_.*-]{1,100}")  # fullmatch: `$` would allow a trailing newline
_open_per_org: Counter[str] = Counter()


def _dump(msg: dict) -> str:
    return json.dumps(msg, separators=(",", ":"))


async def _deny(ws: WebSocket, error: DomainError, close_code: int) -> None:
    """Refuses the upgrade with the error's usual HTTP response (status from the error table,
    the standard envelope), or with a close code where the server cannot send one."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(render_error(error))
    else:
        await ws.close(code=close_code, reason=error.message)


def _filter_view(sub: Subscription) -> dict:
    return {"queue": sub.queue, "job_id": sub.job_id,
            "events": sorted(sub.events) if sub.events is not None else ["*"]}


def _apply(sub: Subscription, command: dict, subscribe: bool) -> None:
    fields = {k: command[k] for k in ("queue", "job_id", "events") if command.get(k) is not None}
    if subscribe:
        sub.paused = False
        if "queue" in fields:
            sub.queue = str(fields["queue"])
        if "job_id" in fields:
            sub.job_id = str(fields["job_id"])
        if "events" in fields:
            sub.events = parse_event_names(fields["events"])
    elif not fields:
        sub.paused = True
    else:
        if "queue" in fields:
            sub.queue = None
        if "job_id" in fields:
            sub.job_id = None
        if "events" in fields:
            sub.events = None


@router.get("/ws", operation_id="realtime.websocket_plain_http", include_in_schema=False)
async def websocket_without_upgrade() -> None:
    """A plain HTTP GET (no `Upgrade: websocket`) reaches the route but cannot be served: a
    400 envelope saying so, instead of the router's misleading 404 "Route not found" (and other
    methods now get 405, as on every known route)."""
    raise BadRequest("This endpoint only accepts WebSocket upgrade requests",
                     {"expected_headers": {"Connection": "Upgrade", "Upgrade": "websocket"}})


@router.websocket("/ws")
async def websocket_events(ws: WebSocket) -> None:
    try:
        caller = await realtime_caller(ws)
    except DomainError as err:
        await _deny(ws, err, 1008)
        return
    queue = ws.query_params.get("queue")
    if queue is not None and not QUEUE_PATTERN.fullmatch(queue):
        await _deny(ws, ValidationFailed("Invalid queue name", [
            {"field": "queue", "message": "1 to 100 letters, digits and - _ . *", "code": "invalid"}]), 1008)
        return
    hub: EventHub = ws.app.state.events
    settings = hub.settings
    ping_every = settings.spooled_ws_ping_secs
    if _open_per_org[caller.org_id] >= settings.spooled_ws_max_per_org:
        await _deny(ws, RateLimited("Too many WebSocket connections"), 1013)
        return

    _open_per_org[caller.org_id] += 1
    sub = hub.subscribe(caller.org_id, queue=queue, job_id=ws.query_params.get("job_id"),
                        events=parse_event_names(ws.query_params.get("events")))
    send_lock = asyncio.Lock()

    async def send(msg: dict | str) -> None:
        async with send_lock:
            await ws.send_text(msg if isinstance(msg, str) else _dump(msg))

    async def deliver() -> None:
        await send(message("Ping"))
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + ping_every
        while not sub.closed.is_set():
            event = await sub.get(timeout=max(next_ping - loop.time(), 0.0))
            if event is not None:
                try:
                    # A timer, not wait_for's extra task per event: this runs per subscriber.
                    # A send blocked this long (socket buffers full: the client stopped
                    # reading) cuts the client off.
                    async with asyncio.timeout(settings.spooled_ws_stall_secs):
                        await send(event.json_text())
                except TimeoutError:
                    sub.cut_off()
                    return
            if loop.time() >= next_ping:
                await send(message("Ping"))
                next_ping = loop.time() + ping_every

    async def listen() -> None:
        while True:
            raw = await ws.receive_text()
            try:
                command = json.loads(raw)
                name = str(command["cmd"]).lower()
            except (ValueError, KeyError, TypeError):
                await send(message("Error", message="Invalid command: expected JSON with a 'cmd' field"))
                continue
            if name in ("subscribe", "unsubscribe"):
                _apply(sub, command, name == "subscribe")
                await send(message("Subscribed" if name == "subscribe" else "Unsubscribed",
                                   **_filter_view(sub)))
            elif name == "ping":
                await send(message("Ping"))
            else:
                await send(message("Error", message=f"Unknown command: {command['cmd']}"[:200]))

    tasks: list[asyncio.Task] = []
    try:
        # Inside the try: a client gone before the handshake completes must still release
        # its subscription and its slot in the per-organization count.
        await ws.accept()
        tasks = [asyncio.create_task(deliver()), asyncio.create_task(listen()),
                 asyncio.create_task(sub.closed.wait())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        hub.unsubscribe(sub)
        _open_per_org[caller.org_id] -= 1
        if _open_per_org[caller.org_id] <= 0:
            del _open_per_org[caller.org_id]
    await _close(ws, sub, hub)


async def _close(ws: WebSocket, sub: Subscription, hub: EventHub) -> None:
    """Tells an overflowed client what it lost, then closes (never blocking for long)."""
    try:
        if sub.overflowed:
            await asyncio.wait_for(
                ws.send_text(_dump(message("Error", message=f"dropped {sub.dropped} events"))),
                SEND_TIMEOUT)
            await asyncio.wait_for(ws.close(code=1013, reason="dropped events"), SEND_TIMEOUT)
        elif hub.stopping.is_set():
            await asyncio.wait_for(ws.close(code=1001, reason="server shutting down"), SEND_TIMEOUT)
        else:
            await asyncio.wait_for(ws.close(), SEND_TIMEOUT)
    except (asyncio.TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
        pass
