"""Queues, workers, organizations, API keys, auth, dashboard, health, metrics and admin, live."""

from __future__ import annotations

import pytest

import spooled
from spooled import AsyncSpooledClient, SpooledClient

from .server_fixture import Database, Org, run_sql


def test_queue_config_stats_pause_resume_delete(client: SpooledClient):
    client.jobs.create({"queue_name": "mail", "payload": {}})
    config = client.queues.update_config("mail", {"max_retries": 5, "default_timeout": 120})
    assert (config.queue_name, config.max_retries, config.default_timeout, config.enabled) == ("mail", 5, 120, True)
    assert client.queues.get("mail").max_retries == 5
    assert [q.queue_name for q in client.queues.list()] == ["mail"]
    assert client.queues.get_stats("mail").pending_jobs == 1
    paused = client.queues.pause("mail", reason="deploy")
    assert paused.paused is True and paused.reason == "deploy"
    assert client.jobs.claim({"queue_name": "mail", "worker_id": "w"}).jobs == []  # paused queues hand out nothing
    assert client.queues.resume("mail").resumed is True
    job = client.jobs.claim({"queue_name": "mail", "worker_id": "w"}).jobs[0]
    client.jobs.complete(job.id, {"worker_id": "w", "lease_id": job.lease_id})
    client.queues.delete("mail")
    with pytest.raises(spooled.NotFoundError):
        client.queues.get("mail")


def test_workers_register_heartbeat_deregister(client: SpooledClient):
    registered = client.workers.register({"queue_name": "img", "hostname": "host-1", "worker_id": "img-worker-1",
                                          "max_concurrency": 4, "metadata": {"zone": "a"}, "version": "1.2.3"})
    assert registered.id == "img-worker-1" and registered.heartbeat_interval_secs > 0
    client.workers.heartbeat("img-worker-1", {"current_jobs": 2, "status": "healthy"})
    worker = client.workers.get("img-worker-1")
    assert (worker.hostname, worker.max_concurrency, worker.current_jobs, worker.status) == ("host-1", 4, 2, "healthy")
    assert [w.id for w in client.workers.list()] == ["img-worker-1"]
    client.workers.deregister("img-worker-1")
    assert client.workers.get("img-worker-1").status == "offline"


def test_usage_of_an_organization_without_a_request_rate_limit(client: SpooledClient, org: Org,
                                                               database: Database):
    """The organization `scripts/serve` creates has no request rate limit: its usage must parse."""
    run_sql(database.url, """UPDATE organizations SET custom_limits = '{"rate_limit_requests_per_second": null,
                             "rate_limit_burst": null}' WHERE id = $1""", org.id)
    limits = client.organizations.get_usage().limits
    assert (limits.rate_limit_requests_per_second, limits.rate_limit_burst) == (None, None)


def test_organization_usage_members_and_keys(client: SpooledClient, org: Org):
    assert [o.id for o in client.organizations.list()] == [org.id]
    assert client.organizations.get(org.id).slug == org.slug
    assert client.organizations.update(org.id, {"name": "Renamed Org"}).name == "Renamed Org"
    usage = client.organizations.get_usage()
    assert usage.plan == "enterprise" and usage.usage.jobs_today.current >= 0
    assert len(client.organizations.get_members(org.id)) == 1
    created = client.api_keys.create({"name": "ci key", "queues": ["builds"]})
    assert created.key.startswith(("sp_", "sk_"))
    assert client.api_keys.get(created.id).queues == ["builds"]
    assert client.api_keys.update(created.id, {"name": "ci key 2"}).name == "ci key 2"
    client.api_keys.delete(created.id)
    assert client.api_keys.get(created.id).is_active is False
    assert {k.id for k in client.api_keys.list()} >= {created.id}


def test_a_queue_scoped_key_may_not_use_other_queues(client: SpooledClient, live_server):
    scoped = client.api_keys.create({"name": "scoped", "queues": ["only-this"]})
    with SpooledClient(scoped.key, base_url=live_server.url) as limited:
        limited.jobs.create({"queue_name": "only-this", "payload": {}})
        with pytest.raises(spooled.AuthorizationError):
            limited.jobs.create({"queue_name": "another", "payload": {}})


def test_jwt_login_me_and_jwt_client(client: SpooledClient, org: Org, live_server):
    tokens = client.auth.login({"api_key": org.api_key})
    assert tokens.token_type == "Bearer" and tokens.access_token.startswith("eyJ")
    with SpooledClient(org.api_key, base_url=live_server.url, use_jwt=True) as jwt_client:
        assert jwt_client.auth.me().organization_id == org.id
        jwt_client.jobs.create({"queue_name": "jwt", "payload": {}})
        assert jwt_client.get_jwt_token().startswith("eyJ")
    refreshed = client.auth.refresh({"refresh_token": tokens.refresh_token})
    assert refreshed.access_token.startswith("eyJ")
    assert client.auth.validate({"token": tokens.access_token}).valid is True
    assert client.get_jwt_token().startswith("eyJ")


def test_dashboard_health_and_metrics(client: SpooledClient):
    client.jobs.create({"queue_name": "dash", "payload": {}})
    dashboard = client.dashboard.get()
    assert dashboard.jobs.pending == 1 and dashboard.system.database_status
    assert client.health.get().status == "healthy"
    assert client.health.liveness() is True and client.health.readiness() is True
    assert "spooled_" in client.metrics.get()


def test_admin_routes(admin_client: SpooledClient):
    created = admin_client.admin.create_organization({"name": "Admin Made", "slug": "admin-made-org",
                                                      "plan_tier": "pro"})
    org_id = created.organization.id
    assert created.api_key.key
    assert admin_client.admin.get_organization(org_id).plan_tier == "pro"
    assert admin_client.admin.update_organization(org_id, {"plan_tier": "starter"}).plan_tier == "starter"
    listed = admin_client.admin.list_organizations({"search": "admin-made"})
    assert [o.id for o in listed.organizations] == [org_id] and listed.total == 1
    assert admin_client.admin.create_api_key(org_id, {"name": "extra"}).key
    admin_client.admin.reset_usage(org_id)
    assert admin_client.admin.get_stats().organizations.total >= 1
    assert {p.tier for p in admin_client.admin.list_plans()} == {"free", "starter", "pro", "enterprise"}
    admin_client.admin.delete_organization(org_id, hard=True)
    with pytest.raises(spooled.NotFoundError):
        admin_client.admin.get_organization(org_id)


def test_wrong_admin_key_is_rejected(live_server):
    with SpooledClient(admin_key="not-the-admin-key", base_url=live_server.url) as wrong:
        with pytest.raises(spooled.AuthenticationError):
            wrong.admin.get_stats()


async def test_async_client_round_trip(org: Org, live_server):
    async with AsyncSpooledClient(org.api_key, base_url=live_server.url) as client:
        job = await client.jobs.create_and_get({"queue_name": "async", "payload": {"n": 1}})
        claimed = (await client.jobs.claim({"queue_name": "async", "worker_id": "aw"})).jobs[0]
        assert claimed.id == job.id
        await client.jobs.complete(job.id, {"worker_id": "aw", "lease_id": claimed.lease_id, "result": {"n": [1, 2]}})
        assert (await client.jobs.get(job.id)).result == {"n": [1, 2]}
        with pytest.raises(spooled.NotFoundError):
            await client.jobs.get("missing-job")
        assert await client.health.readiness() is True


async def test_a_result_may_be_any_json_value(org: Org, live_server):
    async with AsyncSpooledClient(org.api_key, base_url=live_server.url) as client:
        job_id = (await client.jobs.create({"queue_name": "any-result", "payload": {}})).id
        claimed = (await client.jobs.claim({"queue_name": "any-result", "worker_id": "aw"})).jobs[0]
        await client.jobs.complete(job_id, {"worker_id": "aw", "lease_id": claimed.lease_id, "result": [1, 2]})
        assert (await client.jobs.get(job_id)).result == [1, 2]
