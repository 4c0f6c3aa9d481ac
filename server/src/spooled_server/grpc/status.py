"""Domain errors -> gRPC status, through errors.ERROR_TABLE (servicers never pick codes).

Every failed call carries the REST envelope's code in the `spooled-error-code` trailer (for
example PAYLOAD_TOO_LARGE beside RESOURCE_EXHAUSTED), and `retry-after` when the REST answer
would have had that header.
"""

from __future__ import annotations

import functools
import logging
from contextlib import aclosing
from typing import Any, AsyncIterator, Awaitable, Callable, NoReturn

import grpc

from ..db import database_unavailable
from ..errors import DomainError, InternalError, ServiceUnavailable, grpc_status_name
from .decoding import Undecodable

log = logging.getLogger("spooled.grpc")

ERROR_CODE_TRAILER = "spooled-error-code"


def domain_error(exc: Exception) -> DomainError:
    """The domain error a failure is reported as; unexpected ones are logged, never echoed."""
    if isinstance(exc, DomainError):
        return exc
    if database_unavailable(exc):  # retryable, as REST's 503
        log.warning("database unavailable: %s", exc)
        return ServiceUnavailable("The database is unavailable; retry shortly")
    log.error("unhandled error in a gRPC call", exc_info=exc)
    return InternalError("Internal server error")


def status_code(error: DomainError) -> grpc.StatusCode:
    return grpc.StatusCode[grpc_status_name(error)]


async def abort(context: grpc.aio.ServicerContext, error: DomainError) -> NoReturn:
    trailers: list[tuple[str, str]] = [(ERROR_CODE_TRAILER, error.code)]
    retry_after = {k.lower(): v for k, v in error.headers.items()}.get("retry-after")
    if retry_after is None and isinstance(error, ServiceUnavailable):
        retry_after = "1"
    if retry_after is not None:
        trailers.append(("retry-after", retry_after))
    await context.abort(status_code(error), error.message, trailing_metadata=tuple(trailers))


def unary(method: Callable[..., Awaitable[Any]]):
    """Wraps a unary handler: any failure becomes its mapped status."""

    @functools.wraps(method)
    async def handler(self, request, context):
        try:
            if isinstance(request, Undecodable):
                raise request.error()
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort(context, domain_error(exc))

    return handler


def server_stream(method: Callable[..., AsyncIterator[Any]]):
    """Wraps a streaming handler (an async generator) the same way as `unary`. For a
    client-streaming call `request` is the request iterator; each message is checked by the
    handler itself."""

    @functools.wraps(method)
    async def handler(self, request, context):
        try:
            if isinstance(request, Undecodable):
                raise request.error()
            messages = method(self, request, context)
            async with aclosing(messages):  # clean-up runs at once when the client cancels
                async for message in messages:
                    yield message
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort(context, domain_error(exc))

    return handler
