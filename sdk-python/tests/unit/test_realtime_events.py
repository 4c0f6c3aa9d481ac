"""The realtime wire, pure: the SSE parser, event-type mapping, filters and the backoff schedule."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from spooled.realtime import (ReconnectPolicy, RealtimeEventType, SSEParser, SubscriptionFilter, event_from_message,
                              event_type_for, server_type_for)
from spooled.realtime._handlers import Handlers
from spooled.realtime.events import RealtimeEvent, event_from_text
from spooled.realtime.sse import sse_path
from spooled.realtime.websocket import PingCommand, SubscribeCommand, UnsubscribeCommand, websocket_url


# ---------------------------------------------------------------- SSE parser
def parse(text: str) -> list[tuple[str, str, str | None]]:
    return [(m.event, m.data, m.id) for m in SSEParser().feed(text)]


@pytest.mark.parametrize("text, expected", [
    ("data: hello\n\n", [("message", "hello", None)]),
    ("event: job.created\ndata: {\"a\":1}\n\n", [("job.created", '{"a":1}', None)]),
    ("data: one\ndata: two\ndata:\n\n", [("message", "one\ntwo\n", None)]),            # multi-line data
    ("data:no-space\n\n", [("message", "no-space", None)]),                             # the space is optional
    ("data:  two spaces\n\n", [("message", " two spaces", None)]),                      # only one is removed
    (":ping\n\n", []),                                                                   # keep-alive comment
    (": comment\ndata: x\n: another\n\n", [("message", "x", None)]),
    ("event: only-a-name\n\n", []),                                                      # no data, no message
    ("data: a\r\n\r\ndata: b\r\rdata: c\n\n", [("message", "a", None), ("message", "b", None),
                                               ("message", "c", None)]),                 # CRLF, CR, LF
    ("id: 7\ndata: a\n\ndata: b\n\n", [("message", "a", "7"), ("message", "b", "7")]),  # id persists
    ("data\n\n", [("message", "", None)]),                                               # field without colon
    ("\ufeffdata: bom\n\n", [("message", "bom", None)]),
    ("unknown: x\ndata: y\n\n", [("message", "y", None)]),
    ("data: unterminated\n", []),                                                        # discarded at EOF
])
def test_sse_parser(text, expected):
    assert parse(text) == expected


def test_sse_parser_event_name_resets_after_each_message():
    assert parse("event: a\ndata: 1\n\ndata: 2\n\n") == [("a", "1", None), ("message", "2", None)]


@pytest.mark.parametrize("line, retry", [("retry: 2500", 2500), ("retry: 25x", None), ("retry: -1", None),
                                         ("retry:", None)])
def test_sse_parser_retry_field(line, retry):
    parser = SSEParser()
    parser.feed(line + "\n")
    assert parser.retry_ms == retry


def test_sse_parser_ignores_ids_with_nul():
    parser = SSEParser()
    parser.feed("id: a\0b\ndata: x\n\n")
    assert parser.last_event_id is None


# ---------------------------------------------------------------- event types
@pytest.mark.parametrize("server, sdk", [
    ("JobStatusChange", "job.status_changed"), ("job.status", "job.status_changed"),
    ("JobCreated", "job.created"), ("JobCompleted", "job.completed"), ("JobFailed", "job.failed"),
    ("QueueStats", "queue.stats"), ("WorkerHeartbeat", "worker.heartbeat"),
    ("WorkerRegistered", "worker.registered"), ("WorkerDeregistered", "worker.deregistered"),
    ("SystemHealth", "system.health"), ("Ping", "ping"), ("Error", "error"),
    ("job.created", "job.created"), ("job.status_changed", "job.status_changed"),
    ("Subscribed", None), ("Unsubscribed", None), ("SomethingNew", None), ("", None), (None, None),
])
def test_event_type_mapping(server, sdk):
    assert event_type_for(server) == sdk


def test_every_sdk_type_has_a_server_name():
    assert {t.value: server_type_for(t) for t in RealtimeEventType}["job.status_changed"] == "JobStatusChange"
    assert all(server_type_for(t) for t in RealtimeEventType)


def test_event_from_wire_message():
    event = event_from_message({"type": "JobCreated",
                                "data": {"job_id": "j1", "timestamp": "2026-01-02T03:04:05.5Z"}})
    assert event == RealtimeEvent("job.created", {"job_id": "j1", "timestamp": "2026-01-02T03:04:05.5Z"},
                                  datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc))
    assert event.server_type == "JobCreated"
    assert event_from_message({"type": "Subscribed", "data": {}}) is None


def test_event_from_sse_text_falls_back_to_the_event_name():
    assert event_from_text('{"job_id": "j"}', "job.status").type == "job.status_changed"
    assert event_from_text("not json", "ping").data == {"value": "not json"}
    assert event_from_text('{"type": "Ping", "data": {"timestamp": "bad"}}').timestamp is None


# ---------------------------------------------------------------- routes, filters, commands
@pytest.mark.parametrize("queue, job_id, path", [
    (None, None, "/api/v1/events"), ("emails", None, "/api/v1/events/queues/emails"),
    (None, "j/1", "/api/v1/events/jobs/j%2F1"), ("emails", "j1", "/api/v1/events/jobs/j1"),
])
def test_sse_paths(queue, job_id, path):
    assert sse_path(queue, job_id) == path


@pytest.mark.parametrize("url, expected", [
    ("http://h:8080", "ws://h:8080/api/v1/ws"), ("https://h/", "wss://h/api/v1/ws"),
    ("wss://h/api/v1/ws", "wss://h/api/v1/ws"), ("ws://h/prefix", "ws://h/prefix/api/v1/ws"),
])
def test_websocket_url(url, expected):
    assert websocket_url(url) == expected


def test_websocket_url_refuses_other_schemes():
    with pytest.raises(ValueError):
        websocket_url("ftp://h")


def test_filters_and_commands():
    assert SubscriptionFilter().to_id() == "all"
    assert SubscriptionFilter(queue="q", job_id="j").to_id() == "queue:q,job:j"
    assert SubscribeCommand(queue="q").to_dict() == {"cmd": "subscribe", "queue": "q"}
    assert UnsubscribeCommand(job_id="j").to_dict() == {"cmd": "unsubscribe", "job_id": "j"}
    assert UnsubscribeCommand().to_dict() == {"cmd": "unsubscribe"}
    assert PingCommand().to_dict() == {"cmd": "ping"}


# ---------------------------------------------------------------- backoff
def test_reconnect_schedule_doubles_and_caps():
    assert ReconnectPolicy().schedule() == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    assert ReconnectPolicy(max_reconnect_attempts=4, reconnect_delay=0.5, max_reconnect_delay=3).schedule() \
        == [0.5, 1, 2, 3]
    assert ReconnectPolicy(max_reconnect_attempts=0).schedule() == []
    assert ReconnectPolicy().delay(3, base=0.25) == 1.0


@pytest.mark.parametrize("kwargs", [{"max_reconnect_attempts": -1}, {"reconnect_delay": -1},
                                    {"max_reconnect_delay": -0.1}])
def test_reconnect_policy_validation(kwargs):
    with pytest.raises(ValueError):
        ReconnectPolicy(**kwargs)


# ---------------------------------------------------------------- handlers
def test_handlers_by_type_catch_all_and_state():
    handlers, got = Handlers(), []

    @handlers.on("job.created")
    def created(data):
        got.append(("typed", data))

    handlers.on(RealtimeEventType.JOB_FAILED, lambda data: 1 / 0)      # a raising handler is skipped
    handlers.on("JobFailed", lambda data: got.append(("pascal", data)))
    remove = handlers.on_event(lambda event: got.append(("any", event.type)))
    handlers.on_state_change(lambda state: got.append(("state", state)))
    handlers.emit(RealtimeEvent("job.created", {"a": 1}))
    handlers.emit(RealtimeEvent("job.failed", {"b": 2}))
    handlers.emit_state("connected")  # type: ignore[arg-type]
    handlers.off("job.created", created)
    remove()
    handlers.emit(RealtimeEvent("job.created", {"a": 3}))
    assert got == [("typed", {"a": 1}), ("any", "job.created"), ("pascal", {"b": 2}), ("any", "job.failed"),
                   ("state", "connected")]
    with pytest.raises(ValueError):
        handlers.on("job.exploded", print)
