"""Pure-ASGI middleware: request ids, API version and rate-limit headers, body size limit,
request metrics."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BadRequest, NotFound, PayloadTooLarge, ValidationFailed, envelope, http_status
from ..metrics import REGISTRY
from . import hot_paths
from .deps import RATE_LIMIT_STATE
from .responses import render

# Past the limit, up to this many bytes are read and discarded before answering 413, so a
# client that sends its whole body before reading sees the answer instead of a reset.
# Anything larger is answered at once and the connection closed.
DRAIN_LIMIT = 8 * 1024 * 1024

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_VERSION = re.compile(r"^[A-Za-z0-9.]{1,16}$")
_NO_STATE: dict = {}


class BodyTooLarge(PayloadTooLarge):
    pass


class RequestContext:
    """Every response carries X-Request-Id and x-api-version; oversized bodies are refused
    before they are read (by Content-Length) or as soon as they pass the limit (chunked)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, api=None):
        self.app = app
        self.max_body = max_body_bytes
        self.api = api  # the application, for hot_paths (None: every request goes through routing)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        extra = [(b"x-request-id", request_id.encode()), (b"x-api-version", b"1")]
        started = time.perf_counter()
        status_holder = [500]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = list(message.get("headers", [])) + extra
                quota = scope.get("state", _NO_STATE).get(RATE_LIMIT_STATE)
                if quota is not None:  # set by deps.caller once the key's rate limit is taken
                    message["headers"] += [(b"x-ratelimit-limit", b"%d" % quota[0]),
                                           (b"x-ratelimit-remaining", b"%d" % quota[1]),
                                           (b"x-ratelimit-reset", b"%d" % quota[2])]
            await send(message)

        async def reject(error) -> None:
            body = render(envelope(error))
            await send_with_headers({"type": "http.response.start", "status": http_status(error),
                                     "headers": [(b"content-type", b"application/json"),
                                                 (b"content-length", str(len(body)).encode()),
                                                 (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})

        path = scope.get("path", "")
        query = scope.get("query_string", b"").lower()
        # PostgreSQL cannot store NUL in text, so no id or name contains one.
        if "\x00" in path:
            await reject(NotFound("Resource not found"))
            return
        if b"%00" in query or b"\x00" in query:
            fields = sorted({k for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
                             if "\x00" in k or "\x00" in v}) or ["query"]
            await reject(ValidationFailed("Query parameters must not contain NUL characters", [
                {"field": f, "message": "must not contain NUL characters", "code": "nul_character"}
                for f in fields]))
            return
        version = headers.get("x-api-version")
        if path.startswith("/api/v1") and version and _VERSION.match(version) and version != "1":
            await reject(BadRequest(f"Unsupported API version '{version}'; this server speaks version 1"))
            return
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await reject(BadRequest("Invalid Content-Length header"))
                return
            if int(declared) > self.max_body:
                if int(declared) <= DRAIN_LIMIT:
                    await _drain(receive, DRAIN_LIMIT)
                await reject(PayloadTooLarge(f"Request body exceeds {self.max_body} bytes"))
                return

        seen = 0
        max_body = self.max_body

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_body:
                    if message.get("more_body"):
                        await _drain(receive, DRAIN_LIMIT - seen)
                    raise BodyTooLarge(f"Request body exceeds {max_body} bytes",
                                       headers={"Connection": "close"})
            return message

        hot = hot_paths.match(scope) if self.api is not None else None
        try:
            if hot is not None:
                await hot_paths.serve(self.api, *hot, scope, limited_receive, send_with_headers)
            else:
                await self.app(scope, limited_receive, send_with_headers)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            REGISTRY.observe_request(scope.get("method", ""), label, status_holder[0],
                                     time.perf_counter() - started)


async def _drain(receive: Receive, budget: int) -> None:
    """Reads and discards the rest of a request body, up to `budget` bytes."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body"):
            return
