"""operationId -> Python SDK call: the whole map from the scenario vocabulary onto `spooled`.

Each entry takes an AsyncSpooledClient and the step's wire-form arguments (path parameters by
name, query and body fields flat, snake_case) and returns the SDK call's awaitable. Arguments
go to the SDK as given, so invalid values still reach the server; only path parameters are
split off. Requests the SDK cannot express raise CannotSend, which the runner reports.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from spooled import AsyncSpooledClient

Handler = Callable[[AsyncSpooledClient, dict[str, Any]], Awaitable[Any]]


class CannotSend(Exception):
    """The SDK has no way to make the request the scenario asks for."""


def _split(args: dict[str, Any], *names: str) -> tuple[Any, ...]:
    """The path parameters `names` (in order) followed by the remaining arguments."""
    rest = dict(args)
    values = []
    for name in names:
        if name not in rest:
            raise CannotSend(f"missing path parameter {name!r}")
        values.append(str(rest.pop(name)))
    return (*values, rest)


def _bound(resource_path: str, method: str, *names: str, body: bool = True) -> Handler:
    """`client.<resource_path>.<method>(*path values, rest)`: the path parameters `names`, then
    the other arguments as the method's params dict; with `body=False` the method takes only the
    path parameters and any other argument is refused."""
    def handler(client: AsyncSpooledClient, args: dict[str, Any]) -> Awaitable[Any]:
        target: Any = client
        for part in resource_path.split("."):
            target = getattr(target, part)
        *values, rest = _split(args, *names)
        if body:
            return getattr(target, method)(*values, rest)
        if rest:
            raise CannotSend(f"{resource_path}.{method} takes no query or body arguments, got {sorted(rest)}")
        return getattr(target, method)(*values)
    return handler


def _batch_status(client: AsyncSpooledClient, args: dict[str, Any]) -> Awaitable[Any]:
    if "ids" not in args:
        # batch_status([]) is answered [] without a request (the contract's "no ids gives []");
        # the SDK has no way to send the request without the `ids` parameter.
        raise CannotSend("jobs.batch_status cannot omit the ids parameter (an empty list is answered [] locally)")
    ids = args["ids"]
    return client.jobs.batch_status(ids.split(",") if isinstance(ids, str) else list(ids))


def _dlq_purge(client: AsyncSpooledClient, args: dict[str, Any]) -> Awaitable[Any]:
    if "confirm" not in args:
        # Calling purge is the confirmation: the SDK sends confirm: true unless told otherwise.
        raise CannotSend("jobs.dlq.purge always sends confirm (true unless given); it cannot omit it")
    return client.jobs.dlq.purge(args)


def _boost(client: AsyncSpooledClient, args: dict[str, Any]) -> Awaitable[Any]:
    job_id, rest = _split(args, "id")
    if set(rest) != {"priority"}:
        raise CannotSend(f"jobs.boost_priority takes exactly a priority, got {sorted(rest)}")
    return client.jobs.boost_priority(job_id, rest["priority"])


def _pause(client: AsyncSpooledClient, args: dict[str, Any]) -> Awaitable[Any]:
    name, rest = _split(args, "name")
    reason = rest.pop("reason", None)
    if rest:
        raise CannotSend(f"queues.pause takes only a reason, got {sorted(rest)}")
    return client.queues.pause(name, reason)


def _delete_organization(client: AsyncSpooledClient, args: dict[str, Any]) -> Awaitable[Any]:
    org_id, rest = _split(args, "id")
    return client.admin.delete_organization(org_id, hard=bool(rest.pop("hard_delete", False)))


def _history(client: AsyncSpooledClient, args: dict[str, Any]) -> Awaitable[Any]:
    schedule_id, rest = _split(args, "id")
    return client.schedules.get_history(schedule_id, **({"limit": rest["limit"]} if "limit" in rest else {}))


OPERATIONS: dict[str, Handler] = {
    # health, metrics, dashboard
    "health.get": _bound("health", "get", body=False),
    "health.live": _bound("health", "liveness", body=False),
    "health.ready": _bound("health", "readiness", body=False),
    "metrics.get": _bound("metrics", "get", body=False),
    "dashboard.get": _bound("dashboard", "get", body=False),
    # auth
    "auth.login": _bound("auth", "login"),
    "auth.refresh": _bound("auth", "refresh"),
    "auth.logout": _bound("auth", "logout", body=False),
    "auth.me": _bound("auth", "me", body=False),
    "auth.validate": _bound("auth", "validate"),
    "auth.startEmailLogin": _bound("auth", "start_email_login", "email", body=False),
    "auth.verifyEmail": _bound("auth", "verify_email", "email", "code", body=False),
    "auth.checkEmail": _bound("auth", "check_email", "email", body=False),
    "auth.checkEmailAlt": _bound("auth", "check_email", "email", body=False),
    # organizations and API keys
    "organizations.create": _bound("organizations", "create"),
    "organizations.list": _bound("organizations", "list", body=False),
    "organizations.getUsage": _bound("organizations", "get_usage", body=False),
    "organizations.checkSlug": _bound("organizations", "check_slug", "slug", body=False),
    "organizations.generateSlug": _bound("organizations", "generate_slug", "name", body=False),
    "organizations.getWebhookToken": _bound("organizations", "get_webhook_token", body=False),
    "organizations.regenerateWebhookToken": _bound("organizations", "regenerate_webhook_token", body=False),
    "organizations.clearWebhookToken": _bound("organizations", "clear_webhook_token", body=False),
    "organizations.get": _bound("organizations", "get", "id", body=False),
    "organizations.update": _bound("organizations", "update", "id"),
    "organizations.delete": _bound("organizations", "delete", "id", body=False),
    "organizations.listMembers": _bound("organizations", "get_members", "id", body=False),
    "apiKeys.list": _bound("api_keys", "list", body=False),
    "apiKeys.create": _bound("api_keys", "create"),
    "apiKeys.get": _bound("api_keys", "get", "id", body=False),
    "apiKeys.update": _bound("api_keys", "update", "id"),
    "apiKeys.delete": _bound("api_keys", "delete", "id", body=False),
    # jobs
    "jobs.create": _bound("jobs", "create"),
    "jobs.bulkCreate": _bound("jobs", "bulk_enqueue"),
    "jobs.list": _bound("jobs", "list"),
    "jobs.stats": _bound("jobs", "get_stats", body=False),
    "jobs.batchStatus": _batch_status,
    "jobs.get": _bound("jobs", "get", "id", body=False),
    "jobs.cancel": _bound("jobs", "cancel", "id", body=False),
    "jobs.retry": _bound("jobs", "retry", "id", body=False),
    "jobs.boostPriority": _boost,
    "jobs.claim": _bound("jobs", "claim"),
    "jobs.complete": _bound("jobs", "complete", "id"),
    "jobs.completeBatch": _bound("jobs", "complete_batch"),
    "jobs.fail": _bound("jobs", "fail", "id"),
    "jobs.heartbeat": _bound("jobs", "heartbeat", "id"),
    "jobs.getDependencies": _bound("jobs", "get_dependencies", "id", body=False),
    "jobs.addDependencies": _bound("jobs", "add_dependencies", "id"),
    "jobs.dlqList": _bound("jobs.dlq", "list"),
    "jobs.dlqRetry": _bound("jobs.dlq", "retry"),
    "jobs.dlqPurge": _dlq_purge,
    # queues and workers
    "queues.list": _bound("queues", "list", body=False),
    "queues.get": _bound("queues", "get", "name", body=False),
    "queues.delete": _bound("queues", "delete", "name", body=False),
    "queues.updateConfig": _bound("queues", "update_config", "name"),
    "queues.stats": _bound("queues", "get_stats", "name", body=False),
    "queues.pause": _pause,
    "queues.resume": _bound("queues", "resume", "name", body=False),
    "workers.list": _bound("workers", "list", body=False),
    "workers.register": _bound("workers", "register"),
    "workers.get": _bound("workers", "get", "id", body=False),
    "workers.heartbeat": _bound("workers", "heartbeat", "id"),
    "workers.deregister": _bound("workers", "deregister", "id", body=False),
    # schedules, workflows, outgoing webhooks, ingestion, billing
    "schedules.list": _bound("schedules", "list"),
    "schedules.create": _bound("schedules", "create"),
    "schedules.get": _bound("schedules", "get", "id", body=False),
    "schedules.update": _bound("schedules", "update", "id"),
    "schedules.delete": _bound("schedules", "delete", "id", body=False),
    "schedules.pause": _bound("schedules", "pause", "id", body=False),
    "schedules.resume": _bound("schedules", "resume", "id", body=False),
    "schedules.trigger": _bound("schedules", "trigger", "id", body=False),
    "schedules.getHistory": _history,
    "workflows.list": _bound("workflows", "list"),
    "workflows.create": _bound("workflows", "create"),
    "workflows.get": _bound("workflows", "get", "id", body=False),
    "workflows.delete": _bound("workflows", "delete", "id", body=False),
    "workflows.cancel": _bound("workflows", "cancel", "id", body=False),
    "workflows.retry": _bound("workflows", "retry", "id", body=False),
    "workflows.listJobs": _bound("workflows.jobs", "list", "id", body=False),
    "workflows.getJobsStatus": _bound("workflows.jobs", "get_status", "id", body=False),
    "workflows.getJob": _bound("workflows.jobs", "get", "id", "job_id", body=False),
    "webhooks.list": _bound("webhooks", "list", body=False),
    "webhooks.create": _bound("webhooks", "create"),
    "webhooks.get": _bound("webhooks", "get", "id", body=False),
    "webhooks.update": _bound("webhooks", "update", "id"),
    "webhooks.delete": _bound("webhooks", "delete", "id", body=False),
    "webhooks.test": _bound("webhooks", "test", "id", body=False),
    "webhooks.listDeliveries": _bound("webhooks", "get_deliveries", "id"),
    "webhooks.retryDelivery": _bound("webhooks", "retry_delivery", "id", "delivery_id", body=False),
    "webhooks.retryDeliveryAlt": _bound("webhooks", "retry_delivery", "id", "delivery_id", body=False),
    "ingest.custom": _bound("ingest", "custom", "org_id"),
    "billing.status": _bound("billing", "get_status", body=False),
    "billing.portal": _bound("billing", "create_portal"),
    # admin (X-Admin-Key)
    "admin.listOrganizations": _bound("admin", "list_organizations"),
    "admin.createOrganization": _bound("admin", "create_organization"),
    "admin.getOrganization": _bound("admin", "get_organization", "id", body=False),
    "admin.updateOrganization": _bound("admin", "update_organization", "id"),
    "admin.updateOrganizationAlt": _bound("admin", "update_organization", "id"),
    "admin.deleteOrganization": _delete_organization,
    "admin.createApiKey": _bound("admin", "create_api_key", "id"),
    "admin.resetUsage": _bound("admin", "reset_usage", "id", body=False),
    "admin.getStats": _bound("admin", "get_stats", body=False),
    "admin.listPlans": _bound("admin", "list_plans", body=False),
}
