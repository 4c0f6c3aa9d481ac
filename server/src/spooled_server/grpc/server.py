"""Starts and stops the grpc.aio server beside HTTP, in the same process and event loop.

Every uvicorn worker process runs its own listener on GRPC_PORT: with WEB_CONCURRENCY > 1 the
socket is opened with SO_REUSEPORT and the kernel spreads connections over the processes. With
one process the port is bound exclusively, so a second server started on the same port by
mistake fails to bind instead of silently taking half the traffic. A port that cannot be bound
is logged as an error and HTTP keeps serving (gRPC is an extra listener, not a reason to die).
"""

from __future__ import annotations

import logging

import grpc

from ..generated import spooled_pb2_grpc as pb_grpc
from ..services.core import Core
from ..services.jobs import HARD_PAYLOAD_LIMIT
from .decoding import TolerantDecoding
from .queue_service import QueueServicer
from .shutdown import StreamGate
from .worker_service import WorkerServicer

log = logging.getLogger("spooled.grpc")

# Largest request accepted: a payload at the 1 MiB limit plus its protobuf framing and the
# other fields. Anything larger is refused by grpc itself with RESOURCE_EXHAUSTED before it
# is decoded; a payload just over the limit in JSON terms gets the same status from the
# service (PAYLOAD_TOO_LARGE in the error-code trailer).
MAX_RECEIVE_BYTES = HARD_PAYLOAD_LIMIT + 256 * 1024
# On stop, calls in flight get this long to finish before they are cancelled.
STOP_GRACE_SECS = 2.0


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


class GrpcServer:
    """spooled.v1 QueueService and WorkerService on settings.host:settings.grpc_port."""

    def __init__(self, core: Core):
        self.core = core
        self.port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._gate: StreamGate | None = None

    async def start(self) -> None:
        settings = self.core.settings
        if not settings.spooled_grpc_enabled or self._server is not None:
            return
        options = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
                   ("grpc.so_reuseport", 1 if settings.web_concurrency > 1 else 0),
                   # Idle streams (StreamJobs on an empty queue) stay up behind NATs and proxies.
                   ("grpc.keepalive_time_ms", 60_000),
                   ("grpc.keepalive_permit_without_calls", 1),
                   ("grpc.http2.min_ping_interval_without_data_ms", 10_000)]
        gate = StreamGate()
        server = grpc.aio.server(options=options, interceptors=[TolerantDecoding()])
        pb_grpc.add_QueueServiceServicer_to_server(QueueServicer(self.core, gate), server)
        pb_grpc.add_WorkerServiceServicer_to_server(WorkerServicer(self.core), server)
        address = _address(settings.host, settings.grpc_port)
        try:
            self.port = server.add_insecure_port(address)
        except RuntimeError as err:
            log.error("gRPC disabled: cannot listen on %s (%s)", address, err)
            return
        await server.start()
        self._server, self._gate = server, gate
        log.info("gRPC listening on %s", _address(settings.host, self.port))

    async def stop(self) -> None:
        server, gate = self._server, self._gate
        self._server = self._gate = None
        if server is None:
            return
        gate.close()  # idle streams end now with UNAVAILABLE; unary calls get the grace
        await server.stop(STOP_GRACE_SECS)
