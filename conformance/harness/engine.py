"""Runs one scenario: creates its entities, executes its steps through a Driver, judges outcomes."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from .driver import ClientSpec, Driver, EventStream, Unsupported
from .matching import PatternError, match
from .outcome import Outcome
from .proxy import ProxyControl
from .scenarios import Scenario
from .values import VariableError, extract, interpolate, resolve_credential

SCENARIO_DEADLINE_S = 90.0


class StepFailure(Exception):
    """The server (or the client under test) did not behave as the step expects."""


class ScenarioError(Exception):
    """The scenario cannot be run as written (bad reference, bad pattern, missing proxy...)."""


@dataclass
class SuiteContext:
    """Everything a scenario may need from the command line and the probes."""

    http_url: str
    api_key: str
    admin_key: str
    grpc_target: str | None
    proxy_url: str | None
    proxy: ProxyControl | None
    features: set[str]
    driver: Driver
    setup_http: httpx.AsyncClient  # raw HTTP for entity setup (admin API), never under test


@dataclass
class Result:
    scenario: str
    status: str  # pass | fail | skip
    reason: str | None
    duration_ms: int

    def as_json(self) -> dict:
        out: dict[str, Any] = {"scenario": self.scenario, "status": self.status, "duration_ms": self.duration_ms}
        if self.reason:
            out["reason"] = self.reason
        return out


class ScenarioRun:
    def __init__(self, scenario: Scenario, ctx: SuiteContext):
        self.sc = scenario
        self.ctx = ctx
        self.driver = ctx.driver
        self.vars: dict[str, Any] = {"server": {"key": ctx.api_key, "admin_key": ctx.admin_key,
                                                "http_url": ctx.http_url, "grpc_target": ctx.grpc_target}}
        self.client_defs = {name: ent["client"] for name, ent in scenario.entities.items() if "client" in ent}
        self.clients: dict[str, Any] = {}
        self.streams: dict[str, tuple[EventStream, Any]] = {}

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        if self.sc.uses_proxy:
            if self.ctx.proxy is None or self.ctx.proxy_url is None:
                raise ScenarioError("needs the fault proxy (--proxy-url and --proxy-control)")
            await self.ctx.proxy.reset()
        try:
            await self._create_orgs()
            for index, step in enumerate(self.sc.steps, 1):
                try:
                    await self._step(step)
                except StepFailure as err:
                    raise StepFailure(f"step {index} ({_label(step)}): {err}") from None
                except (VariableError, PatternError, Unsupported) as err:
                    raise ScenarioError(f"step {index} ({_label(step)}): {err}") from None
        finally:
            await self._cleanup()

    async def _cleanup(self) -> None:
        for _, handle in self.streams.values():
            try:
                await self.driver.unsubscribe(handle)
            except Exception:  # noqa: BLE001 - cleanup must not hide the verdict
                pass
        for client in self.clients.values():
            try:
                await self.driver.close_client(client)
            except Exception:  # noqa: BLE001
                pass
        if self.sc.uses_proxy and self.ctx.proxy is not None:
            try:
                await self.ctx.proxy.reset()
            except httpx.HTTPError:
                pass

    async def _create_orgs(self) -> None:
        for name, entity in self.sc.entities.items():
            if "org" not in entity:
                continue
            plan = (entity["org"] or {}).get("plan", "enterprise")
            slug = f"cf-{secrets.token_hex(6)}"
            response = await self.ctx.setup_http.post(
                "/api/v1/admin/organizations",
                headers={"X-Admin-Key": self.ctx.admin_key},
                json={"name": f"Conformance {name} {slug}", "slug": slug, "plan_tier": plan})
            if response.status_code != 201:
                raise ScenarioError(f"creating org {name!r} via the admin API answered "
                                    f"{response.status_code}: {response.text[:300]}")
            body = response.json()
            org, key = body["organization"], body["api_key"]
            custom = (entity["org"] or {}).get("custom_limits")
            if custom is not None:
                patched = await self.ctx.setup_http.patch(
                    f"/api/v1/admin/organizations/{org['id']}", headers={"X-Admin-Key": self.ctx.admin_key},
                    json={"custom_limits": custom})
                if patched.status_code != 200:
                    raise ScenarioError(f"setting custom_limits of org {name!r} answered "
                                        f"{patched.status_code}: {patched.text[:300]}")
            self.vars[name] = {"id": org["id"], "slug": org["slug"], "name": org["name"], "plan": plan,
                               "key": key["key"], "api_key_id": key["id"]}

    async def _client(self, name: str | None) -> Any:
        if name is None:
            if len(self.client_defs) != 1:
                raise ScenarioError("step has no `client` and the scenario does not declare exactly one client")
            name = next(iter(self.client_defs))
        if name in self.clients:
            return self.clients[name]
        if name not in self.client_defs:
            raise ScenarioError(f"unknown client {name!r}")
        spec_def = self.client_defs[name]
        via = spec_def.get("via", "direct")
        base = self.ctx.proxy_url if via == "fault_proxy" else self.ctx.http_url
        if base is None:
            raise ScenarioError(f"client {name!r} needs the fault proxy")
        try:
            spec = ClientSpec(name=name, base_url=base, grpc_target=self.ctx.grpc_target, via=via,
                              api_key=resolve_credential(spec_def.get("api_key"), self.vars),
                              access_token=resolve_credential(spec_def.get("access_token"), self.vars),
                              admin_key=resolve_credential(spec_def.get("admin_key"), self.vars),
                              options=dict(spec_def.get("options") or {}))
        except VariableError as err:
            raise ScenarioError(f"client {name!r}: {err}") from None
        self.clients[name] = await self.driver.make_client(spec)
        return self.clients[name]

    # ------------------------------------------------------------------ steps
    async def _step(self, step: dict) -> None:
        if "op" in step:
            await self._op_step(step)
        elif "wait_until" in step:
            await self._wait_until(step)
        elif "concurrently" in step:
            results = await asyncio.gather(*(self._op_step(b) for b in step["concurrently"]),
                                           return_exceptions=True)
            for i, res in enumerate(results, 1):
                if isinstance(res, StepFailure):
                    raise StepFailure(f"branch {i}: {res}")
                if isinstance(res, BaseException):
                    raise res
        elif "fault" in step:
            await self._need_proxy().configure(step["fault"])
        elif "proxy_stats" in step:
            await self._proxy_stats(step["proxy_stats"])
        elif "assert" in step:
            value = interpolate(step["assert"]["value"], self.vars)
            problems = match(interpolate(step["assert"]["match"], self.vars), value)
            if problems:
                raise StepFailure("; ".join(problems))
        elif "subscribe" in step:
            spec = step["subscribe"]
            client = await self._client(spec.get("client"))
            args = interpolate(spec.get("args") or {}, self.vars)
            send = interpolate(spec.get("send") or [], self.vars)
            self.streams[spec["as"]] = await self.driver.subscribe(client, spec["op"], args, send)
        elif "await_event" in step:
            await self._await_event(step)
        else:
            raise ScenarioError(f"unknown step {sorted(step)}")

    async def _call(self, client: Any, op: str, args: dict) -> Outcome:
        started = time.monotonic()
        outcome = await self.driver.call(client, op, args)
        outcome.duration_ms = (time.monotonic() - started) * 1000
        return outcome

    async def _op_step(self, step: dict) -> None:
        client = await self._client(step.get("client"))
        op = step["op"]
        repeat = step.get("repeat", 1)

        async def once() -> Outcome:
            return await self._call(client, op, interpolate(step.get("args") or {}, self.vars))

        if step.get("concurrent"):
            outcomes = list(await asyncio.gather(*(once() for _ in range(repeat))))
        else:
            outcomes = [await once() for _ in range(repeat)]
        expect = interpolate(step.get("expect") or {}, self.vars)
        for i, outcome in enumerate(outcomes):
            problems = self._judge(expect, outcome)
            if problems:
                copy = f"call {i + 1} of {repeat}: " if repeat > 1 else ""
                raise StepFailure(f"{copy}{'; '.join(problems)} (got {outcome.describe()})")
        if "collect" in step:
            self.vars[step["collect"]] = [o.as_value() for o in outcomes]
        if "save" in step:
            self._save(step["save"], outcomes[-1])

    def _judge(self, expect: dict, outcome: Outcome) -> list[str]:
        problems: list[str] = []
        if "error" in expect:
            err = outcome.error
            if err is None:
                problems.append(f"expected error {expect['error']}, but the call succeeded")
            else:
                if err.kind != expect["error"]:
                    problems.append(f"expected error kind {expect['error']}, got {err.kind}")
                if "code" in expect and err.code != expect["code"]:
                    problems.append(f"expected error code {expect['code']}, got {err.code}")
                if "details" in expect:
                    problems += match(expect["details"], err.details, "$details")
        elif outcome.error is not None:
            problems.append("expected success")
        elif "result" in expect:
            problems += match(expect["result"], outcome.result)
        if "status" in expect and self.driver.sees_http_status and outcome.status != expect["status"]:
            problems.append(f"expected HTTP {expect['status']}, got {outcome.status}")
        if "duration_ms" in expect:
            problems += match(expect["duration_ms"], round(outcome.duration_ms), "$duration_ms")
        return problems

    def _save(self, spec: dict, outcome: Outcome) -> None:
        if outcome.error is not None:
            raise StepFailure(f"cannot save from an error ({outcome.describe()})")
        for name, path in spec.items():
            try:
                self.vars[name] = extract(path, outcome.result)
            except VariableError as err:
                raise StepFailure(f"save {name}: {err}") from None

    async def _wait_until(self, step: dict) -> None:
        spec = step["wait_until"]
        client = await self._client(spec.get("client"))
        deadline = time.monotonic() + spec["timeout_ms"] / 1000
        interval = spec.get("interval_ms", 100) / 1000
        attempts = 0
        while True:
            attempts += 1
            outcome = await self._call(client, spec["op"], interpolate(spec.get("args") or {}, self.vars))
            pattern = interpolate(spec["match"], self.vars)
            problems = ["call failed"] if outcome.error else match(pattern, outcome.result)
            if not problems:
                if "save" in step:
                    self._save(step["save"], outcome)
                return
            if time.monotonic() + interval > deadline:
                raise StepFailure(f"not reached within {spec['timeout_ms']} ms ({attempts} attempts): "
                                  f"{'; '.join(problems)} (last: {outcome.describe()})")
            await asyncio.sleep(interval)

    async def _await_event(self, step: dict) -> None:
        spec = step["await_event"]
        if spec["stream"] not in self.streams:
            raise ScenarioError(f"no subscription named {spec['stream']!r}")
        stream, _ = self.streams[spec["stream"]]
        pattern = interpolate(spec["match"], self.vars)
        deadline = time.monotonic() + spec["timeout_ms"] / 1000
        while True:
            while stream.cursor < len(stream.events):
                event = stream.events[stream.cursor]
                stream.cursor += 1
                if not match(pattern, event):
                    if "save" in step:
                        self._save(step["save"], Outcome(result=event))
                    return
            if stream.closed:
                raise StepFailure(f"stream closed before a matching event ({stream.error or 'no error'}); "
                                  f"seen {len(stream.events)} events")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StepFailure(f"no matching event within {spec['timeout_ms']} ms; seen {len(stream.events)} events")
            try:
                await stream.changed(remaining)
            except asyncio.TimeoutError:
                pass

    async def _proxy_stats(self, spec: dict) -> None:
        proxy = self._need_proxy()
        if "match" in spec:
            problems = match(interpolate(spec["match"], self.vars), await proxy.stats())
            if problems:
                raise StepFailure("; ".join(problems))
        if spec.get("reset"):
            await proxy.zero_counters()

    def _need_proxy(self) -> ProxyControl:
        if self.ctx.proxy is None:
            raise ScenarioError("needs the fault proxy (--proxy-control)")
        return self.ctx.proxy


def _label(step: dict) -> str:
    if "op" in step:
        return step["op"]
    kind = next(k for k in step if k not in ("comment", "save"))
    inner = step[kind]
    if isinstance(inner, dict) and "op" in inner:
        return f"{kind} {inner['op']}"
    if isinstance(inner, dict) and "mode" in inner:
        return f"{kind} {inner['mode']}"
    return kind


def unmet_requirements(scenario: Scenario, ctx: SuiteContext) -> str | None:
    """The skip reason when the server or the runner lacks something, else None."""
    for feature in scenario.requires:
        if feature not in ctx.features:
            return f"server lacks feature: {feature}"
    for feature in scenario.client_features:
        if feature not in ctx.driver.client_features:
            return ctx.driver.missing_client_feature_reason(feature)
    return None


async def run_scenario(scenario: Scenario, ctx: SuiteContext) -> Result:
    started = time.monotonic()

    def done(status: str, reason: str | None) -> Result:
        return Result(scenario.name, status, reason, int((time.monotonic() - started) * 1000))

    try:
        await asyncio.wait_for(ScenarioRun(scenario, ctx).run(), SCENARIO_DEADLINE_S)
    except StepFailure as err:
        return done("fail", str(err))
    except ScenarioError as err:
        return done("fail", f"scenario error: {err}")
    except asyncio.TimeoutError:
        return done("fail", f"scenario did not finish within {SCENARIO_DEADLINE_S:.0f} s")
    except Exception as err:  # noqa: BLE001 - a runner bug must show up as a failure, not a crash
        return done("fail", f"runner error: {type(err).__name__}: {err}")
    return done("pass", None)
