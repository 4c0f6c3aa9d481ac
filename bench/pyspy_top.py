"""Summarises a `py-spy record --format speedscope` profile as two top-N tables.

    python bench/pyspy_top.py PROFILE.speedscope.json [--duration 10] [--top 15]

Only the main thread (the event loop, where requests are served) is tabulated by default;
other threads (uvicorn's `always_pong` health-check thread sits in a blocking pipe read that
py-spy counts as active) are listed with their sample counts. --thread '' takes them all.

"self" is where the interpreter was when sampled (the leaf frame); "total" is how often a
frame was anywhere on the stack. py-spy does not sample idle threads and weights each sample
by its interval (in seconds), so with --duration given the first line also says how busy the
process was (sampled seconds / recorded seconds), which on an event loop is roughly its CPU use.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


# Start-up frames every sample shares (process bootstrap, event loop entry): they would fill
# the "total" table without saying anything.
_SCAFFOLDING = ("multiprocessing/", "asyncio/runners.py", "uvicorn/server.py", "uvicorn/_compat.py",
                "uvicorn/_subprocess.py", "uvicorn/supervisors/", "<string>")


def _short_file(frame: dict) -> str:
    file = frame.get("file") or "?"
    # Shorten to the package-relative path (starlette/routing.py, asyncio/events.py,
    # spooled_server/api/jobs.py): that is what one looks up.
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    elif "/lib/python3." in file:
        file = file.split("/lib/python3.", 1)[1].split("/", 1)[-1]
    elif "/src/" in file:
        file = file.split("/src/", 1)[1]
    return file


def _label(frame: dict) -> str:
    line = frame.get("line")
    return f"{frame.get('name', '?')} ({_short_file(frame)}{':' + str(line) if line else ''})"


def _package(frame: dict) -> str:
    file = _short_file(frame)
    return file.split("/", 1)[0] if "/" in file else file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--duration", type=float, default=0, help="py-spy --duration used")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--thread", default="MainThread", help="tabulate threads whose name contains this")
    args = ap.parse_args()

    doc = json.loads(args.profile.read_text())
    frames = doc["shared"]["frames"]
    self_w: Counter[int] = Counter()
    total_w: Counter[int] = Counter()
    samples, weight_sum = 0, 0.0
    for prof in doc.get("profiles", []):
        active = sum(prof.get("weights") or [])
        chosen = args.thread in prof.get("name", "")
        per_s = f", ~{min(100, 100 * active / args.duration):.0f}% busy" if args.duration else ""
        print(f"    {'*' if chosen else ' '} {prof.get('name', '?')}: {len(prof.get('samples', []))} samples{per_s}")
        if not chosen:
            continue
        weights = prof.get("weights") or [1] * len(prof.get("samples", []))
        for stack, weight in zip(prof.get("samples", []), weights):
            if not stack:
                continue
            samples += 1
            weight_sum += weight
            self_w[stack[-1]] += weight  # speedscope stacks are root first, leaf last
            for idx in set(stack):
                total_w[idx] += weight

    if not samples:
        print("    no samples (was the worker idle, or could py-spy not attach?)")
        return 0
    print(f"    percentages below are of the {samples} active samples of the * thread(s)")
    by_package: Counter[str] = Counter()
    for idx, w in self_w.items():
        by_package[_package(frames[idx])] += w
    print("    -- self time by package")
    for pkg, w in by_package.most_common(args.top):
        print(f"    {100 * w / weight_sum:5.1f}%  {pkg}")
    print(f"    -- top {args.top} frames by self (leaf) time")
    for idx, w in self_w.most_common(args.top):
        print(f"    {100 * w / weight_sum:5.1f}%  {_label(frames[idx])}")
    print(f"    -- top {args.top} frames by total (on stack) time, start-up scaffolding left out")
    shown = 0
    for idx, w in total_w.most_common():
        if _short_file(frames[idx]).startswith(_SCAFFOLDING):
            continue
        print(f"    {100 * w / weight_sum:5.1f}%  {_label(frames[idx])}")
        shown += 1
        if shown == args.top:
            break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
