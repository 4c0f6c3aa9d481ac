"""Turns the compact changes the database triggers send into section-4 event objects.

An event is `{"type": "<PascalCase>", "data": {... snake_case ..., "timestamp"}}`; it travels
with the organization, queue and job id it concerns so the hub can filter without parsing
`data` again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

# PascalCase type -> dotted name (SSE `event:` line and the `events=` filter).
DOTTED = {
    "JobStatusChange": "job.status",
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
# Names SDKs use publicly that differ from the dotted wire name.
ALIASES = {"job.status_changed": "job.status"}
TERMINAL_STATUSES = frozenset({"completed", "failed", "deadletter", "cancelled"})


def sse_frame(name: str, json_text: str) -> str:
    """One Server-Sent Events frame: the event name and its JSON as the data line."""
    return f"event: {name}\ndata: {json_text}\n\n"


@dataclass(frozen=True, slots=True)
class Event:
    """One event for one organization; `message` is the wire object {type, data}."""

    org_id: str
    queue: str | None
    job_id: str | None
    message: dict
    # Encodings made once per event, however many subscribers it goes to.
    _encoded: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def type(self) -> str:
        return self.message["type"]

    def json_text(self) -> str:
        """The message as compact JSON (the WebSocket frame, and an SSE frame's data)."""
        text = self._encoded.get("json")
        if text is None:
            text = self._encoded["json"] = json.dumps(self.message, separators=(",", ":"))
        return text

    def sse_frame(self) -> str:
        frame = self._encoded.get("sse")
        if frame is None:
            frame = self._encoded["sse"] = sse_frame(self.name, self.json_text())
        return frame

    @property
    def name(self) -> str:
        return DOTTED.get(self.type, self.type)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def message(type_: str, **data) -> dict:
    """Builds a wire message, stamping it with the current time."""
    return {"type": type_, "data": {**data, "timestamp": now_iso()}}


def parse_event_names(raw: str | None) -> frozenset[str] | None:
    """`events=` query/command value -> set of dotted names; None means every event."""
    if raw is None:
        return None
    if isinstance(raw, (list, tuple)):
        parts = [str(p) for p in raw]
    else:
        parts = str(raw).split(",")
    names = {ALIASES.get(p.strip(), p.strip()) for p in parts if p.strip()}
    if not names or "*" in names:
        return None
    return frozenset(names)


def from_notification(payload: str) -> Iterator[Event]:
    """Expands one NOTIFY payload (a JSON array of compact changes) into events."""
    try:
        changes = json.loads(payload)
    except ValueError:
        return
    if not isinstance(changes, list):
        return
    for change in changes:
        if isinstance(change, dict) and isinstance(change.get("o"), str):
            if "j" in change:
                yield from _job_events(change)
            elif "w" in change:
                yield from _worker_events(change)


def _job_events(c: dict) -> Iterator[Event]:
    org, job_id, queue, status = c["o"], c.get("j"), c.get("q"), c.get("s")

    def event(type_: str, **data) -> Event:
        return Event(org, queue, job_id, message(type_, job_id=job_id, queue_name=queue, **data))

    if "p" not in c:
        yield event("JobCreated", priority=c.get("pr", 0))
        return
    yield event("JobStatusChange", old_status=c["p"], new_status=status)
    if status == "completed":
        yield event("JobCompleted", duration_ms=c.get("d"))
    if "e" in c:
        yield event("JobFailed", error=c["e"], retry_count=c.get("r", 0))


def _worker_events(c: dict) -> Iterator[Event]:
    org, worker_id, queue, status = c["o"], c.get("w"), c.get("q"), c.get("s")
    if "p" not in c:
        yield Event(org, queue, None, message("WorkerRegistered", worker_id=worker_id, queue_name=queue))
    elif status == "offline":
        yield Event(org, queue, None, message("WorkerDeregistered", worker_id=worker_id))
    else:
        yield Event(org, queue, None, message("WorkerHeartbeat", worker_id=worker_id, status=status,
                                              current_job_id=None))
