"""The workflow graph check (pure): edges, topological order, and the 400s for repeated keys,
unknown dependency keys and cycles, each naming the key at fault."""

from __future__ import annotations

import pytest

from spooled_server.errors import BadRequest
from spooled_server.services.workflow_dag import Step, plan


def steps(*spec: tuple[str, list[str]]) -> list[Step]:
    return [Step(key, tuple(deps)) for key, deps in spec]


def refused(graph: list[Step]) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        plan(graph)
    return caught.value


def assert_topological(graph: list[Step], order: tuple[int, ...]) -> None:
    assert sorted(order) == list(range(len(graph)))
    position = {graph[i].key: n for n, i in enumerate(order)}
    for step in graph:
        for dep in step.depends_on:
            assert position[dep] < position[step.key], (dep, step.key)


def test_diamond_edges_and_order():
    graph = steps(("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"]))
    dag = plan(graph)
    assert sorted(dag.edges) == [(1, 0), (2, 0), (3, 1), (3, 2)]
    assert dag.order == (0, 1, 2, 3)
    assert_topological(graph, dag.order)


def test_order_puts_dependencies_first_whatever_the_definition_order():
    graph = steps(("join", ["left", "right"]), ("right", ["root"]), ("left", ["root"]), ("root", []))
    dag = plan(graph)
    assert dag.order[0] == 3 and dag.order[-1] == 0
    assert_topological(graph, dag.order)


def test_independent_jobs_have_no_edges():
    dag = plan(steps(("x", []), ("y", []), ("z", [])))
    assert dag.edges == () and dag.order == (0, 1, 2)


def test_a_dependency_listed_twice_is_one_edge():
    dag = plan(steps(("a", []), ("b", ["a", "a"])))
    assert dag.edges == ((1, 0),)


def test_wide_fan_out_and_join():
    children = [(f"c{i}", ["root"]) for i in range(98)]
    graph = steps(("root", []), *children, ("join", [f"c{i}" for i in range(98)]))
    dag = plan(graph)
    assert len(dag.edges) == 98 * 2
    assert_topological(graph, dag.order)


def test_duplicate_key_is_refused_naming_it():
    err = refused(steps(("a", []), ("b", []), ("a", [])))
    assert "'a'" in err.message
    assert err.details == {"field": "jobs.2.key", "key": "a"}


def test_unknown_dependency_is_refused_naming_it():
    err = refused(steps(("a", []), ("b", ["a", "ghost"])))
    assert "ghost" in err.message
    assert err.details["unknown"] == "ghost" and err.details["field"] == "jobs.1.depends_on"


def test_self_dependency_is_a_cycle():
    err = refused(steps(("a", []), ("loop", ["loop"])))
    assert "loop" in err.message
    assert err.details["cycle"] == ["loop", "loop"]


def test_two_step_cycle():
    err = refused(steps(("a", ["b"]), ("b", ["a"])))
    assert err.details["cycle"] in (["a", "b", "a"], ["b", "a", "b"])
    assert err.details["key"] in ("a", "b") and err.details["key"] in err.message


def test_cycle_path_follows_real_edges_and_skips_jobs_outside_it():
    # root is fine; x -> y -> z -> x is the cycle; tail only hangs off it.
    graph = steps(("root", []), ("x", ["root", "z"]), ("y", ["x"]), ("z", ["y"]), ("tail", ["z"]))
    cycle = refused(graph).details["cycle"]
    assert cycle[0] == cycle[-1] and len(cycle) == 4
    assert set(cycle) == {"x", "y", "z"}
    deps = {s.key: s.depends_on for s in graph}
    for waiting, waited_on in zip(cycle, cycle[1:]):
        assert waited_on in deps[waiting]


def test_checks_run_in_order_duplicates_first():
    # Both a duplicate and an unknown key: the duplicate is reported.
    err = refused(steps(("a", ["ghost"]), ("a", [])))
    assert err.details["key"] == "a" and "unknown" not in err.details
