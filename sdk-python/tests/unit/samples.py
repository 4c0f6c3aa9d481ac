"""Minimal valid JSON for any generated model, so route tests need no hand-written fixtures."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import annotated_types
from pydantic import AwareDatetime, BaseModel, RootModel

STAMP = "2025-01-01T00:00:00.000000Z"


def sample_value(annotation: Any, metadata: list[Any] = ()) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args:
            return None
        return sample_value(args[0], metadata)
    if origin is Literal:
        return args[0]
    if origin is list:
        return []
    if origin is dict:
        return {}
    if annotation is Any or annotation is object:
        return None
    if isinstance(annotation, type) and issubclass(annotation, RootModel):
        return sample_value(annotation.model_fields["root"].annotation, annotation.model_fields["root"].metadata)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sample_json(annotation)
    if annotation is AwareDatetime:
        return STAMP
    if annotation is bool:
        return True
    if annotation in (int, float):
        low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), 0)
        return annotation(low)
    if annotation is str:
        return "x" * max([1] + [m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)])
    raise TypeError(f"no sample for {annotation!r}")


def sample_json(model: type[BaseModel]) -> dict[str, Any]:
    """Every required field with a simple valid value; optional fields left out."""
    return {name: sample_value(field.annotation, field.metadata)
            for name, field in model.model_fields.items() if field.is_required()}
