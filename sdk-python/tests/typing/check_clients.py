"""What a type checker sees through both clients: checked by mypy in tests/unit/test_typing.py.

Never run (pytest does not collect it, nothing calls these functions): every `assert_type` is a
claim about the SDK's static types, the only thing this file tests.
"""

from __future__ import annotations

from typing import Any, Coroutine, assert_type

from spooled import AsyncSpooledClient, SpooledClient
from spooled.resources import (AsyncDlqResource, AsyncJobsResource, AsyncQueuesResource,
                               AsyncWorkflowJobsResource, DlqResource, JobsResource, QueuesResource,
                               WorkflowJobsResource)
from spooled.types import (ApiKeySummary, BillingStatus, CreateJobResponse, Dashboard, DlqRetryResponse,
                           HealthResponse, IngestResponse, Job, JobStatusEntry, JobSummary, Organization,
                           PauseQueueResponse, QueueConfig, QueueStats, Schedule, Workflow, WorkflowJob,
                           WorkerSummary)


def sync_client(client: SpooledClient) -> None:
    assert_type(client.jobs, JobsResource)
    assert_type(client.queues, QueuesResource)
    assert_type(client.jobs.dlq, DlqResource)
    assert_type(client.workflows.jobs, WorkflowJobsResource)
    assert_type(client.queues.get("q"), QueueConfig)
    assert_type(client.queues.get_stats("q"), QueueStats)
    assert_type(client.queues.pause("q", reason="maintenance"), PauseQueueResponse)
    assert_type(client.queues.delete("q"), None)
    assert_type(client.jobs.create({"queue_name": "q", "payload": {}}), CreateJobResponse)
    assert_type(client.jobs.create_and_get({"queue_name": "q", "payload": {}}), Job)
    assert_type(client.jobs.batch_status(["a", "b"]), list[JobStatusEntry])
    assert_type(client.jobs.dlq.retry(), DlqRetryResponse)
    assert_type(client.workflows.get("w"), Workflow)
    assert_type(client.workflows.jobs.get("w", "j"), WorkflowJob)
    assert_type(client.workers.list(), list[WorkerSummary])
    assert_type(client.schedules.get("s"), Schedule)
    assert_type(client.health.get(), HealthResponse)
    assert_type(client.health.liveness(), bool)
    assert_type(client.api_keys.list(), list[ApiKeySummary])
    assert_type(client.organizations.get("o"), Organization)
    assert_type(client.dashboard.get(), Dashboard)
    assert_type(client.billing.get_status(), BillingStatus)
    assert_type(client.metrics.get(), str)
    assert_type(client.ingest.custom("o", {"queue_name": "q", "payload": {}}, webhook_token="t"), IngestResponse)


async def async_client(client: AsyncSpooledClient) -> None:
    assert_type(client.jobs, AsyncJobsResource)
    assert_type(client.queues, AsyncQueuesResource)
    assert_type(client.jobs.dlq, AsyncDlqResource)
    assert_type(client.workflows.jobs, AsyncWorkflowJobsResource)
    # Not awaited: a coroutine giving the sync method's type.
    pending = assert_type(client.queues.get("q"), Coroutine[Any, Any, QueueConfig])
    pending.close()
    assert_type(await client.queues.get("q"), QueueConfig)
    assert_type(await client.queues.get_stats("q"), QueueStats)
    assert_type(await client.queues.pause("q", reason="maintenance"), PauseQueueResponse)
    assert_type(await client.queues.delete("q"), None)
    assert_type(await client.jobs.create({"queue_name": "q", "payload": {}}), CreateJobResponse)
    assert_type(await client.jobs.get("j"), Job)
    assert_type(await client.jobs.list({"limit": 5}), list[JobSummary])
    assert_type(await client.jobs.create_and_get({"queue_name": "q", "payload": {}}), Job)
    assert_type(await client.jobs.batch_status(["a", "b"]), list[JobStatusEntry])
    assert_type(await client.jobs.dlq.retry(), DlqRetryResponse)
    assert_type(await client.workflows.get("w"), Workflow)
    assert_type(await client.workflows.jobs.get("w", "j"), WorkflowJob)
    assert_type(await client.workers.list(), list[WorkerSummary])
    assert_type(await client.schedules.get("s"), Schedule)
    assert_type(await client.health.get(), HealthResponse)
    assert_type(await client.health.liveness(), bool)
    assert_type(await client.api_keys.list(), list[ApiKeySummary])
    assert_type(await client.organizations.get("o"), Organization)
    assert_type(await client.dashboard.get(), Dashboard)
    assert_type(await client.billing.get_status(), BillingStatus)
    assert_type(await client.metrics.get(), str)
    assert_type(await client.ingest.custom("o", {"queue_name": "q", "payload": {}}, webhook_token="t"),
                IngestResponse)
    assert_type(await client.get_jwt_token(), str)
