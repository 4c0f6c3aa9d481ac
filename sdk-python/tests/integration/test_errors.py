"""Typed errors from the real server."""

from __future__ import annotations

import pytest

import spooled
from spooled import SpooledClient


def test_unknown_job_is_not_found(client: SpooledClient):
    with pytest.raises(spooled.NotFoundError) as caught:
        client.jobs.get("00000000-0000-4000-8000-000000000000")
    err = caught.value
    assert (err.status_code, err.code) == (404, "NOT_FOUND") and err.request_id and err.body


def test_bad_input_is_a_validation_error_with_details(client: SpooledClient):
    with pytest.raises(spooled.ValidationError) as caught:
        client.jobs.create({"queue_name": "q", "payload": {}, "priority": 1000})
    err = caught.value
    assert err.status_code == 400 and err.code == "VALIDATION_ERROR"
    assert any(item.get("field") == "priority" for item in err.details)


def test_bad_key_is_an_authentication_error(live_server):
    with SpooledClient("sp_test_not_a_real_key_at_all", base_url=live_server.url) as stranger:
        with pytest.raises(spooled.AuthenticationError) as caught:
            stranger.jobs.list()
    assert caught.value.status_code == 401 and caught.value.request_id


def test_stale_lease_is_lease_expired(client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "fence", "payload": {}}).id
    job = client.jobs.claim({"queue_name": "fence", "worker_id": "w1"}).jobs[0]
    with pytest.raises(spooled.LeaseExpiredError) as caught:
        client.jobs.complete(job_id, {"worker_id": "w1", "lease_id": "not-the-lease"})
    assert isinstance(caught.value, spooled.ConflictError) and caught.value.code == "LEASE_EXPIRED"
    with pytest.raises(spooled.LeaseExpiredError):
        client.jobs.heartbeat(job_id, {"worker_id": "w1", "lease_id": "not-the-lease", "lease_duration_secs": 30})
    assert client.jobs.get(job_id).status == "processing"
    client.jobs.complete(job_id, {"worker_id": "w1", "lease_id": job.lease_id})


def test_other_organizations_are_invisible(client: SpooledClient, database, live_server):
    from .server_fixture import create_org
    other = create_org(database.url)
    job_id = client.jobs.create({"queue_name": "private", "payload": {}}).id
    with SpooledClient(other.api_key, base_url=live_server.url) as outsider:
        with pytest.raises(spooled.NotFoundError):
            outsider.jobs.get(job_id)


def test_billing_is_not_offered_self_hosted(client: SpooledClient):
    with pytest.raises(spooled.APIError) as caught:
        client.billing.get_status()
    assert caught.value.status_code == 501 and caught.value.code == "NOT_IMPLEMENTED"


def test_typo_in_parameters_fails_before_sending(client: SpooledClient):
    with pytest.raises(ValueError, match="queue"):
        client.jobs.create({"queue": "q", "payload": {}})
