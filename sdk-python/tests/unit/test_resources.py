"""Every resource method: its HTTP method, route, body or query, and the type it returns.

The table doubles as the source of truth for api.md (test_api_md_lists_every_route checks it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from pydantic import BaseModel

from spooled.generated import models as m

from .conftest import job_json
from .samples import sample_json

ANY = object()


@dataclass
class Route:
    name: str                       # as written in api.md, e.g. "jobs.create"
    invoke: Callable[[Any], Any]
    method: str
    path: str
    returns: Any = None             # a model, [model], str, bool or None
    body: Any = ANY
    query: dict[str, str] | None = None
    status: int = 200
    answer: Any = None              # overrides the sampled response body
    check: Callable[[Any], None] | None = None


def _created(c): return c.jobs.create({"queue_name": "q", "payload": {"a": 1}, "priority": 5})


ROUTES = [
    # health & metrics
    Route("health.get", lambda c: c.health.get(), "GET", "/health", m.HealthResponse),
    Route("health.liveness", lambda c: c.health.liveness(), "GET", "/health/live", bool),
    Route("health.readiness", lambda c: c.health.readiness(), "GET", "/health/ready", bool),
    Route("metrics.get", lambda c: c.metrics.get(), "GET", "/metrics", str, answer="spooled_jobs_pending 1\n"),
    # auth
    Route("auth.login", lambda c: c.auth.login({"api_key": "sp_test_0123456789"}), "POST", "/api/v1/auth/login",
          m.AuthTokens, body={"api_key": "sp_test_0123456789"}),
    Route("auth.refresh", lambda c: c.auth.refresh({"refresh_token": "r" * 12}), "POST", "/api/v1/auth/refresh",
          m.RefreshResponse, body={"refresh_token": "r" * 12}),
    Route("auth.logout", lambda c: c.auth.logout(), "POST", "/api/v1/auth/logout", None, body={}, status=204),
    Route("auth.me", lambda c: c.auth.me(), "GET", "/api/v1/auth/me", m.MeResponse),
    Route("auth.validate", lambda c: c.auth.validate({"token": "t"}), "POST", "/api/v1/auth/validate",
          m.ValidateTokenResponse, body={"token": "t"}),
    Route("auth.start_email_login", lambda c: c.auth.start_email_login("a@b.c"), "POST", "/api/v1/auth/email/start",
          m.EmailLoginStartResponse, body={"email": "a@b.c"}),
    Route("auth.verify_email", lambda c: c.auth.verify_email("a@b.c", "123"), "POST", "/api/v1/auth/email/verify",
          m.AuthTokens, body={"email": "a@b.c", "code": "123"}),
    Route("auth.check_email", lambda c: c.auth.check_email("a@b.c"), "GET", "/api/v1/auth/email/check",
          m.EmailCheckResponse, query={"email": "a@b.c"}),
    # dashboard, organizations, api keys
    Route("dashboard.get", lambda c: c.dashboard.get(), "GET", "/api/v1/dashboard", m.Dashboard),
    Route("organizations.create", lambda c: c.organizations.create({"name": "Acme", "slug": "acme"}), "POST",
          "/api/v1/organizations", m.CreateOrganizationResponse, body={"name": "Acme", "slug": "acme"}, status=201),
    Route("organizations.list", lambda c: c.organizations.list(), "GET", "/api/v1/organizations",
          [m.OrganizationSummary]),
    Route("organizations.get", lambda c: c.organizations.get("o1"), "GET", "/api/v1/organizations/o1", m.Organization),
    Route("organizations.update", lambda c: c.organizations.update("o1", {"name": "New"}), "PUT",
          "/api/v1/organizations/o1", m.Organization, body={"name": "New"}),
    Route("organizations.delete", lambda c: c.organizations.delete("o1"), "DELETE", "/api/v1/organizations/o1",
          None, status=204),
    Route("organizations.get_usage", lambda c: c.organizations.get_usage(), "GET", "/api/v1/organizations/usage",
          m.UsageInfo),
    Route("organizations.get_members", lambda c: c.organizations.get_members("o1"), "GET",
          "/api/v1/organizations/o1/members", [m.OrganizationMember]),
    Route("organizations.check_slug", lambda c: c.organizations.check_slug("acme"), "GET",
          "/api/v1/organizations/check-slug", m.CheckSlugResponse, query={"slug": "acme"}),
    Route("organizations.generate_slug", lambda c: c.organizations.generate_slug("Acme Inc"), "POST",
          "/api/v1/organizations/generate-slug", m.GenerateSlugResponse, body={"name": "Acme Inc"}),
    Route("organizations.get_webhook_token", lambda c: c.organizations.get_webhook_token(), "GET",
          "/api/v1/organizations/webhook-token", m.WebhookTokenResponse),
    Route("organizations.regenerate_webhook_token", lambda c: c.organizations.regenerate_webhook_token(), "POST",
          "/api/v1/organizations/webhook-token/regenerate", m.WebhookTokenResponse),
    Route("organizations.clear_webhook_token", lambda c: c.organizations.clear_webhook_token(), "POST",
          "/api/v1/organizations/webhook-token/clear", m.WebhookTokenResponse, body={"confirm": True}),
    Route("api_keys.list", lambda c: c.api_keys.list(), "GET", "/api/v1/api-keys", [m.ApiKeySummary]),
    Route("api_keys.create", lambda c: c.api_keys.create({"name": "ci", "queues": ["q"]}), "POST", "/api/v1/api-keys",
          m.CreatedApiKey, body={"name": "ci", "queues": ["q"]}, status=201),
    Route("api_keys.get", lambda c: c.api_keys.get("k1"), "GET", "/api/v1/api-keys/k1", m.ApiKeySummary),
    Route("api_keys.update", lambda c: c.api_keys.update("k1", {"isActive": False}), "PUT", "/api/v1/api-keys/k1",
          m.ApiKeySummary, body={"is_active": False}),
    Route("api_keys.delete", lambda c: c.api_keys.delete("k1"), "DELETE", "/api/v1/api-keys/k1", None, status=204),
    # jobs
    Route("jobs.create", _created, "POST", "/api/v1/jobs", m.CreateJobResponse, status=201,
          check=lambda r: None),
    Route("jobs.list", lambda c: c.jobs.list({"queue_name": "q", "status": "pending", "limit": 10}), "GET",
          "/api/v1/jobs", [m.JobSummary], query={"queue_name": "q", "status": "pending", "limit": "10"}),
    Route("jobs.get", lambda c: c.jobs.get("j1"), "GET", "/api/v1/jobs/j1", m.Job, answer=job_json()),
    Route("jobs.cancel", lambda c: c.jobs.cancel("j1"), "DELETE", "/api/v1/jobs/j1", None, status=204),
    Route("jobs.retry", lambda c: c.jobs.retry("j1"), "POST", "/api/v1/jobs/j1/retry", m.Job, answer=job_json()),
    Route("jobs.boost_priority", lambda c: c.jobs.boost_priority("j1", 50), "PUT", "/api/v1/jobs/j1/priority",
          m.BoostPriorityResponse, body={"priority": 50}),
    Route("jobs.get_stats", lambda c: c.jobs.get_stats(), "GET", "/api/v1/jobs/stats", m.JobStats),
    Route("jobs.batch_status", lambda c: c.jobs.batch_status(["a", "b"]), "GET", "/api/v1/jobs/status",
          [m.JobStatusEntry], query={"ids": "a,b"}),
    Route("jobs.bulk_enqueue", lambda c: c.jobs.bulk_enqueue({"queue_name": "q", "jobs": [{"payload": {}}]}), "POST",
          "/api/v1/jobs/bulk", m.BulkCreateJobsResponse),
    Route("jobs.claim", lambda c: c.jobs.claim({"queue_name": "q", "worker_id": "w", "limit": 2, "wait_ms": 1000}),
          "POST", "/api/v1/jobs/claim", m.ClaimResponse,
          body={"queue_name": "q", "worker_id": "w", "limit": 2, "wait_ms": 1000}),
    Route("jobs.complete", lambda c: c.jobs.complete("j1", {"worker_id": "w", "lease_id": "l", "result": {"ok": 1}}),
          "POST", "/api/v1/jobs/j1/complete", m.SuccessResponse,
          body={"worker_id": "w", "lease_id": "l", "result": {"ok": 1}}),
    Route("jobs.complete_batch",
          lambda c: c.jobs.complete_batch({"worker_id": "w", "jobs": [{"job_id": "j1", "lease_id": "l"}]}),
          "POST", "/api/v1/jobs/complete", m.CompleteJobsBatchResponse,
          body={"worker_id": "w", "jobs": [{"job_id": "j1", "lease_id": "l"}]}),
    Route("jobs.fail", lambda c: c.jobs.fail("j1", {"worker_id": "w", "lease_id": "l", "error": "boom"}), "POST",
          "/api/v1/jobs/j1/fail", m.FailJobResponse, body={"worker_id": "w", "lease_id": "l", "error": "boom"}),
    Route("jobs.heartbeat", lambda c: c.jobs.heartbeat("j1", {"worker_id": "w", "lease_duration_secs": 30}), "POST",
          "/api/v1/jobs/j1/heartbeat", m.JobHeartbeatResponse, body={"worker_id": "w", "lease_duration_secs": 30}),
    Route("jobs.get_dependencies", lambda c: c.jobs.get_dependencies("j1"), "GET", "/api/v1/jobs/j1/dependencies",
          m.JobDependencies),
    Route("jobs.add_dependencies", lambda c: c.jobs.add_dependencies("j1", {"dependency_job_ids": ["j0"]}), "POST",
          "/api/v1/jobs/j1/dependencies", m.AddDependenciesResponse, body={"dependency_job_ids": ["j0"]}),
    Route("jobs.dlq.list", lambda c: c.jobs.dlq.list({"queue_name": "q"}), "GET", "/api/v1/jobs/dlq", [m.JobSummary],
          query={"queue_name": "q"}),
    Route("jobs.dlq.retry", lambda c: c.jobs.dlq.retry({"job_ids": ["j1"]}), "POST", "/api/v1/jobs/dlq/retry",
          m.DlqRetryResponse, body={"job_ids": ["j1"]}),
    Route("jobs.dlq.purge", lambda c: c.jobs.dlq.purge({"queue_name": "q"}), "POST", "/api/v1/jobs/dlq/purge",
          m.DlqPurgeResponse, body={"queue_name": "q", "confirm": True}),
    # queues
    Route("queues.list", lambda c: c.queues.list(), "GET", "/api/v1/queues", [m.QueueConfigSummary]),
    Route("queues.get", lambda c: c.queues.get("q"), "GET", "/api/v1/queues/q", m.QueueConfig),
    Route("queues.update_config", lambda c: c.queues.update_config("q", {"max_retries": 5}), "PUT",
          "/api/v1/queues/q/config", m.QueueConfig, body={"max_retries": 5}),
    Route("queues.get_stats", lambda c: c.queues.get_stats("q"), "GET", "/api/v1/queues/q/stats", m.QueueStats),
    Route("queues.pause", lambda c: c.queues.pause("q", "deploy"), "POST", "/api/v1/queues/q/pause",
          m.PauseQueueResponse, body={"reason": "deploy"}),
    Route("queues.resume", lambda c: c.queues.resume("q"), "POST", "/api/v1/queues/q/resume", m.ResumeQueueResponse),
    Route("queues.delete", lambda c: c.queues.delete("q"), "DELETE", "/api/v1/queues/q", None, status=204),
    # workers
    Route("workers.list", lambda c: c.workers.list(), "GET", "/api/v1/workers", [m.WorkerSummary]),
    Route("workers.get", lambda c: c.workers.get("w1"), "GET", "/api/v1/workers/w1", m.Worker),
    Route("workers.register", lambda c: c.workers.register({"queue_name": "q", "hostname": "h", "worker_id": "w1"}),
          "POST", "/api/v1/workers/register", m.RegisterWorkerResponse,
          body={"queue_name": "q", "hostname": "h", "worker_id": "w1"}, status=201),
    Route("workers.heartbeat", lambda c: c.workers.heartbeat("w1", {"current_jobs": 2, "status": "healthy"}), "POST",
          "/api/v1/workers/w1/heartbeat", None, body={"current_jobs": 2, "status": "healthy"}),
    Route("workers.deregister", lambda c: c.workers.deregister("w1"), "POST", "/api/v1/workers/w1/deregister", None,
          status=204),
    # schedules
    Route("schedules.list", lambda c: c.schedules.list({"is_active": True}), "GET", "/api/v1/schedules", [m.Schedule],
          query={"is_active": "true"}),
    Route("schedules.create", lambda c: c.schedules.create({
        "name": "n", "cron_expression": "0 */5 * * * *", "queue_name": "q", "payload_template": {}}), "POST",
        "/api/v1/schedules", m.CreateScheduleResponse, status=201),
    Route("schedules.get", lambda c: c.schedules.get("s1"), "GET", "/api/v1/schedules/s1", m.Schedule),
    Route("schedules.update", lambda c: c.schedules.update("s1", {"priority": 3}), "PUT", "/api/v1/schedules/s1",
          m.Schedule, body={"priority": 3}),
    Route("schedules.delete", lambda c: c.schedules.delete("s1"), "DELETE", "/api/v1/schedules/s1", None, status=204),
    Route("schedules.pause", lambda c: c.schedules.pause("s1"), "POST", "/api/v1/schedules/s1/pause", m.Schedule),
    Route("schedules.resume", lambda c: c.schedules.resume("s1"), "POST", "/api/v1/schedules/s1/resume", m.Schedule),
    Route("schedules.trigger", lambda c: c.schedules.trigger("s1"), "POST", "/api/v1/schedules/s1/trigger",
          m.TriggerScheduleResponse),
    Route("schedules.get_history", lambda c: c.schedules.get_history("s1", limit=5), "GET",
          "/api/v1/schedules/s1/history", [m.ScheduleRun], query={"limit": "5"}),
    # workflows
    Route("workflows.list", lambda c: c.workflows.list({"status": "running"}), "GET", "/api/v1/workflows",
          [m.Workflow], query={"status": "running"}),
    Route("workflows.create", lambda c: c.workflows.create({"name": "w", "jobs": [
        {"key": "a", "queue_name": "q", "payload": {}}, {"key": "b", "queue_name": "q", "payload": {},
                                                         "depends_on": ["a"]}]}), "POST",
        "/api/v1/workflows", m.CreateWorkflowResponse),
    Route("workflows.get", lambda c: c.workflows.get("wf"), "GET", "/api/v1/workflows/wf", m.Workflow),
    Route("workflows.cancel", lambda c: c.workflows.cancel("wf"), "POST", "/api/v1/workflows/wf/cancel", m.Workflow),
    Route("workflows.retry", lambda c: c.workflows.retry("wf"), "POST", "/api/v1/workflows/wf/retry", m.Workflow),
    Route("workflows.delete", lambda c: c.workflows.delete("wf"), "DELETE", "/api/v1/workflows/wf", None, status=204),
    Route("workflows.jobs.list", lambda c: c.workflows.jobs.list("wf"), "GET", "/api/v1/workflows/wf/jobs",
          [m.WorkflowJob]),
    Route("workflows.jobs.get", lambda c: c.workflows.jobs.get("wf", "j1"), "GET", "/api/v1/workflows/wf/jobs/j1",
          m.WorkflowJob),
    Route("workflows.jobs.get_status", lambda c: c.workflows.jobs.get_status("wf"), "GET",
          "/api/v1/workflows/wf/jobs/status", [m.WorkflowJobStatus]),
    Route("workflows.jobs.get_dependencies", lambda c: c.workflows.jobs.get_dependencies("j1"), "GET",
          "/api/v1/jobs/j1/dependencies", m.JobDependencies),
    Route("workflows.jobs.add_dependencies", lambda c: c.workflows.jobs.add_dependencies(
        "j1", {"dependency_job_ids": ["j0"], "dependency_mode": "any"}), "POST", "/api/v1/jobs/j1/dependencies",
        m.AddDependenciesResponse, body={"dependency_job_ids": ["j0"], "dependency_mode": "any"}),
    # outgoing webhooks and ingestion
    Route("webhooks.list", lambda c: c.webhooks.list(), "GET", "/api/v1/outgoing-webhooks", [m.OutgoingWebhook]),
    Route("webhooks.create", lambda c: c.webhooks.create({"name": "n", "url": "https://x.test/h",
                                                          "events": ["job.completed"], "secret": "s"}), "POST",
          "/api/v1/outgoing-webhooks", m.OutgoingWebhook,
          body={"name": "n", "url": "https://x.test/h", "events": ["job.completed"], "secret": "s"}, status=201),
    Route("webhooks.get", lambda c: c.webhooks.get("h1"), "GET", "/api/v1/outgoing-webhooks/h1", m.OutgoingWebhook),
    Route("webhooks.update", lambda c: c.webhooks.update("h1", {"secret": None}), "PUT",
          "/api/v1/outgoing-webhooks/h1", m.OutgoingWebhook, body={"secret": None}),
    Route("webhooks.delete", lambda c: c.webhooks.delete("h1"), "DELETE", "/api/v1/outgoing-webhooks/h1", None,
          status=204),
    Route("webhooks.test", lambda c: c.webhooks.test("h1"), "POST", "/api/v1/outgoing-webhooks/h1/test",
          m.WebhookTestResponse),
    Route("webhooks.get_deliveries", lambda c: c.webhooks.get_deliveries("h1", {"status": "failed"}), "GET",
          "/api/v1/outgoing-webhooks/h1/deliveries", [m.WebhookDelivery], query={"status": "failed"}),
    Route("webhooks.retry_delivery", lambda c: c.webhooks.retry_delivery("h1", "d1"), "POST",
          "/api/v1/outgoing-webhooks/h1/retry/d1", m.RetryDeliveryResponse),
    Route("ingest.custom", lambda c: c.ingest.custom("o1", {"queue_name": "q", "payload": {"x": 1}}, "tok"), "POST",
          "/api/v1/webhooks/o1/custom", m.IngestResponse, body={"queue_name": "q", "payload": {"x": 1}}),
    # billing and admin
    Route("billing.get_status", lambda c: c.billing.get_status(), "GET", "/api/v1/billing/status", m.BillingStatus),
    Route("billing.create_portal", lambda c: c.billing.create_portal({"return_url": "https://x.test"}), "POST",
          "/api/v1/billing/portal", m.BillingPortalResponse, body={"return_url": "https://x.test"}),
    Route("admin.list_organizations", lambda c: c.admin.list_organizations({"plan_tier": "pro"}), "GET",
          "/api/v1/admin/organizations", m.AdminOrganizationList, query={"plan_tier": "pro"}),
    Route("admin.get_organization", lambda c: c.admin.get_organization("o1"), "GET", "/api/v1/admin/organizations/o1",
          m.AdminOrganizationDetail),
    Route("admin.create_organization", lambda c: c.admin.create_organization({"name": "Acme", "slug": "acme"}), "POST",
          "/api/v1/admin/organizations", m.CreateOrganizationResponse, status=201),
    Route("admin.update_organization", lambda c: c.admin.update_organization("o1", {"plan_tier": "pro"}), "PATCH",
          "/api/v1/admin/organizations/o1", m.Organization, body={"plan_tier": "pro"}),
    Route("admin.delete_organization", lambda c: c.admin.delete_organization("o1", hard=True), "DELETE",
          "/api/v1/admin/organizations/o1", None, query={"hard_delete": "true"}, status=204),
    Route("admin.create_api_key", lambda c: c.admin.create_api_key("o1", {"name": "k"}), "POST",
          "/api/v1/admin/organizations/o1/api-keys", m.CreatedApiKey, body={"name": "k"}, status=201),
    Route("admin.reset_usage", lambda c: c.admin.reset_usage("o1"), "POST",
          "/api/v1/admin/organizations/o1/reset-usage", None, status=204),
    Route("admin.get_stats", lambda c: c.admin.get_stats(), "GET", "/api/v1/admin/stats", m.AdminStats),
    Route("admin.list_plans", lambda c: c.admin.list_plans(), "GET", "/api/v1/admin/plans", [m.PlanLimits]),
]


def _answer(route: Route) -> Any:
    if route.answer is not None:
        return route.answer
    if isinstance(route.returns, list):
        return [sample_json(route.returns[0])]
    if isinstance(route.returns, type) and issubclass(route.returns, BaseModel):
        return sample_json(route.returns)
    return None


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_route(mock, make_client, route: Route):
    answer = _answer(route)
    if isinstance(answer, str):
        mocked = mock.route(method=route.method, path=route.path).respond(route.status, text=answer)
    elif answer is None:
        mocked = mock.route(method=route.method, path=route.path).respond(route.status)
    else:
        mocked = mock.route(method=route.method, path=route.path).respond(route.status, json=answer)
    client = make_client(admin_key="adm")
    result = route.invoke(client)
    assert mocked.call_count == 1
    sent = mocked.calls.last.request
    if route.body is not ANY:
        assert json.loads(sent.content) == route.body
    if route.query is not None:
        assert dict(sent.url.params) == route.query
    else:
        assert not sent.url.params
    expected = route.returns
    if isinstance(expected, list):
        assert isinstance(result, list) and all(isinstance(item, expected[0]) for item in result)
    elif expected is None:
        assert result is None
    elif expected is bool:
        assert result is True
    else:
        assert isinstance(result, expected)


def _documented_routes() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """api.md table rows: method name -> [(HTTP method, path pattern)], `{x}` matching one segment."""
    text = (Path(__file__).resolve().parents[2] / "api.md").read_text()
    documented: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for line in text.splitlines():
        name = re.match(r"\| `([a-z_.]+)` \|", line)
        if not name:
            continue
        for verb, route in re.findall(r"(GET|POST|PUT|PATCH|DELETE) (/[^\s`|]*)", line):
            pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route)) + "$")
            documented.setdefault(name.group(1), []).append((verb, pattern))
    return documented


def test_api_md_lists_every_route():
    """api.md names each public method with its HTTP method and path, and nothing it lists is missing here."""
    documented = _documented_routes()
    missing = [r.name for r in ROUTES
               if not any(verb == r.method and pattern.match(r.path) for verb, pattern in documented.get(r.name, []))]
    assert not missing, f"api.md lacks or misroutes: {missing}"
    # create_and_get makes two calls; test_create_and_get covers it.
    assert set(documented) - {r.name for r in ROUTES} == {"jobs.create_and_get"}


def test_create_and_get(mock, client):
    mock.post("/api/v1/jobs").respond(201, json={"id": "j1", "created": True})
    mock.get("/api/v1/jobs/j1").respond(200, json=job_json(status="scheduled"))
    assert client.jobs.create_and_get({"queue_name": "q", "payload": {}}).status == "scheduled"


async def test_async_client_runs_the_same_table(mock, make_async_client):
    """A sample of routes through AsyncSpooledClient, including the multi-call methods."""
    mock.post("/api/v1/jobs").respond(201, json={"id": "j1", "created": True})
    mock.get("/api/v1/jobs/j1").respond(200, json=job_json())
    mock.get("/api/v1/queues").respond(200, json=[sample_json(m.QueueConfigSummary)])
    mock.get("/health/ready").respond(200)
    status = mock.get("/api/v1/jobs/status").respond(200, json=[])
    async with make_async_client() as client:
        job = await client.jobs.create_and_get({"queue_name": "q", "payload": {}})
        assert job.id == "j1"
        assert len(await client.queues.list()) == 1
        assert await client.health.readiness() is True
        assert await client.jobs.batch_status([]) == []
        assert status.call_count == 0


def test_batch_status_limits(client, mock):
    route = mock.get("/api/v1/jobs/status").respond(200, json=[])
    assert client.jobs.batch_status([]) == [] and route.call_count == 0
    with pytest.raises(ValueError):
        client.jobs.batch_status([str(i) for i in range(101)])
    with pytest.raises(TypeError):
        client.jobs.batch_status("j1")


def test_ingest_sends_the_webhook_token_and_no_api_key(client, mock):
    route = mock.post("/api/v1/webhooks/o1/custom").respond(200)  # empty body, as older servers answer
    result = client.ingest.custom("o1", {"queue_name": "q", "payload": {}}, webhook_token="tok")
    assert result.job_id is None
    sent = route.calls.last.request
    assert sent.headers["x-webhook-token"] == "tok" and "authorization" not in sent.headers


def test_claim_with_wait_ms_gets_a_longer_timeout(client, mock):
    route = mock.post("/api/v1/jobs/claim").respond(200, json={"jobs": []})
    client.jobs.claim({"queue_name": "q", "worker_id": "w", "wait_ms": 25000})
    assert route.calls.last.request.extensions["timeout"]["read"] == pytest.approx(35.0)
    client.jobs.claim({"queue_name": "q", "worker_id": "w"})
    assert route.calls.last.request.extensions["timeout"]["read"] == pytest.approx(30.0)


def test_organizations_create_sends_the_admin_key_when_the_client_has_one(make_client, mock):
    route = mock.post("/api/v1/organizations").respond(201, json=sample_json(m.CreateOrganizationResponse))
    make_client(admin_key="adm").organizations.create({"name": "Acme", "slug": "acme"})
    assert route.calls.last.request.headers["x-admin-key"] == "adm"
    assert "authorization" not in route.calls.last.request.headers
