"""SpooledWorker(auto_start=True): starts itself on a background (non-daemon) thread once a
handler is set; stop() before that cancels it; a start() by hand first wins quietly."""

from __future__ import annotations

import threading

import pytest

from spooled import ServerError
from spooled.worker import AsyncSpooledWorker, WorkerOptions

from .test_worker_protocol import DEADLINE, FakeClient, claimed, make_worker


def test_auto_start_waits_for_the_handler_then_runs_on_a_background_thread():
    client = FakeClient([claimed("a")])
    worker = make_worker(client, auto_start=True)
    completed, started = threading.Event(), []
    worker.on("started", lambda e: started.append(threading.current_thread().name))
    worker.on("job:completed", lambda e: completed.set())
    assert worker.state == "idle" and client.sent("register") == []  # nothing to run yet

    @worker.process
    def handle(ctx):
        return {"done": ctx.job_id}

    assert completed.wait(DEADLINE)
    assert started == ["spooled-worker-autostart"]
    worker.stop()  # from another thread: waits until the worker has stopped
    assert worker.state == "stopped"
    worker._auto_starter.join(DEADLINE)
    assert not worker._auto_starter.is_alive() and not worker._auto_starter.daemon
    assert client.sent("complete") == [("a", {"worker_id": "w1", "lease_id": "lease-a", "result": {"done": "a"}})]
    assert client.sent("deregister") == ["w1"]


def test_auto_start_failures_reach_the_error_event_once():
    class Refusing(FakeClient):
        def _register(self, params):
            raise ServerError("registration is down", status_code=503)

    worker = make_worker(Refusing([]), auto_start=True)
    errors = []
    worker.on("error", lambda e: errors.append(e.error))
    worker.process(lambda ctx: None)
    worker._auto_starter.join(DEADLINE)
    assert worker.state == "error"
    assert [str(e) for e in errors] == ["503: registration is down"]


def test_stop_before_a_handler_cancels_the_auto_start():
    client = FakeClient([claimed("a")])
    worker = make_worker(client, auto_start=True)
    worker.stop()
    worker.process(lambda ctx: None)
    assert worker._auto_starter is None
    assert worker.state == "idle" and client.sent("register") == []


def test_auto_start_is_off_by_default_and_only_for_the_blocking_worker():
    worker = make_worker(FakeClient([]))
    assert worker.options.auto_start is False and worker._auto_starter is None
    with pytest.raises(ValueError):
        WorkerOptions(queue_name="q", auto_start="yes")
    with pytest.raises(TypeError):
        AsyncSpooledWorker(FakeClient([]), "q", auto_start=True)


def test_an_auto_start_that_finds_the_worker_already_started_steps_aside_quietly():
    """start() called by hand won the race: the auto start must neither raise nor emit."""
    client = FakeClient([claimed("a")])
    worker = make_worker(client)
    errors, completed = [], threading.Event()
    worker.on("error", lambda e: errors.append(e.error))
    worker.on("job:completed", lambda e: completed.set())
    worker.process(lambda ctx: {"ok": True})
    runner = threading.Thread(target=worker.start)
    runner.start()
    assert completed.wait(DEADLINE)
    worker._start(auto=True)  # what the auto-start thread does when it comes second
    worker.stop()
    runner.join(DEADLINE)
    assert errors == [] and worker.state == "stopped"
