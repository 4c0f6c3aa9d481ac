"""SpooledGrpcClient: the blocking client of the spooled.v1 gRPC API.

    with SpooledGrpcClient("localhost:50051", "sp_live_...") as grpc_client:
        job_id = grpc_client.queue.enqueue("emails", {"to": "a@example.com"}).job_id
        for job in grpc_client.queue.stream_jobs("emails", worker_id):
            ...

Every call sends the API key as `x-api-key` metadata and has a deadline of `timeout` seconds
(streams: `stream_timeout`, None for none). Failures raise the SpooledError the REST API would
raise for the same problem (see _status.py). Calls are not retried: the worker reconnects its
stream itself, and a retried Enqueue is only safe with an idempotency_key.
"""

from __future__ import annotations

import queue as queue_module
import threading
from datetime import datetime
from typing import Any, Iterator, Sequence

import grpc

from .._version import __version__
from ..generated import spooled_pb2 as pb
from ..generated import spooled_pb2_grpc as pb_grpc
from . import _calls
from ._channel import ChannelConfig, ClientCore, state_name
from ._status import error_from_rpc
from .models import (GrpcCompleteBatchResponse, GrpcCompleteResponse, GrpcDequeueResponse, GrpcDeregisterResponse, GrpcEnqueueResponse,
                     GrpcFailResponse, GrpcGetJobResponse, GrpcHeartbeatResponse, GrpcJob, GrpcQueueStats,
                     GrpcRegisterWorkerResponse, GrpcRenewLeaseResponse, ProcessResponse, StreamOptions)
from .requests import GrpcCompleteRequest, ProcessRequest

_END = object()


def _notify(callback: Any, *args: Any) -> None:
    if callback is not None:
        try:
            callback(*args)
        except Exception:  # a user callback must not break the stream
            pass


def _to_proto(request: ProcessRequest | pb.ProcessRequest) -> pb.ProcessRequest:
    return request if isinstance(request, pb.ProcessRequest) else request.to_proto()


def _cancelled(error: grpc.RpcError) -> bool:
    try:
        return error.code() == grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]
    except Exception:
        return False


class _StreamState:
    """What every stream (sync and async, StreamJobs and ProcessJobs) tracks: its callbacks,
    whether the caller cancelled it, and whether on_end has been called."""

    def __init__(self, options: StreamOptions | None, timeout: float | None):
        self._options = options or StreamOptions()
        self._timeout = timeout
        self._cancelled = False
        self._ended = False

    def _failure(self, exc: grpc.RpcError) -> Exception | None:
        """The SpooledError to raise for a broken call (on_error told), or None when the caller's
        own cancel() ended it."""
        if self._cancelled and _cancelled(exc):
            return None
        return self._report(exc)

    def _report(self, exc: grpc.RpcError) -> Exception:
        """`exc` as its SpooledError, after telling on_error."""
        error = error_from_rpc(exc, timeout=self._timeout)
        _notify(self._options.on_error, error)
        return error

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            _notify(self._options.on_end)


class JobStream(_StreamState):
    """The jobs StreamJobs leases to one worker, as they become ready. Iterate it for GrpcJob;
    cancel() ends it (iteration then stops quietly). A broken stream raises its SpooledError."""

    def __init__(self, call: Any, options: StreamOptions | None, timeout: float | None):
        super().__init__(options, timeout)
        self._call = call

    def __iter__(self) -> Iterator[GrpcJob]:
        _notify(self._options.on_connected)
        try:
            for message in self._call:
                yield GrpcJob.from_proto(message)
        except grpc.RpcError as exc:
            if (error := self._failure(exc)) is not None:
                raise error from exc
        finally:
            self._end()

    def cancel(self) -> None:
        """Ends the stream; jobs already leased stay leased until completed, failed or expired."""
        self._cancelled = True
        self._call.cancel()

    def __enter__(self) -> "JobStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()


class ProcessJobsStream(_StreamState):
    """One ProcessJobs call: send() requests, iterate receive() for the answers, in order. A
    dequeue is answered by one `job` per leased job (none when nothing is ready); complete,
    fail and renew_lease by exactly one answer each; a failed request by `error`."""

    def __init__(self, stub: pb_grpc.QueueServiceStub, metadata: Any, timeout: float | None,
                 options: StreamOptions | None):
        super().__init__(options, timeout)
        self._outbox: queue_module.Queue[Any] = queue_module.Queue()
        self._call = stub.ProcessJobs(self._requests(), metadata=metadata, timeout=timeout)
        _notify(self._options.on_connected)

    def _requests(self) -> Iterator[pb.ProcessRequest]:
        while True:
            item = self._outbox.get()
            if item is _END:
                return
            yield item

    def send(self, request: ProcessRequest | pb.ProcessRequest) -> None:
        """Queues one request (never blocks)."""
        self._outbox.put(_to_proto(request))

    def end(self) -> None:
        """Half-closes: no more requests; the answers still pending arrive, then receive() ends."""
        self._outbox.put(_END)

    def receive(self) -> Iterator[ProcessResponse]:
        """The answers, until the server ends the stream (after end()) or cancel()."""
        try:
            for message in self._call:
                yield ProcessResponse.from_proto(message)
        except grpc.RpcError as exc:
            if (error := self._failure(exc)) is not None:
                raise error from exc
        finally:
            self._end()

    def cancel(self) -> None:
        """Aborts the call at once."""
        self._cancelled = True
        self._outbox.put(_END)
        self._call.cancel()

    def __enter__(self) -> "ProcessJobsStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()


class GrpcQueueService:
    """spooled.v1.QueueService. Reached as `SpooledGrpcClient.queue`."""

    def __init__(self, client: "SpooledGrpcClient"):
        self._client = client

    def enqueue(self, queue_name: str, payload: dict[str, Any] | None = None, *, priority: int = 0,
                max_retries: int | None = None, timeout_seconds: int | None = None,
                idempotency_key: str | None = None, tags: dict[str, str] | None = None,
                scheduled_at: datetime | None = None) -> GrpcEnqueueResponse:
        """Enqueue: creates a job (or returns the one holding `idempotency_key`)."""
        return self._client._unary(_calls.enqueue(
            queue_name, payload, priority=priority, max_retries=max_retries, timeout_seconds=timeout_seconds,
            idempotency_key=idempotency_key, tags=tags, scheduled_at=scheduled_at))

    def dequeue(self, queue_name: str, worker_id: str, *, batch_size: int = 1,
                lease_duration_secs: int = 30) -> GrpcDequeueResponse:
        """Dequeue: leases up to batch_size ready jobs (none is not an error)."""
        return self._client._unary(_calls.dequeue(queue_name, worker_id, batch_size=batch_size,
                                                  lease_duration_secs=lease_duration_secs))

    def complete(self, job_id: str, worker_id: str, result: dict[str, Any] | None = None, *,
                 lease_id: str | None = None) -> GrpcCompleteResponse:
        """Complete: a stale lease raises LeaseExpiredError (a ConflictError)."""
        return self._client._unary(_calls.complete(job_id, worker_id, result, lease_id=lease_id))

    def complete_batch(self, jobs: list[GrpcCompleteRequest | dict[str, Any]]) -> GrpcCompleteBatchResponse:
        """CompleteBatch (a server extension): up to 100 completes, each judged alone; a stale
        lease or unknown job is that item's outcome, not an exception."""
        return self._client._unary(_calls.complete_batch(jobs))

    def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool = True,
             lease_id: str | None = None) -> GrpcFailResponse:
        """Fail: retry=True retries with backoff while retries remain; False dead-letters."""
        return self._client._unary(_calls.fail(job_id, worker_id, error, retry=retry, lease_id=lease_id))

    def renew_lease(self, job_id: str, worker_id: str, extension_secs: int = 30, *,
                    lease_id: str | None = None) -> GrpcRenewLeaseResponse:
        """RenewLease: success is False when the caller no longer holds the lease."""
        return self._client._unary(_calls.renew_lease(job_id, worker_id, extension_secs, lease_id=lease_id))

    def get_job(self, job_id: str) -> GrpcGetJobResponse:
        """GetJob: `job` is None for an unknown id."""
        return self._client._unary(_calls.get_job(job_id))

    def get_queue_stats(self, queue_name: str) -> GrpcQueueStats:
        """GetQueueStats: counts by status (all 0 for an unknown queue)."""
        return self._client._unary(_calls.get_queue_stats(queue_name))

    def stream_jobs(self, queue_name: str, worker_id: str, *, lease_duration_secs: int = 30,
                    options: StreamOptions | None = None) -> JobStream:
        """StreamJobs: jobs leased to `worker_id` as they become ready. The server keeps at most
        the worker's registered max_concurrency (5 if unregistered) unsettled at once."""
        call = self._client._open_stream_jobs(queue_name, worker_id, lease_duration_secs)
        return JobStream(call, options, self._client.stream_timeout)

    def process_jobs(self, options: StreamOptions | None = None) -> ProcessJobsStream:
        """ProcessJobs: one bidirectional stream for dequeue, complete, fail and renew_lease."""
        client = self._client
        return ProcessJobsStream(client._queue_stub, client._config.metadata, client.stream_timeout, options)


class GrpcWorkersService:
    """spooled.v1.WorkerService. Reached as `SpooledGrpcClient.workers`."""

    def __init__(self, client: "SpooledGrpcClient"):
        self._client = client

    def register(self, queue_name: str, hostname: str, *, worker_type: str = "python", max_concurrency: int = 5,
                 version: str = __version__, metadata: dict[str, str] | None = None) -> GrpcRegisterWorkerResponse:
        """Register: a new worker; the server chooses its id."""
        return self._client._unary(_calls.register(queue_name, hostname, worker_type=worker_type,
                                                   max_concurrency=max_concurrency, version=version,
                                                   metadata=metadata))

    def heartbeat(self, worker_id: str, *, current_jobs: int = 0, status: str = "healthy",
                  metadata: dict[str, str] | None = None) -> GrpcHeartbeatResponse:
        """Heartbeat: acknowledged is False for an unknown worker."""
        return self._client._unary(_calls.heartbeat(worker_id, current_jobs=current_jobs, status=status,
                                                    metadata=metadata))

    def deregister(self, worker_id: str) -> GrpcDeregisterResponse:
        """Deregister: marks the worker offline and returns its leased jobs to the queue."""
        return self._client._unary(_calls.deregister(worker_id))


class SpooledGrpcClient(ClientCore):
    """Blocking client of the spooled.v1 gRPC API.

    address: "host:port" (port defaults to 443 with TLS, 50051 without). use_tls: None means TLS
    except for localhost, 127.0.0.1 and [::1]. root_certificates: PEM bytes for a private CA.
    options: extra grpc channel options. timeout: deadline of each unary call in seconds;
    stream_timeout: of each stream (None: none).
    """

    def __init__(self, address: str, api_key: str, *, use_tls: bool | None = None,
                 root_certificates: bytes | None = None, options: Sequence[tuple[str, Any]] | None = None,
                 timeout: float = 30.0, stream_timeout: float | None = None):
        config = ChannelConfig.build(address, api_key, use_tls, root_certificates, options)
        super().__init__(config, config.sync_channel(), timeout, stream_timeout)
        self.queue = GrpcQueueService(self)
        self.workers = GrpcWorkersService(self)

    def _unary(self, call: _calls.Call) -> Any:
        try:
            answer = self._invoke(call)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, timeout=self.timeout) from exc
        return call.convert(answer)

    def wait_for_ready(self, timeout: float = 5.0) -> bool:
        """Connects and returns True once the channel is ready, False after `timeout` seconds."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False
        return True

    def get_state(self, try_to_connect: bool = False) -> str:
        """The channel's state: idle, connecting, ready, transient_failure or shutdown."""
        if self._closed:
            return "shutdown"
        seen: list[Any] = []
        arrived = threading.Event()

        def record(state: Any) -> None:
            seen.append(state)
            arrived.set()

        self._channel.subscribe(record, try_to_connect=try_to_connect)
        try:
            arrived.wait(1.0)  # grpc reports the current state at once, on its own thread
        finally:
            self._channel.unsubscribe(record)
        return state_name(seen[0]) if seen else "idle"

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> "SpooledGrpcClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
