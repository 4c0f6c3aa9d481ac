"""Names the Spooled Python SDK publishes from `spooled.worker.types`, kept so code written for it
imports unchanged. The definitions live beside the code that uses them (context.py, events.py,
options.py); this module only gathers them."""

from __future__ import annotations

from typing import Literal

from .context import AsyncJobContext, JobContext
from .events import (WORKER_EVENTS, ErrorEventData, JobClaimedEventData, JobCompletedEventData, JobFailedEventData,
                     JobLeaseLostEventData, JobStartedEventData, StartedEventData, StoppedEventData)
from .options import WorkerOptions

#: What `worker.state` reads.
WorkerState = Literal["idle", "starting", "running", "stopping", "stopped", "error"]
#: The names `worker.on` accepts (WORKER_EVENTS, as a type).
WorkerEvent = Literal["started", "stopped", "error", "job:claimed", "job:started", "job:completed", "job:failed",
                      "job:lease_lost"]
#: The Spooled SDK's name for the validated worker settings.
SpooledWorkerOptions = WorkerOptions

__all__ = [
    "WorkerState", "WorkerEvent", "SpooledWorkerOptions", "WorkerOptions", "WORKER_EVENTS", "JobContext",
    "AsyncJobContext", "StartedEventData", "StoppedEventData", "ErrorEventData", "JobClaimedEventData",
    "JobStartedEventData", "JobCompletedEventData", "JobFailedEventData", "JobLeaseLostEventData",
]
