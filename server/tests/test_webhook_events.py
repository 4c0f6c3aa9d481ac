"""Outgoing webhook events beyond jobs (migration 005): queue.paused/resumed,
worker.registered/deregistered and schedule.triggered reach a subscribed receiver, signed, once
per real transition, and only for the organization that changed."""

from __future__ import annotations

import httpx
import orjson

from conftest import wait_until
# The loopback-enabled server, its database and the receiver of the outgoing-webhook tests.
from test_webhooks_out import create_hook, loop_db, loop_server, new_org, receiver, verify  # noqa: F401

EVENTS = ["queue.paused", "queue.resumed", "worker.registered", "worker.deregistered", "schedule.triggered"]


async def deliveries(client: httpx.AsyncClient, hook_id: str) -> list[dict]:
    r = await client.get(f"/outgoing-webhooks/{hook_id}/deliveries")
    assert r.status_code == 200, r.text
    return r.json()


async def test_queue_pause_and_resume_are_delivered_once_per_transition(new_org, receiver):
    _, client = await new_org()
    hook = await create_hook(client, url=receiver.url, secret="q-secret", events=["queue.paused", "queue.resumed"])
    assert (await client.post("/queues/mail/pause", json={"reason": "maintenance"})).status_code == 200
    # Pausing a paused queue is not a second transition; resuming twice neither.
    assert (await client.post("/queues/mail/pause", json={"reason": "again"})).status_code == 200
    assert (await client.post("/queues/mail/resume")).status_code == 200
    await client.post("/queues/mail/resume")

    async def both_delivered() -> bool:
        return len(receiver.requests) >= 2 and all(
            d["status"] == "success" for d in await deliveries(client, hook["id"]))
    await wait_until(both_delivered, timeout=30)
    rows = await deliveries(client, hook["id"])
    assert sorted(d["event"] for d in rows) == ["queue.paused", "queue.resumed"]
    by_event = {orjson.loads(r.body)["event"]: r for r in receiver.requests}
    paused = orjson.loads(by_event["queue.paused"].body)
    assert paused["queue_name"] == "mail" and paused["reason"] == "maintenance" and paused["paused_at"]
    assert paused["organization_id"] == hook["organization_id"] and paused["timestamp"].endswith("Z")
    assert by_event["queue.paused"].headers["x-spooled-event"] == "queue.paused"
    assert all(verify(r, "q-secret") for r in receiver.requests)


async def test_worker_register_and_deregister_are_delivered(new_org, receiver):
    _, client = await new_org()
    hook = await create_hook(client, url=receiver.url, events=["worker.registered", "worker.deregistered"])
    r = await client.post("/workers/register", json={"queue_name": "mail", "hostname": "box-1"})
    assert r.status_code in (200, 201), r.text
    worker_id = r.json()["id"]
    # A heartbeat of a live worker is no registration.
    assert (await client.post(f"/workers/{worker_id}/heartbeat", json={"current_jobs": 0})).status_code == 200
    assert (await client.post(f"/workers/{worker_id}/deregister")).status_code in (200, 204)

    async def both_delivered() -> bool:
        return len(receiver.requests) >= 2
    await wait_until(both_delivered, timeout=30)
    events = [orjson.loads(r.body) for r in receiver.requests]
    assert sorted(e["event"] for e in events) == ["worker.deregistered", "worker.registered"]
    for event in events:
        assert event["worker_id"] == worker_id and event["queue_name"] == "mail" and event["hostname"] == "box-1"
    assert len(await deliveries(client, hook["id"])) == 2


async def test_schedule_fires_and_manual_triggers_are_delivered(new_org, receiver):
    _, client = await new_org()
    await create_hook(client, url=receiver.url, events=["schedule.triggered"])
    r = await client.post("/schedules", json={"name": "tick", "cron_expression": "* * * * * *",
                                              "queue_name": "ticks", "payload_template": {"n": 1}})
    assert r.status_code == 201, r.text
    schedule_id = r.json()["id"]

    async def fired_by_cron() -> bool:
        return any(not orjson.loads(req.body)["manual"] for req in receiver.requests)
    await wait_until(fired_by_cron, timeout=30)
    assert (await client.post(f"/schedules/{schedule_id}/pause")).status_code == 200
    triggered = (await client.post(f"/schedules/{schedule_id}/trigger")).json()

    async def manual_arrived() -> bool:
        return any(orjson.loads(req.body)["manual"] for req in receiver.requests)
    await wait_until(manual_arrived, timeout=30)
    events = [orjson.loads(req.body) for req in receiver.requests]
    cron_event = next(e for e in events if not e["manual"])
    manual_event = next(e for e in events if e["manual"])
    assert cron_event["schedule_id"] == schedule_id and cron_event["schedule_name"] == "tick"
    assert cron_event["queue_name"] == "ticks" and cron_event["status"] == "completed"
    job = (await client.get(f"/jobs/{cron_event['job_id']}")).json()
    assert job["queue_name"] == "ticks" and job["payload"] == {"n": 1}
    assert cron_event["fire_time"].endswith("Z")
    assert manual_event["job_id"] == triggered["job_id"] and manual_event["schedule_id"] == schedule_id


async def test_other_organizations_events_are_not_delivered(new_org, receiver):
    (_, watcher), (_, other) = await new_org(), await new_org()
    hook = await create_hook(watcher, url=receiver.url, events=EVENTS)
    await other.post("/queues/mail/pause", json={})
    await other.post("/workers/register", json={"queue_name": "mail", "hostname": "elsewhere"})
    # The watcher's own change is delivered; by then the other's would have been written too.
    await watcher.post("/queues/own/pause", json={})

    async def own_delivered() -> bool:
        return len(receiver.requests) >= 1
    await wait_until(own_delivered, timeout=30)
    rows = await deliveries(watcher, hook["id"])
    assert [d["event"] for d in rows] == ["queue.paused"]
    assert [orjson.loads(r.body)["queue_name"] for r in receiver.requests] == ["own"]
