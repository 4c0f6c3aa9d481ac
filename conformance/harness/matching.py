"""Subset matching of results against scenario patterns.

- Object pattern: every key in the pattern must match the actual value's key; extra actual keys
  are fine. A pattern value `$absent` requires the key to be missing.
- Array pattern (a YAML list): same length, element by element.
- Scalars: equal (1 and 1.0 are equal; true is not 1).
- Placeholder strings: `$any` (anything, even null), `$notnull`, `$null`, `$string`, `$number`,
  `$integer`, `$boolean`, `$object`, `$array`, `$uuid`, `$timestamp`. A string starting `$$` is the
  literal text with one `$` removed.
- Operator objects (every key starts with `$`, all must hold):
  `$len: n | pattern` (the length equals n, or matches a pattern such as `{$lte: 4096}`),
  `$contains: [patterns]` (each matches some element), `$all: pattern` (every element),
  `$count: {where: pattern, is: n}`, `$gt/$gte/$lt/$lte: number`, `$ne: value`, `$in: [values]`,
  `$not: pattern`, `$regex: "..."`, `$after: ts | {ref, min_secs?, max_secs?}`, `$before: ts`,
  `$instant: ts` (the same instant, whatever the spelling: `...00Z` equals `...00.000000+00:00`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .values import parse_timestamp

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ABSENT = "$absent"


class PatternError(Exception):
    """The pattern itself is malformed (a scenario bug, not a server failure)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    try:
        parse_timestamp(value)
    except (ValueError, TypeError):
        return False
    return True


_PLACEHOLDERS = {
    "$any": lambda v: True,
    "$notnull": lambda v: v is not None,
    "$null": lambda v: v is None,
    "$string": lambda v: isinstance(v, str),
    "$number": _is_number,
    "$integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "$boolean": lambda v: isinstance(v, bool),
    "$object": lambda v: isinstance(v, dict),
    "$array": lambda v: isinstance(v, list),
    "$uuid": lambda v: isinstance(v, str) and bool(_UUID.match(v)),
    "$timestamp": _is_timestamp,
}


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def match(pattern: Any, actual: Any, path: str = "$") -> list[str]:
    """Returns the list of mismatches (empty when `actual` matches `pattern`)."""
    if isinstance(pattern, str) and pattern.startswith("$"):
        if pattern.startswith("$$"):
            return [] if actual == pattern[1:] else [f"{path}: expected {_show(pattern[1:])}, got {_show(actual)}"]
        if pattern == ABSENT:
            raise PatternError(f"{path}: $absent is only valid as an object member")
        check = _PLACEHOLDERS.get(pattern)
        if check is None:
            raise PatternError(f"{path}: unknown placeholder {pattern}")
        return [] if check(actual) else [f"{path}: expected {pattern}, got {_show(actual)}"]
    if isinstance(pattern, dict):
        operators = [k for k in pattern if k.startswith("$")]
        if operators:
            if len(operators) != len(pattern):
                raise PatternError(f"{path}: do not mix operators and keys in one object")
            problems: list[str] = []
            for op in operators:
                problems += _operator(op, pattern[op], actual, path)
            return problems
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_show(actual)}"]
        problems = []
        for key, sub in pattern.items():
            where = f"{path}.{key}"
            if sub == ABSENT:
                if key in actual:
                    problems.append(f"{where}: expected absent, got {_show(actual[key])}")
                continue
            if key not in actual:
                problems.append(f"{where}: missing")
                continue
            problems += match(sub, actual[key], where)
        return problems
    if isinstance(pattern, list):
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {_show(actual)}"]
        if len(pattern) != len(actual):
            return [f"{path}: expected {len(pattern)} elements, got {len(actual)}: {_show(actual)}"]
        problems = []
        for i, (sub, item) in enumerate(zip(pattern, actual)):
            problems += match(sub, item, f"{path}[{i}]")
        return problems
    if _is_number(pattern) and _is_number(actual):
        return [] if pattern == actual else [f"{path}: expected {pattern}, got {actual}"]
    if pattern == actual and type(pattern) is type(actual):
        return []
    return [f"{path}: expected {_show(pattern)}, got {_show(actual)}"]


def _operator(op: str, arg: Any, actual: Any, path: str) -> list[str]:
    if op == "$len":
        if not isinstance(actual, (list, str, dict)):
            return [f"{path}: $len needs an array, got {_show(actual)}"]
        if isinstance(arg, dict):  # a pattern for the length, e.g. {$lte: 4096}
            problems = match(arg, len(actual), f"len({path})")
            return [f"{p}: {_show(actual)}" for p in problems]
        return [] if len(actual) == arg else [f"{path}: expected length {arg}, got {len(actual)}: {_show(actual)}"]
    if op == "$contains":
        if not isinstance(actual, list):
            return [f"{path}: $contains needs an array, got {_show(actual)}"]
        wanted = arg if isinstance(arg, list) else [arg]
        problems = []
        for sub in wanted:
            if not any(not match(sub, item, path) for item in actual):
                problems.append(f"{path}: no element matches {_show(sub)} in {_show(actual)}")
        return problems
    if op == "$all":
        if not isinstance(actual, list):
            return [f"{path}: $all needs an array, got {_show(actual)}"]
        problems = []
        for i, item in enumerate(actual):
            problems += match(arg, item, f"{path}[{i}]")
        return problems
    if op == "$count":
        if not isinstance(actual, list) or not isinstance(arg, dict) or set(arg) != {"where", "is"}:
            return [f"{path}: $count needs an array and {{where, is}}"]
        n = sum(1 for item in actual if not match(arg["where"], item, path))
        return [] if n == arg["is"] else [f"{path}: expected {arg['is']} elements matching {_show(arg['where'])}, found {n}"]
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not _is_number(actual) or not _is_number(arg):
            return [f"{path}: {op} needs numbers, got {_show(actual)}"]
        ok = {"$gt": actual > arg, "$gte": actual >= arg, "$lt": actual < arg, "$lte": actual <= arg}[op]
        return [] if ok else [f"{path}: expected {op} {arg}, got {actual}"]
    if op == "$ne":
        return [] if match(arg, actual, path) else [f"{path}: expected anything but {_show(arg)}"]
    if op == "$in":
        return [] if any(not match(a, actual, path) for a in arg) else [f"{path}: expected one of {_show(arg)}, got {_show(actual)}"]
    if op == "$not":
        return [] if match(arg, actual, path) else [f"{path}: expected not to match {_show(arg)}"]
    if op == "$regex":
        ok = isinstance(actual, str) and re.search(arg, actual) is not None
        return [] if ok else [f"{path}: expected text matching /{arg}/, got {_show(actual)}"]
    if op == "$instant":
        try:
            same = parse_timestamp(actual) == parse_timestamp(arg)
        except (ValueError, TypeError):
            same = False
        return [] if same else [f"{path}: expected the instant {arg}, got {_show(actual)}"]
    if op in ("$after", "$before"):
        return _time_operator(op, arg, actual, path)
    raise PatternError(f"{path}: unknown operator {op}")


def _time_operator(op: str, arg: Any, actual: Any, path: str) -> list[str]:
    spec = arg if isinstance(arg, dict) else {"ref": arg}
    try:
        moment = parse_timestamp(actual)
    except (ValueError, TypeError):
        return [f"{path}: expected a timestamp, got {_show(actual)}"]
    try:
        ref = parse_timestamp(spec["ref"])
    except (KeyError, ValueError, TypeError) as err:
        raise PatternError(f"{path}: {op} needs a timestamp ref ({err})")
    gap = (moment - ref).total_seconds()
    if op == "$before":
        return [] if gap < 0 else [f"{path}: expected before {spec['ref']}, got {actual}"]
    low, high = spec.get("min_secs"), spec.get("max_secs")
    if gap <= 0 or (low is not None and gap < low) or (high is not None and gap > high):
        bounds = f"{low if low is not None else 0}..{high if high is not None else 'inf'} s"
        return [f"{path}: expected {bounds} after {spec['ref']}, got {actual} ({gap:.3f} s)"]
    return []
