"""The workers' complete coalescing (REST and gRPC): a lone complete goes out at once; those that
arrive while one is in flight go out together in one batch call, each keeping its own outcome;
a server without the batch call is remembered; a batch too large as a whole goes out one by one.
Waits are events with deadlines, never sleeps."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from spooled import LeaseExpiredError, NetworkError, NotFoundError, PayloadTooLargeError, ServerError, SpooledError
from spooled.grpc.models import GrpcCompleteBatchResponse, GrpcCompleteOutcome, GrpcErrorResponse
from spooled.grpc.requests import GrpcCompleteRequest
from spooled.worker._complete_batcher import MAX_BATCH, AsyncCompleteBatcher, CompleteBatcher, rest_route_missing

DEADLINE = 10.0


def request(n: int) -> GrpcCompleteRequest:
    return GrpcCompleteRequest(job_id=f"job-{n}", worker_id="w", result={"n": n}, lease_id=f"lease-{n}")


def answer_for(requests: list[GrpcCompleteRequest], refused: set[str] = frozenset()) -> GrpcCompleteBatchResponse:
    outcomes = tuple(
        GrpcCompleteOutcome(job_id=r.job_id, success=False,
                            error=GrpcErrorResponse(code="LEASE_EXPIRED", message="lease lost"))
        if r.job_id in refused else GrpcCompleteOutcome(job_id=r.job_id, success=True)
        for r in requests)
    return GrpcCompleteBatchResponse(results=outcomes)


def unimplemented() -> ServerError:
    err = ServerError("Method not found", status_code=501)
    err.grpc_status = "UNIMPLEMENTED"
    return err


class Server:
    """Records calls; the first Complete is held until `release` is set, so others pile up."""

    def __init__(self, *, batch_error: Exception | None = None, refused: set[str] = frozenset()):
        self.singles: list[str] = []
        self.batches: list[list[str]] = []
        self.first_in_flight = threading.Event()
        self.release = threading.Event()
        self.batch_error = batch_error
        self.refused = refused

    def one(self, r: GrpcCompleteRequest):
        self.singles.append(r.job_id)
        if len(self.singles) == 1:
            self.first_in_flight.set()
            assert self.release.wait(DEADLINE)
        if r.job_id in self.refused:
            raise LeaseExpiredError("lease lost", status_code=409, code="LEASE_EXPIRED")
        return "single"

    def batch(self, requests: list[GrpcCompleteRequest]):
        self.batches.append([r.job_id for r in requests])
        if self.batch_error is not None:
            raise self.batch_error
        return answer_for(requests, self.refused)


def pile_up(server: Server, batcher: CompleteBatcher, n: int, waiting: int) -> list:
    """Job 0 goes out alone and is held; jobs 1..n-1 arrive meanwhile; then it is released.
    Returns each job's answer or exception, in job order."""
    def settle(i: int):
        try:
            return batcher.complete(request(i))
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        first = pool.submit(settle, 0)
        assert server.first_in_flight.wait(DEADLINE)
        rest = [pool.submit(settle, i) for i in range(1, n)]
        give_up = time.monotonic() + DEADLINE
        while len(batcher._pending) < waiting:  # poll with a deadline: all have queued up
            assert time.monotonic() < give_up, "completes never queued up"
            time.sleep(0.001)
        server.release.set()
        return [first.result(DEADLINE)] + [f.result(DEADLINE) for f in rest]


def test_a_lone_complete_goes_out_at_once_as_a_plain_complete():
    server = Server()
    server.release.set()
    assert CompleteBatcher(server.one, server.batch).complete(request(0)) == "single"
    assert server.singles == ["job-0"] and server.batches == []


def test_completes_arriving_during_one_in_flight_go_out_together_each_with_its_outcome():
    server = Server(refused={"job-3"})
    outcomes = pile_up(server, CompleteBatcher(server.one, server.batch), 6, waiting=5)
    assert server.singles == ["job-0"]
    assert [sorted(b) for b in server.batches] == [[f"job-{i}" for i in range(1, 6)]]
    assert outcomes[0] == "single"
    assert isinstance(outcomes[3], LeaseExpiredError) and outcomes[3].code == "LEASE_EXPIRED"
    assert all(o.success for i, o in enumerate(outcomes) if i not in (0, 3))


def test_a_batch_never_exceeds_what_the_server_takes():
    server = Server()
    n = MAX_BATCH + 31
    outcomes = pile_up(server, CompleteBatcher(server.one, server.batch), n + 1, waiting=n)
    assert [len(b) for b in server.batches] == [MAX_BATCH, 31]
    assert sorted(j for b in server.batches for j in b) == sorted(f"job-{i}" for i in range(1, n + 1))
    assert all(not isinstance(o, Exception) for o in outcomes)


def test_a_server_without_complete_batch_is_remembered():
    server = Server(batch_error=unimplemented())
    batcher = CompleteBatcher(server.one, server.batch)
    outcomes = pile_up(server, batcher, 4, waiting=3)
    assert all(not isinstance(o, Exception) for o in outcomes)
    assert len(server.batches) == 1 and sorted(server.singles) == [f"job-{i}" for i in range(4)]
    batcher.complete(request(9))  # later completes never try the batch again
    assert len(server.batches) == 1 and server.singles[-1] == "job-9"


def test_a_failed_batch_call_is_every_jobs_failure():
    server = Server(batch_error=NetworkError("connection reset"))
    outcomes = pile_up(server, CompleteBatcher(server.one, server.batch), 4, waiting=3)
    assert outcomes[0] == "single"
    assert all(isinstance(o, NetworkError) for o in outcomes[1:])


def test_a_batch_that_cannot_be_built_goes_out_one_by_one():
    server = Server(batch_error=TypeError("result is not a JSON object"))
    outcomes = pile_up(server, CompleteBatcher(server.one, server.batch), 3, waiting=2)
    assert outcomes == ["single"] * 3 and sorted(server.singles) == ["job-0", "job-1", "job-2"]


async def test_async_batcher_coalesces_and_keeps_outcomes_apart():
    held = asyncio.Event()
    release = asyncio.Event()
    singles, batches = [], []

    async def one(r):
        singles.append(r.job_id)
        held.set()
        await asyncio.wait_for(release.wait(), DEADLINE)
        return "single"

    async def batch(requests):
        batches.append([r.job_id for r in requests])
        return answer_for(requests, {"job-2"})

    batcher = AsyncCompleteBatcher(one, batch)

    async def settle(i):
        try:
            return await batcher.complete(request(i))
        except Exception as exc:
            return exc

    first = asyncio.ensure_future(settle(0))
    await asyncio.wait_for(held.wait(), DEADLINE)
    rest = [asyncio.ensure_future(settle(i)) for i in range(1, 5)]
    for _ in range(1000):  # let them queue up behind the one in flight (yields, no timing)
        if len(batcher._pending) == 4:
            break
        await asyncio.sleep(0)
    else:
        pytest.fail("the completes never queued up")
    release.set()
    outcomes = await asyncio.wait_for(asyncio.gather(first, *rest), DEADLINE)
    assert singles == ["job-0"] and batches == [["job-1", "job-2", "job-3", "job-4"]]
    assert outcomes[0] == "single" and isinstance(outcomes[2], LeaseExpiredError)
    assert all(outcomes[i].success for i in (1, 3, 4))


async def test_async_batcher_does_not_strand_jobs_whose_sender_was_cancelled():
    """Job 1's task sends the batch [1, 2] and is cancelled mid-call: job 2 neither waits
    forever nor fails, it is sent again by its own caller; later completes still go out."""
    held, release, batch_started = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def one(r):
        if r.job_id == "job-0":
            held.set()
            await release.wait()
        return "single"

    async def batch(requests):
        batch_started.set()
        await asyncio.Event().wait()  # never answers

    batcher = AsyncCompleteBatcher(one, batch)
    first = asyncio.ensure_future(batcher.complete(request(0)))
    await asyncio.wait_for(held.wait(), DEADLINE)
    second = asyncio.ensure_future(batcher.complete(request(1)))
    third = asyncio.ensure_future(batcher.complete(request(2)))
    for _ in range(1000):
        if len(batcher._pending) == 2:
            break
        await asyncio.sleep(0)
    else:
        pytest.fail("the completes never queued up")
    release.set()
    assert await asyncio.wait_for(first, DEADLINE) == "single"
    await asyncio.wait_for(batch_started.wait(), DEADLINE)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    # Job 2 was not the cancelled caller's: it goes back to the queue and out on its own.
    assert await asyncio.wait_for(third, DEADLINE) == "single"
    assert await asyncio.wait_for(batcher.complete(request(3)), DEADLINE) == "single"


def test_a_rest_server_without_the_batch_route_is_remembered():
    """The original Spooled server has no POST /jobs/complete: the route answers 404 (unknown
    jobs would be per-item outcomes, never a 404 of the whole call)."""
    server = Server(batch_error=NotFoundError("Route not found", status_code=404, code="NOT_FOUND"))
    batcher = CompleteBatcher(server.one, server.batch, rest_route_missing)
    outcomes = pile_up(server, batcher, 4, waiting=3)
    assert outcomes == ["single"] * 4 and len(server.batches) == 1
    batcher.complete(request(9))
    assert len(server.batches) == 1 and server.singles[-1] == "job-9"


def test_rest_route_missing_is_only_a_refusal_of_the_whole_call():
    assert rest_route_missing(NotFoundError("x", status_code=404))
    assert rest_route_missing(ServerError("x", status_code=501))
    assert not rest_route_missing(ServerError("x", status_code=503))
    assert not rest_route_missing(NetworkError("reset"))


def test_a_batch_too_large_as_a_whole_goes_out_one_by_one_and_batching_stays_on():
    """Each result may fit a request alone while several together do not (REST 413, or a gRPC
    message over the cap): the jobs must not all fail for it."""
    server = Server(batch_error=PayloadTooLargeError("Body too large", status_code=413, code="PAYLOAD_TOO_LARGE"))
    batcher = CompleteBatcher(server.one, server.batch, rest_route_missing)
    outcomes = pile_up(server, batcher, 4, waiting=3)
    assert outcomes == ["single"] * 4 and len(server.batches) == 1
    assert batcher._batching  # a size refusal is not a missing route


def test_outcomes_are_matched_by_job_id_and_a_missing_one_is_an_error():
    shuffled = GrpcCompleteBatchResponse(results=(
        GrpcCompleteOutcome(job_id="job-2", success=False, error=GrpcErrorResponse(code="LEASE_EXPIRED", message="x")),
        GrpcCompleteOutcome(job_id="job-1", success=True)))
    server = Server()
    server.batch = lambda requests: (server.batches.append([r.job_id for r in requests]) or shuffled)
    outcomes = pile_up(server, CompleteBatcher(server.one, server.batch), 4, waiting=3)
    assert outcomes[1].success and isinstance(outcomes[2], LeaseExpiredError)
    assert isinstance(outcomes[3], SpooledError) and "no outcome" in str(outcomes[3])
