"""Generators: each target turns the contract into code under some `generated/` folder.

`generate.py` writes them; `generate.py --check` writes into a temporary folder and compares.
Targets are added as SDKs land; each one is a function (output_root) -> None.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

# (folder relative to the repository root, function writing that folder's content)
TARGETS: list[tuple[str, Callable[[Path], None]]] = []


def _diff(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    out = [f"only in committed: {n}" for n in cmp.left_only] + [f"only in fresh: {n}" for n in cmp.right_only]
    out += [f"differs: {n}" for n in cmp.diff_files]
    for sub in cmp.common_dirs:
        out += _diff(a / sub, b / sub)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args()
    stale: list[str] = []
    for folder, generate in TARGETS:
        target = ROOT / folder
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                fresh = Path(tmp) / "out"
                fresh.mkdir()
                generate(fresh)
                if not target.exists():
                    stale.append(f"{folder}: missing")
                else:
                    stale += [f"{folder}: {d}" for d in _diff(target, fresh)]
        else:
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            generate(target)
            print(f"generated {folder}")
    if stale:
        print("generated code is stale; run scripts/generate:\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    print(f"generate: {len(TARGETS)} target(s) up to date" if args.check else "generate: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
