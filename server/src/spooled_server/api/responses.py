"""JSON responses rendered with orjson: snake_case keys, RFC 3339 UTC timestamps ending in Z."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def render(content: Any) -> bytes:
    return orjson.dumps(content, option=_OPTIONS)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render(content)


def json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSON:
    return JSON(content, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


def empty(status: int = 200) -> Response:
    return Response(status_code=status)
