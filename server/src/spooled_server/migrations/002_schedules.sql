-- Cron schedules and the record of every time one fired.

CREATE TABLE schedules (
    id                  TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    description         TEXT,
    cron_expression     TEXT NOT NULL,
    -- Stored as the caller spelled it (IANA name, UTC/GMT, Etc/GMT±N or ±HH:MM).
    timezone            TEXT NOT NULL DEFAULT 'UTC',
    queue_name          TEXT NOT NULL,
    payload_template    JSONB NOT NULL,
    priority            INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100),
    max_retries         INTEGER NOT NULL DEFAULT 3 CHECK (max_retries BETWEEN 0 AND 100),
    timeout_seconds     INTEGER NOT NULL DEFAULT 300 CHECK (timeout_seconds BETWEEN 1 AND 86400),
    is_active           BOOLEAN NOT NULL DEFAULT true,
    last_run_at         TIMESTAMPTZ,
    -- NULL when the expression matches nothing within a year; such a schedule never fires.
    next_run_at         TIMESTAMPTZ,
    run_count           BIGINT NOT NULL DEFAULT 0,
    tags                JSONB,
    metadata            JSONB,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The scheduler's scan: active schedules by due time.
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE is_active;
CREATE INDEX schedules_org ON schedules (organization_id, created_at DESC);

CREATE TABLE schedule_runs (
    id                  TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    schedule_id         TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    organization_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    job_id              TEXT REFERENCES jobs(id) ON DELETE SET NULL,
    -- The due time this run answers (the schedule's next_run_at when it fired).
    fire_time           TIMESTAMPTZ NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    error_message       TEXT,
    started_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ,
    -- Exactly once per due time, however many scheduler processes race for it.
    UNIQUE (schedule_id, fire_time)
);
CREATE INDEX schedule_runs_history ON schedule_runs (schedule_id, started_at DESC);
-- Deleting a job (retention, organization delete) nulls job_id here: keep that an index probe.
CREATE INDEX schedule_runs_job ON schedule_runs (job_id) WHERE job_id IS NOT NULL;
