"""Plan usage: the UsageInfo report and the quota check that guards plan caps."""

from __future__ import annotations

from typing import Any, Mapping

import asyncpg

from ..errors import NotFound, QuotaExceeded
from ..store import jobs as job_store
from ..store import organizations as org_store
from ..store import usage as usage_store
from . import plans
from .core import Core

# (usage key, PlanLimits key, label for messages), in the order UsageInfo lists them.
RESOURCES = (
    ("jobs_today", "max_jobs_per_day", "Jobs created today"),
    ("active_jobs", "max_active_jobs", "Active jobs"),
    ("queues", "max_queues", "Queues"),
    ("workers", "max_workers", "Workers"),
    ("api_keys", "max_api_keys", "API keys"),
    ("schedules", "max_schedules", "Schedules"),
    ("workflows", "max_workflows", "Workflows"),
    ("webhooks", "max_webhooks", "Webhooks"),
)
_LABELS = {key: label for key, _, label in RESOURCES}


def upgrade_to(tier: str) -> str | None:
    """The next plan up, or None from the top plan."""
    order = plans.PLAN_ORDER
    return order[order.index(tier) + 1] if tier in order[:-1] else None


def resource_usage(current: int, limit: int | None) -> dict[str, Any]:
    # A limit of 0 disables the feature; a percentage of it would be meaningless.
    percentage = round(current * 100 / limit, 1) if limit else None
    return {"current": current, "limit": limit, "percentage": percentage, "is_disabled": limit == 0}


def warnings_for(tier: str, usage: Mapping[str, dict[str, Any]]) -> list[dict[str, str]]:
    """`warning` from 50 % (free) or 80 % (paid plans) of a limit, `critical` from 100 %."""
    threshold = 50 if tier == "free" else 80
    out = []
    for key, item in usage.items():
        pct = item["percentage"]
        if pct is None or pct < threshold:
            continue
        label = _LABELS.get(key, key)
        if pct >= 100:
            out.append({"resource": key, "severity": "critical",
                        "message": f"{label} limit reached ({item['current']}/{item['limit']})"})
        else:
            out.append({"resource": key, "severity": "warning",
                        "message": f"{label} at {pct:g}% of the plan limit ({item['current']}/{item['limit']})"})
    return out


def usage_info(limits: dict[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    """The UsageInfo object; resources without a table yet count as 0."""
    usage = {key: resource_usage(int(counts.get(key) or 0), limits[limit_key])
             for key, limit_key, _ in RESOURCES}
    return {"plan": limits["tier"], "plan_display_name": limits["display_name"], "limits": limits,
            "usage": usage, "warnings": warnings_for(limits["tier"], usage)}


async def usage_of(conn: asyncpg.Connection, org_id: str) -> dict[str, Any]:
    org = await org_store.get(conn, org_id)
    counts = await usage_store.counts(conn, org_id)
    if org is None or counts is None:
        raise NotFound("Organization not found")
    return usage_info(plans.plan_limits(org["plan_tier"], org["custom_limits"]), dict(counts))


async def report(core: Core, org_id: str) -> dict[str, Any]:
    """UsageInfo of one organization (GET /organizations/usage)."""
    async with core.pool.acquire() as conn:
        return await usage_of(conn, org_id)


def ensure_room(limits: dict[str, Any], resource: str, current: int, adding: int = 1) -> None:
    """Raises 429 QUOTA_EXCEEDED when adding `adding` would pass the plan's cap."""
    limit_key = next(limit_key for key, limit_key, _ in RESOURCES if key == resource)
    limit = limits[limit_key]
    if plans.exceeds(limit, current, adding):
        raise QuotaExceeded(
            f"{_LABELS[resource]} limit reached ({current}/{limit}) on the {limits['tier']} plan",
            {"resource": resource, "current": current, "limit": limit, "plan": limits["tier"],
             "upgrade_to": upgrade_to(limits["tier"])})


async def ensure_job_room(conn: asyncpg.Connection, org_id: str, limits: dict[str, Any], adding: int) -> None:
    """The plan's job caps (jobs created today, active jobs) for `adding` more jobs: 429 beyond
    them. The caller holds the organization row lock, so concurrent creates count one by one."""
    per_day, active_cap = limits["max_jobs_per_day"], limits["max_active_jobs"]
    if per_day is not None:
        ensure_room(limits, "jobs_today", await org_store.jobs_today(conn, org_id), adding)
    if active_cap is not None:
        ensure_room(limits, "active_jobs", await job_store.count_active(conn, org_id, active_cap + 1), adding)
