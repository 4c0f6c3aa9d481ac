"""A small Prometheus text-format registry (counters and histograms kept in-process).

Gauges describing the queue (depth, oldest ready job, workers, dead tuples) are read from
the database at scrape time by the /metrics route, so every replica reports the same values.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        sep = "," if labels else ""
        for bound, count in zip(self.buckets, self.counts):
            running += count
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound}"}} {running}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.n}')
        brace = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{brace} {self.total}")
        out.append(f"{name}_count{brace} {self.n}")
        return out


class Registry:
    def __init__(self) -> None:
        self.counters: dict[str, float] = defaultdict(float)
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.request_durations: dict[str, Histogram] = {}
        self.claim_latency = Histogram(_DURATION_BUCKETS)
        self.job_duration = Histogram(JOB_DURATION_BUCKETS)

    def inc(self, name: str, amount: float = 1) -> None:
        self.counters[name] += amount

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        hist = self.request_durations.get(route)
        if hist is None:
            hist = self.request_durations[route] = Histogram(_DURATION_BUCKETS)
        hist.observe(seconds)

    def render(self, gauges: dict[str, float]) -> str:
        lines: list[str] = []
        for name in ("spooled_jobs_enqueued_total", "spooled_jobs_completed_total",
                     "spooled_jobs_failed_total", "spooled_jobs_retried_total",
                     "spooled_jobs_deadlettered_total", "spooled_redis_operations_total"):
            lines += [f"# TYPE {name} counter", f"{name} {self.counters.get(name, 0)}"]
        for name, value in gauges.items():
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        lines.append("# TYPE spooled_job_duration_seconds histogram")
        lines += self.job_duration.lines("spooled_job_duration_seconds", "")
        lines.append("# TYPE spooled_claim_latency_seconds histogram")
        lines += self.claim_latency.lines("spooled_claim_latency_seconds", "")
        lines.append("# TYPE spooled_api_requests_total counter")
        for (method, route, status), count in sorted(self.requests.items()):
            lines.append(f'spooled_api_requests_total{{method="{method}",route="{route}",status="{status}"}} {count}')
        lines.append("# TYPE spooled_api_request_duration_seconds histogram")
        for route, hist in sorted(self.request_durations.items()):
            lines += hist.lines("spooled_api_request_duration_seconds", f'route="{route}"')
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
