"""What a realtime client hands to its caller: events, their type names, filters and states.

The server names its events in PascalCase on the wire (`{"type": "JobCreated", "data": {...}}`)
and uses dotted names for the SSE `event:` line (`job.created`, and `job.status` for a status
change). The SDK speaks one vocabulary, the dotted names of `RealtimeEventType`; everything
the server may send is translated by `event_type_for`, and types the SDK does not know (the
WebSocket's `Subscribed` acknowledgements, say) are dropped rather than guessed at.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ConnectionState(str, enum.Enum):
    """Where a realtime connection stands. Compares equal to its string value."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"


# The SSE module's name for the same states.
SSEConnectionState = ConnectionState


class RealtimeEventType(str, enum.Enum):
    """The event types a realtime client delivers. Compares equal to its string value."""

    JOB_STATUS_CHANGED = "job.status_changed"
    JOB_CREATED = "job.created"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    QUEUE_STATS = "queue.stats"
    WORKER_HEARTBEAT = "worker.heartbeat"
    WORKER_REGISTERED = "worker.registered"
    WORKER_DEREGISTERED = "worker.deregistered"
    SYSTEM_HEALTH = "system.health"
    PING = "ping"
    ERROR = "error"


# Server PascalCase type -> SDK name.
_FROM_SERVER: dict[str, str] = {
    "JobStatusChange": "job.status_changed",
    "JobCreated": "job.created",
    "JobCompleted": "job.completed",
    "JobFailed": "job.failed",
    "QueueStats": "queue.stats",
    "WorkerHeartbeat": "worker.heartbeat",
    "WorkerRegistered": "worker.registered",
    "WorkerDeregistered": "worker.deregistered",
    "SystemHealth": "system.health",
    "Ping": "ping",
    "Error": "error",
}
# SDK name -> server PascalCase type (for callers that need the wire form back).
SERVER_TYPES: dict[str, str] = {sdk: server for server, sdk in _FROM_SERVER.items()}
# Every spelling the server may use for a type: PascalCase, the dotted SSE names (of which only
# the status change differs from the SDK's name) and the SDK names themselves.
_KNOWN: dict[str, str] = {**_FROM_SERVER, **{name: name for name in SERVER_TYPES}, "job.status": "job.status_changed"}


def event_type_for(name: str | None) -> str | None:
    """The SDK's name for a type the server sent, or None when the SDK does not know it."""
    if not isinstance(name, str):
        return None
    return _KNOWN.get(name)


def server_type_for(event_type: str) -> str | None:
    """The server's PascalCase name for an SDK event type (`job.created` -> `JobCreated`)."""
    return SERVER_TYPES.get(str(getattr(event_type, "value", event_type)))


def _timestamp(data: dict[str, Any]) -> datetime | None:
    raw = data.get("timestamp")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class RealtimeEvent:
    """One event: its SDK type name (`job.created`, ...), its data and when the server sent it."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None

    @property
    def server_type(self) -> str | None:
        """The type as the server spells it on the wire (`JobCreated`)."""
        return server_type_for(self.type)


def event_from_message(message: Any, fallback_type: str | None = None) -> RealtimeEvent | None:
    """Builds an event from a decoded server message `{type, data}`.

    `fallback_type` is the SSE `event:` name, used when the data is not a `{type, data}`
    object. Returns None for messages whose type the SDK does not know.
    """
    if isinstance(message, dict) and "type" in message:
        name, data = message.get("type"), message.get("data")
    else:
        name, data = fallback_type, message
    event_type = event_type_for(name)
    if event_type is None:
        return None
    if not isinstance(data, dict):
        data = {} if data is None else {"value": data}
    return RealtimeEvent(event_type, data, _timestamp(data))


def event_from_text(text: str, fallback_type: str | None = None) -> RealtimeEvent | None:
    """Like event_from_message for a JSON text (an SSE data block or a WebSocket frame)."""
    try:
        message = json.loads(text)
    except ValueError:
        message = text
    return event_from_message(message, fallback_type)


@dataclass(frozen=True)
class SubscriptionFilter:
    """Which events a subscription wants: one queue, one job, or (both None) all of them."""

    queue: str | None = None
    job_id: str | None = None

    def to_id(self) -> str:
        """A stable key naming this filter (`queue:emails`, `job:<id>`, `all`)."""
        parts = [f"queue:{self.queue}" if self.queue else "", f"job:{self.job_id}" if self.job_id else ""]
        return ",".join(p for p in parts if p) or "all"


# The unified module's name for the same filter (one class serves both transports).
UnifiedSubscriptionFilter = SubscriptionFilter

TERMINAL_STATUSES = frozenset({"completed", "failed", "deadletter", "cancelled"})
