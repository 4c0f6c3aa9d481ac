"""The step engine against an in-memory driver: no server needed."""

import asyncio
from pathlib import Path

import pytest

from harness.driver import Driver, EventStream
from harness.engine import SuiteContext, run_scenario, unmet_requirements
from harness.outcome import ErrorInfo, Outcome
from harness.scenarios import Scenario


class FakeDriver(Driver):
    """A counter service: `counter.bump` adds one, `counter.get` reads, `counter.fail` errors."""

    name = "fake"
    sees_http_status = True

    def __init__(self):
        self.value = 0
        self.streams = []

    async def make_client(self, spec):
        return spec

    async def call(self, client, op, args):
        await asyncio.sleep(0)
        if op == "counter.bump":
            self.value += args.get("by", 1)
            for stream in self.streams:
                stream.push({"type": "Bumped", "data": {"value": self.value}})
            return Outcome(result={"value": self.value}, status=200)
        if op == "counter.get":
            return Outcome(result={"value": self.value, "who": client.api_key}, status=200)
        if op == "counter.token":
            return Outcome(result={"token": f"tok-{self.value}"}, status=200)
        if op == "counter.fail":
            return Outcome(error=ErrorInfo("conflict", code="LEASE_EXPIRED", status=409), status=409)
        raise AssertionError(op)

    async def subscribe(self, client, op, args, send):
        stream = EventStream()
        self.streams.append(stream)
        return stream, stream


def scenario(steps, entities=None, **extra):
    entities = entities if entities is not None else {"c": {"client": {"api_key": "k-1"}}}
    return Scenario(name="test/x", path=Path("x.yaml"), description="d", area="jobs",
                    requires=extra.get("requires", []), client_features=extra.get("client_features", []),
                    entities=entities, steps=steps)


def run(sc, driver=None, features=("jobs",)):
    driver = driver or FakeDriver()
    ctx = SuiteContext(http_url="http://x", api_key="k", admin_key="a", grpc_target=None, proxy_url=None,
                       proxy=None, features=set(features), driver=driver, setup_http=None)
    return asyncio.run(run_scenario(sc, ctx))


def test_pass_save_and_reuse():
    result = run(scenario([
        {"op": "counter.bump", "args": {"by": 2}, "expect": {"status": 200, "result": {"value": 2}},
         "save": {"v": "$.value"}},
        {"op": "counter.bump", "args": {"by": "${v}"}, "expect": {"result": {"value": 4}}},
        {"op": "counter.get", "expect": {"result": {"who": "k-1"}}},
    ]))
    assert result.status == "pass", result.reason


def test_mismatch_fails_with_step_number():
    result = run(scenario([{"op": "counter.bump"}, {"op": "counter.get", "expect": {"result": {"value": 9}}}]))
    assert result.status == "fail" and result.reason.startswith("step 2 (counter.get)")


def test_error_expectations():
    ok = run(scenario([{"op": "counter.fail", "expect": {"error": "conflict", "code": "LEASE_EXPIRED", "status": 409}}]))
    assert ok.status == "pass", ok.reason
    wrong_code = run(scenario([{"op": "counter.fail", "expect": {"error": "conflict", "code": "CONFLICT"}}]))
    assert wrong_code.status == "fail"
    unexpected = run(scenario([{"op": "counter.fail"}]))
    assert unexpected.status == "fail" and "expected success" in unexpected.reason


def test_repeat_concurrent_collect_and_assert():
    result = run(scenario([
        {"op": "counter.bump", "repeat": 5, "concurrent": True, "collect": "all"},
        {"assert": {"value": "${all}", "match": {"$len": 5, "$count": {"where": {"result": {"value": 5}}, "is": 1}}}},
    ]))
    assert result.status == "pass", result.reason


def test_wait_until_polls_then_times_out():
    driver = FakeDriver()
    passing = run(scenario([
        {"concurrently": [
            {"op": "counter.bump"},
            {"op": "counter.bump"},
        ]},
        {"wait_until": {"op": "counter.get", "match": {"value": 2}, "timeout_ms": 500}},
    ]), driver)
    assert passing.status == "pass", passing.reason
    failing = run(scenario([{"wait_until": {"op": "counter.get", "match": {"value": 1}, "timeout_ms": 200,
                                            "interval_ms": 50}}]))
    assert failing.status == "fail" and "not reached within 200 ms" in failing.reason


def test_await_event():
    result = run(scenario([
        {"subscribe": {"op": "events.stream", "as": "s"}},
        {"op": "counter.bump"},
        {"op": "counter.bump"},
        {"await_event": {"stream": "s", "match": {"type": "Bumped", "data": {"value": 2}}, "timeout_ms": 500}},
    ]))
    assert result.status == "pass", result.reason


def test_lazy_client_from_saved_variable():
    entities = {"first": {"client": {"api_key": "k-1"}}, "later": {"client": {"api_key": "${token}"}}}
    result = run(scenario([
        {"op": "counter.bump", "client": "first"},
        {"op": "counter.token", "client": "first", "save": {"token": "$.token"}},
        {"op": "counter.get", "client": "later", "expect": {"result": {"who": "tok-1"}}},
    ], entities))
    assert result.status == "pass", result.reason


def test_requirements():
    ctx_driver = FakeDriver()
    sc = scenario([{"op": "counter.get"}], requires=["schedules"])
    ctx = SuiteContext(http_url="", api_key="", admin_key="", grpc_target=None, proxy_url=None, proxy=None,
                       features={"jobs"}, driver=ctx_driver, setup_http=None)
    assert unmet_requirements(sc, ctx) == "server lacks feature: schedules"
    sc = scenario([{"op": "counter.get"}], client_features=["retry"])
    assert unmet_requirements(sc, ctx) == "runner lacks client feature: retry"


def test_proxy_steps_need_a_proxy():
    result = run(scenario([{"fault": {"mode": "pass"}}]))
    assert result.status == "fail" and "fault proxy" in result.reason


@pytest.mark.parametrize("folder", sorted(p.name for p in (Path(__file__).resolve().parents[2] / "scenarios").iterdir() if p.is_dir()))
def test_every_area_has_a_readme(folder):
    assert (Path(__file__).resolve().parents[2] / "scenarios" / folder / "README.md").exists()


def test_all_scenarios_are_valid():
    from harness.scenarios import load_scenarios
    scenarios = load_scenarios(Path(__file__).resolve().parents[2] / "scenarios")
    assert len(scenarios) >= 80


def test_every_operation_exists_in_the_contract():
    import yaml
    from harness.scenarios import load_scenarios
    root = Path(__file__).resolve().parents[3]
    spec = yaml.safe_load((root / "openapi" / "spooled.yaml").read_text())
    known = {op["operationId"] for item in spec["paths"].values() for op in item.values()
             if isinstance(op, dict) and "operationId" in op}
    used = set()
    for sc in load_scenarios(root / "conformance" / "scenarios"):
        for step in sc.steps:
            for inner in [step, *(step.get("concurrently") or []), step.get("wait_until") or {},
                          step.get("subscribe") or {}]:
                if "op" in inner:
                    used.add(inner["op"])
    rest = {op for op in used if not op.startswith("grpc.")}
    assert rest - known == set()
