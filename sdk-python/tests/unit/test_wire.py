"""Casing, request bodies and query strings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from spooled._wire import convert_request, path, to_body, to_camel_case, to_query, to_snake_case
from spooled.types import ClaimRequest, CreateJobRequest, FailJobRequest, JobHeartbeatRequest


@pytest.mark.parametrize("name, snake", [
    ("queue_name", "queue_name"), ("queueName", "queue_name"), ("leaseDurationSecs", "lease_duration_secs"),
    ("maxRetries", "max_retries"), ("id", "id"), ("HTTPCode", "http_code"), ("workerId", "worker_id"),
])
def test_to_snake_case(name, snake):
    assert to_snake_case(name) == snake


def test_to_camel_case():
    assert to_camel_case("lease_duration_secs") == "leaseDurationSecs"
    assert to_camel_case("id") == "id"


def test_convert_request_leaves_user_owned_values_alone():
    body = {"queueName": "q", "payload": {"userId": 1, "nestedThing": {"camelKey": 2}},
            "tags": {"someTag": "x"}, "metadata": {"keepMe": True}, "payloadTemplate": {"aB": 1},
            "jobs": [{"payload": {"innerKey": 1}, "idempotencyKey": "k"}]}
    assert convert_request(body) == {
        "queue_name": "q", "payload": {"userId": 1, "nestedThing": {"camelKey": 2}}, "tags": {"someTag": "x"},
        "metadata": {"keepMe": True}, "payload_template": {"aB": 1},
        "jobs": [{"payload": {"innerKey": 1}, "idempotency_key": "k"}]}


def test_to_body_from_a_dict_snake_cases_and_serialises():
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    body = to_body(CreateJobRequest, {"queueName": "q", "payload": {"a": 1}, "scheduledAt": when})
    assert body == {"queue_name": "q", "payload": {"a": 1}, "scheduled_at": "2030-01-02T03:04:05Z"}


def test_to_body_rejects_unknown_keys_so_typos_do_not_vanish():
    with pytest.raises(ValueError, match="queue"):
        to_body(CreateJobRequest, {"queue": "q", "payload": {}})


def test_to_body_from_a_model_sends_only_what_was_set():
    model = CreateJobRequest(queue_name="q", payload={"a": 1}, priority=5)
    assert to_body(CreateJobRequest, model) == {"queue_name": "q", "payload": {"a": 1}, "priority": 5}


def test_to_body_accepts_every_variant_of_an_any_of_request():
    assert to_body(FailJobRequest, {"worker_id": "w", "reason": "r", "no_retry": True}) == {
        "worker_id": "w", "reason": "r", "no_retry": True}
    assert to_body(JobHeartbeatRequest, {"worker_id": "w", "extension_secs": 30})["extension_secs"] == 30
    model = FailJobRequest.model_validate({"worker_id": "w", "error": "boom"})
    assert to_body(FailJobRequest, model) == {"worker_id": "w", "error": "boom"}


def test_to_body_edge_cases():
    assert to_body(ClaimRequest, {"queue_name": "q", "worker_id": "w", "wait_ms": None}) == {
        "queue_name": "q", "worker_id": "w", "wait_ms": None}
    assert to_body(ClaimRequest, None) == {}
    with pytest.raises(TypeError):
        to_body(ClaimRequest, ["not", "a", "dict"])  # type: ignore[arg-type]


def test_to_query():
    assert to_query({"queueName": "q", "limit": 5, "isActive": False, "tag": None, "ids": ["a", "b"]}) == {
        "queue_name": "q", "limit": "5", "is_active": "false", "ids": "a,b"}
    assert to_query(None) == {}
    with pytest.raises(ValueError):
        to_query({"nope": 1}, frozenset({"limit"}))


def test_path_percent_encodes_each_segment():
    assert path("/jobs/{}", "a/b c") == "/api/v1/jobs/a%2Fb%20c"
    assert path("/outgoing-webhooks/{}/retry/{}", "w1", "d1") == "/api/v1/outgoing-webhooks/w1/retry/d1"
    with pytest.raises(ValueError):
        path("/jobs/{}", "")


def test_a_model_of_another_request_is_rejected_by_its_fields():
    with pytest.raises(ValueError, match="worker_id"):
        to_body(CreateJobRequest, ClaimRequest(queue_name="q", worker_id="w"))
