"""Workers: claim jobs from a queue and run a handler on each, with leases kept alive."""

from .async_worker import AsyncJobHandler, AsyncSpooledWorker
from .context import AsyncJobContext, JobContext
from .events import (WORKER_EVENTS, ErrorEventData, JobClaimedEventData, JobCompletedEventData, JobFailedEventData,
                     JobLeaseLostEventData, JobStartedEventData, StartedEventData, StoppedEventData)
from .options import WorkerOptions
from .types import SpooledWorkerOptions, WorkerEvent, WorkerState
from .worker import JobHandler, SpooledWorker

__all__ = [
    "SpooledWorker", "AsyncSpooledWorker", "JobContext", "AsyncJobContext", "JobHandler", "AsyncJobHandler",
    "WorkerOptions", "SpooledWorkerOptions", "WorkerState", "WorkerEvent", "WORKER_EVENTS", "StartedEventData",
    "StoppedEventData", "ErrorEventData", "JobClaimedEventData", "JobStartedEventData", "JobCompletedEventData",
    "JobFailedEventData", "JobLeaseLostEventData",
]
