"""Variables in scenarios: `${...}` interpolation, credential references and `save` paths.

Rules (conformance/README.md, "Variables"):
- A string that is exactly `${expr}` becomes the value of `expr` with its type (object, number...).
- `${expr}` inside a longer string is replaced by the value's text.
- `expr` is `now`, `now+90s` / `now-5m` (units ms, s, m, h, d; RFC 3339 UTC), `uuid` (fresh each
  time), `text(N)` (N letters `x`, for size limits), or a dotted path into the variables:
  `job_id`, `acme.key`, `claim.jobs.0.id`.
- Credential fields also accept the short form `$acme.key` (no braces).
- `$$` at the start of a string escapes a literal `$` in patterns; interpolation leaves it alone.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

_WHOLE = re.compile(r"^\$\{([^{}]+)\}$")
_EMBEDDED = re.compile(r"\$\{([^{}]+)\}")
_NOW = re.compile(r"^now(?:([+-])(\d+)(ms|s|m|h|d))?$")
_TEXT = re.compile(r"^text\((\d{1,8})\)$")
_SHORT_REF = re.compile(r"^\$([a-z][a-z0-9_]*(?:\.[A-Za-z0-9_]+)+)$")
_SAVE_PATH = re.compile(r"\.([A-Za-z0-9_]+)|\[([0-9]+)\]")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class VariableError(Exception):
    """A reference to something that does not exist (a scenario bug or a missing result)."""


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a `Z`, as the server writes them."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"not a timestamp: {text!r}")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text!r}")
    return moment


def lookup(expr: str, variables: dict[str, Any]) -> Any:
    expr = expr.strip()
    now = _NOW.match(expr)
    if now:
        moment = datetime.now(timezone.utc)
        if now.group(1):
            delta = timedelta(seconds=int(now.group(2)) * _UNITS[now.group(3)])
            moment = moment + delta if now.group(1) == "+" else moment - delta
        return format_timestamp(moment)
    if expr == "uuid":
        return str(uuid.uuid4())
    text = _TEXT.match(expr)
    if text:
        return "x" * int(text.group(1))
    head, *rest = expr.split(".")
    if head not in variables:
        raise VariableError(f"unknown variable {head!r} in ${{{expr}}}")
    value = variables[head]
    for part in rest:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise VariableError(f"${{{expr}}}: no {part!r} in {json.dumps(value)[:200]}")
    return value


def interpolate(value: Any, variables: dict[str, Any]) -> Any:
    """Replaces every `${...}` in a JSON-like value (recursively)."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return lookup(whole.group(1), variables)
        if "${" not in value:
            return value

        def text(match: re.Match) -> str:
            found = lookup(match.group(1), variables)
            return found if isinstance(found, str) else json.dumps(found)
        return _EMBEDDED.sub(text, value)
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    return value


def resolve_credential(value: str | None, variables: dict[str, Any]) -> str | None:
    """`$acme.key` or `${...}` or a literal."""
    if value is None:
        return None
    short = _SHORT_REF.match(value)
    if short:
        found = lookup(short.group(1), variables)
    else:
        found = interpolate(value, variables)
    if not isinstance(found, str):
        raise VariableError(f"credential {value!r} is not a string")
    return found


def extract(path: str, value: Any) -> Any:
    """Evaluates a save path (`$`, `$.a.b`, `$.jobs[0].id`) against a result."""
    if not path.startswith("$"):
        raise VariableError(f"save path must start with $: {path!r}")
    current = value
    position = 1
    for match in _SAVE_PATH.finditer(path, 1):
        if match.start() != position:
            raise VariableError(f"bad save path {path!r}")
        position = match.end()
        key, index = match.group(1), match.group(2)
        if key is not None:
            if not isinstance(current, dict) or key not in current:
                raise VariableError(f"{path}: no key {key!r} in {json.dumps(current)[:200]}")
            current = current[key]
        else:
            i = int(index)
            if not isinstance(current, list) or i >= len(current):
                raise VariableError(f"{path}: no element {i} in {json.dumps(current)[:200]}")
            current = current[i]
    if position != len(path):
        raise VariableError(f"bad save path {path!r}")
    return current
