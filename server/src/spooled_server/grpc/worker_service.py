"""spooled.v1.WorkerService over services/workers.py: register, heartbeat, deregister.

Unknown workers are answered, not refused (acknowledged=false, success=false), as the
Spooled SDKs expect; an id that could not exist is unknown without a query.
"""

from __future__ import annotations

from ..errors import NotFound
from ..generated import spooled_pb2 as pb
from ..generated import spooled_pb2_grpc as pb_grpc
from ..services import workers
from ..services.core import Core
from . import requests as rq
from .auth import authenticate
from .status import unary


class WorkerServicer(pb_grpc.WorkerServiceServicer):
    def __init__(self, core: Core):
        self.core = core

    @unary
    async def Register(self, request: pb.RegisterWorkerRequest, context) -> pb.RegisterWorkerResponse:
        who = await authenticate(self.core, context)
        args = rq.parse(rq.RegisterArgs, queue_name=request.queue_name, hostname=request.hostname,
                        worker_type=rq.given(request.worker_type),
                        max_concurrency=request.max_concurrency or 5, version=rq.given(request.version),
                        metadata=rq.given(dict(request.metadata)))
        who.require_queue(args.queue_name)
        # No worker_id in the request: every gRPC registration is a new worker (and counts
        # against the plan's worker cap: RESOURCE_EXHAUSTED).
        registered = await workers.register(self.core, who.org_id, workers.Registration(
            queue_name=args.queue_name, hostname=args.hostname, worker_type=args.worker_type,
            max_concurrency=args.max_concurrency, metadata=args.metadata or {}, version=args.version))
        return pb.RegisterWorkerResponse(worker_id=registered["id"],
                                         lease_duration_secs=registered["lease_duration_secs"],
                                         heartbeat_interval_secs=registered["heartbeat_interval_secs"])

    @unary
    async def Heartbeat(self, request: pb.HeartbeatRequest, context) -> pb.HeartbeatResponse:
        who = await authenticate(self.core, context)
        if not rq.known_id(request.worker_id):
            return pb.HeartbeatResponse(acknowledged=False)
        args = rq.parse(rq.HeartbeatArgs, current_jobs=request.current_jobs,
                        metadata=rq.given(dict(request.metadata)))
        # Empty means healthy; an unrecognised status is recorded as healthy by the service.
        status = request.status or "healthy"
        try:
            await workers.heartbeat(self.core, who.org_id, request.worker_id, current_jobs=args.current_jobs,
                                    status=status, metadata=args.metadata)
        except NotFound:
            return pb.HeartbeatResponse(acknowledged=False)
        return pb.HeartbeatResponse(acknowledged=True, should_drain=status == "draining")

    @unary
    async def Deregister(self, request: pb.DeregisterRequest, context) -> pb.DeregisterResponse:
        who = await authenticate(self.core, context)
        if not rq.known_id(request.worker_id):
            return pb.DeregisterResponse(success=False)
        try:
            await workers.deregister(self.core, who.org_id, request.worker_id)
        except NotFound:
            return pb.DeregisterResponse(success=False)
        return pb.DeregisterResponse(success=True)
