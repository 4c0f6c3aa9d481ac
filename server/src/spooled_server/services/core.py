"""The per-process service context handed to routers and servicers."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from ..events.wakeups import WakeHub
from ..settings import Settings
from .auth import Authenticator
from .job_writes import JobWrites
from .limits import LimitsCache
from .rate_limit import RateLimiter


@dataclass
class Core:
    settings: Settings
    pool: asyncpg.Pool
    auth: Authenticator
    limits: LimitsCache
    wake: WakeHub
    # Coalesced job writes; built from the pool unless given.
    writes: JobWrites | None = field(default=None)
    # Per-key request rate limits (in this process); built on `limits` unless given.
    rate_limiter: RateLimiter | None = field(default=None)

    def __post_init__(self) -> None:
        if self.writes is None:
            self.writes = JobWrites(self.pool, self.settings)
        if self.rate_limiter is None:
            self.rate_limiter = RateLimiter(self.limits)
