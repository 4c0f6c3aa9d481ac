"""The per-process service context handed to routers and servicers."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ..events.wakeups import WakeHub
from ..settings import Settings
from .auth import Authenticator
from .limits import LimitsCache


@dataclass
class Core:
    settings: Settings
    pool: asyncpg.Pool
    auth: Authenticator
    limits: LimitsCache
    wake: WakeHub
