"""Realtime subscriptions of the Python SDK runner, through the SDK's own realtime client.

`subscribe` opens `await client.realtime(type=...)` (a `spooled.SpooledRealtime`): SSE for the
`events.*` operations, a WebSocket for `realtime.websocket`. The SDK delivers events under its
dotted names (`job.status_changed`); scenarios match the wire form, so each event is pushed into
the harness's EventStream as `{type: <the server's PascalCase name>, data}`. The SDK runs the
connection on a thread of its own; events and the end of the stream are handed to the runner's
event loop with `call_soon_threadsafe`, in the order they happened.
"""

from __future__ import annotations

import asyncio
from typing import Any

import spooled
from harness.driver import EventStream, Unsupported
from spooled.realtime import ConnectionState, RealtimeEvent, SpooledRealtime, SubscriptionFilter

SSE_OPS = {"events.stream", "events.job", "events.queue"}
WS_OP = "realtime.websocket"


def stream_filter(op: str, args: dict[str, Any]) -> SubscriptionFilter:
    """The SDK filter that reaches the operation's route (path or query parameters)."""
    if op == "events.job":
        return SubscriptionFilter(job_id=str(args["id"]))
    if op == "events.queue":
        return SubscriptionFilter(queue=str(args["name"]))
    if op == "events.stream" or op == WS_OP:
        unknown = set(args) - {"queue", "job_id"}
        if unknown:
            raise Unsupported(f"{op}: the SDK's realtime client cannot send {sorted(unknown)}")
        return SubscriptionFilter(queue=args.get("queue"), job_id=args.get("job_id"))
    raise Unsupported(f"the Python SDK runner cannot subscribe to {op!r}")


def to_wire_event(event: RealtimeEvent) -> dict[str, Any]:
    """The SDK's event back in the server's wire form."""
    return {"type": event.server_type or event.type, "data": event.data}


class Subscription:
    """One open SpooledRealtime feeding one EventStream."""

    def __init__(self, realtime: SpooledRealtime, stream: EventStream, loop: asyncio.AbstractEventLoop):
        self.realtime = realtime
        self.stream = stream
        self.loop = loop
        realtime.on_event(self._on_event)
        realtime.on_state_change(self._on_state)

    def _on_event(self, event: RealtimeEvent) -> None:
        self.loop.call_soon_threadsafe(self.stream.push, to_wire_event(event))

    def _on_state(self, state: ConnectionState) -> None:
        if state == ConnectionState.DISCONNECTED:
            self.loop.call_soon_threadsafe(self._closed)

    def _closed(self) -> None:
        if not self.stream.closed:
            self.stream.close("the connection ended")

    async def close(self) -> None:
        await asyncio.to_thread(self.realtime.disconnect)


async def subscribe(client: spooled.AsyncSpooledClient, op: str, args: dict[str, Any],
                    send: list[Any]) -> tuple[EventStream, Subscription]:
    if op not in SSE_OPS and op != WS_OP:
        raise Unsupported(f"the Python SDK runner cannot subscribe to {op!r}")
    if send and op != WS_OP:
        raise Unsupported(f"{op}: an SSE stream takes no commands")
    filter_ = stream_filter(op, args)
    realtime = await client.realtime(type="websocket" if op == WS_OP else "sse")
    stream = EventStream()
    subscription = Subscription(realtime, stream, asyncio.get_running_loop())
    try:
        await asyncio.to_thread(realtime.connect, filter_)
        for command in send:
            await asyncio.to_thread(realtime.transport.send_command, command)
    except spooled.SpooledError as err:
        stream.close(f"{type(err).__name__}: {err}")
    return stream, subscription


async def unsubscribe(handle: Subscription) -> None:
    await handle.close()
