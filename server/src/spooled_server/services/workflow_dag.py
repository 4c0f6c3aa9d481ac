"""Checks a workflow's job graph before anything is written (pure: no I/O).

A workflow names its jobs by key and lists, per job, the keys it waits on. The graph must
have unique keys, name only keys of the same workflow and contain no cycle, or the whole
request is refused with 400 BAD_REQUEST naming the offending key.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

from ..errors import BadRequest


@dataclass(frozen=True)
class Step:
    """One job of a workflow as the DAG sees it: its key and the keys it depends on."""

    key: str
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dag:
    """A valid graph. `edges` are (waiting step, step waited on) index pairs, each once;
    `order` lists every step index with each step after all it depends on."""

    edges: tuple[tuple[int, int], ...]
    order: tuple[int, ...]


def _index_keys(steps: Sequence[Step]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.key in index:
            raise BadRequest(f"Duplicate job key '{step.key}' in workflow",
                             {"field": f"jobs.{i}.key", "key": step.key})
        index[step.key] = i
    return index


def _edges(steps: Sequence[Step], index: dict[str, int]) -> list[tuple[int, int]]:
    edges: list[tuple[int, int]] = []
    for i, step in enumerate(steps):
        # A key listed twice in one depends_on is one dependency, not an error.
        for key in dict.fromkeys(step.depends_on):
            if key not in index:
                raise BadRequest(f"Job '{step.key}' depends on unknown key '{key}'",
                                 {"field": f"jobs.{i}.depends_on", "key": step.key, "unknown": key})
            edges.append((i, index[key]))
    return edges


def _cycle_through(left: set[int], waits_on: list[list[int]]) -> list[int]:
    """A cycle among the steps Kahn's algorithm could not order.

    Each such step still waits on at least one other such step, so following those edges
    from any of them must revisit a step; the walk from that step's first visit is a cycle.
    """
    start = min(left)
    path, seen = [start], {start: 0}
    while True:
        nxt = min(p for p in waits_on[path[-1]] if p in left)
        if nxt in seen:
            return path[seen[nxt]:] + [nxt]
        seen[nxt] = len(path)
        path.append(nxt)


def plan(steps: Sequence[Step]) -> Dag:
    """Validates the graph and returns its edges and a topological order.

    Raises BadRequest for a repeated key, a dependency on a key not in the workflow, or a
    cycle (a self-dependency included); the message names a key involved, and a cycle's
    details list its path, e.g. ["a", "b", "a"].
    """
    index = _index_keys(steps)
    edges = _edges(steps, index)
    waits_on: list[list[int]] = [[] for _ in steps]
    released_by: list[list[int]] = [[] for _ in steps]
    for child, parent in edges:
        waits_on[child].append(parent)
        released_by[parent].append(child)

    # Kahn's algorithm, in definition order so the result is deterministic.
    blocking = [len(w) for w in waits_on]
    ready = deque(i for i, n in enumerate(blocking) if n == 0)
    order: list[int] = []
    while ready:
        i = ready.popleft()
        order.append(i)
        for child in released_by[i]:
            blocking[child] -= 1
            if blocking[child] == 0:
                ready.append(child)
    if len(order) < len(steps):
        cycle = [steps[i].key for i in _cycle_through(set(range(len(steps))) - set(order), waits_on)]
        raise BadRequest(f"Dependency cycle involving job '{cycle[0]}': {' -> '.join(cycle)}",
                         {"field": "jobs", "key": cycle[0], "cycle": cycle})
    return Dag(edges=tuple(edges), order=tuple(order))
