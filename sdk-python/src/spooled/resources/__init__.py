"""Resource classes: one per area of the API, each a thin layer over the transport."""

from .admin import AdminResource
from .api_keys import ApiKeysResource
from .auth import AuthResource
from .billing import BillingResource
from .dashboard import DashboardResource
from .dlq import DlqResource
from .health import HealthResource
from .ingest import IngestResource
from .jobs import JobsResource
from .metrics import MetricsResource
from .organizations import OrganizationsResource
from .queues import QueuesResource
from .schedules import SchedulesResource
from .webhooks import WebhooksResource
from .workers import WorkersResource
from .workflows import WorkflowJobsResource, WorkflowsResource
# The async twins: generated from the classes above (scripts/generate), two finished by hand.
from .generated.async_resources import (AsyncAdminResource, AsyncApiKeysResource, AsyncAuthResource,
                                        AsyncBillingResource, AsyncDashboardResource, AsyncDlqResource,
                                        AsyncIngestResource, AsyncMetricsResource, AsyncOrganizationsResource,
                                        AsyncQueuesResource, AsyncSchedulesResource, AsyncWebhooksResource,
                                        AsyncWorkersResource, AsyncWorkflowJobsResource, AsyncWorkflowsResource)
from .async_health import AsyncHealthResource
from .async_jobs import AsyncJobsResource

__all__ = [
    "AdminResource", "ApiKeysResource", "AuthResource", "BillingResource", "DashboardResource", "DlqResource",
    "HealthResource", "AsyncHealthResource", "IngestResource", "JobsResource", "AsyncJobsResource",
    "MetricsResource", "OrganizationsResource", "QueuesResource", "SchedulesResource", "WebhooksResource",
    "WorkersResource", "WorkflowJobsResource", "WorkflowsResource",
    "AsyncAdminResource", "AsyncApiKeysResource", "AsyncAuthResource", "AsyncBillingResource",
    "AsyncDashboardResource", "AsyncDlqResource", "AsyncIngestResource", "AsyncMetricsResource",
    "AsyncOrganizationsResource", "AsyncQueuesResource", "AsyncSchedulesResource", "AsyncWebhooksResource",
    "AsyncWorkersResource", "AsyncWorkflowJobsResource", "AsyncWorkflowsResource",
]
