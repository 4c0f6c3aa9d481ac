"""Bookkeeping of the jobs a worker is running: their leases and when to renew them.

Pure apart from a lock: time comes from the worker's injected clock (monotonic seconds), so
heartbeat scheduling and local lease expiry are tested without waiting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Lease:
    """One running job. `lost`: the worker no longer holds it (report nothing for it).
    `abandoned`: shutdown gave up waiting for it (the server takes it back on deregister)."""

    ctx: Any
    expires_at: float
    next_heartbeat: float
    lost: bool = False
    abandoned: bool = False

    @property
    def job_id(self) -> str:
        return self.ctx.job_id

    @property
    def settled_elsewhere(self) -> bool:
        return self.lost or self.abandoned


class LeaseBook:
    """The running jobs of one worker, keyed by job id."""

    def __init__(self, lease_duration: float, heartbeat_every: float, clock: Callable[[], float]):
        self.lease_duration = lease_duration
        self.heartbeat_every = heartbeat_every
        self.clock = clock
        self._leases: dict[str, Lease] = {}
        self._lock = threading.Lock()

    def add(self, ctx: Any, claimed_at: float) -> Lease:
        """Records a claimed job. The lease is counted from before the claim was sent, so the
        local estimate never outlives the server's."""
        lease = Lease(ctx, expires_at=claimed_at + self.lease_duration,
                      next_heartbeat=claimed_at + self.heartbeat_every)
        with self._lock:
            self._leases[ctx.job_id] = lease
        return lease

    def remove(self, job_id: str) -> None:
        """Forgets a settled job."""
        with self._lock:
            self._leases.pop(job_id, None)

    def count(self) -> int:
        """Jobs being run."""
        with self._lock:
            return len(self._leases)

    def all(self) -> list[Lease]:
        """A snapshot of every running job."""
        with self._lock:
            return list(self._leases.values())

    def due(self, now: float) -> list[Lease]:
        """Held leases whose renewal is due."""
        return [lease for lease in self.all() if not lease.settled_elsewhere and lease.next_heartbeat <= now]

    def expired(self, now: float) -> list[Lease]:
        """Held leases that ran out before a renewal succeeded: treat them as lost."""
        return [lease for lease in self.all() if not lease.settled_elsewhere and now >= lease.expires_at]

    def renewed(self, lease: Lease, sent_at: float) -> None:
        """A heartbeat sent at `sent_at` succeeded."""
        lease.expires_at = sent_at + self.lease_duration
        lease.next_heartbeat = sent_at + self.heartbeat_every

    def retry_soon(self, lease: Lease, now: float) -> None:
        """A heartbeat failed for a transient reason: try again shortly."""
        lease.next_heartbeat = now + min(1.0, self.heartbeat_every)

    def mark_lost(self, lease: Lease) -> bool:
        """Marks the lease lost; False when it was already lost or abandoned (report once)."""
        with self._lock:
            if lease.settled_elsewhere:
                return False
            lease.lost = True
            return True
