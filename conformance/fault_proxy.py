#!/usr/bin/env python3
"""A small HTTP/1.1 reverse proxy that injects faults on command (standard library only).

Clients under test talk to the proxy port; the proxy forwards each request to the upstream
server, unless the current fault mode says otherwise. A second port takes control requests:

    POST /control        {"mode": "pass"}
                         {"mode": "fail_next", "count": 2, "status": 503,
                          "headers": {"Retry-After": "1"}, "body": {...}}
                         {"mode": "delay", "ms": 500, "count": 3}      (count omitted = until changed)
                         {"mode": "reset_next", "count": 1}            (close without answering)
                         {"mode": "reset_next", "count": 1, "after_forward": true}
                                                  (forward, then drop the answer: "did it commit?")
                         {"mode": "blackhole"}                         (read requests, never answer)
    POST /control/reset  back to pass and every counter to zero
    POST /control/stats/reset   every counter to zero, the mode unchanged
    GET  /control/stats  {"mode", "remaining", "requests", "forwarded", "faulted", "connections"}

`requests` counts every request the proxy read from a client, `forwarded` those sent upstream,
`faulted` those answered (or dropped) by a fault. Scenarios assert on them: "exactly 3 attempts",
"no request was made while the circuit was open".

Each forwarded request uses its own upstream connection (`Connection: close`), and the answer is
re-framed with Content-Length, so client keep-alive works whatever the upstream does. Streaming
answers (SSE) are buffered until the upstream closes them, so streams do not go through this proxy.
An upstream that cannot be reached, closes early or answers something unparsable gives the client
a 502 `BAD_GATEWAY` saying why; a client request with unparsable framing gets a 400.

Run:  fault_proxy.py --upstream http://127.0.0.1:8080 [--listen 127.0.0.1:0] [--control 127.0.0.1:0]
It prints one JSON line with the bound `proxy_url` and `control_url`, then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024
MODES = ("pass", "fail_next", "delay", "reset_next", "blackhole")
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 408: "Request Timeout", 409: "Conflict",
           413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class BadRequest(Exception):
    """The client sent something this proxy cannot parse."""


class BadAnswer(Exception):
    """The upstream answered something this proxy cannot parse."""


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


@dataclass
class Fault:
    """The current mode. `remaining` None means "until told otherwise"."""

    mode: str = "pass"
    remaining: int | None = None
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None
    ms: int = 0
    after_forward: bool = False


@dataclass
class Stats:
    requests: int = 0
    forwarded: int = 0
    faulted: int = 0
    connections: int = 0


class FaultProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("upstream must be an http:// URL")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.fault = Fault()
        self.stats = Stats()
        self._blackholed: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ control
    def configure(self, spec: dict) -> dict:
        mode = spec.get("mode")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError("count must be a non-negative integer")
        if mode in ("fail_next", "reset_next") and count is None:
            count = 1
        fault = Fault(mode=mode, remaining=count)
        if mode == "fail_next":
            fault.status = int(spec.get("status", 503))
            fault.headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
            fault.body = spec.get("body")
        elif mode == "delay":
            fault.ms = int(spec.get("ms", 0))
        elif mode == "reset_next":
            fault.after_forward = bool(spec.get("after_forward", False))
        self.fault = fault
        if mode == "pass":
            self._release_blackholed()
        return self.snapshot()

    def reset(self) -> dict:
        self.fault = Fault()
        self.stats = Stats()
        self._release_blackholed()
        return self.snapshot()

    def snapshot(self) -> dict:
        return {"mode": self.fault.mode, "remaining": self.fault.remaining,
                "requests": self.stats.requests, "forwarded": self.stats.forwarded,
                "faulted": self.stats.faulted, "connections": self.stats.connections}

    def _release_blackholed(self) -> None:
        for writer in list(self._blackholed):
            writer.close()
        self._blackholed.clear()

    def _take_fault(self) -> Fault:
        """The fault for this request; counted modes fall back to pass when used up."""
        fault = self.fault
        if fault.mode == "pass":
            return fault
        if fault.remaining is not None:
            if fault.remaining <= 0:
                self.fault = Fault()
                return self.fault
            fault.remaining -= 1
            if fault.remaining == 0:
                self.fault = Fault()
        return fault

    # ------------------------------------------------------------------ proxy side
    async def handle_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            while True:
                try:
                    request = await read_request(reader, writer)
                except BadRequest as err:
                    await write_response(writer, 400, {"Content-Type": "text/plain"},
                                         str(err).encode(), keep_alive=False)
                    return
                if request is None:
                    return
                self.stats.requests += 1
                if not await self._serve_one(request, reader, writer):
                    return
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if writer not in self._blackholed:
                writer.close()

    async def _serve_one(self, request: Request, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> bool:
        """Answers one request; False when the client connection must not be reused."""
        fault = self._take_fault()
        if fault.mode == "blackhole":
            self.stats.faulted += 1
            self._blackholed.add(writer)
            await _drain_until_closed(reader, writer)
            self._blackholed.discard(writer)
            return False
        if fault.mode == "reset_next" and not fault.after_forward:
            self.stats.faulted += 1
            _abort(writer)
            return False
        if fault.mode == "fail_next":
            self.stats.faulted += 1
            body = fault.body
            if body is None:
                body = {"code": "SERVICE_UNAVAILABLE" if fault.status >= 500 else "INJECTED",
                        "message": f"fault injected by the conformance proxy ({fault.status})"}
            raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **fault.headers}
            await write_response(writer, fault.status, headers, raw, keep_alive=request.keep_alive)
            return True
        if fault.mode == "delay" and fault.ms > 0:
            await asyncio.sleep(fault.ms / 1000)
        try:
            status, headers, body = await self._forward(request)
        except (OSError, EOFError, BadAnswer) as err:
            # Unreachable, closed early (IncompleteReadError is an EOFError) or unparsable: the
            # client hears a 502 with the reason, never a dropped connection.
            message = json.dumps({"code": "BAD_GATEWAY", "message": f"upstream: {str(err) or type(err).__name__}"})
            await write_response(writer, 502, {"Content-Type": "application/json"}, message.encode(),
                                 keep_alive=False)
            return False
        self.stats.forwarded += 1
        if fault.mode == "reset_next":  # after_forward: the upstream acted, the client never hears
            self.stats.faulted += 1
            _abort(writer)
            return False
        await write_response(writer, status, headers, body, keep_alive=request.keep_alive)
        return True

    async def _forward(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            skip = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length"}
            lines = [f"{request.method} {request.target} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in request.headers if k.lower() not in skip]
            lines += [f"Content-Length: {len(request.body)}", "Connection: close", "", ""]
            up_writer.write("\r\n".join(lines).encode("latin-1") + request.body)
            await up_writer.drain()
            return await read_response(up_reader, request.method)
        finally:
            up_writer.close()


# ---------------------------------------------------------------------- HTTP parsing
async def _read_head(reader: asyncio.StreamReader) -> list[str] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial.strip():
            return None
        raise BadRequest("truncated request head") from err
    except asyncio.LimitOverrunError as err:
        raise BadRequest("request head too large") from err
    return head.decode("latin-1").split("\r\n")[:-2]


def _parse_headers(lines: list[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        if ":" not in line:
            raise BadRequest(f"bad header line {line!r}")
        key, value = line.split(":", 1)
        headers.append((key.strip(), value.strip()))
    return headers


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]],
                     until_eof: bool) -> bytes:
    try:
        return await _read_framed_body(reader, {k.lower(): v for k, v in headers}, until_eof)
    except (ValueError, asyncio.LimitOverrunError) as err:  # a size that is not a number, a huge chunk line
        raise BadRequest(f"bad body framing: {err}") from err


async def _read_framed_body(reader: asyncio.StreamReader, lookup: dict[str, str], until_eof: bool) -> bytes:
    if "chunked" in lookup.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = (await reader.readuntil(b"\r\n")).split(b";")[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if "content-length" in lookup:
        return await reader.readexactly(int(lookup["content-length"]))
    return await reader.read() if until_eof else b""


async def read_request(reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter | None = None) -> Request | None:
    lines = await _read_head(reader)
    if lines is None:
        return None
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError as err:
        raise BadRequest("bad request line") from err
    headers = _parse_headers(lines[1:])
    if writer is not None and any(k.lower() == "expect" and v.lower() == "100-continue" for k, v in headers):
        # curl (and so the PHP SDK) waits for this before sending a body; the proxy wants the body.
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        headers = [(k, v) for k, v in headers if k.lower() != "expect"]
    body = await _read_body(reader, headers, until_eof=False)
    return Request(method, target, version, headers, body)


async def read_response(reader: asyncio.StreamReader, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
    try:
        lines = await _read_head(reader)
        if lines is None:
            raise ConnectionError("upstream closed without answering")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError) as err:
            raise BadRequest(f"bad status line {lines[0][:100]!r}") from err
        headers = _parse_headers(lines[1:])
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        body = b"" if no_body else await _read_body(reader, headers, until_eof=True)
    except BadRequest as err:  # the parsers' error, but here the upstream is at fault
        raise BadAnswer(str(err)) from err
    return status, headers, body


async def write_response(writer: asyncio.StreamWriter, status: int, headers, body: bytes,
                         keep_alive: bool) -> None:
    items = headers.items() if isinstance(headers, dict) else headers
    skip = {"connection", "keep-alive", "transfer-encoding", "content-length"}
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in items if k.lower() not in skip]
    if status != 204 and status >= 200:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"Connection: {'keep-alive' if keep_alive else 'close'}", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1") + (body if status != 204 else b""))
    await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Closes the connection at once, without an answer (the peer sees a reset or EOF)."""
    transport = writer.transport
    transport.abort()


async def _drain_until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Swallows whatever the client sends until it gives up (or the blackhole is lifted)."""
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, OSError):
        pass
    writer.close()


# ---------------------------------------------------------------------- control side
async def handle_control(proxy: FaultProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        request = await read_request(reader)
        if request is None:
            return
        path = request.target.split("?", 1)[0].rstrip("/")
        try:
            if request.method == "GET" and path == "/control/stats":
                status, answer = 200, proxy.snapshot()
            elif request.method == "POST" and path == "/control/stats/reset":
                proxy.stats = Stats()
                status, answer = 200, proxy.snapshot()
            elif request.method == "POST" and path == "/control/reset":
                status, answer = 200, proxy.reset()
            elif request.method == "POST" and path == "/control":
                spec = json.loads(request.body or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("body must be a JSON object")
                status, answer = 200, proxy.configure(spec)
            else:
                status, answer = 404, {"code": "NOT_FOUND", "message": "unknown control route"}
        except (ValueError, TypeError) as err:
            status, answer = 400, {"code": "BAD_REQUEST", "message": str(err)}
        await write_response(writer, status, {"Content-Type": "application/json"},
                             json.dumps(answer).encode(), keep_alive=False)
    except (BadRequest, ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _split_hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HTTP fault-injection proxy for the conformance suite")
    parser.add_argument("--upstream", required=True, help="http://host:port of the server under test")
    parser.add_argument("--listen", default="127.0.0.1:0", help="proxy address (port 0 = any free port)")
    parser.add_argument("--control", default="127.0.0.1:0", help="control address (port 0 = any free port)")
    args = parser.parse_args(argv)

    proxy = FaultProxy(args.upstream)
    host, port = _split_hostport(args.listen)
    chost, cport = _split_hostport(args.control)
    server = await asyncio.start_server(proxy.handle_client, host, port, limit=MAX_HEAD_BYTES)
    control = await asyncio.start_server(lambda r, w: handle_control(proxy, r, w), chost, cport)
    bound = server.sockets[0].getsockname()
    cbound = control.sockets[0].getsockname()
    print(json.dumps({"proxy_url": f"http://{bound[0]}:{bound[1]}",
                      "control_url": f"http://{cbound[0]}:{cbound[1]}"}), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    control.close()
    proxy.reset()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
