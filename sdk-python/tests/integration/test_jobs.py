"""Jobs against the live server: enqueue, read, the worker protocol, bulk, DLQ, dependencies."""

from __future__ import annotations

import pytest

import spooled
from spooled import SpooledClient
from spooled.types import CreateJobRequest


def claim_one(client: SpooledClient, queue: str, worker: str = "w-test", lease: int = 30):
    jobs = client.jobs.claim({"queue_name": queue, "worker_id": worker, "lease_duration_secs": lease}).jobs
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_create_get_list_and_stats(client: SpooledClient):
    created = client.jobs.create({"queue_name": "emails", "payload": {"to": "a@example.com"}, "priority": 7,
                                  "tags": {"tenant": "t1"}, "max_retries": 2})
    assert created.created is True
    job = client.jobs.get(created.id)
    assert (job.status, job.queue_name, job.priority, job.max_retries) == ("pending", "emails", 7, 2)
    assert job.payload == {"to": "a@example.com"} and job.tags == {"tenant": "t1"}
    assert job.idempotency_key.startswith("spooled-auto-")  # the SDK keyed it for safe retries
    model = client.jobs.create(CreateJobRequest(queue_name="emails", payload={"n": 2}))
    listed = client.jobs.list({"queue_name": "emails", "status": "pending"})
    assert {j.id for j in listed} == {created.id, model.id}
    assert [j.id for j in client.jobs.list({"tag": "tenant"})] == [created.id]
    stats = client.jobs.get_stats()
    assert stats.pending == 2 and stats.total == 2
    statuses = client.jobs.batch_status([created.id, model.id, "no-such-job"])
    assert {s.id: s.status for s in statuses} == {created.id: "pending", model.id: "pending"}
    assert client.jobs.create_and_get({"queue_name": "emails", "payload": {}}).status == "pending"


def test_idempotent_create_returns_the_same_job(client: SpooledClient):
    first = client.jobs.create({"queue_name": "orders", "payload": {"order": 42}, "idempotency_key": "order-42"})
    again = client.jobs.create({"queue_name": "orders", "payload": {"order": 42}, "idempotency_key": "order-42"})
    assert first.created is True and again.created is False and again.id == first.id
    assert len(client.jobs.list({"queue_name": "orders"})) == 1


def test_claim_heartbeat_complete(client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "work", "payload": {"x": 1}}).id
    job = claim_one(client, "work")
    assert (job.id, job.payload, job.retry_count) == (job_id, {"x": 1}, 0) and job.lease_id
    assert client.jobs.get(job_id).status == "processing"
    beat = client.jobs.heartbeat(job_id, {"worker_id": "w-test", "lease_id": job.lease_id, "lease_duration_secs": 60})
    assert beat.success is True and beat.lease_expires_at > job.lease_expires_at
    assert client.jobs.complete(job_id, {"worker_id": "w-test", "lease_id": job.lease_id,
                                         "result": {"ok": True}}).success
    done = client.jobs.get(job_id)
    assert (done.status, done.result) == ("completed", {"ok": True})


def test_claim_long_poll_returns_empty_when_nothing_arrives(client: SpooledClient):
    answer = client.jobs.claim({"queue_name": "idle", "worker_id": "w", "wait_ms": 200})
    assert answer.jobs == []


def test_fail_retries_then_dead_letters_and_dlq_operations(client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "fragile", "payload": {}, "max_retries": 0}).id
    job = claim_one(client, "fragile")
    client.jobs.fail(job_id, {"worker_id": "w-test", "lease_id": job.lease_id, "error": "boom"})
    dead = client.jobs.get(job_id)
    assert dead.status in ("deadletter", "failed") and dead.last_error == "boom"
    assert [j.id for j in client.jobs.dlq.list({"queue_name": "fragile"})] == [job_id]
    retried = client.jobs.dlq.retry({"job_ids": [job_id]})
    assert retried.retried_count == 1 and retried.retried_jobs == [job_id]
    assert client.jobs.get(job_id).status == "pending"
    again = claim_one(client, "fragile")
    client.jobs.fail(job_id, {"worker_id": "w-test", "lease_id": again.lease_id, "error": "boom again"})
    assert client.jobs.dlq.purge({"queue_name": "fragile"}).purged_count == 1
    with pytest.raises(spooled.NotFoundError):
        client.jobs.get(job_id)


def test_fail_with_retries_left_goes_back_to_pending_later(client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "retry-me", "payload": {}, "max_retries": 3}).id
    job = claim_one(client, "retry-me")
    failed = client.jobs.fail(job_id, {"worker_id": "w-test", "lease_id": job.lease_id, "error": "transient"})
    assert failed.will_retry is True and failed.next_retry_delay_secs > 0
    after = client.jobs.get(job_id)
    assert after.retry_count == 1 and after.status in ("pending", "scheduled") and after.last_error == "transient"


def test_fail_with_a_long_stack_trace_is_accepted_and_stored_truncated(client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "long-error", "payload": {}, "max_retries": 0}).id
    job = claim_one(client, "long-error")
    failed = client.jobs.fail(job_id, {"lease_id": job.lease_id, "error": "trace line\n" * 3000})
    assert failed.will_retry is False and failed.next_retry_delay_secs == 0
    stored = client.jobs.get(job_id).last_error
    assert stored is not None and len(stored) <= 4096 and stored.startswith("trace line")


def test_cancel_retry_and_boost(client: SpooledClient):
    job_id = client.jobs.create({"queue_name": "misc", "payload": {}}).id
    boosted = client.jobs.boost_priority(job_id, 50)
    assert (boosted.old_priority, boosted.new_priority) == (0, 50)
    client.jobs.cancel(job_id)
    assert client.jobs.get(job_id).status == "cancelled"
    with pytest.raises(spooled.ConflictError) as caught:
        client.jobs.cancel(job_id)
    assert caught.value.status_code == 409 and caught.value.code == "CONFLICT"
    failed_id = client.jobs.create({"queue_name": "misc", "payload": {}, "max_retries": 0}).id
    job = claim_one(client, "misc")
    client.jobs.fail(failed_id, {"worker_id": "w-test", "lease_id": job.lease_id, "error": "x"})
    assert client.jobs.retry(failed_id).status == "pending"


def test_bulk_enqueue(client: SpooledClient):
    result = client.jobs.bulk_enqueue({"queue_name": "bulk", "default_priority": 3, "jobs": [
        {"payload": {"n": 1}}, {"payload": {"n": 2}, "priority": 9}, {"payload": {"n": 3}, "idempotency_key": "b3"}]})
    assert (result.total, result.success_count, result.failure_count) == (3, 3, 0)
    assert [item.index for item in result.succeeded] == [0, 1, 2] and all(i.created for i in result.succeeded)
    priorities = sorted(client.jobs.get(item.job_id).priority for item in result.succeeded)
    assert priorities == [3, 3, 9]
    again = client.jobs.bulk_enqueue({"queue_name": "bulk", "jobs": [{"payload": {"n": 3}, "idempotency_key": "b3"}]})
    assert again.succeeded[0].created is False and again.succeeded[0].job_id == result.succeeded[2].job_id


def test_add_dependencies_answer_matches_the_contract(client: SpooledClient):
    parent = client.jobs.create({"queue_name": "deps", "payload": {}}).id
    child = client.jobs.create({"queue_name": "deps", "payload": {}}).id
    added = client.jobs.add_dependencies(child, {"dependency_job_ids": [parent]})
    assert added.job_id == child and added.dependencies_met is False
    assert added.dependencies == [parent] and added.dependencies_added == 1


def test_dependencies_gate_claims(client: SpooledClient):
    parent = client.jobs.create({"queue_name": "deps", "payload": {"step": 1}}).id
    child = client.jobs.create({"queue_name": "deps", "payload": {"step": 2}}).id
    client.jobs.add_dependencies(child, {"dependency_job_ids": [parent]})
    deps = client.jobs.get_dependencies(child)
    assert [d.job_id for d in deps.dependencies] == [parent] and deps.dependencies_met is False
    assert deps.dependency_mode == "all" and deps.dependencies[0].completed is False
    claimed = claim_one(client, "deps")
    assert claimed.id == parent  # the child waits for its parent
    client.jobs.complete(parent, {"worker_id": "w-test", "lease_id": claimed.lease_id})
    assert client.jobs.get_dependencies(child).dependencies_met is True
    assert claim_one(client, "deps").id == child


def test_tags_that_are_not_an_object_round_trip(client: SpooledClient):
    """Tags are any JSON value on the wire (the contract's Tags): a job whose tags are a list
    is created and read back, not refused by the models."""
    created = client.jobs.create({"queue_name": "odd-tags", "payload": {}, "tags": ["a", "b"]})
    assert client.jobs.get(created.id).tags == ["a", "b"]
