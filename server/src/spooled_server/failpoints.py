"""Test-only failpoints: named places where the process dies on purpose (the pattern of
etcd-io/gofail), so tests can reproduce "the server crashed right after COMMIT, before the
response" (reliability scenarios R4 and R5) without racing a SIGKILL.

Inert unless SPOOLED_FAILPOINTS names some (a comma list in Settings, handed to `configure`
by create_app). Each named failpoint fires once per process: the process exits at once with
status 1, answering nothing, running no shutdown code. With none configured, `hit` is one
lookup in an empty frozenset.
"""

from __future__ import annotations

import os
import sys

# Every failpoint the server has; a name not listed here is refused at start.
KNOWN = frozenset({
    "complete.after_commit",  # a single REST/gRPC complete, after its coalesced flush committed
    "enqueue.after_commit",   # a create (single or batch), after the jobs were inserted
    "claim.after_commit",     # a claim that leased jobs, before they are answered
})

_armed: frozenset[str] = frozenset()
_fired: set[str] = set()


def configure(value: str) -> None:
    """Arms the failpoints named in `value` (SPOOLED_FAILPOINTS); "" disarms all. An unknown
    name raises ValueError, so a misspelt test setting fails loudly instead of never firing."""
    global _armed
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = names - KNOWN
    if unknown:
        raise ValueError(f"SPOOLED_FAILPOINTS names unknown failpoints: {', '.join(sorted(unknown))}")
    _armed = names
    _fired.clear()


def hit(name: str) -> None:
    """Kills the process here if `name` is armed and has not fired yet in this process."""
    if name not in _armed or name in _fired:
        return
    _fired.add(name)
    print(f"spooled: failpoint {name} fired; exiting", file=sys.stderr, flush=True)
    os._exit(1)
