"""Plan tiers and their limits (pure). `None` means unlimited."""

from __future__ import annotations

from typing import Any

PLAN_ORDER = ("free", "starter", "pro", "enterprise")

_DISPLAY = {"free": "Free", "starter": "Starter", "pro": "Pro", "enterprise": "Enterprise"}

_LIMITS: dict[str, dict[str, Any]] = {
    "free": dict(max_jobs_per_day=1_000, max_active_jobs=10, max_queues=2, max_workers=1,
                 max_api_keys=2, max_schedules=1, max_workflows=0, max_webhooks=1,
                 max_payload_size_bytes=65_536, rate_limit_requests_per_second=5,
                 rate_limit_burst=10, job_retention_days=3, history_retention_days=1),
    "starter": dict(max_jobs_per_day=10_000, max_active_jobs=500, max_queues=10, max_workers=5,
                    max_api_keys=5, max_schedules=10, max_workflows=5, max_webhooks=5,
                    max_payload_size_bytes=262_144, rate_limit_requests_per_second=25,
                    rate_limit_burst=50, job_retention_days=14, history_retention_days=7),
    "pro": dict(max_jobs_per_day=100_000, max_active_jobs=5_000, max_queues=50, max_workers=25,
                max_api_keys=25, max_schedules=50, max_workflows=25, max_webhooks=20,
                max_payload_size_bytes=1_048_576, rate_limit_requests_per_second=100,
                rate_limit_burst=200, job_retention_days=30, history_retention_days=30),
    "enterprise": dict(max_jobs_per_day=None, max_active_jobs=None, max_queues=None,
                       max_workers=None, max_api_keys=None, max_schedules=None,
                       max_workflows=None, max_webhooks=None, max_payload_size_bytes=5_242_880,
                       rate_limit_requests_per_second=500, rate_limit_burst=1000,
                       job_retention_days=90, history_retention_days=90),
}

# Keys whose JSON null in custom_limits means "unlimited"; for the others (payload size,
# retention) null is ignored. The reference ignores null for the rate keys too; here it lifts
# the request rate limit, which is how a self-hosted operator's own organization runs
# unthrottled (cli.py's bootstrap organization is created that way).
_NULL_IS_UNLIMITED = {k for k in _LIMITS["free"] if k.startswith("max_") and k != "max_payload_size_bytes"}
_NULL_IS_UNLIMITED |= {"rate_limit_requests_per_second", "rate_limit_burst"}


def plan_limits(tier: str, custom_limits: dict[str, Any] | None = None) -> dict[str, Any]:
    """The PlanLimits object for a tier (unknown tiers count as free), with overrides applied."""
    base_tier = tier if tier in _LIMITS else "free"
    limits = {"tier": base_tier, "display_name": _DISPLAY[base_tier], **_LIMITS[base_tier]}
    for key, value in (custom_limits or {}).items():
        if key not in _LIMITS["free"]:
            continue
        if value is None and key not in _NULL_IS_UNLIMITED:
            continue
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            limits[key] = value
    return limits


def all_plans() -> list[dict[str, Any]]:
    return [plan_limits(tier) for tier in PLAN_ORDER]


def exceeds(limit: int | None, current: int, adding: int) -> bool:
    """A limit is exceeded when current + adding > limit."""
    return limit is not None and current + adding > limit
