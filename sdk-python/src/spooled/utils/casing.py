"""Key casing as the client applies it to what it sends (see `spooled._wire`).

The API speaks snake_case. Request bodies are deep-converted to snake_case, responses are
passed through, query parameters get snake_case keys and string values. Values under the
user-owned keys in OPAQUE_KEYS (payload, result, metadata, tags, ...) are never converted.
"""

from __future__ import annotations

from typing import Any, Mapping

from .._wire import OPAQUE_KEYS, convert_request, to_camel_case, to_query, to_snake_case

__all__ = ["to_snake_case", "to_camel_case", "convert_request", "convert_response", "convert_query_params",
           "OPAQUE_KEYS"]


def convert_response(data: Any) -> Any:
    """A response body as the SDK hands it on: unchanged, since the API already answers in snake_case."""
    return data


def convert_query_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as the client sends them: keys snake_cased, None dropped, booleans as
    "true"/"false", dates in ISO 8601, enums by value, lists joined by commas, the rest str()."""
    return to_query(params)
