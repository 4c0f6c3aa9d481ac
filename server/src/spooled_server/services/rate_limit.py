"""Request rate limits: one token bucket per API key, in this process.

A key's bucket holds up to `burst` tokens and refills at `rate` tokens per second; every
authenticated request takes one token, and a request that finds less than one is refused with
429 RATE_LIMIT_EXCEEDED. `rate` and `burst` come from the organization's plan
(rate_limit_requests_per_second / rate_limit_burst, after custom_limits; `None` = unlimited).
A key's own `rate_limit` can only narrow its plan, never widen it: a key may not be used to
escape what its organization pays for. Its burst keeps the plans' shape (BURST_SECONDS of
traffic at its rate), capped at the plan's burst.

Scope: the buckets live in memory, so with N server processes (WEB_CONCURRENCY) each process
enforces its own bucket and a key can reach up to N times its limit. For a self-hosted server
that is an acceptable trade for a limiter that costs no round trip on the hot path. A shared
limiter can replace `RateLimiter.take` later without touching its callers: e.g. a PostgreSQL
row per key updated with the same refill arithmetic in one `UPDATE ... RETURNING` (or an
`UNLOGGED` table), or each process taking 1/N of the rate when the process count is known.

Memory is bounded: a bucket that has refilled to full is indistinguishable from a missing
one, so such idle buckets are dropped on a periodic sweep, and past MAX_BUCKETS the oldest
buckets are dropped (their keys start again with a full burst, which only ever errs lenient).
"""

from __future__ import annotations

import math
import time
from typing import Any, Awaitable, Callable, Protocol

from ..errors import RateLimited
from .auth import Caller

# Every plan's burst is two seconds of its rate; a key's own rate_limit keeps that shape.
BURST_SECONDS = 2
# Buckets kept before the oldest are dropped, and how often full (idle) buckets are swept.
MAX_BUCKETS = 100_000
SWEEP_EVERY = 60.0

# (X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset as epoch seconds)
Quota = tuple[int, int, int]


class PlanSource(Protocol):
    """What the limiter needs of services.limits.LimitsCache."""

    def for_org(self, org_id: str) -> Awaitable[dict[str, Any]]: ...


def effective_limits(plan_rate: float | None, plan_burst: int | None,
                     key_rate: int | None) -> tuple[float, int] | None:
    """(rate per second, burst) for a key, or None when it is not limited at all."""
    if plan_rate is not None and plan_rate <= 0:
        plan_rate = None  # a zero rate would refuse everything; custom_limits uses null for "none"
    if key_rate is not None and key_rate > 0 and (plan_rate is None or key_rate < plan_rate):
        burst = key_rate * BURST_SECONDS
        if plan_rate is not None and plan_burst:
            burst = min(burst, plan_burst)
        return float(key_rate), max(1, burst)
    if plan_rate is None:
        return None
    return float(plan_rate), max(1, int(plan_burst or plan_rate))


class _Bucket:
    __slots__ = ("tokens", "at", "rate", "burst")

    def __init__(self, tokens: float, at: float, rate: float, burst: int):
        self.tokens = tokens
        self.at = at
        self.rate = rate
        self.burst = burst

    def full_at(self) -> float:
        """The monotonic time at which this bucket is full again."""
        return self.at + (self.burst - self.tokens) / self.rate


class RateLimiter:
    """Token buckets per API key. `clock` is monotonic seconds, `wall` epoch seconds; both are
    injected so tests never sleep."""

    def __init__(self, plans: PlanSource, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, max_buckets: int = MAX_BUCKETS,
                 sweep_every: float = SWEEP_EVERY):
        self.plans = plans
        self.clock = clock
        self.wall = wall
        self.max_buckets = max_buckets
        self.sweep_every = sweep_every
        self._buckets: dict[str, _Bucket] = {}
        self._next_sweep = clock() + sweep_every

    async def check(self, caller: Caller) -> Quota | None:
        """Takes one request from the caller's key: its quota after this request, or None when
        the key is unlimited. Raises RateLimited (429) when the bucket is empty."""
        plan = await self.plans.for_org(caller.org_id)
        limits = effective_limits(plan.get("rate_limit_requests_per_second"),
                                  plan.get("rate_limit_burst"), caller.rate_limit)
        if limits is None:
            return None
        return self.take(caller.api_key_id, *limits)

    def take(self, key: str, rate: float, burst: int) -> Quota:
        """Takes one token from `key`'s bucket (created full), refilled at `rate` up to `burst`."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets or now >= self._next_sweep:
                self._sweep(now)
            bucket = self._buckets[key] = _Bucket(float(burst), now, rate, burst)
        else:
            # Refill at the rate in force until now; a plan change applies from here on.
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * bucket.rate)
            bucket.at, bucket.rate, bucket.burst = now, rate, burst
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / rate
            retry_after = max(1, math.ceil(wait))
            reset = math.ceil(self.wall() + retry_after)
            raise RateLimited(
                f"Rate limit exceeded: {burst} requests at once, {rate:g} per second; "
                f"retry in {retry_after} s",
                {"retry_after_seconds": retry_after, "limit": burst, "remaining": 0, "reset_at": reset},
                headers={"Retry-After": str(retry_after), "X-RateLimit-Limit": str(burst),
                         "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
        bucket.tokens -= 1.0
        reset = math.ceil(self.wall() + (bucket.full_at() - now))
        return burst, int(bucket.tokens), reset

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.sweep_every
        for key in [k for k, b in self._buckets.items() if b.full_at() <= now]:
            del self._buckets[key]
        while len(self._buckets) >= self.max_buckets:
            self._buckets.pop(next(iter(self._buckets)))

    def __len__(self) -> int:
        return len(self._buckets)
