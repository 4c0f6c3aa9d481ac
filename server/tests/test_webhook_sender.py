"""services/webhook_sender.py against an in-process transport (no network)."""

from __future__ import annotations

import httpx

from spooled_server.services import webhook_sender


async def _public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


async def test_a_huge_response_body_is_read_only_as_far_as_it_is_kept():
    sent = 0

    async def endless():
        nonlocal sent
        for _ in range(200):  # 12.5 MiB if read whole
            sent += 65_536
            yield b"x" * 65_536

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    async with httpx.AsyncClient(transport=transport) as client:
        outcome = await webhook_sender.send(client, "https://hooks.example.com/in", event="job.completed",
                                            body=b"{}", secret="s", attempt=1, delivery_id="d",
                                            allow_loopback=False, resolver=_public)
    assert outcome.success and outcome.status_code == 200
    assert outcome.response_body == "x" * webhook_sender.MAX_RESPONSE_CHARS
    assert sent <= 2 * 65_536


async def test_a_short_body_is_kept_whole_and_decoded_by_its_charset():
    body = "é ok".encode("latin-1")
    transport = httpx.MockTransport(lambda request: httpx.Response(
        500, content=body, headers={"content-type": "text/plain; charset=latin-1"}))
    async with httpx.AsyncClient(transport=transport) as client:
        outcome = await webhook_sender.send(client, "https://hooks.example.com/in", event="job.completed",
                                            body=b"{}", secret=None, attempt=1, delivery_id=None,
                                            allow_loopback=False, resolver=_public)
    assert not outcome.success and outcome.status_code == 500
    assert outcome.response_body == "é ok" and outcome.error == "HTTP 500"
