"""The command line every runner shares, the suite loop and the JSON report.

    run.py --http-url U --grpc-target T --api-key K --admin-key A --scenarios DIR --report FILE
           [--proxy-url P --proxy-control C] [--filter GLOBS] [--skips FILE] [--jobs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

from .driver import Driver
from .engine import Result, SuiteContext, run_scenario, unmet_requirements
from .features import probe_features
from .proxy import ProxyControl
from .scenarios import CONFORMANCE_DIR, ScenarioFileError, load_scenarios
from .skips import SkipsFileError, load_skips

STALE_NOTE = "passed although listed in the skips file (remove the entry once it passes steadily)"


def build_parser(runner: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"conformance runner ({runner})",
                                     description="Runs Spooled conformance scenarios and writes a JSON report.")
    parser.add_argument("--http-url", required=True, help="base URL of the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--grpc-target", default=None, help="host:port of the gRPC listener")
    parser.add_argument("--api-key", required=True, help="an API key of the server (used for feature probes)")
    parser.add_argument("--admin-key", required=True, help="the server's ADMIN_API_KEY (creates one org per scenario)")
    parser.add_argument("--scenarios", required=True, help="the scenarios folder (conformance/scenarios)")
    parser.add_argument("--report", required=True, help="where to write the JSON report")
    parser.add_argument("--proxy-url", default=None, help="the fault proxy's client-facing URL")
    parser.add_argument("--proxy-control", default=None, help="the fault proxy's control URL")
    parser.add_argument("--filter", default=None, help="comma-separated globs or substrings of scenario names")
    parser.add_argument("--skips", default=None, help=f"skips file (default conformance/skips/{runner}.yaml)")
    parser.add_argument("--jobs", type=int, default=6, help="scenarios run at once (fault-proxy ones run alone)")
    return parser


def _write_report(path: Path, runner: str, started: datetime, ctx: SuiteContext, results: list[Result]) -> None:
    report = {
        "runner": runner,
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "finished_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "http_url": ctx.http_url,
        "server_features": sorted(ctx.features),
        "results": [r.as_json() for r in sorted(results, key=lambda r: r.scenario)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


async def run_suite(driver: Driver, args: argparse.Namespace) -> int:
    started = datetime.now(timezone.utc)
    skips_path = Path(args.skips) if args.skips else CONFORMANCE_DIR / "skips" / f"{driver.name}.yaml"
    try:
        scenarios = load_scenarios(Path(args.scenarios), args.filter)
        skips = load_skips(skips_path, driver.name)
    except (ScenarioFileError, SkipsFileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    features = await probe_features(args.http_url, args.api_key, args.admin_key, args.grpc_target)
    proxy = ProxyControl(args.proxy_control) if args.proxy_control else None
    setup_http = httpx.AsyncClient(base_url=args.http_url, timeout=30.0)
    ctx = SuiteContext(http_url=args.http_url, api_key=args.api_key, admin_key=args.admin_key,
                       grpc_target=args.grpc_target, proxy_url=args.proxy_url, proxy=proxy,
                       features=features, driver=driver, setup_http=setup_http)
    print(f"[{driver.name}] {len(scenarios)} scenarios; server features: {', '.join(sorted(features))}", flush=True)

    limiter = asyncio.Semaphore(max(1, args.jobs))

    async def one(scenario) -> Result:
        reason = unmet_requirements(scenario, ctx)
        if reason is not None:
            result = Result(scenario.name, "skip", reason, 0)
        else:
            async with limiter:
                result = await run_scenario(scenario, ctx)
            listed = skips.reason_for(scenario.name)
            if listed and result.status == "fail":
                result = Result(scenario.name, "skip", f"{listed} [observed: {result.reason}]", result.duration_ms)
            elif listed and result.status == "pass":
                result.reason = STALE_NOTE
        mark = {"pass": "pass", "fail": "FAIL", "skip": "skip"}[result.status]
        detail = f" - {result.reason}" if result.reason else ""
        print(f"[{driver.name}] {mark:4} {result.scenario} ({result.duration_ms} ms){detail}", flush=True)
        return result

    await driver.start()
    try:
        results = list(await asyncio.gather(*(one(s) for s in scenarios if not s.uses_proxy)))
        for scenario in (s for s in scenarios if s.uses_proxy):
            results.append(await one(scenario))
    finally:
        await driver.stop()
        await setup_http.aclose()
        if proxy is not None:
            await proxy.close()

    _write_report(Path(args.report), driver.name, started, ctx, results)
    failed = [r for r in results if r.status == "fail"]
    unlisted = [r for r in results if r.status == "skip" and skips.reason_for(r.scenario) is None]
    counts = {s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "skip")}
    print(f"[{driver.name}] {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped "
          f"({len(unlisted)} not listed in {skips_path.name})", flush=True)
    for r in unlisted:
        print(f"[{driver.name}] unlisted skip: {r.scenario} - {r.reason}", flush=True)
    return 1 if failed or unlisted else 0


def main(make_driver: Callable[[argparse.Namespace], Driver], runner: str, argv: list[str] | None = None) -> int:
    args = build_parser(runner).parse_args(argv)
    driver = make_driver(args)
    return asyncio.run(run_suite(driver, args))
