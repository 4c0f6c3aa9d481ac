"""spooled.v1.QueueService over the job services (services/jobs.py): no SQL here.

Each RPC authenticates, turns proto3 zero values into "not given", validates with the REST
rules (requests.py), calls one service function and shapes the answer. Failures are domain
errors, rendered by status.py through errors.ERROR_TABLE.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import AsyncIterator

from ..api.fields import check_queue_name
from ..errors import (DomainError, LeaseExpired, NotFound, PayloadTooLarge, ServiceUnavailable,
                      ValidationFailed)
from ..generated import spooled_pb2 as pb
from ..generated import spooled_pb2_grpc as pb_grpc
from ..services import jobs, queue_stats
from ..services.auth import Caller
from ..services.core import Core
from . import job_stream
from . import requests as rq
from .auth import authenticate
from .convert import job_message, struct_to_json, timestamp_to_datetime
from .decoding import Undecodable
from .shutdown import StreamGate
from .status import domain_error, server_stream, unary

# gRPC clients refuse messages over 4 MiB unless configured otherwise, so a Dequeue answer
# keeps its jobs under this (always at least one) and hands the rest straight back.
DEQUEUE_RESPONSE_BUDGET = 4 * 1024 * 1024 - 64 * 1024
MAX_RESULT_BYTES = 1024 * 1024
# CompleteBatch (and ProcessJobs complete_batch) takes at most this many jobs, like REST's.
MAX_BATCH_COMPLETES = 100
# ProcessJobs requests of one stream worked on at once (their answers still go out in order).
PROCESS_PIPELINE_DEPTH = 256


def _queue_name(value: str) -> str:
    try:
        return check_queue_name(value)
    except ValueError as err:
        raise ValidationFailed(str(err), [{"field": "queue_name", "message": str(err), "code": "invalid"}]) from None


def _job_id(value: str) -> str:
    if not rq.known_id(value):
        raise NotFound("Job not found")
    return value


class QueueServicer(pb_grpc.QueueServiceServicer):
    def __init__(self, core: Core, gate: StreamGate):
        self.core = core
        self.gate = gate
        self.settles = job_stream.SettleSignals()

    # -- unary calls ---------------------------------------------------------------------------
    @unary
    async def Enqueue(self, request: pb.EnqueueRequest, context) -> pb.EnqueueResponse:
        who = await authenticate(self.core, context)
        scheduled_at = (timestamp_to_datetime(request.scheduled_at, "scheduled_at")
                        if request.HasField("scheduled_at") else None)
        args = rq.parse(rq.EnqueueArgs, queue_name=request.queue_name, priority=request.priority,
                        max_retries=rq.given(request.max_retries),
                        timeout_seconds=rq.given(request.timeout_seconds), scheduled_at=scheduled_at,
                        idempotency_key=rq.given(request.idempotency_key), tags=rq.given(dict(request.tags)))
        who.require_queue(args.queue_name)
        job = jobs.NewJob(queue_name=args.queue_name, payload=struct_to_json(request.payload, "payload"),
                          priority=args.priority, max_retries=args.max_retries,
                          timeout_seconds=args.timeout_seconds, scheduled_at=args.scheduled_at,
                          idempotency_key=args.idempotency_key, tags=args.tags)
        job_id, created = await jobs.create(self.core, who.org_id, job)
        return pb.EnqueueResponse(job_id=job_id, created=created)

    @unary
    async def Dequeue(self, request: pb.DequeueRequest, context) -> pb.DequeueResponse:
        who = await authenticate(self.core, context)
        return pb.DequeueResponse(jobs=await self._dequeue(who, request))

    @unary
    async def Complete(self, request: pb.CompleteRequest, context) -> pb.CompleteResponse:
        who = await authenticate(self.core, context)
        return await self._complete(who, request)

    @unary
    async def CompleteBatch(self, request: pb.CompleteBatchRequest, context) -> pb.CompleteBatchResponse:
        who = await authenticate(self.core, context)
        return await self._complete_batch(who, request)

    @unary
    async def Fail(self, request: pb.FailRequest, context) -> pb.FailResponse:
        who = await authenticate(self.core, context)
        return await self._fail(who, request)

    @unary
    async def RenewLease(self, request: pb.RenewLeaseRequest, context) -> pb.RenewLeaseResponse:
        who = await authenticate(self.core, context)
        return await self._renew(who, request)

    @unary
    async def GetJob(self, request: pb.GetJobRequest, context) -> pb.GetJobResponse:
        who = await authenticate(self.core, context)
        if not rq.known_id(request.job_id):
            return pb.GetJobResponse()
        try:
            row = await jobs.get(self.core, who.org_id, request.job_id)
        except NotFound:
            return pb.GetJobResponse()
        return pb.GetJobResponse(job=job_message(row))

    @unary
    async def GetQueueStats(self, request: pb.GetQueueStatsRequest, context) -> pb.GetQueueStatsResponse:
        who = await authenticate(self.core, context)
        name = _queue_name(request.queue_name)
        who.require_queue(name)
        return pb.GetQueueStatsResponse(**await queue_stats.counts(self.core, who.org_id, name))

    # -- streams -------------------------------------------------------------------------------
    @server_stream
    async def StreamJobs(self, request: pb.StreamJobsRequest, context) -> AsyncIterator[pb.Job]:
        """Leases jobs to the worker one at a time as they become ready (see job_stream.py for
        how many may be outstanding) until the client cancels."""
        who = await authenticate(self.core, context)
        args = rq.parse(rq.DequeueArgs, queue_name=request.queue_name, worker_id=request.worker_id,
                        batch_size=1)
        who.require_queue(args.queue_name)
        lease = rq.lease_secs(request.lease_duration_secs, self.core.settings.worker_lease_duration_secs)
        window = await job_stream.window_for(self.core, who.org_id, args.worker_id)
        leased = job_stream.leased_jobs(self.core, self.gate, self.settles, org_id=who.org_id,
                                        queue_name=args.queue_name, worker_id=args.worker_id,
                                        lease_secs=lease, window=window)
        async with aclosing(leased):  # its clean-up runs when the client cancels mid-send too
            async for row in leased:
                yield job_message(row, org_id=who.org_id, worker_id=args.worker_id)

    @server_stream
    async def ProcessJobs(self, request_iterator, context) -> AsyncIterator[pb.ProcessResponse]:
        """Requests are answered in order: complete, fail and renew answers carry no job id, so
        order is how a client matches them. They are worked on concurrently, up to
        PROCESS_PIPELINE_DEPTH at a time, so a worker that streams its completions gets them
        group-committed instead of paying a round trip each. A request that fails is answered
        with `error` and the stream goes on; only bad credentials or shutdown end it."""
        who = await authenticate(self.core, context)
        requests = self._until_closed(request_iterator)
        # Answers in request order; None marks the end of the requests.
        in_flight: asyncio.Queue[asyncio.Future | None] = asyncio.Queue(PROCESS_PIPELINE_DEPTH)
        ended: list[BaseException] = []

        async def read_requests() -> None:
            try:
                async with aclosing(requests):
                    async for request in requests:
                        answering = asyncio.ensure_future(self._answer(who, request))
                        try:
                            await in_flight.put(answering)
                        except asyncio.CancelledError:  # the stream ended while the queue was full
                            answering.cancel()
                            raise
            except Exception as exc:  # shutdown (ServiceUnavailable) or a broken stream
                ended.append(exc)
            await in_flight.put(None)

        reader = asyncio.ensure_future(read_requests())
        answers: list[pb.ProcessResponse] = []
        sent = 0
        try:
            while (answering := await in_flight.get()) is not None:
                answers, sent = await answering, 0
                for answer in answers:
                    yield answer
                    sent += 1
            if ended:
                raise ended[0]
        finally:
            reader.cancel()
            # The client went away: jobs leased by answers it never received go straight back
            # (no attempt counted) instead of waiting out their leases, as StreamJobs does.
            unsent = answers[sent:]
            while not in_flight.empty():
                leftover = in_flight.get_nowait()
                if leftover is None:
                    continue
                if leftover.done() and not leftover.cancelled():
                    unsent += leftover.result()
                else:
                    leftover.cancel()
            leases = [a.job.lease_id for a in unsent if a.WhichOneof("response") == "job"]
            if leases:
                await jobs.release_claims(self.core, who.org_id, leases)

    async def _answer(self, who: Caller, request: pb.ProcessRequest | Undecodable) -> list[pb.ProcessResponse]:
        try:
            if isinstance(request, Undecodable):
                raise request.error()
            kind = request.WhichOneof("request")
            if kind == "dequeue":
                return [pb.ProcessResponse(job=job) for job in await self._dequeue(who, request.dequeue)]
            if kind == "complete":
                return [pb.ProcessResponse(complete=await self._complete(who, request.complete))]
            if kind == "fail":
                return [pb.ProcessResponse(fail=await self._fail(who, request.fail))]
            if kind == "renew_lease":
                return [pb.ProcessResponse(renew_lease=await self._renew(who, request.renew_lease))]
            if kind == "complete_batch":
                return [pb.ProcessResponse(complete_batch=await self._complete_batch(who, request.complete_batch))]
            raise ValidationFailed("A ProcessRequest must set dequeue, complete, fail, renew_lease or complete_batch")
        except Exception as exc:
            error = domain_error(exc)
            return [pb.ProcessResponse(error=pb.ErrorResponse(code=error.code, message=error.message))]

    async def _until_closed(self, request_iterator) -> AsyncIterator[pb.ProcessRequest]:
        """The client's requests, until it half-closes; ends the stream if the server stops."""
        requests = request_iterator.__aiter__()
        closed = asyncio.ensure_future(self.gate.closed.wait())
        try:
            while True:
                following = asyncio.ensure_future(requests.__anext__())
                try:
                    await asyncio.wait((following, closed), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not following.done():
                        following.cancel()
                if not following.done() or following.cancelled():
                    raise ServiceUnavailable("The server is shutting down; reconnect")
                try:
                    request = following.result()
                except StopAsyncIteration:
                    return
                yield request
        finally:
            closed.cancel()

    # -- the operations, shared by the unary calls and ProcessJobs -----------------------------
    async def _dequeue(self, who: Caller, request: pb.DequeueRequest) -> list[pb.Job]:
        args = rq.parse(rq.DequeueArgs, queue_name=request.queue_name, worker_id=request.worker_id,
                        batch_size=request.batch_size)
        who.require_queue(args.queue_name)
        lease = rq.lease_secs(request.lease_duration_secs, self.core.settings.worker_lease_duration_secs)
        # The claim already trims to the budget by JSON payload size, in its own connection; the
        # loop below is exact about the protobuf encoding, which rarely trims any further.
        rows = await jobs.claim(self.core, who.org_id, args.queue_name, args.worker_id,
                                rq.batch_size(args.batch_size), lease, payload_cap=DEQUEUE_RESPONSE_BUDGET)
        kept: list[pb.Job] = []
        size = 0
        for row in rows:
            job = job_message(row, org_id=who.org_id, worker_id=args.worker_id)
            size += job.ByteSize() + 8  # + the field's tag and length prefix
            if kept and size > DEQUEUE_RESPONSE_BUDGET:
                break
            kept.append(job)
        if len(kept) < len(rows):
            await jobs.release_claims(self.core, who.org_id, [r["lease_id"] for r in rows[len(kept):]])
        return kept

    async def _complete(self, who: Caller, request: pb.CompleteRequest) -> pb.CompleteResponse:
        fence = rq.fence(request.worker_id, request.lease_id)
        job_id = _job_id(request.job_id)
        result = self._result(request)
        await jobs.complete(self.core, who.org_id, job_id, worker_id=fence.worker_id,
                            lease_id=fence.lease_id, result=result)
        self.settles.notify(who.org_id)
        return pb.CompleteResponse(success=True)

    async def _complete_batch(self, who: Caller, request: pb.CompleteBatchRequest) -> pb.CompleteBatchResponse:
        """Each item is judged as Complete would judge it and gets its own outcome, in order; the
        valid ones go to the group commit together."""
        if not 1 <= len(request.jobs) <= MAX_BATCH_COMPLETES:
            raise ValidationFailed("Validation failed", [{
                "field": "jobs", "message": f"send 1 to {MAX_BATCH_COMPLETES} jobs", "code": "invalid"}])
        outcomes: list[pb.CompleteOutcome | None] = []
        items, positions = [], []
        for item in request.jobs:
            try:
                fence = rq.fence(item.worker_id, item.lease_id)
                job_id = _job_id(item.job_id)
                result = self._result(item)
            except DomainError as err:
                outcomes.append(pb.CompleteOutcome(job_id=item.job_id, success=False,
                                                   error=pb.ErrorResponse(code=err.code, message=err.message)))
                continue
            positions.append(len(outcomes))
            outcomes.append(None)
            items.append({"job_id": job_id, "worker_id": fence.worker_id, "lease_id": fence.lease_id,
                          "result": result})
        if items:
            for at, outcome in zip(positions, await jobs.complete_batch(self.core, who.org_id, items)):
                error = outcome["error"]
                outcomes[at] = pb.CompleteOutcome(
                    job_id=outcome["job_id"], success=outcome["success"],
                    error=pb.ErrorResponse(code=error["code"], message=error["message"]) if error else None)
            self.settles.notify(who.org_id)
        ok = sum(1 for o in outcomes if o.success)
        return pb.CompleteBatchResponse(results=outcomes, success_count=ok, failure_count=len(outcomes) - ok)

    @staticmethod
    def _result(request: pb.CompleteRequest) -> dict | None:
        """A complete's result as JSON, within MAX_RESULT_BYTES (None when not sent)."""
        if not request.HasField("result"):
            return None
        result = struct_to_json(request.result, "result")
        size = jobs.payload_size(result)
        if size > MAX_RESULT_BYTES:
            raise PayloadTooLarge(f"Result is {size} bytes; the limit is {MAX_RESULT_BYTES} bytes",
                                  {"field": "result", "size": size, "limit": MAX_RESULT_BYTES})
        return result

    async def _fail(self, who: Caller, request: pb.FailRequest) -> pb.FailResponse:
        fence = rq.fence(request.worker_id, request.lease_id)
        job_id = _job_id(request.job_id)
        # proto3's default retry=false is meaningful here: it dead-letters (see the proto).
        outcome = await jobs.fail(self.core, who.org_id, job_id, worker_id=fence.worker_id,
                                  lease_id=fence.lease_id, error=rq.error_text(request.error),
                                  allow_retry=request.retry)
        self.settles.notify(who.org_id)
        return pb.FailResponse(success=True, will_retry=outcome["will_retry"],
                               next_retry_delay_secs=outcome["next_retry_delay_secs"])

    async def _renew(self, who: Caller, request: pb.RenewLeaseRequest) -> pb.RenewLeaseResponse:
        job_id = _job_id(request.job_id)
        if not request.worker_id and not request.lease_id:
            return pb.RenewLeaseResponse(success=False)  # holds no lease by definition
        fence = rq.fence(request.worker_id, request.lease_id)
        lease = rq.lease_secs(request.extension_secs, self.core.settings.worker_lease_duration_secs)
        try:
            expires = await jobs.heartbeat(self.core, who.org_id, job_id, worker_id=fence.worker_id,
                                           lease_id=fence.lease_id, lease_secs=lease)
        except LeaseExpired:
            return pb.RenewLeaseResponse(success=False)
        answer = pb.RenewLeaseResponse(success=True)
        answer.new_expires_at.FromDatetime(expires)
        return answer

