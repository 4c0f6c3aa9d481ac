"""Loads scenario files, validates them against schema/scenario-1.json and checks their references."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONFORMANCE_DIR = Path(__file__).resolve().parent.parent
SCHEMA_PATH = CONFORMANCE_DIR / "schema" / "scenario-1.json"
SUPPORTED_VERSIONS = {1}


class ScenarioFileError(Exception):
    """A scenario file that is not valid YAML, breaks the schema, or references unknown names."""


class _Loader(yaml.SafeLoader):
    """YAML 1.2-like: plain scalars that look like dates stay strings (as in other languages' parsers)."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Scenario:
    name: str
    path: Path
    description: str
    area: str
    requires: list[str]
    client_features: list[str]
    entities: dict[str, Any]
    steps: list[dict]

    @property
    def uses_proxy(self) -> bool:
        """True when the scenario drives the fault proxy (such scenarios run one at a time)."""
        if any(e.get("client", {}).get("via") == "fault_proxy" for e in self.entities.values()):
            return True
        return any("fault" in s or "proxy_stats" in s for s in self.steps)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _check_references(data: dict, path: Path) -> None:
    entities = data.get("entities") or {}
    clients = {n for n, e in entities.items() if "client" in e}
    orgs = {n for n, e in entities.items() if "org" in e}
    problems = []
    expected_name = f"{path.parent.name}/{path.stem}"
    if data["name"] != expected_name:
        problems.append(f"name must be {expected_name!r} (area folder / file name)")
    if data["area"] != path.parent.name:
        problems.append(f"area must be {path.parent.name!r} (its folder)")
    for name, entity in entities.items():
        for field_name in ("api_key", "admin_key"):
            ref = (entity.get("client") or {}).get(field_name)
            if isinstance(ref, str) and ref.startswith("$") and not ref.startswith("${"):
                owner = ref[1:].split(".")[0]
                if owner != "server" and owner not in orgs:
                    problems.append(f"client {name}: {field_name} refers to unknown org {owner!r}")

    def check_client(step: dict, where: str) -> None:
        name = step.get("client")
        if name is None and len(clients) != 1:
            problems.append(f"{where}: no `client` given and the scenario does not have exactly one client")
        elif name is not None and name not in clients:
            problems.append(f"{where}: unknown client {name!r}")

    for i, step in enumerate(data["steps"], 1):
        if "op" in step:
            check_client(step, f"step {i}")
        for key in ("wait_until", "subscribe"):
            if key in step:
                check_client(step[key], f"step {i}")
        for j, branch in enumerate(step.get("concurrently") or [], 1):
            check_client(branch, f"step {i} branch {j}")
    if problems:
        raise ScenarioFileError(f"{path}: " + "; ".join(problems))


def load_scenarios(root: Path, name_filter: str | None = None) -> list[Scenario]:
    """Every `<root>/<area>/*.yaml`, sorted by name; raises on the first invalid file."""
    validator = _validator()
    scenarios = []
    for path in sorted(root.glob("*/*.yaml")):
        try:
            data = load_yaml(path)
        except yaml.YAMLError as err:
            raise ScenarioFileError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(data, dict) or data.get("version") not in SUPPORTED_VERSIONS:
            raise ScenarioFileError(f"{path}: unsupported or missing `version` (this runner knows {sorted(SUPPORTED_VERSIONS)})")
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(top)"
            raise ScenarioFileError(f"{path}: schema violation at {where}: {errors[0].message[:500]}")
        _check_references(data, path)
        scenario = Scenario(name=data["name"], path=path, description=data["description"], area=data["area"],
                            requires=list(data["requires"]), client_features=list(data.get("client_features") or []),
                            entities=dict(data.get("entities") or {}), steps=list(data["steps"]))
        if name_filter and not selected(scenario.name, name_filter):
            continue
        scenarios.append(scenario)
    return scenarios


def selected(name: str, name_filter: str) -> bool:
    """`--filter`: comma-separated globs (`leases/*`) or substrings (`lease`)."""
    for part in (p.strip() for p in name_filter.split(",")):
        if part and (fnmatch.fnmatchcase(name, part) or (not any(c in part for c in "*?[") and part in name)):
            return True
    return False
