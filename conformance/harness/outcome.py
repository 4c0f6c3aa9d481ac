"""What one operation produced, in neutral terms, and the HTTP status -> error kind table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ERROR_KINDS = ("validation", "unauthorized", "forbidden", "not_found", "conflict", "payload_too_large",
               "rate_limited", "server", "connection", "timeout", "circuit_open")

# The one table every runner applies to HTTP answers (README, "Error kinds").
_STATUS_KINDS = {400: "validation", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "validation", 408: "timeout", 409: "conflict", 413: "payload_too_large",
                 415: "validation", 422: "validation", 429: "rate_limited"}


def kind_for_status(status: int) -> str:
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status >= 500:
        return "server"
    return "validation"  # any other 4xx: the request was wrong


@dataclass
class ErrorInfo:
    kind: str
    code: str | None = None
    message: str | None = None
    details: Any = None
    status: int | None = None

    def describe(self) -> str:
        parts = [self.kind]
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        if self.message:
            parts.append(repr(self.message[:200]))
        return " ".join(parts)


@dataclass
class Outcome:
    """`result` is the decoded answer (None for an empty body) unless `error` is set."""

    result: Any = None
    error: ErrorInfo | None = None
    status: int | None = None
    duration_ms: float = 0.0

    def as_value(self) -> dict:
        """The form stored by `collect`: {result, error: {kind, code} | null}."""
        error = None if self.error is None else {"kind": self.error.kind, "code": self.error.code}
        return {"result": self.result, "error": error}

    def describe(self) -> str:
        if self.error is not None:
            return f"error {self.error.describe()}"
        text = json.dumps(self.result, default=str)
        return f"status {self.status} result {text[:300]}"
