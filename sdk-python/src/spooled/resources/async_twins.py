"""The `Async*Resource` classes of the async client: the sync resource classes with every public
method turned into a coroutine function.

A resource method only builds a request and hands it to the transport (see _base.py); under the
async transport what comes back is already a coroutine, so a twin's method just awaits it. The
twins exist so that `inspect.iscoroutinefunction(client.queues.get)` is true, and so that code
written for Spooled's SDK, which imports `AsyncQueuesResource` and the rest, keeps working.
Methods that make more than one request, or answer locally, are written out by hand in their own
module (AsyncJobsResource, AsyncHealthResource) and are kept as they are.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from ._base import Resource


def _awaiting(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def coroutine(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await method(self, *args, **kwargs)
    return coroutine


def async_twin(cls: type[Resource], children: dict[str, type[Resource]] | None = None) -> type[Resource]:
    """`Async<cls>`: cls with each public method (its own and inherited from resource classes,
    not already a coroutine function) awaiting the transport's answer. `children` names
    sub-resources (attribute -> async class) that the twin builds instead of the sync ones."""
    namespace: dict[str, Any] = {"__doc__": f"The async twin of {cls.__name__}: the same methods, each awaited.",
                                 "__module__": __name__}
    for klass in reversed(cls.__mro__):
        if not issubclass(klass, Resource) or klass is Resource:
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or not inspect.isfunction(member) or inspect.iscoroutinefunction(member):
                continue
            namespace[name] = _awaiting(member)
    if children:
        def __init__(self: Any, transport: Any) -> None:
            cls.__init__(self, transport)
            for attribute, child in children.items():
                setattr(self, attribute, child(transport))
        namespace["__init__"] = __init__
    return type(f"Async{cls.__name__}", (cls,), namespace)
