"""Reads a JSON request body into a pydantic model, or raises a typed 400.

Parsing goes through pydantic's own JSON parser, which rejects lone surrogates and
absurd nesting without recursion errors. NUL characters, which PostgreSQL cannot
store in text or jsonb, are refused here too.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from ..errors import InvalidJson, ValidationFailed

M = TypeVar("M", bound=BaseModel)

# Pydantic error types meaning "this is not a JSON object at all".
_NOT_AN_OBJECT = frozenset({"json_invalid", "json_type", "model_type", "model_attributes_type"})


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validation_details(err: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as the reference's [{field, message, code}] list (no input echoed)."""
    return [
        {"field": _field_name(e["loc"]), "message": e["msg"], "code": e["type"]}
        for e in err.errors(include_url=False, include_input=False)
    ]


def parse_json_bytes(raw: bytes, model: type[M], *, empty_ok: bool = False) -> M:
    """Validates raw JSON bytes against `model`."""
    if not raw.strip():
        if empty_ok:
            return model()
        raise InvalidJson("Request body must be a JSON object",
                          [{"field": "body", "message": "empty body", "code": "PARSE_ERROR"}])
    try:
        parsed = model.model_validate_json(raw)
    except ValidationError as err:
        errors = err.errors(include_url=False, include_input=False)
        if any(e["type"] in _NOT_AN_OBJECT for e in errors):
            message = errors[0]["msg"]
            raise InvalidJson("Request body is not valid JSON",
                              [{"field": "body", "message": message, "code": "PARSE_ERROR"}]) from None
        raise ValidationFailed("Validation failed", validation_details(err)) from None
    if b"\\u0000" in raw and contains_nul(parsed.model_dump()):
        raise ValidationFailed("Validation failed", [
            {"field": "body", "message": "strings must not contain NUL (\\u0000) characters",
             "code": "nul_character"}])
    return parsed


async def read_body(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    """Reads the (already size-limited) request body and validates it."""
    return parse_json_bytes(await request.body(), model, empty_ok=empty_ok)


def dumps(value: Any) -> bytes:
    """JSON bytes for storage; numbers beyond 64 bits are refused instead of crashing later."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as err:
        raise ValidationFailed("Validation failed", [
            {"field": "body", "message": f"value cannot be stored: {err}", "code": "unsupported_value"}
        ]) from None
