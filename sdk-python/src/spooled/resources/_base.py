"""What every resource shares: the transport it sends its calls through."""

from __future__ import annotations

from typing import Any, Mapping, TypeVar, Union

from pydantic import BaseModel

from .._wire import Call

T = TypeVar("T")

# Request parameters: a dict (snake_case or camelCase keys) or the generated request model.
Params = Union[Mapping[str, Any], BaseModel]


class Resource:
    """Base of the resource classes.

    A resource method only builds a `Call` (path, parameters, how to read the answer) and
    returns `self._call(call)`. With the sync transport that is the answer itself; with the
    async transport it is a coroutine, so the async clients reuse these classes and only
    override the few methods that make more than one call.
    """

    def __init__(self, transport: Any):
        self._transport = transport

    def _call(self, call: Call[T]) -> T:
        return self._transport.call(call)
