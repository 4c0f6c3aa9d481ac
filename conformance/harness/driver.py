"""The seam between the shared engine and one runner: how to make a client and call an operation.

A runner implements `Driver` (the raw HTTP runner with httpx, an SDK runner with its SDK) and
hands it to `harness.cli.main`. Everything else (loading, variables, matching, waits, faults,
reports, skips) is shared.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .outcome import Outcome


@dataclass
class ClientSpec:
    """A client entity with every reference resolved."""

    name: str
    base_url: str                       # the server, or the fault proxy for `via: fault_proxy`
    grpc_target: str | None = None
    api_key: str | None = None
    access_token: str | None = None
    admin_key: str | None = None
    via: str = "direct"
    options: dict[str, Any] = field(default_factory=dict)


class Unsupported(Exception):
    """The runner cannot perform this kind of step; the scenario is reported as a failure."""


class EventStream:
    """Events of one subscription in arrival order, in wire form {type, data}."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.cursor = 0
        self.closed = False
        self.error: str | None = None
        self._changed = asyncio.Event()

    def push(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    def close(self, error: str | None = None) -> None:
        self.closed = True
        self.error = error
        self._changed.set()

    async def changed(self, timeout: float) -> None:
        self._changed.clear()
        await asyncio.wait_for(self._changed.wait(), timeout)


class Driver:
    """Base class; override what the runner supports."""

    #: Name used in reports and for the skips file (`skips/<name>.yaml`).
    name = "abstract"
    #: Client features this runner's client has (see schema `clientFeature`).
    client_features: frozenset[str] = frozenset()
    #: Whether `expect.status` can be checked (true only when HTTP answers are visible).
    sees_http_status = False

    def missing_client_feature_reason(self, feature: str) -> str:
        return f"runner lacks client feature: {feature}"

    async def start(self) -> None:
        """Called once before any scenario."""

    async def stop(self) -> None:
        """Called once after every scenario."""

    async def make_client(self, spec: ClientSpec) -> Any:
        raise NotImplementedError

    async def close_client(self, client: Any) -> None:
        """Releases what make_client opened."""

    async def call(self, client: Any, op: str, args: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    async def subscribe(self, client: Any, op: str, args: dict[str, Any], send: list[Any]) -> tuple[EventStream, Any]:
        """Opens a stream; returns it and a handle passed back to `unsubscribe`."""
        raise Unsupported(f"runner {self.name} cannot subscribe to {op}")

    async def unsubscribe(self, handle: Any) -> None:
        """Closes a stream opened by `subscribe`."""
