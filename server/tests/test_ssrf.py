"""The SSRF guard: URLs refused when a webhook is saved (through an injected resolver, so no
test touches real DNS), the re-check at delivery time, and loopback off by default."""

from __future__ import annotations

import httpx
import pytest

from conftest import Org, assert_error
from spooled_server.services import ssrf, webhook_sender

PUBLIC = "93.184.216.34"


def resolver_of(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]
    return resolve


NAMES = {
    "public.example": [PUBLIC],
    "private.example": ["10.1.2.3"],
    "mixed.example": [PUBLIC, "192.168.0.7"],
    "loop.example": ["127.0.0.1"],
    "meta.example": ["169.254.169.254"],
    "v6loop.example": ["::1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "cgnat.example": ["100.64.1.1"],
    "ula.example": ["fd12:3456::1"],
}
RESOLVE = resolver_of(NAMES)

REFUSED = [
    "ftp://public.example/hook",
    "file:///etc/passwd",
    "not a url",
    "http://",
    "http://user:pw@public.example/",
    "http://public.example@127.0.0.1/",
    "http://127.0.0.1/",
    "http://localhost:8080/",
    "http://foo.localhost/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a00:1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://private.example/",
    "http://mixed.example/",
    "http://loop.example/",
    "http://meta.example/",
    "http://v6loop.example/",
    "http://mapped.example/",
    "http://cgnat.example/",
    "http://ula.example/",
    "http://unknown.example/",
    "http://public.example:99999/",
    "http://public.example\\@10.0.0.1/",
    "http://public.example /",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_unsafe_urls_are_refused(url):
    with pytest.raises(ssrf.UnsafeUrl):
        await ssrf.check(url, allow_loopback=False, resolver=RESOLVE)


@pytest.mark.parametrize("url", ["http://private.example/", "http://mixed.example/", "http://10.0.0.1/",
                                 "http://169.254.169.254/", "http://[::ffff:127.0.0.1]/"])
async def test_allowing_loopback_never_allows_private_or_metadata(url):
    with pytest.raises(ssrf.UnsafeUrl):
        await ssrf.check(url, allow_loopback=True, resolver=RESOLVE)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://2130706433/", "http://localhost/",
                                 "http://loop.example/", "http://[::1]:8080/x"])
async def test_loopback_is_allowed_only_when_switched_on(url):
    target = await ssrf.check(url, allow_loopback=True, resolver=resolver_of({**NAMES, "localhost": ["127.0.0.1"]}))
    assert ssrf.ipaddress.ip_address(target.address).is_loopback


async def test_alternative_spellings_are_normalised_to_the_address():
    target = await ssrf.check("http://2130706433:81/a?b=1", allow_loopback=True, resolver=RESOLVE)
    assert (target.host, target.address, target.port, target.path) == ("127.0.0.1", "127.0.0.1", 81, "/a?b=1")
    assert ssrf.parse_literal("0x7f.1") == ssrf.ipaddress.ip_address("127.0.0.1")


async def test_public_names_and_addresses_pass():
    target = await ssrf.check("https://public.example/hook", allow_loopback=False, resolver=RESOLVE)
    assert (target.scheme, target.host, target.address, target.port) == ("https", "public.example", PUBLIC, 443)
    assert (await ssrf.check(f"http://{PUBLIC}/", allow_loopback=False, resolver=RESOLVE)).address == PUBLIC


async def test_a_name_that_turns_private_after_saving_is_blocked_at_delivery():
    answers = iter([[PUBLIC], ["10.0.0.5"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    await ssrf.validate_for_save("http://rebind.example/hook", allow_loopback=False, resolver=rebinding)
    sent = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        outcome = await webhook_sender.send(client, "http://rebind.example/hook", event="job.completed",
                                            body=b"{}", secret=None, attempt=1, delivery_id="d",
                                            allow_loopback=False, resolver=rebinding)
    assert not outcome.success and outcome.error.startswith("Request failed: blocked")
    assert sent == []


async def test_delivery_connects_to_the_checked_address_with_the_original_host():
    sent = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(302, headers={
        "Location": "http://10.0.0.1/"}))
    async with httpx.AsyncClient(transport=transport) as client:
        outcome = await webhook_sender.send(client, "http://public.example:8080/hook?x=1", event="job.created",
                                            body=b"{}", secret="s", attempt=2, delivery_id="d",
                                            allow_loopback=False, resolver=RESOLVE)
    assert len(sent) == 1  # the redirect is not followed, and it is a failure
    assert (sent[0].url.host, sent[0].url.port, sent[0].url.raw_path) == (PUBLIC, 8080, b"/hook?x=1")
    assert sent[0].headers["host"] == "public.example:8080"
    assert (outcome.success, outcome.status_code, outcome.error) == (False, 302, "HTTP 302")


async def test_api_refuses_loopback_by_default(org: Org):
    """The shared test server runs with the default settings: loopback is off."""
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://2130706433/", "http://[::1]/"):
        r = await org.client.post("/outgoing-webhooks", json={"name": "x", "url": url, "events": ["job.created"]})
        body = assert_error(r, 400, "VALIDATION_ERROR")
        assert body["details"][0]["field"] == "url"


async def test_api_refuses_private_metadata_and_credential_urls(org: Org):
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://user@example.com/", "ftp://example.com/",
                "http://0x7f000001/"):
        r = await org.client.post("/outgoing-webhooks", json={"name": "x", "url": url, "events": ["job.created"]})
        assert_error(r, 400, "VALIDATION_ERROR")
    r = await org.client.get("/outgoing-webhooks")
    assert r.json() == []


async def test_job_completion_webhook_is_guarded_at_create(org: Org):
    """A job's completion_webhook that names a forbidden address is refused when the job is
    created (400, nothing written), not discovered at delivery; names go to DNS only then."""
    for url in ("http://127.0.0.1:9/done", "http://localhost/done", "http://10.1.2.3/done",
                "http://169.254.169.254/latest", "http://[::ffff:10.0.0.1]/", "http://017700000001/",
                "http://user@example.com/done"):
        r = await org.client.post("/jobs", json={"queue_name": "guarded", "payload": {}, "completion_webhook": url})
        body = assert_error(r, 400, "VALIDATION_ERROR")
        assert body["details"][0]["field"] == "completion_webhook", url
    assert (await org.client.get("/jobs", params={"queue_name": "guarded"})).json() == []
    ok = await org.client.post("/jobs", json={"queue_name": "guarded", "payload": {},
                                              "completion_webhook": "https://hooks.example.com/done"})
    assert ok.status_code == 201, ok.text


def test_static_check_needs_no_resolver():
    ssrf.check_static("https://hooks.example.com/x", allow_loopback=False)
    ssrf.check_static("http://localhost:8080/x", allow_loopback=True)
    for url in ("http://10.0.0.1/", "http://localhost/", "gopher://example.com/", "http://metadata/"):
        with pytest.raises(ssrf.UnsafeUrl):
            ssrf.check_static(url, allow_loopback=False)
