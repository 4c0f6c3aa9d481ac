"""The skips file of a runner: `conformance/skips/<runner>.yaml`.

    version: 1
    runner: http
    skips:
      - scenario: schedules/*            # a scenario name or a glob
        reason: "server lacks feature: schedules"

A runner skips a scenario on its own when the server or its client lacks a feature; every such
skip must be listed here with a reason, or `conformance/run` counts it as a failure. A listed
scenario that the runner could run (a known server defect) is still run: if it fails it is
reported as a skip with the listed reason; if it passes it is reported as a pass and the entry
is flagged as stale.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import yaml


class SkipsFileError(Exception):
    pass


@dataclass
class SkipEntry:
    pattern: str
    reason: str

    def covers(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)


@dataclass
class Skips:
    runner: str
    entries: list[SkipEntry]

    def reason_for(self, name: str) -> str | None:
        for entry in self.entries:
            if entry.covers(name):
                return entry.reason
        return None


def load_skips(path: Path, runner: str) -> Skips:
    if not path.exists():
        return Skips(runner, [])
    data = yaml.safe_load(path.read_text()) or {}
    if data.get("version") != 1:
        raise SkipsFileError(f"{path}: `version: 1` expected")
    if data.get("runner") != runner:
        raise SkipsFileError(f"{path}: `runner` must be {runner!r}")
    entries = []
    for i, item in enumerate(data.get("skips") or [], 1):
        if not isinstance(item, dict) or not item.get("scenario") or not str(item.get("reason", "")).strip():
            raise SkipsFileError(f"{path}: entry {i} needs `scenario` and a non-empty `reason`")
        entries.append(SkipEntry(str(item["scenario"]), str(item["reason"]).strip()))
    return Skips(runner, entries)
