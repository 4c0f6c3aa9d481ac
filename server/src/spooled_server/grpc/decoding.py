"""Requests protobuf cannot decode are bad input (INVALID_ARGUMENT), not server errors.

grpc answers a request whose bytes fail to decode with UNKNOWN ("Unexpected DecodeError"):
a JSON payload nested deeper than protobuf's limit (about 48 object levels through Struct) is
the common case. This interceptor swaps each method's decoder for one that hands the servicer
an `Undecodable` marker instead, which status.py (and ProcessJobs, per message) turn into
VALIDATION_ERROR.
"""

from __future__ import annotations

from typing import Any, Callable

import grpc
from google.protobuf.message import DecodeError

from ..errors import ValidationFailed


class Undecodable:
    """Stands in for a request message that could not be decoded."""

    def __init__(self, reason: str):
        self.reason = reason

    def error(self) -> ValidationFailed:
        return ValidationFailed("The request message cannot be decoded (for example a payload nested too "
                                "deeply for protobuf)", [{"field": "body", "message": self.reason,
                                                          "code": "undecodable"}])


def _tolerant(decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def tolerant_decode(data: bytes) -> Any:
        try:
            return decode(data)
        except DecodeError as err:
            return Undecodable(str(err))
    return tolerant_decode


class TolerantDecoding(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        return handler._replace(request_deserializer=_tolerant(handler.request_deserializer))
