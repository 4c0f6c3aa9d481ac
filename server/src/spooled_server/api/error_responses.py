"""Renders errors as the one JSON envelope: domain errors by the table in errors.py, anything
unexpected as 503 (database unreachable) or a generic 500 without details."""

from __future__ import annotations

import logging

from starlette.responses import Response

from ..db import database_unavailable
from ..errors import DomainError, InternalError, ServiceUnavailable, envelope, http_status
from .responses import json

log = logging.getLogger("spooled.api")


def render_error(error: DomainError) -> Response:
    headers = dict(error.headers)
    if isinstance(error, ServiceUnavailable):
        headers.setdefault("Retry-After", "1")
    return json(envelope(error), http_status(error), headers)


def render_unexpected(err: Exception) -> Response:
    if database_unavailable(err):  # 503 with Retry-After, never 500
        log.warning("database unavailable: %s", err)
        return render_error(ServiceUnavailable("The database is unavailable; retry shortly"))
    log.exception("unhandled error", exc_info=err)
    return render_error(InternalError("Internal server error"))
