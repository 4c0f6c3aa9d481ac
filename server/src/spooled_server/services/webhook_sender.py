"""One outgoing webhook HTTP request: guard, sign, POST to the pinned address, summarise.

Used by the dispatcher loop and by the synchronous test endpoint. Redirects are never followed
(a 3xx counts as a failure), and the connection goes to the address the SSRF guard approved,
with the original host in the Host header and as the TLS server name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import httpx

from . import ssrf, webhook_signing

TIMEOUT_SECS = 10.0
MAX_RESPONSE_CHARS = 500


@dataclass
class Outcome:
    success: bool
    status_code: int | None
    response_body: str | None
    error: str | None
    response_time_ms: int


async def _head_of_body(response: httpx.Response) -> str:
    """The first MAX_RESPONSE_CHARS characters of the body, reading no more than they need:
    the receiver is not ours, and its answer may be arbitrarily large."""
    budget = MAX_RESPONSE_CHARS * 4  # bytes enough for that many characters in UTF-8
    head = bytearray()
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= budget:
            break
    return bytes(head[:budget]).decode(response.encoding or "utf-8", errors="replace")[:MAX_RESPONSE_CHARS]


def _pinned_url(target: ssrf.Target) -> str:
    address = f"[{target.address}]" if ":" in target.address else target.address
    return f"{target.scheme}://{address}:{target.port}{target.path}"


def _host_header(target: ssrf.Target) -> str:
    default = 443 if target.scheme == "https" else 80
    return target.host if target.port == default else f"{target.host}:{target.port}"


async def send(client: httpx.AsyncClient, url: str, *, event: str, body: bytes, secret: str | None,
               attempt: int, delivery_id: str | None, allow_loopback: bool,
               resolver: ssrf.Resolver | None = None, clock: Callable[[], float] = time.time) -> Outcome:
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = await ssrf.check(url, allow_loopback=allow_loopback, resolver=resolver)
    except ssrf.UnsafeUrl as err:
        return Outcome(False, None, None, f"Request failed: blocked ({err})", elapsed())
    headers = webhook_signing.headers(event=event, body=body, secret=secret, timestamp=int(clock()),
                                      attempt=attempt, delivery_id=delivery_id)
    headers["Host"] = _host_header(target)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with client.stream("POST", _pinned_url(target), content=body, headers=headers,
                                 extensions=extensions, follow_redirects=False, timeout=TIMEOUT_SECS) as response:
            text = await _head_of_body(response)
    except httpx.TimeoutException:
        return Outcome(False, None, None, "Request failed: timeout", elapsed())
    except httpx.HTTPError as err:
        return Outcome(False, None, None, f"Request failed: {type(err).__name__}", elapsed())
    ok = 200 <= response.status_code < 300
    return Outcome(ok, response.status_code, text, None if ok else f"HTTP {response.status_code}", elapsed())
