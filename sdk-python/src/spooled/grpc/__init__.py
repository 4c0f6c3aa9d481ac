"""The spooled.v1 gRPC API: SpooledGrpcClient (blocking) and AsyncSpooledGrpcClient (asyncio).

    from spooled.grpc import SpooledGrpcClient

    with SpooledGrpcClient("localhost:50051", api_key) as grpc_client:
        grpc_client.queue.enqueue("emails", {"to": "a@example.com"})

See sdk-python/docs/grpc.md for every method and the RPC it calls.
"""

from ._status import error_from_code, error_from_rpc
from .aio import (AsyncGrpcQueueService, AsyncGrpcWorkersService, AsyncJobStream, AsyncProcessJobsStream,
                  AsyncSpooledGrpcClient)
from .client import GrpcQueueService, GrpcWorkersService, JobStream, ProcessJobsStream, SpooledGrpcClient
from .models import (GrpcCompleteBatchResponse, GrpcCompleteOutcome, GrpcCompleteResponse, GrpcDequeueResponse, GrpcDeregisterResponse, GrpcEnqueueResponse,
                     GrpcErrorResponse, GrpcFailResponse, GrpcGetJobResponse, GrpcHeartbeatResponse, GrpcJob,
                     GrpcQueueStats, GrpcRegisterWorkerResponse, GrpcRenewLeaseResponse, ProcessResponse,
                     StreamOptions)
from .requests import (GrpcCompleteBatchRequest, GrpcCompleteRequest, GrpcDequeueRequest, GrpcEnqueueRequest, GrpcFailRequest,
                       GrpcHeartbeatRequest, GrpcRegisterWorkerRequest, GrpcRenewLeaseRequest, ProcessRequest)

__all__ = [
    "SpooledGrpcClient", "AsyncSpooledGrpcClient", "GrpcQueueService", "GrpcWorkersService",
    "AsyncGrpcQueueService", "AsyncGrpcWorkersService", "JobStream", "ProcessJobsStream", "AsyncJobStream",
    "AsyncProcessJobsStream", "StreamOptions", "ProcessRequest", "ProcessResponse", "GrpcJob",
    "GrpcEnqueueRequest", "GrpcEnqueueResponse", "GrpcDequeueRequest", "GrpcDequeueResponse",
    "GrpcCompleteRequest", "GrpcCompleteResponse", "GrpcCompleteBatchRequest", "GrpcCompleteBatchResponse",
    "GrpcCompleteOutcome", "GrpcFailRequest", "GrpcFailResponse",
    "GrpcRenewLeaseRequest", "GrpcRenewLeaseResponse", "GrpcGetJobResponse", "GrpcQueueStats",
    "GrpcRegisterWorkerRequest", "GrpcRegisterWorkerResponse", "GrpcHeartbeatRequest", "GrpcHeartbeatResponse",
    "GrpcDeregisterResponse", "GrpcErrorResponse", "error_from_rpc", "error_from_code",
]
