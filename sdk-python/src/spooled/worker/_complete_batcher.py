"""Coalesces a worker's completes into batch calls, without delaying any of them.

Natural batching: a complete that finds no batch in flight is sent at once (alone, as a plain
complete); completes that arrive while one is in flight wait for it and then go out together,
up to MAX_BATCH per call. An idle worker therefore pays no latency, and a busy one sends one
message for many jobs instead of one each, which is where a Python server spends its time. The
caller whose complete is waiting sends the next batch itself (no extra thread or task), and
stops sending once its own complete is answered.

Each job keeps its own outcome: a lease the server refused raises LeaseExpiredError for that
job only, exactly as a lone complete would. A batch refused as too large as a whole goes out
one complete at a time. The batch calls (gRPC CompleteBatch, REST
POST /jobs/complete) are our server's extensions; a server without one (`unsupported` says how
its refusal looks) is remembered and every later complete goes out alone.

The transports pass opaque requests, a function sending one, and one sending a list and
answering `results` of `{job_id, success, error: {code, message}}` in order (the shape both
extensions share).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable

from ..errors import SpooledError, error_from_code

# Both servers' batch calls take at most 100 completes.
MAX_BATCH = 100

Unsupported = Callable[[BaseException], bool]


class _Slot:
    __slots__ = ("request", "done", "answer", "error")

    def __init__(self, request: Any):
        self.request = request
        self.done = False
        self.answer: Any = None
        self.error: BaseException | None = None

    def settle(self, answer: Any = None, error: BaseException | None = None) -> None:
        self.answer, self.error, self.done = answer, error, True

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.answer


def grpc_unimplemented(exc: BaseException) -> bool:
    """How a gRPC server without CompleteBatch refuses it."""
    return getattr(exc, "grpc_status", None) == "UNIMPLEMENTED"


def rest_route_missing(exc: BaseException) -> bool:
    """How a REST server without POST /jobs/complete refuses it: the whole call is 404 (no such
    route; unknown jobs are per-item outcomes), 405 or 501."""
    return getattr(exc, "status_code", None) in (404, 405, 501)


def _from_the_server(exc: BaseException) -> bool:
    """A failure of the call itself (network, auth, overload): every job in it shares it. Any
    other exception was raised locally while building the batch, so the jobs go out alone."""
    return isinstance(exc, SpooledError)


def _too_large(exc: BaseException) -> bool:
    """The batch as a whole was over a size limit (REST 413, or a gRPC message over the cap,
    which carries no Spooled error code), though each complete in it may fit alone."""
    if getattr(exc, "status_code", None) == 413:
        return True
    return (getattr(exc, "grpc_status", None) == "RESOURCE_EXHAUSTED"
            and getattr(exc, "code", None) not in ("RATE_LIMIT_EXCEEDED", "QUOTA_EXCEEDED"))


def _job_id(request: Any) -> Any:
    return request.get("job_id") if isinstance(request, dict) else getattr(request, "job_id", None)


def _apply(batch: list[_Slot], answer: Any) -> None:
    """Settles each job with its own outcome, matched by job id (the servers answer in request
    order, which is the fallback); a job the answer leaves out gets an error, never a hang."""
    outcomes = list(answer.results)
    by_id = {getattr(o, "job_id", None): o for o in outcomes}
    for position, slot in enumerate(batch):
        outcome = by_id.get(_job_id(slot.request))
        if outcome is None and position < len(outcomes) and len(by_id) != len(outcomes):
            outcome = outcomes[position]  # ids repeated within the batch: order decides
        if outcome is None:
            slot.settle(error=SpooledError("the server's batch answer had no outcome for this job"))
        elif outcome.success:
            slot.settle(outcome)
        else:
            error = outcome.error
            slot.settle(error=error_from_code(error.code if error else "", error.message if error else ""))


class _Batcher:
    """What both batchers share: the queue of waiting completes and the rules for a batch."""

    def __init__(self, send_one: Callable[[Any], Any], send_batch: Callable[[list[Any]], Any],
                 unsupported: Unsupported):
        self._send_one = send_one
        self._send_batch = send_batch
        self._unsupported = unsupported
        self._batching = True
        self._pending: list[_Slot] = []
        self._sending = False

    def _next_batch(self) -> list[_Slot]:
        """Called with the lock held, by the caller that takes over sending."""
        self._sending = True
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        return batch

    def _hand_back(self, batch: list[_Slot], own: _Slot) -> None:
        """Called with the lock held when a sender stops: if it was interrupted (cancelled)
        before the answer, the other jobs it carried go back to the front of the queue for the
        next sender (a repeated complete with the same lease is answered as the first was)."""
        leftover = [slot for slot in batch if not slot.done and slot is not own]
        self._pending[:0] = leftover
        if not own.done and own in batch:
            own.settle(error=SpooledError("the complete was interrupted before the server answered"))
        self._sending = False

    def _goes_alone(self, batch: list[_Slot]) -> bool:
        return len(batch) == 1 or not self._batching

    def _refused(self, batch: list[_Slot], exc: Exception) -> bool:
        """The batch call raised: True when its jobs should now go out one by one (the server
        lacks the call, which is remembered; the batch was too large as a whole; or it could not
        be built); otherwise every job in it gets the call's error, as each alone would have."""
        unsupported = self._unsupported(exc)
        if unsupported:
            self._batching = False
        if unsupported or _too_large(exc) or not _from_the_server(exc):
            return True
        for slot in batch:
            slot.settle(error=exc)
        return False


class CompleteBatcher(_Batcher):
    """The blocking worker's batcher; `complete` is called from many job threads at once."""

    def __init__(self, send_one: Callable[[Any], Any], send_batch: Callable[[list[Any]], Any],
                 unsupported: Unsupported = grpc_unimplemented):
        super().__init__(send_one, send_batch, unsupported)
        self._changed = threading.Condition()

    def complete(self, request: Any) -> Any:
        if not self._batching:
            return self._send_one(request)
        slot = _Slot(request)
        with self._changed:
            self._pending.append(slot)
        while True:
            with self._changed:
                while not slot.done and self._sending:
                    self._changed.wait()
                if slot.done:
                    return slot.result()
                batch = self._next_batch()
            try:
                self._send(batch)
            finally:
                with self._changed:
                    self._hand_back(batch, slot)
                    self._changed.notify_all()

    def _send(self, batch: list[_Slot]) -> None:
        if not self._goes_alone(batch):
            try:
                answer = self._send_batch([slot.request for slot in batch])
            except Exception as exc:
                if not self._refused(batch, exc):
                    return
            else:
                _apply(batch, answer)
                return
        for slot in batch:
            try:
                slot.settle(self._send_one(slot.request))
            except Exception as exc:
                slot.settle(error=exc)


class AsyncCompleteBatcher(_Batcher):
    """The asyncio worker's batcher: the same rules, with coroutines."""

    def __init__(self, send_one: Callable[[Any], Awaitable[Any]], send_batch: Callable[[list[Any]], Awaitable[Any]],
                 unsupported: Unsupported = grpc_unimplemented):
        super().__init__(send_one, send_batch, unsupported)
        self._changed: asyncio.Condition | None = None  # made in the worker's loop

    async def complete(self, request: Any) -> Any:
        if not self._batching:
            return await self._send_one(request)
        if self._changed is None:
            self._changed = asyncio.Condition()
        changed = self._changed
        slot = _Slot(request)
        self._pending.append(slot)
        while True:
            async with changed:
                await changed.wait_for(lambda: slot.done or not self._sending)
                if slot.done:
                    return slot.result()
                batch = self._next_batch()
            try:
                await self._send(batch)
            finally:
                async with changed:
                    self._hand_back(batch, slot)
                    changed.notify_all()

    async def _send(self, batch: list[_Slot]) -> None:
        if not self._goes_alone(batch):
            try:
                answer = await self._send_batch([slot.request for slot in batch])
            except Exception as exc:
                if not self._refused(batch, exc):
                    return
            else:
                _apply(batch, answer)
                return
        for slot in batch:
            try:
                slot.settle(await self._send_one(slot.request))
            except Exception as exc:
                slot.settle(error=exc)
