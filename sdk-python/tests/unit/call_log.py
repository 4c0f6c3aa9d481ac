"""CallLog: the call recording the workers' in-memory fakes share, so a test can check exactly
what a worker sent. Job threads record concurrently, hence the lock."""

from __future__ import annotations

import threading
from typing import Any


class CallLog:
    """Records (call name, data) pairs in order; `sent(name)` lists one call's data."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def record(self, name: str, data: Any) -> None:
        with self.lock:
            self.calls.append((name, data))

    def sent(self, name: str) -> list[Any]:
        with self.lock:
            return [data for call, data in self.calls if call == name]
