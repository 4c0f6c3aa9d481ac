"""AsyncSpooledGrpcClient: the asyncio twin of SpooledGrpcClient, on grpc.aio.

Same constructor, services, models and errors; calls are coroutines and streams are async
iterables. Create it inside the event loop that will use it (grpc.aio channels belong to one
loop).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, AsyncIterator, Sequence

import grpc

from .._version import __version__
from ..generated import spooled_pb2 as pb
from . import _calls
from ._channel import ChannelConfig, ClientCore, state_name
from ._status import error_from_rpc
from .client import _notify, _StreamState, _to_proto
from .models import (GrpcCompleteBatchResponse, GrpcCompleteResponse, GrpcDequeueResponse, GrpcDeregisterResponse, GrpcEnqueueResponse,
                     GrpcFailResponse, GrpcGetJobResponse, GrpcHeartbeatResponse, GrpcJob, GrpcQueueStats,
                     GrpcRegisterWorkerResponse, GrpcRenewLeaseResponse, ProcessResponse, StreamOptions)
from .requests import GrpcCompleteRequest, ProcessRequest


class AsyncJobStream(_StreamState):
    """StreamJobs as an async iterable of GrpcJob; cancel() ends it quietly."""

    def __init__(self, call: Any, options: StreamOptions | None, timeout: float | None):
        super().__init__(options, timeout)
        self._call = call

    async def __aiter__(self) -> AsyncIterator[GrpcJob]:
        _notify(self._options.on_connected)
        try:
            async for message in self._call:
                yield GrpcJob.from_proto(message)
        except asyncio.CancelledError:
            if self._cancelled:
                return
            raise
        except grpc.RpcError as exc:
            if (error := self._failure(exc)) is not None:
                raise error from exc
        finally:
            self._end()

    def cancel(self) -> None:
        """Ends the stream; jobs already leased stay leased until settled or expired."""
        self._cancelled = True
        self._call.cancel()


class AsyncProcessJobsStream(_StreamState):
    """ProcessJobs on asyncio: await send(), async-iterate receive(), await end(), cancel()."""

    def __init__(self, call: Any, options: StreamOptions | None, timeout: float | None):
        super().__init__(options, timeout)
        self._call = call
        _notify(self._options.on_connected)

    def _raise(self, exc: grpc.RpcError) -> None:
        raise self._report(exc) from exc

    async def send(self, request: ProcessRequest | pb.ProcessRequest) -> None:
        """Sends one request (waits for flow control, not for the answer)."""
        try:
            await self._call.write(_to_proto(request))
        except grpc.RpcError as exc:
            self._raise(exc)

    async def end(self) -> None:
        """Half-closes: no more requests; pending answers still arrive."""
        try:
            await self._call.done_writing()
        except grpc.RpcError as exc:
            self._raise(exc)

    async def receive(self) -> AsyncIterator[ProcessResponse]:
        """The answers in order, until the server ends the stream or cancel()."""
        try:
            while True:
                message = await self._call.read()
                if message is grpc.aio.EOF:
                    return
                yield ProcessResponse.from_proto(message)
        except asyncio.CancelledError:
            if self._cancelled:
                return
            raise
        except grpc.RpcError as exc:
            if (error := self._failure(exc)) is not None:
                raise error from exc
        finally:
            self._end()

    def cancel(self) -> None:
        """Aborts the call at once."""
        self._cancelled = True
        self._call.cancel()


class AsyncGrpcQueueService:
    """spooled.v1.QueueService on asyncio (see GrpcQueueService for each call's rules)."""

    def __init__(self, client: "AsyncSpooledGrpcClient"):
        self._client = client

    async def enqueue(self, queue_name: str, payload: dict[str, Any] | None = None, *, priority: int = 0,
                      max_retries: int | None = None, timeout_seconds: int | None = None,
                      idempotency_key: str | None = None, tags: dict[str, str] | None = None,
                      scheduled_at: datetime | None = None) -> GrpcEnqueueResponse:
        """Enqueue."""
        return await self._client._unary(_calls.enqueue(
            queue_name, payload, priority=priority, max_retries=max_retries, timeout_seconds=timeout_seconds,
            idempotency_key=idempotency_key, tags=tags, scheduled_at=scheduled_at))

    async def dequeue(self, queue_name: str, worker_id: str, *, batch_size: int = 1,
                      lease_duration_secs: int = 30) -> GrpcDequeueResponse:
        """Dequeue."""
        return await self._client._unary(_calls.dequeue(queue_name, worker_id, batch_size=batch_size,
                                                        lease_duration_secs=lease_duration_secs))

    async def complete(self, job_id: str, worker_id: str, result: dict[str, Any] | None = None, *,
                       lease_id: str | None = None) -> GrpcCompleteResponse:
        """Complete."""
        return await self._client._unary(_calls.complete(job_id, worker_id, result, lease_id=lease_id))

    async def complete_batch(self, jobs: list[GrpcCompleteRequest | dict[str, Any]]) -> GrpcCompleteBatchResponse:
        """CompleteBatch (a server extension)."""
        return await self._client._unary(_calls.complete_batch(jobs))

    async def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool = True,
                   lease_id: str | None = None) -> GrpcFailResponse:
        """Fail."""
        return await self._client._unary(_calls.fail(job_id, worker_id, error, retry=retry, lease_id=lease_id))

    async def renew_lease(self, job_id: str, worker_id: str, extension_secs: int = 30, *,
                          lease_id: str | None = None) -> GrpcRenewLeaseResponse:
        """RenewLease."""
        return await self._client._unary(_calls.renew_lease(job_id, worker_id, extension_secs, lease_id=lease_id))

    async def get_job(self, job_id: str) -> GrpcGetJobResponse:
        """GetJob."""
        return await self._client._unary(_calls.get_job(job_id))

    async def get_queue_stats(self, queue_name: str) -> GrpcQueueStats:
        """GetQueueStats."""
        return await self._client._unary(_calls.get_queue_stats(queue_name))

    def stream_jobs(self, queue_name: str, worker_id: str, *, lease_duration_secs: int = 30,
                    options: StreamOptions | None = None) -> AsyncJobStream:
        """StreamJobs (not a coroutine: the call opens at once; iterate the result)."""
        call = self._client._open_stream_jobs(queue_name, worker_id, lease_duration_secs)
        return AsyncJobStream(call, options, self._client.stream_timeout)

    def process_jobs(self, options: StreamOptions | None = None) -> AsyncProcessJobsStream:
        """ProcessJobs (not a coroutine: the call opens at once)."""
        client = self._client
        call = client._queue_stub.ProcessJobs(metadata=client._config.metadata, timeout=client.stream_timeout)
        return AsyncProcessJobsStream(call, options, client.stream_timeout)


class AsyncGrpcWorkersService:
    """spooled.v1.WorkerService on asyncio."""

    def __init__(self, client: "AsyncSpooledGrpcClient"):
        self._client = client

    async def register(self, queue_name: str, hostname: str, *, worker_type: str = "python",
                       max_concurrency: int = 5, version: str = __version__,
                       metadata: dict[str, str] | None = None) -> GrpcRegisterWorkerResponse:
        """Register."""
        return await self._client._unary(_calls.register(queue_name, hostname, worker_type=worker_type,
                                                         max_concurrency=max_concurrency, version=version,
                                                         metadata=metadata))

    async def heartbeat(self, worker_id: str, *, current_jobs: int = 0, status: str = "healthy",
                        metadata: dict[str, str] | None = None) -> GrpcHeartbeatResponse:
        """Heartbeat."""
        return await self._client._unary(_calls.heartbeat(worker_id, current_jobs=current_jobs, status=status,
                                                          metadata=metadata))

    async def deregister(self, worker_id: str) -> GrpcDeregisterResponse:
        """Deregister."""
        return await self._client._unary(_calls.deregister(worker_id))


class AsyncSpooledGrpcClient(ClientCore):
    """The asyncio gRPC client; arguments as SpooledGrpcClient."""

    def __init__(self, address: str, api_key: str, *, use_tls: bool | None = None,
                 root_certificates: bytes | None = None, options: Sequence[tuple[str, Any]] | None = None,
                 timeout: float = 30.0, stream_timeout: float | None = None):
        config = ChannelConfig.build(address, api_key, use_tls, root_certificates, options)
        super().__init__(config, config.aio_channel(), timeout, stream_timeout)
        self.queue = AsyncGrpcQueueService(self)
        self.workers = AsyncGrpcWorkersService(self)

    @classmethod
    def from_config(cls, config: ChannelConfig, *, timeout: float = 30.0,
                    stream_timeout: float | None = None) -> "AsyncSpooledGrpcClient":
        """A client for the same target and key as an existing one (`SpooledGrpcClient.config`)."""
        return cls(config.target, config.api_key, use_tls=config.use_tls, root_certificates=config.root_certificates,
                   options=config.options, timeout=timeout, stream_timeout=stream_timeout)

    async def _unary(self, call: _calls.Call) -> Any:
        try:
            answer = await self._invoke(call)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, timeout=self.timeout) from exc
        return call.convert(answer)

    async def wait_for_ready(self, timeout: float = 5.0) -> bool:
        """True once the channel is ready, False after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def get_state(self, try_to_connect: bool = False) -> str:
        """idle, connecting, ready, transient_failure or shutdown."""
        if self._closed:
            return "shutdown"
        return state_name(self._channel.get_state(try_to_connect))

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        if not self._closed:
            self._closed = True
            await self._channel.close()

    async def __aenter__(self) -> "AsyncSpooledGrpcClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
