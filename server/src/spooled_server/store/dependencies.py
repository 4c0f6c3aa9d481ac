"""The job_dependencies table: edges "job_id waits on depends_on_job_id".

The table has no organization column; edges only ever join two jobs of one organization
(the service checks this before inserting), so scoping the jobs side scopes the edges.
"""

from __future__ import annotations

import asyncpg

from .jobs import DEPENDENCIES_MET, WAKE_CHANNEL, wake_queues

# Statuses from which a dependency can no longer complete on its own.
DEAD = ("deadletter", "failed", "cancelled")


async def lock_graph(conn: asyncpg.Connection, org_id: str) -> None:
    """Serialises dependency edits per organization until the transaction ends; without it two
    concurrent calls adding A->B and B->A could each pass the cycle check."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('spooled.job_dependencies'), hashtext($1))",
                       org_id)


async def lock_job(conn: asyncpg.Connection, org_id: str, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT id, status, queue_name, dependency_mode FROM jobs
           WHERE organization_id = $1 AND id = $2 FOR UPDATE""", org_id, job_id)


async def lock_existing(conn: asyncpg.Connection, org_id: str, ids: list[str]) -> set[str]:
    """The ids that exist in the organization, share-locked until the transaction ends.

    A complete or fail that already changed one of them must commit before we read its
    status, and one arriving later waits for us.
    """
    rows = await conn.fetch(
        """SELECT id FROM jobs WHERE organization_id = $1 AND id = ANY($2::text[])
           ORDER BY id FOR SHARE""", org_id, ids)
    return {r["id"] for r in rows}


async def cycle_closers(conn: asyncpg.Connection, job_id: str, candidates: list[str]) -> set[str]:
    """Candidates that already wait (directly or transitively) on `job_id`: making `job_id`
    wait on any of them would close a cycle."""
    rows = await conn.fetch(
        """WITH RECURSIVE down(id) AS (
               SELECT d.job_id FROM job_dependencies d WHERE d.depends_on_job_id = $1
               UNION
               SELECT d.job_id FROM job_dependencies d JOIN down ON d.depends_on_job_id = down.id
           )
           SELECT id FROM down WHERE id = ANY($2::text[])""", job_id, candidates)
    return {r["id"] for r in rows}


async def insert_edges(conn: asyncpg.Connection, job_id: str, depends_on: list[str],
                       dependency_type: str) -> list[str]:
    """Adds edges, skipping ones that exist; returns the dependency ids actually added."""
    rows = await conn.fetch(
        """INSERT INTO job_dependencies (job_id, depends_on_job_id, dependency_type)
           SELECT $1, d, $3 FROM unnest($2::text[]) AS d
           ON CONFLICT (job_id, depends_on_job_id) DO NOTHING
           RETURNING depends_on_job_id""", job_id, depends_on, dependency_type)
    return [r["depends_on_job_id"] for r in rows]


async def refresh_job(conn: asyncpg.Connection, org_id: str, job_id: str,
                      mode: str | None) -> asyncpg.Record:
    """Sets the mode (when given) and recomputes dependencies_met from every dependency's
    current status: all = each completed, any = at least one completed. Also reports how many
    dependencies there are, how many completed and how many are dead."""
    return await conn.fetchrow(
        f"""WITH agg AS (
                SELECT count(*) AS total,
                       count(*) FILTER (WHERE p.status = 'completed') AS done,
                       count(*) FILTER (WHERE p.status = ANY($4::text[])) AS dead
                FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on_job_id
                WHERE d.job_id = $2
            )
            UPDATE jobs j SET dependency_mode = COALESCE($3, j.dependency_mode),
                   dependencies_met = CASE
                       WHEN agg.total = 0 THEN true
                       WHEN COALESCE($3, j.dependency_mode) = 'any' THEN agg.done > 0
                       ELSE agg.done = agg.total END,
                   updated_at = now()
            FROM agg WHERE j.organization_id = $1 AND j.id = $2
            RETURNING j.status, j.queue_name, j.dependency_mode, j.dependencies_met,
                      agg.total, agg.done, agg.dead,
                      CASE WHEN j.dependencies_met AND j.status = 'pending'
                           THEN pg_notify('{WAKE_CHANNEL}', $1 || '/' || j.queue_name) IS NULL
                           ELSE false END AS woken""",
        org_id, job_id, mode, list(DEAD))


async def cancel_job(conn: asyncpg.Connection, org_id: str, job_id: str, reason: str) -> None:
    await conn.execute(
        """UPDATE jobs SET status = 'cancelled', dependencies_met = false, last_error = $3,
                  updated_at = now()
           WHERE organization_id = $1 AND id = $2 AND status IN ('pending', 'scheduled')""",
        org_id, job_id, reason)


async def dependency_ids(conn: asyncpg.Connection, job_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT depends_on_job_id FROM job_dependencies WHERE job_id = $1 ORDER BY created_at, depends_on_job_id",
        job_id)
    return [r["depends_on_job_id"] for r in rows]


async def dependencies_of(conn: asyncpg.Connection, org_id: str, job_id: str) -> list[asyncpg.Record]:
    """The jobs `job_id` waits on."""
    return await conn.fetch(
        """SELECT p.id AS job_id, p.queue_name, p.status, d.dependency_type
           FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on_job_id
           WHERE d.job_id = $2 AND p.organization_id = $1
           ORDER BY d.created_at, p.id""", org_id, job_id)


async def dependents_of(conn: asyncpg.Connection, org_id: str, job_id: str) -> list[asyncpg.Record]:
    """The jobs waiting on `job_id`."""
    return await conn.fetch(
        """SELECT c.id AS job_id, c.queue_name, c.status, d.dependency_type
           FROM job_dependencies d JOIN jobs c ON c.id = d.job_id
           WHERE d.depends_on_job_id = $2 AND c.organization_id = $1
           ORDER BY d.created_at, c.id""", org_id, job_id)


async def refresh_dependents(conn: asyncpg.Connection, parent_ids: list[str]) -> list[asyncpg.Record]:
    """Recomputes dependencies_met of every waiting (pending/scheduled) job that depends on one
    of `parent_ids`, from the current status of all its dependencies."""
    return await conn.fetch(
        f"""WITH refreshed AS (
                UPDATE jobs c SET updated_at = now(), dependencies_met = {DEPENDENCIES_MET}
                WHERE c.id IN (SELECT job_id FROM job_dependencies WHERE depends_on_job_id = ANY($1::text[]))
                  AND c.status IN ('pending', 'scheduled')
                RETURNING c.id, c.organization_id, c.queue_name, c.status, c.dependencies_met
            ), wake AS (
                {wake_queues("refreshed WHERE dependencies_met AND status = 'pending'")}
            )
            SELECT id, queue_name, dependencies_met, (SELECT count(*) FROM wake) AS woken FROM refreshed""",
        parent_ids)
