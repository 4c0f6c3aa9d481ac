"""What goes over the wire: snake_case JSON bodies and query strings in, typed models out.

Resources describe each HTTP call as a `Call` (method, path, body, query, how to read the
answer) and hand it to the transport; this module holds the pieces they use to build one.
Request parameters may be a dict (keys in snake_case or camelCase) or a generated model.
Values the user owns (payloads, results, tags, metadata, settings, ...) pass through untouched.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Callable, Generic, Literal, Mapping, TypeVar, get_args
from urllib.parse import quote

import httpx
import pydantic
from pydantic import BaseModel, RootModel
from pydantic_core import to_jsonable_python

from ._constants import API_PREFIX
from .errors import ResponseValidationError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Keys whose values belong to the user: never re-cased (same list in every Spooled SDK).
OPAQUE_KEYS = frozenset({"payload", "result", "metadata", "tags", "settings", "details", "extra",
                         "payload_template", "payloadTemplate", "custom_limits", "customLimits"})

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

# How a call authenticates: "bearer" = API key or JWT; "admin" = X-Admin-Key only; "none" =
# nothing; "public" = nothing, plus X-Admin-Key when the client has one (organizations.create on
# a server with closed registration).
Auth = Literal["bearer", "admin", "none", "public"]


def to_snake_case(name: str) -> str:
    """`queueName` -> `queue_name`; snake_case input is returned unchanged."""
    return _CAMEL_BOUNDARY.sub("_", name).replace("-", "_").lower() if any(c.isupper() for c in name) else name


def to_camel_case(name: str) -> str:
    """`queue_name` -> `queueName`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def convert_request(value: Any) -> Any:
    """Deep-converts dict keys to snake_case, leaving the values under OPAQUE_KEYS untouched."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            snake = to_snake_case(key) if isinstance(key, str) else key
            out[snake] = item if key in OPAQUE_KEYS or snake in OPAQUE_KEYS else convert_request(item)
        return out
    if isinstance(value, (list, tuple)):
        return [convert_request(item) for item in value]
    return value


@functools.lru_cache(maxsize=None)  # one entry per request model: a fixed, small set
def _accepted_keys(model: type[BaseModel]) -> frozenset[str]:
    """Field names a request model accepts; for anyOf request shapes, those of every variant."""
    if issubclass(model, RootModel):
        keys: set[str] = set()
        for variant in get_args(model.model_fields["root"].annotation):
            if isinstance(variant, type) and issubclass(variant, BaseModel):
                keys |= _accepted_keys(variant)
        return frozenset(keys)
    return frozenset(model.model_fields)


def to_body(model: type[BaseModel], params: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    """A JSON-ready request body from a dict or a model instance.

    Models are dumped with `exclude_unset` so defaults the caller never chose are not sent (the
    server's or the queue's defaults apply). Dict keys are snake_cased and checked against the
    model's fields, so a typo fails here instead of being ignored by the server; the values
    themselves are validated by the server, which answers 400 with field details.
    """
    if params is None:
        body: dict[str, Any] = {}
    elif isinstance(params, BaseModel):
        dumped = params.model_dump(mode="json", exclude_unset=True)
        body = dict(dumped) if isinstance(dumped, Mapping) else {}
    elif isinstance(params, Mapping):
        body = to_jsonable_python(convert_request(params))
    else:
        raise TypeError(f"expected a dict or {model.__name__}, got {type(params).__name__}")
    accepted = _accepted_keys(model)
    unknown = sorted(k for k in body if k not in accepted)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {model.__name__}: {', '.join(unknown)}; "
                         f"accepted: {', '.join(sorted(accepted))}")
    return body


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def to_query(params: Mapping[str, Any] | BaseModel | None, allowed: frozenset[str] | None = None
             ) -> dict[str, str]:
    """Query parameters: snake_case keys, booleans as true/false, None dropped, lists joined by commas."""
    if params is None:
        return {}
    raw = params.model_dump(exclude_unset=True) if isinstance(params, BaseModel) else params
    query: dict[str, str] = {}
    for key, value in raw.items():
        name = to_snake_case(key)
        if allowed is not None and name not in allowed:
            raise ValueError(f"unknown query parameter {key!r}; accepted: {', '.join(sorted(allowed))}")
        if value is not None:
            query[name] = _query_value(value)
    return query


def path(template: str, *values: str) -> str:
    """An API path with each `{}` replaced by a percent-encoded value: path("/jobs/{}", id)."""
    for value in values:
        if not isinstance(value, str) or not value:
            raise ValueError("path parameters must be non-empty strings")
    return API_PREFIX + template.format(*(quote(v, safe="") for v in values))


# -- reading responses --

def _validation_failure(response: httpx.Response, error: pydantic.ValidationError, what: str) -> ResponseValidationError:
    return ResponseValidationError(
        f"response of {response.request.method} {response.request.url.path} does not match {what}: "
        f"{error.error_count()} problem(s), first: {error.errors()[0]['msg']}",
        status_code=response.status_code, body=response.text, errors=error.errors(),
        request_id=response.headers.get("x-request-id"))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ResponseValidationError(f"response is not JSON: {exc}", status_code=response.status_code,
                                      body=response.text, request_id=response.headers.get("x-request-id"))


def model_reader(model: type[M]) -> Callable[[httpx.Response], M]:
    """Reads the body as one `model`."""
    def read(response: httpx.Response) -> M:
        try:
            return model.model_validate(_json(response))
        except pydantic.ValidationError as exc:
            raise _validation_failure(response, exc, model.__name__) from None
    return read


@functools.lru_cache(maxsize=None)  # one entry per response model: a fixed, small set
def _list_adapter(model: type[BaseModel]) -> pydantic.TypeAdapter[Any]:
    # Building a TypeAdapter compiles a schema (tens of microseconds): once per model, not per call.
    return pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]


def list_reader(model: type[M]) -> Callable[[httpx.Response], list[M]]:
    """Reads the body as a JSON array of `model`."""
    adapter = _list_adapter(model)

    def read(response: httpx.Response) -> list[M]:
        try:
            return adapter.validate_python(_json(response))
        except pydantic.ValidationError as exc:
            raise _validation_failure(response, exc, f"list[{model.__name__}]") from None
    return read


def optional_model_reader(model: type[M]) -> Callable[[httpx.Response], M]:
    """Like model_reader, but an empty body reads as `model()` (every field optional)."""
    full = model_reader(model)

    def read(response: httpx.Response) -> M:
        return model() if not response.content.strip() else full(response)
    return read


def read_nothing(response: httpx.Response) -> None:
    """For 204 and other answers whose body carries nothing the caller needs."""
    return None


def read_text(response: httpx.Response) -> str:
    """The body as text (Prometheus metrics)."""
    return response.text


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP call as a resource describes it; the transport sends it and applies `read`.

    `replay_safe`: whether re-sending after an unanswered attempt can do no harm (GET, PUT,
    DELETE always; a POST when the resource says so, e.g. a create carrying an idempotency key).
    `timeout` overrides the client's timeout (long polls need more); `max_retries` the client's
    retry budget (probes use 0).
    """

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    body: Any = None
    query: Mapping[str, str] | None = None
    auth: Auth = "bearer"
    headers: Mapping[str, str] = field(default_factory=dict)
    replay_safe: bool | None = None
    timeout: float | None = None
    max_retries: int | None = None

    @property
    def safe_to_replay(self) -> bool:
        """`replay_safe` when given, else true for every method but POST and PATCH."""
        if self.replay_safe is not None:
            return self.replay_safe
        return self.method.upper() not in ("POST", "PATCH")
