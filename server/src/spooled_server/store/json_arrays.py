"""JSON values passed to PostgreSQL in arrays.

asyncpg reads a Python list inside a `jsonb[]` argument as another array dimension, so a JSON
array (a list) would be flattened or refused. Set-based statements therefore take JSON as
`text[]` and cast each element with `::jsonb`.
"""

from __future__ import annotations

from typing import Any, Iterable

import orjson


def json_texts(values: Iterable[Any]) -> list[str | None]:
    """Each value as JSON text; None stays NULL."""
    return [None if v is None else orjson.dumps(v).decode() for v in values]
