"""Resource classes: one per area of the API, each a thin layer over the transport."""

from .admin import AdminResource
from .api_keys import ApiKeysResource
from .auth import AuthResource
from .billing import BillingResource
from .dashboard import DashboardResource
from .dlq import DlqResource
from .health import AsyncHealthResource, HealthResource
from .ingest import IngestResource
from .jobs import AsyncDlqResource, AsyncJobsResource, JobsResource
from .metrics import MetricsResource
from .organizations import OrganizationsResource
from .queues import QueuesResource
from .schedules import SchedulesResource
from .webhooks import WebhooksResource
from .workers import WorkersResource
from .workflows import WorkflowJobsResource, WorkflowsResource
from .async_twins import async_twin

AsyncAdminResource = async_twin(AdminResource)
AsyncApiKeysResource = async_twin(ApiKeysResource)
AsyncAuthResource = async_twin(AuthResource)
AsyncBillingResource = async_twin(BillingResource)
AsyncDashboardResource = async_twin(DashboardResource)
AsyncIngestResource = async_twin(IngestResource)
AsyncMetricsResource = async_twin(MetricsResource)
AsyncOrganizationsResource = async_twin(OrganizationsResource)
AsyncQueuesResource = async_twin(QueuesResource)
AsyncSchedulesResource = async_twin(SchedulesResource)
AsyncWebhooksResource = async_twin(WebhooksResource)
AsyncWorkersResource = async_twin(WorkersResource)
AsyncWorkflowJobsResource = async_twin(WorkflowJobsResource)
AsyncWorkflowsResource = async_twin(WorkflowsResource, {"jobs": AsyncWorkflowJobsResource})

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
