"""Facts about this server process: its version and how long it has been running."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from .. import __version__

VERSION = __version__
# Taken when the process first imports the services, which is at startup.
STARTED_AT = datetime.now(timezone.utc)
_STARTED_MONOTONIC = time.monotonic()


def uptime_seconds() -> int:
    return int(time.monotonic() - _STARTED_MONOTONIC)
