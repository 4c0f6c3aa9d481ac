"""operationId -> HTTP request, read from openapi/spooled.yaml (the contract is the only map)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

METHODS = ("get", "post", "put", "patch", "delete")


class UnknownOperation(Exception):
    pass


class BadArguments(Exception):
    pass


@dataclass(frozen=True)
class Operation:
    op_id: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: frozenset[str]
    has_body: bool
    body_required: bool


@dataclass
class HttpRequest:
    method: str
    path: str
    params: dict[str, str]
    json: Any
    send_body: bool


def _resolve(node: dict, spec: dict) -> dict:
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = spec
    for part in ref.lstrip("#/").split("/"):
        target = target[part]
    return target


def load_operations(openapi_path: Path) -> dict[str, Operation]:
    spec = yaml.safe_load(openapi_path.read_text())
    table: dict[str, Operation] = {}
    for path, item in spec["paths"].items():
        shared = [_resolve(p, spec) for p in item.get("parameters", [])]
        for method in METHODS:
            op = item.get(method)
            if not op or "operationId" not in op:
                continue
            params = shared + [_resolve(p, spec) for p in op.get("parameters", [])]
            body = _resolve(op["requestBody"], spec) if "requestBody" in op else None
            table[op["operationId"]] = Operation(
                op_id=op["operationId"], method=method.upper(), path=path,
                path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                query_params=frozenset(p["name"] for p in params if p["in"] == "query"),
                has_body=body is not None, body_required=bool(body and body.get("required")))
    return table


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def build_request(op: Operation, args: dict[str, Any]) -> HttpRequest:
    """Wire-form args: path params by name, query params by name, everything else is the JSON body."""
    rest = dict(args)
    path = op.path
    for name in op.path_params:
        if name not in rest:
            raise BadArguments(f"{op.op_id} needs path parameter {name!r}")
        path = path.replace("{" + name + "}", quote(str(rest.pop(name)), safe=""))
    params = {k: _query_value(rest.pop(k)) for k in list(rest) if k in op.query_params and rest[k] is not None}
    if rest and not op.has_body:
        raise BadArguments(f"{op.op_id} takes no body, but got {sorted(rest)}")
    send_body = bool(rest) or op.body_required
    return HttpRequest(op.method, path, params, rest if send_body else None, send_body)
