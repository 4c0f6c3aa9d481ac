"""SpooledGrpcClient and AsyncSpooledGrpcClient against in-process servers built on the
generated servicer bases: what goes on the wire (metadata, fields), how failures and streams
surface. Waits are on events with deadlines; nothing sleeps."""

from __future__ import annotations

import asyncio
import socket
import threading
from concurrent import futures

import grpc
import pytest

from spooled import AuthenticationError, LeaseExpiredError, NetworkError, TimeoutError
from spooled.generated import spooled_pb2 as pb
from spooled.generated import spooled_pb2_grpc as pb_grpc
from spooled.grpc import AsyncSpooledGrpcClient, SpooledGrpcClient, StreamOptions

KEY = "sp_test_unit_grpc_key"
DEADLINE = 10.0


class Servicer(pb_grpc.QueueServiceServicer):
    """Records what it receives; behaviour per test through attributes."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.requests: list[object] = []
        self.release = threading.Event()
        self.stream_break = False

    def _seen(self, request, context) -> None:
        self.metadata.append({k: v for k, v in context.invocation_metadata()})
        self.requests.append(request)

    def Enqueue(self, request, context):
        self._seen(request, context)
        if request.queue_name == "locked":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "Invalid API key")
        return pb.EnqueueResponse(job_id="j-" + request.queue_name, created=True)

    def Complete(self, request, context):
        self._seen(request, context)
        context.set_trailing_metadata((("spooled-error-code", "LEASE_EXPIRED"),))
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "lease gone")

    def GetQueueStats(self, request, context):
        self._seen(request, context)
        self.release.wait(DEADLINE)  # outlives a short client deadline
        return pb.GetQueueStatsResponse(queue_name=request.queue_name)

    def StreamJobs(self, request, context):
        self._seen(request, context)
        for n in range(2):
            yield pb.Job(id=f"s{n}", queue_name=request.queue_name, lease_id=f"l{n}")
        if self.stream_break:
            context.abort(grpc.StatusCode.UNAVAILABLE, "server stopping")
        self.release.wait(DEADLINE)


@pytest.fixture
def served():
    servicer = Servicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_QueueServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    client = SpooledGrpcClient(f"127.0.0.1:{port}", KEY, timeout=5.0)
    yield servicer, client
    servicer.release.set()
    client.close()
    server.stop(None)


def test_unary_call_sends_the_key_and_converts_the_answer(served):
    servicer, client = served
    answer = client.queue.enqueue("emails", {"to": "a"}, priority=3, idempotency_key="k1")
    assert (answer.job_id, answer.created) == ("j-emails", True)
    assert servicer.metadata[0]["x-api-key"] == KEY
    sent = servicer.requests[0]
    assert (sent.priority, sent.idempotency_key, dict(sent.payload)) == (3, "k1", {"to": "a"})


def test_statuses_become_typed_errors(served):
    _, client = served
    with pytest.raises(AuthenticationError) as caught:
        client.queue.enqueue("locked", {})
    assert caught.value.message == "Invalid API key"
    with pytest.raises(LeaseExpiredError) as stale:
        client.queue.complete("j1", "w1", lease_id="old")
    assert stale.value.code == "LEASE_EXPIRED" and stale.value.status_code == 409


def test_a_deadline_is_a_timeout_error(served):
    _, client = served
    client.timeout = 0.2
    with pytest.raises(TimeoutError) as caught:
        client.queue.get_queue_stats("q")
    assert caught.value.timeout_seconds == 0.2


def test_stream_cancel_ends_iteration_quietly(served):
    servicer, client = served
    calls: list[str] = []
    stream = client.queue.stream_jobs("q", "w1", lease_duration_secs=12, options=StreamOptions(
        on_connected=lambda: calls.append("connected"), on_end=lambda: calls.append("end"),
        on_error=lambda err: calls.append("error")))
    seen = []
    for job in stream:
        seen.append(job.id)
        if len(seen) == 2:
            stream.cancel()
    assert seen == ["s0", "s1"] and calls == ["connected", "end"]
    assert servicer.requests[0].lease_duration_secs == 12


def test_a_broken_stream_raises_its_error(served):
    servicer, client = served
    servicer.stream_break = True
    errors: list[Exception] = []
    stream = client.queue.stream_jobs("q", "w1", options=StreamOptions(on_error=errors.append))
    seen = []
    with pytest.raises(NetworkError):
        for job in stream:
            seen.append(job.id)
    assert seen == ["s0", "s1"] and isinstance(errors[0], NetworkError)


def test_an_unreachable_server_is_a_network_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with SpooledGrpcClient(f"127.0.0.1:{port}", KEY, timeout=5.0) as client:
            assert client.wait_for_ready(0.2) is False
            with pytest.raises(NetworkError):
                client.queue.enqueue("q", {})
            assert client.get_state() in ("transient_failure", "connecting", "idle")
    assert client.get_state() == "shutdown"


class AsyncServicer(pb_grpc.QueueServiceServicer):
    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}

    async def Enqueue(self, request, context):
        self.metadata = {k: v for k, v in context.invocation_metadata()}
        return pb.EnqueueResponse(job_id="a1", created=False)

    async def StreamJobs(self, request, context):
        yield pb.Job(id="a-job", payload=None)
        await asyncio.Event().wait()  # idle until the client cancels

    async def ProcessJobs(self, request_iterator, context):
        async for request in request_iterator:
            if request.WhichOneof("request") == "fail":
                yield pb.ProcessResponse(fail=pb.FailResponse(success=True, will_retry=request.fail.retry))
            else:
                yield pb.ProcessResponse(error=pb.ErrorResponse(code="VALIDATION_ERROR", message="only fail"))


async def test_async_client_unary_stream_and_bidi():
    from spooled.grpc import GrpcFailRequest, GrpcRenewLeaseRequest, ProcessRequest
    servicer = AsyncServicer()
    server = grpc.aio.server()
    pb_grpc.add_QueueServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with AsyncSpooledGrpcClient(f"localhost:{port}", KEY) as client:
            assert client.use_tls is False
            assert (await client.queue.enqueue("q")).created is False
            assert servicer.metadata["x-api-key"] == KEY
            stream = client.queue.stream_jobs("q", "w")
            async for job in stream:
                assert job.id == "a-job" and job.payload == {}
                stream.cancel()
            bidi = client.queue.process_jobs()
            await bidi.send(ProcessRequest(fail=GrpcFailRequest("j", "w", "boom", retry=False)))
            await bidi.send(ProcessRequest(renew_lease=GrpcRenewLeaseRequest("j", "w")))
            await bidi.end()
            answers = [a async for a in bidi.receive()]
            assert [a.kind for a in answers] == ["fail", "error"] and answers[0].fail.will_retry is False
            assert answers[1].error.code == "VALIDATION_ERROR"
            assert client.get_state() == "ready"
    finally:
        await server.stop(None)
