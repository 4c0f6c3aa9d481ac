"""The worker's pure parts: options, lease bookkeeping with an injected clock, events, outcomes."""

from __future__ import annotations

import pytest

from spooled import ConflictError, LeaseExpiredError, NetworkError, NotFoundError
from spooled.errors import AuthenticationError, ValidationError
from spooled.worker import JobContext, WorkerOptions
from spooled.worker import _outcome as outcome
from spooled.worker._leases import LeaseBook
from spooled.worker.events import EventEmitter, JobCompletedEventData


def ctx(job_id: str = "j1", retry_count: int = 0, max_retries: int = 3) -> JobContext:
    return JobContext(job_id=job_id, queue_name="q", payload={}, retry_count=retry_count, max_retries=max_retries,
                      lease_id="l1", worker_id="w1")


@pytest.mark.parametrize("kwargs", [
    {"queue_name": ""}, {"queue_name": ".hidden"}, {"queue_name": "a b"}, {"queue_name": "x" * 101},
    {"concurrency": 0}, {"concurrency": 101}, {"lease_duration": 4}, {"lease_duration": 3601},
    {"heartbeat_fraction": 0}, {"heartbeat_fraction": 1.5}, {"claim_wait": 31}, {"poll_interval": 0},
    {"shutdown_timeout": -1}, {"hostname": "-bad"}, {"worker_id": "has space"}, {"worker_id": "x" * 129},
])
def test_invalid_options_are_rejected(kwargs):
    with pytest.raises(ValueError):
        WorkerOptions(**{"queue_name": "q", **kwargs})


def test_option_defaults():
    options = WorkerOptions(queue_name="emails.v2")
    assert (options.concurrency, options.lease_duration, options.heartbeat_every) == (5, 30, 15.0)
    assert options.worker_id.startswith(options.hostname[:100] + "-")
    assert WorkerOptions(queue_name="q", worker_id="fixed").worker_id == "fixed"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lease_book_schedules_heartbeats_and_spots_expiry():
    clock = Clock()
    book = LeaseBook(lease_duration=30, heartbeat_every=15, clock=clock)
    lease = book.add(ctx(), claimed_at=0.0)
    assert book.due(14.9) == [] and book.due(15.0) == [lease]
    book.renewed(lease, sent_at=15.0)
    assert book.due(29.9) == [] and book.due(30.0) == [lease]
    assert book.expired(44.9) == [] and book.expired(45.0) == [lease]
    book.retry_soon(lease, now=31.0)
    assert lease.next_heartbeat == 32.0
    assert book.mark_lost(lease) is True and book.mark_lost(lease) is False
    assert book.due(100) == [] and book.expired(100) == []
    book.remove("j1")
    assert book.count() == 0


def test_emitter_validates_names_supports_decorators_and_swallows_listener_errors():
    emitter = EventEmitter()
    seen = []
    with pytest.raises(ValueError):
        emitter.on("job:done", print)

    @emitter.on("job:completed")
    def first(event):
        raise RuntimeError("listener bug")

    emitter.on("job:completed", seen.append)
    event = JobCompletedEventData("j1", "q", {"ok": True})
    emitter.emit("job:completed", event)
    assert seen == [event]
    emitter.off("job:completed", seen.append)
    emitter.emit("job:completed", event)
    assert seen == [event]


def test_outcome_rules():
    lease = LeaseExpiredError("gone", status_code=409, code="LEASE_EXPIRED")
    assert outcome.lease_gone(lease) and outcome.lease_gone(NotFoundError("x", status_code=404))
    assert not outcome.lease_gone(ConflictError("x", status_code=409)) and not outcome.lease_gone(NetworkError("x"))
    assert outcome.fatal(AuthenticationError("x", status_code=401)) and not outcome.fatal(NetworkError("x"))
    assert outcome.fatal(ValidationError("x", status_code=400))
    assert outcome.failure_message(ValueError("bad input")) == "ValueError: bad input"
    assert outcome.failure_message(KeyError()) == "KeyError"
    assert len(outcome.failure_message(RuntimeError("x" * 5000))) == len("RuntimeError: ") + 5000
    assert len(outcome.failure_message(RuntimeError("x" * 70_000))) == 65536
    assert outcome.unserializable({"a": [1, 2]}) is None and outcome.unserializable(None) is None
    assert "not JSON-serializable" in outcome.unserializable({"a": object()})
    assert outcome.will_retry(type("A", (), {"will_retry": False})(), 0, 3) is False
    assert outcome.will_retry(object(), 0, 3) is True and outcome.will_retry(object(), 3, 3) is False
    assert [outcome.claim_backoff(1.0, n) for n in (1, 2, 3, 10)] == [1.0, 2.0, 4.0, 30.0]


def test_context_signal_and_reason():
    c = ctx(retry_count=3, max_retries=3)
    assert c.is_last_attempt and not c.cancelled
    c._cancel("lease_lost")
    c._cancel("shutdown")
    assert c.cancelled and c.cancel_reason == "lease_lost"
    c.progress(150, "almost")
    c.log("warn", "careful", {"k": 1})


def test_results_over_grpc_must_be_objects():
    assert outcome.unserializable([1, 2]) is None and outcome.unserializable("done") is None
    assert outcome.unserializable({"ok": True}, object_only=True) is None
    assert outcome.unserializable(None, object_only=True) is None
    assert "must be a dict" in outcome.unserializable([1, 2], object_only=True)
    assert "not JSON-serializable" in outcome.unserializable({"x": object()}, object_only=True)
