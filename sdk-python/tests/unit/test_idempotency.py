"""A retried create never makes a second job: one idempotency key per logical call."""

from __future__ import annotations

import json

import httpx
import pytest

import spooled
from spooled.types import CreateJobRequest


def sent_bodies(route) -> list[dict]:
    return [json.loads(call.request.content) for call in route.calls]


def test_create_generates_one_key_and_reuses_it_across_retries(mock, client, fake_time):
    route = mock.post("/api/v1/jobs")
    route.side_effect = [httpx.Response(503), httpx.ReadError("connection reset"),
                         httpx.Response(200, json={"id": "j1", "created": False})]
    created = client.jobs.create({"queue_name": "q", "payload": {"a": 1}})
    assert (created.id, created.created) == ("j1", False)
    bodies = sent_bodies(route)
    assert len(bodies) == 3
    keys = {body["idempotency_key"] for body in bodies}
    assert len(keys) == 1 and next(iter(keys)).startswith("spooled-auto-")


def test_each_logical_create_gets_its_own_key(mock, client):
    route = mock.post("/api/v1/jobs").respond(201, json={"id": "j", "created": True})
    client.jobs.create({"queue_name": "q", "payload": {}})
    client.jobs.create({"queue_name": "q", "payload": {}})
    first, second = sent_bodies(route)
    assert first["idempotency_key"] != second["idempotency_key"]


def test_the_callers_key_is_sent_unchanged(mock, client):
    route = mock.post("/api/v1/jobs")
    route.side_effect = [httpx.Response(500), httpx.Response(201, json={"id": "j", "created": True})]
    client.jobs.create(CreateJobRequest(queue_name="q", payload={}, idempotency_key="order-42"))
    assert [b["idempotency_key"] for b in sent_bodies(route)] == ["order-42", "order-42"]


def test_opting_out_with_none_means_no_key_and_no_blind_retry(mock, client):
    route = mock.post("/api/v1/jobs").respond(503)
    with pytest.raises(spooled.ServerError):
        client.jobs.create({"queue_name": "q", "payload": {}, "idempotency_key": None})
    assert route.call_count == 1
    assert sent_bodies(route)[0]["idempotency_key"] is None


def test_bulk_items_get_keys_that_survive_retries(mock, client):
    route = mock.post("/api/v1/jobs/bulk")
    answer = {"succeeded": [{"index": 0, "job_id": "a", "created": True}, {"index": 1, "job_id": "b", "created": True}],
              "failed": [], "total": 2, "success_count": 2, "failure_count": 0}
    route.side_effect = [httpx.Response(502), httpx.Response(200, json=answer)]
    result = client.jobs.bulk_enqueue({"queue_name": "q", "jobs": [{"payload": {"n": 1}},
                                                                   {"payload": {"n": 2}, "idempotency_key": "mine"}]})
    assert result.success_count == 2 and result.succeeded[1].job_id == "b"
    first, second = sent_bodies(route)
    assert first == second
    auto, mine = (item["idempotency_key"] for item in first["jobs"])
    assert auto.startswith("spooled-auto-") and mine == "mine"


async def test_async_create_reuses_its_key_too(mock, make_async_client):
    route = mock.post("/api/v1/jobs")
    route.side_effect = [httpx.Response(503), httpx.Response(201, json={"id": "j1", "created": True})]
    async with make_async_client() as client:
        created = await client.jobs.create({"queue_name": "q", "payload": {}})
    assert created.id == "j1"
    first, second = sent_bodies(route)
    assert first["idempotency_key"] == second["idempotency_key"]
