"""What the sync and async clients share about their channel: address, TLS and credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import grpc

from ..generated import spooled_pb2_grpc as pb_grpc
from . import _calls

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
DEFAULT_TLS_PORT = 443
DEFAULT_PLAINTEXT_PORT = 50051
# The server accepts requests up to a 1 MiB payload plus framing; answers can be as large.
DEFAULT_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
    # Streams idle on an empty queue stay open behind NATs; the server permits this rate.
    ("grpc.keepalive_time_ms", 60_000),
)


def split_host(address: str) -> tuple[str, str | None]:
    """("host", "port") from "host:port", "[v6]:port", "host" or "grpc://host:port"."""
    for scheme in ("grpc://", "grpcs://", "dns:///"):
        if address.startswith(scheme):
            address = address[len(scheme):]
    if address.startswith("["):
        host, _, rest = address.partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return host + "]", port or None
    if address.count(":") == 1:
        host, port = address.split(":")
        return host, port or None
    return address, None


@dataclass(frozen=True)
class ChannelConfig:
    """A validated target: where to connect, whether over TLS, and the auth metadata."""

    target: str
    use_tls: bool
    api_key: str
    root_certificates: bytes | None
    options: tuple[tuple[str, Any], ...]

    @classmethod
    def build(cls, address: str, api_key: str, use_tls: bool | None, root_certificates: bytes | None,
              options: Sequence[tuple[str, Any]] | None) -> "ChannelConfig":
        if not isinstance(address, str) or not address.strip():
            raise ValueError("address is required, for example 'localhost:50051'")
        key = api_key.strip() if isinstance(api_key, str) else ""
        if not key:
            raise ValueError("api_key is required for the gRPC API")
        host, port = split_host(address.strip())
        tls = use_tls if use_tls is not None else host.lower() not in LOCAL_HOSTS
        port = port or str(DEFAULT_TLS_PORT if tls else DEFAULT_PLAINTEXT_PORT)
        given = tuple(options or ())
        names = {name for name, _ in given}
        merged = given + tuple(o for o in DEFAULT_CHANNEL_OPTIONS if o[0] not in names)
        return cls(target=f"{host}:{port}", use_tls=tls, api_key=key, root_certificates=root_certificates,
                   options=merged)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Sent on every call: the API key as `x-api-key`."""
        return (("x-api-key", self.api_key),)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=self.root_certificates)

    def sync_channel(self) -> grpc.Channel:
        if self.use_tls:
            return grpc.secure_channel(self.target, self.credentials(), options=list(self.options))
        return grpc.insecure_channel(self.target, options=list(self.options))

    def aio_channel(self) -> grpc.aio.Channel:
        if self.use_tls:
            return grpc.aio.secure_channel(self.target, self.credentials(), options=list(self.options))
        return grpc.aio.insecure_channel(self.target, options=list(self.options))


class ClientCore:
    """What SpooledGrpcClient and AsyncSpooledGrpcClient share: the validated config, the
    deadlines, and both service stubs on one channel. Only waiting (blocking or await) differs."""

    def __init__(self, config: ChannelConfig, channel: Any, timeout: float, stream_timeout: float | None):
        self._config = config
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self._channel = channel
        self._queue_stub = pb_grpc.QueueServiceStub(channel)
        self._worker_stub = pb_grpc.WorkerServiceStub(channel)
        self._closed = False

    @property
    def address(self) -> str:
        """The target the channel connects to ("host:port")."""
        return self._config.target

    @property
    def use_tls(self) -> bool:
        return self._config.use_tls

    @property
    def config(self) -> ChannelConfig:
        """The validated channel settings (the async worker builds its own channel from them)."""
        return self._config

    def _invoke(self, call: _calls.Call) -> Any:
        """Starts a unary call with the key and the unary deadline (its answer, or an awaitable)."""
        stub = self._queue_stub if call.service == "queue" else self._worker_stub
        return getattr(stub, call.method)(call.request, metadata=self._config.metadata, timeout=self.timeout)

    def _open_stream_jobs(self, queue_name: str, worker_id: str, lease_duration_secs: int) -> Any:
        return self._queue_stub.StreamJobs(_calls.stream_jobs_request(queue_name, worker_id, lease_duration_secs),
                                           metadata=self._config.metadata, timeout=self.stream_timeout)


def state_name(state: Any) -> str:
    """A ChannelConnectivity as a lower-case word: idle, connecting, ready, transient_failure, shutdown."""
    return getattr(state, "name", str(state)).lower()
