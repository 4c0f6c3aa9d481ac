"""gRPC test fixtures, loaded by the gRPC test modules through `pytest_plugins`.

The shared `server` fixture (conftest.py) does not choose a gRPC port, so these tests start
their own server process with gRPC on a free port (same database, so organizations made by
`make_org` work on both). Being a plugin, the fixtures are session-wide: one extra server
for every gRPC test module.
"""

from __future__ import annotations

from typing import AsyncIterator

import grpc
import pytest

from conftest import Org, ServerProcess, free_port, start_server, stop_server
from spooled_server.generated import spooled_pb2 as pb
from spooled_server.generated import spooled_pb2_grpc as pb_grpc


class GrpcServerProcess:
    def __init__(self, server: ServerProcess, target: str):
        self.server = server
        self.target = target


def start_grpc_server(postgres_url: str, **env: str) -> GrpcServerProcess:
    port = free_port()
    server = start_server(postgres_url, GRPC_PORT=str(port), SPOOLED_GRPC_ENABLED="true", **env)
    return GrpcServerProcess(server, f"127.0.0.1:{port}")


@pytest.fixture(scope="session")
def grpc_server(postgres_url: str) -> GrpcServerProcess:
    srv = start_grpc_server(postgres_url)
    yield srv
    stop_server(srv.server)
    log = srv.server.log_tail(200_000)
    assert "Traceback" not in log and "unhandled error" not in log, log


@pytest.fixture
async def channel(grpc_server: GrpcServerProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(grpc_server.target) as ch:
        yield ch


@pytest.fixture
def queues(channel) -> pb_grpc.QueueServiceStub:
    return pb_grpc.QueueServiceStub(channel)


@pytest.fixture
def workers(channel) -> pb_grpc.WorkerServiceStub:
    return pb_grpc.WorkerServiceStub(channel)


def key(org: Org) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying the organization's API key, as the Spooled SDKs send it."""
    return (("x-api-key", org.api_key),)


async def expect_status(call, code: grpc.StatusCode, error_code: str | None = None) -> grpc.aio.AioRpcError:
    """Awaits a call that must fail with `code` (and, if given, the spooled-error-code trailer)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    err = caught.value
    assert err.code() == code, (err.code(), err.details())
    assert "Traceback" not in (err.details() or "")
    if error_code is not None:
        trailers = dict(err.trailing_metadata() or ())
        assert trailers.get("spooled-error-code") == error_code, trailers
    return err


async def enqueue(queues, org: Org, queue: str = "q", **fields) -> str:
    fields.setdefault("payload", {})
    request = pb.EnqueueRequest(queue_name=queue, **{k: v for k, v in fields.items() if k != "payload"})
    request.payload.update(fields["payload"])
    reply = await queues.Enqueue(request, metadata=key(org))
    return reply.job_id


async def dequeue_one(queues, org: Org, queue: str = "q", worker: str = "w1", **fields) -> pb.Job:
    reply = await queues.Dequeue(pb.DequeueRequest(queue_name=queue, worker_id=worker, **fields),
                                 metadata=key(org))
    assert len(reply.jobs) == 1, reply
    return reply.jobs[0]
