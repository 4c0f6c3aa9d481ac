"""gRPC operation name -> Python SDK call: `grpc.<Service>.<Method>` onto AsyncSpooledGrpcClient.

Each entry takes an AsyncSpooledGrpcClient and the step's wire-form arguments (the request
message's fields by their proto names; protobuf JSON's lowerCamelCase spellings are accepted
too) and returns the answer in wire form: a dict with the response message's proto field names,
timestamps as RFC 3339 strings and statuses as the REST spelling (see GrpcJob.to_wire). Failures
are the SDK's own SpooledErrors, which the runner turns into neutral kinds like any other.

Only the unary RPCs are operations; StreamJobs and ProcessJobs are streams, which a scenario
step (one request, one answer) cannot express. An argument the request message does not have
raises CannotSend instead of being dropped silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Awaitable, Callable

from operations import CannotSend
from spooled.grpc import AsyncSpooledGrpcClient
from spooled.utils import to_snake_case

GrpcHandler = Callable[[AsyncSpooledGrpcClient, dict[str, Any]], Awaitable[Any]]


def snake_args(args: dict[str, Any]) -> dict[str, Any]:
    """Top-level argument names in snake_case (protobuf JSON also spells them lowerCamelCase).
    Values (payload, result, tags, metadata) are left exactly as given."""
    return {to_snake_case(key): value for key, value in args.items()}


def _take(op: str, args: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    given = snake_args(args)
    unknown = sorted(set(given) - set(required) - set(optional))
    if unknown:
        raise CannotSend(f"{op} has no field(s) {unknown}")
    for name in required:
        # proto3 has no "missing": an absent field is its zero value, which the server judges.
        given.setdefault(name, "")
    return given


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _wire(answer: Any) -> dict[str, Any]:
    return answer.to_wire()


async def enqueue(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("Enqueue", args, ("queue_name",), ("payload", "priority", "max_retries", "timeout_seconds",
                                                  "scheduled_at", "idempotency_key", "tags"))
    return _wire(await client.queue.enqueue(
        a["queue_name"], a.get("payload") or {}, priority=a.get("priority") or 0, max_retries=a.get("max_retries"),
        timeout_seconds=a.get("timeout_seconds"), idempotency_key=a.get("idempotency_key"), tags=a.get("tags"),
        scheduled_at=_time(a.get("scheduled_at"))))


async def dequeue(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("Dequeue", args, ("queue_name", "worker_id"), ("lease_duration_secs", "batch_size"))
    # 0 (proto3's "unset") is sent as given, so the server's defaults are what is tested.
    return _wire(await client.queue.dequeue(a["queue_name"], a["worker_id"], batch_size=a.get("batch_size", 0),
                                            lease_duration_secs=a.get("lease_duration_secs", 0)))


async def complete(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("Complete", args, ("job_id",), ("worker_id", "result", "lease_id"))
    return _wire(await client.queue.complete(a["job_id"], a.get("worker_id") or "", a.get("result"),
                                             lease_id=a.get("lease_id")))


async def complete_batch(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("CompleteBatch", args, ("jobs",), ())
    items = []
    for item in a["jobs"]:
        i = _take("CompleteBatch.jobs[]", item, ("job_id",), ("worker_id", "result", "lease_id"))
        items.append({"job_id": i["job_id"], "worker_id": i.get("worker_id") or "", "result": i.get("result"),
                      "lease_id": i.get("lease_id")})
    return _wire(await client.queue.complete_batch(items))


async def fail(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("Fail", args, ("job_id",), ("worker_id", "error", "retry", "lease_id"))
    # proto3's default for retry is false (dead-letter); an absent `retry` keeps that meaning.
    return _wire(await client.queue.fail(a["job_id"], a.get("worker_id") or "", a.get("error") or "",
                                         retry=bool(a.get("retry", False)), lease_id=a.get("lease_id")))


async def renew_lease(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("RenewLease", args, ("job_id",), ("worker_id", "extension_secs", "lease_id"))
    return _wire(await client.queue.renew_lease(a["job_id"], a.get("worker_id") or "", a.get("extension_secs", 0),
                                                lease_id=a.get("lease_id")))


async def get_job(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("GetJob", args, ("job_id",), ())
    answer = await client.queue.get_job(a["job_id"])
    # proto3 JSON leaves an unset message out; so does this.
    return {} if answer.job is None else {"job": answer.job.to_wire()}


async def get_queue_stats(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("GetQueueStats", args, ("queue_name",), ())
    return _wire(await client.queue.get_queue_stats(a["queue_name"]))


async def register(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("Register", args, ("queue_name", "hostname"), ("worker_type", "max_concurrency", "version", "metadata"))
    return _wire(await client.workers.register(
        a["queue_name"], a["hostname"], worker_type=a.get("worker_type", ""),
        max_concurrency=a.get("max_concurrency", 0), version=a.get("version", ""), metadata=a.get("metadata")))


async def heartbeat(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("Heartbeat", args, ("worker_id",), ("current_jobs", "status", "metadata"))
    return _wire(await client.workers.heartbeat(a["worker_id"], current_jobs=a.get("current_jobs", 0),
                                                status=a.get("status", ""), metadata=a.get("metadata")))


async def deregister(client: AsyncSpooledGrpcClient, args: dict[str, Any]) -> dict[str, Any]:
    a = _take("Deregister", args, ("worker_id",), ())
    return _wire(await client.workers.deregister(a["worker_id"]))


GRPC_OPERATIONS: dict[str, GrpcHandler] = {
    "grpc.QueueService.Enqueue": enqueue,
    "grpc.QueueService.Dequeue": dequeue,
    "grpc.QueueService.Complete": complete,
    "grpc.QueueService.CompleteBatch": complete_batch,
    "grpc.QueueService.Fail": fail,
    "grpc.QueueService.RenewLease": renew_lease,
    "grpc.QueueService.GetJob": get_job,
    "grpc.QueueService.GetQueueStats": get_queue_stats,
    "grpc.WorkerService.Register": register,
    "grpc.WorkerService.Heartbeat": heartbeat,
    "grpc.WorkerService.Deregister": deregister,
}
