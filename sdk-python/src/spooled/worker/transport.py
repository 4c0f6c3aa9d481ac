"""The seam between a worker and the server: how it registers, receives jobs and settles them.

SpooledWorker owns everything that must behave the same whatever the protocol (the concurrency
limit, lease bookkeeping and renewal timing, lease-lost handling, graceful stop, events, backoff
after failures); a transport only moves requests. Two implementations exist for each worker:

- "rest" (_rest.py): POST /jobs/claim with a long-poll wait, REST complete/fail/heartbeat.
- "grpc" (_grpc.py): WorkerService for registration and liveness, QueueService.StreamJobs to
  receive jobs pushed by the server, unary Complete/Fail/RenewLease with lease_id fencing.

Contract of every transport (sync methods, or coroutines for the async worker):
- register() -> Registration: the id to work under (gRPC servers assign one) and the liveness
  interval. Errors propagate and stop the worker.
- claim(limit) -> list[Claimed]: at most `limit` jobs, each with the monotonic time its lease
  started counting (never later than the truth). Waits a bounded time (or until interrupt())
  and may return []. A SpooledError means "try again after a backoff" unless the worker deems it
  fatal (authentication, authorization, validation).
- interrupt(): wakes a claim that is waiting (called by stop(), from any thread).
- complete(ctx, result), fail(ctx, message) -> answer with `will_retry` if known, renew(ctx):
  fenced by ctx.lease_id; a lease the worker no longer holds raises LeaseExpiredError (or
  NotFoundError for a deleted job).
- report(current_jobs, status) -> bool: liveness; True when the server asks the worker to drain.
- deregister(): marks the worker offline; the server hands its leased jobs back to the queue.
- stop_receiving(): called when stopping begins: no more jobs may arrive (settling still works).
- close(): releases what the transport opened (streams, channels it created).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

TransportName = Literal["rest", "grpc"]
TRANSPORTS: tuple[str, ...] = ("rest", "grpc")


@dataclass(frozen=True)
class Registration:
    """What registering told the worker."""

    worker_id: str
    heartbeat_interval_secs: float


@dataclass(frozen=True)
class Claimed:
    """A job leased to this worker and the monotonic time its lease is counted from."""

    job: Any
    lease_started: float


def check_transport(name: str) -> str:
    if name not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {name!r}")
    return name


def liveness_every(registration: Registration) -> float:
    """Seconds between worker heartbeats (at least one)."""
    return max(1.0, float(registration.heartbeat_interval_secs or 10))


def metadata_strings(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    """Worker metadata as the string map gRPC registration carries."""
    if not metadata:
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v, default=str) for k, v in metadata.items()}
