"""Which of a set of leases are still held (read-only SQL over the jobs table)."""

from __future__ import annotations

import asyncpg

STILL_HELD = """
SELECT j.id FROM jobs j
JOIN unnest($2::text[], $3::text[]) AS h(id, lease_id) ON j.id = h.id AND j.lease_id = h.lease_id
WHERE j.organization_id = $1 AND j.status = 'processing'"""


async def still_held(conn: asyncpg.Connection, org_id: str, job_ids: list[str], lease_ids: list[str]) -> set[str]:
    """The ids among `job_ids` still processing under the paired lease (primary-key lookups)."""
    return {r["id"] for r in await conn.fetch(STILL_HELD, org_id, job_ids, lease_ids)}
