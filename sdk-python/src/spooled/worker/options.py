"""SpooledWorker settings, validated once when the worker is built."""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__

_WORKER_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$")
_QUEUE = re.compile(r"^(?![.-])[\w.-]{1,100}$")


def default_hostname() -> str:
    """This machine's name, reduced to the characters the server accepts."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:255].strip(".-") or "worker"
    return name if _HOSTNAME.match(name) else "worker"


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker claims, leases and stops.

    concurrency: jobs run at once (1-100). lease_duration: seconds each claim leases a job for
    (5-3600); the worker renews the lease every lease_duration x heartbeat_fraction seconds.
    claim_wait: seconds the server may hold an empty claim open waiting for work (long poll,
    0-30; 0 polls). poll_interval: seconds between claims when the server answers an empty
    claim at once. shutdown_timeout: seconds in-flight jobs get to finish after stop().
    handle_signals: stop gracefully on SIGTERM/SIGINT (only when started on the main thread).
    auto_start: SpooledWorker only: start on a background thread once a handler is set.
    """

    queue_name: str
    concurrency: int = 5
    lease_duration: int = 30
    heartbeat_fraction: float = 0.5
    claim_wait: float = 5.0
    poll_interval: float = 1.0
    shutdown_timeout: float = 30.0
    hostname: str = field(default_factory=default_hostname)
    worker_id: str | None = None
    worker_type: str = "python"
    version: str = __version__
    metadata: dict[str, Any] | None = None
    handle_signals: bool = True
    auto_start: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.queue_name, str) or not _QUEUE.match(self.queue_name):
            raise ValueError("queue_name must be 1-100 letters, digits, '_', '.', '-', not starting with '.' or '-'")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 100:
            raise ValueError("concurrency must be an integer from 1 to 100")
        if not isinstance(self.lease_duration, int) or not 5 <= self.lease_duration <= 3600:
            raise ValueError("lease_duration must be an integer from 5 to 3600 seconds")
        if not 0 < self.heartbeat_fraction <= 1:
            raise ValueError("heartbeat_fraction must be in (0, 1]")
        if not 0 <= self.claim_wait <= 30:
            raise ValueError("claim_wait must be between 0 and 30 seconds")
        if not self.poll_interval > 0:
            raise ValueError("poll_interval must be > 0")
        if not isinstance(self.auto_start, bool):
            raise ValueError("auto_start must be a bool")
        if not self.shutdown_timeout >= 0:
            raise ValueError("shutdown_timeout must be >= 0")
        if not _HOSTNAME.match(self.hostname) or len(self.hostname) > 255:
            raise ValueError("hostname may hold letters, digits and '._-', not starting or ending with '.' or '-'")
        if self.worker_id is not None and not _WORKER_ID.match(self.worker_id):
            raise ValueError("worker_id must be 1-128 characters of letters, digits and '._-'")
        if self.worker_id is None:
            object.__setattr__(self, "worker_id", f"{self.hostname[:100]}-{uuid.uuid4().hex[:12]}")

    @property
    def heartbeat_every(self) -> float:
        """Seconds between lease renewals of a running job."""
        return self.lease_duration * self.heartbeat_fraction
