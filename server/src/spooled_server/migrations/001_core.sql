-- Core schema: organizations, API keys, the jobs table (which is the queue), dependencies,
-- workflows, queue configuration and workers.

CREATE TABLE organizations (
    id              TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    name            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    plan_tier       TEXT NOT NULL DEFAULT 'free',
    billing_email   TEXT,
    settings        JSONB NOT NULL DEFAULT '{}'::jsonb,
    custom_limits   JSONB,
    -- Daily job counter, reset lazily at UTC midnight.
    jobs_created_today  INTEGER NOT NULL DEFAULT 0,
    usage_day           DATE NOT NULL DEFAULT (now() AT TIME ZONE 'utc')::date,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash        TEXT NOT NULL UNIQUE,
    -- Non-secret display prefix (e.g. "sp_test_AbCd").
    key_prefix      TEXT NOT NULL,
    name            TEXT NOT NULL,
    queues          TEXT[] NOT NULL DEFAULT ARRAY['*'],
    rate_limit      INTEGER,
    is_active       BOOLEAN NOT NULL DEFAULT true,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used       TIMESTAMPTZ,
    expires_at      TIMESTAMPTZ
);
CREATE INDEX api_keys_org ON api_keys (organization_id, created_at DESC);

-- Revoked JWTs (logout), kept until they expire.
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE workflows (
    id              TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    total_jobs      INTEGER NOT NULL DEFAULT 0,
    completed_jobs  INTEGER NOT NULL DEFAULT 0,
    failed_jobs     INTEGER NOT NULL DEFAULT 0,
    metadata        JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at      TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX workflows_org ON workflows (organization_id, created_at DESC);

CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    queue_name          TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN
                        ('pending', 'scheduled', 'processing', 'completed', 'failed', 'deadletter', 'cancelled')),
    payload             JSONB NOT NULL,
    result              JSONB,
    retry_count         INTEGER NOT NULL DEFAULT 0,
    max_retries         INTEGER NOT NULL DEFAULT 3 CHECK (max_retries BETWEEN 0 AND 100),
    last_error          TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    scheduled_at        TIMESTAMPTZ,
    started_at          TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    expires_at          TIMESTAMPTZ,
    priority            INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100),
    tags                JSONB,
    timeout_seconds     INTEGER NOT NULL DEFAULT 300 CHECK (timeout_seconds BETWEEN 1 AND 86400),
    parent_job_id       TEXT REFERENCES jobs(id) ON DELETE SET NULL,
    completion_webhook  TEXT,
    assigned_worker_id  TEXT,
    -- The current (or, after complete/fail, the last) lease token; the reaper clears it.
    lease_id            TEXT,
    lease_expires_at    TIMESTAMPTZ,
    idempotency_key     TEXT,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    workflow_id         TEXT REFERENCES workflows(id) ON DELETE SET NULL,
    workflow_step       INTEGER,
    workflow_key        TEXT,
    dependency_mode     TEXT NOT NULL DEFAULT 'all' CHECK (dependency_mode IN ('all', 'any')),
    dependencies_met    BOOLEAN NOT NULL DEFAULT true
);

-- The claim path: ready jobs of one queue in priority order.
CREATE INDEX jobs_ready ON jobs (organization_id, queue_name, priority DESC, created_at ASC)
    WHERE status IN ('pending', 'scheduled') AND dependencies_met;
-- The reaper: leases by expiry.
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'processing';
-- The activator: delayed jobs by due time.
CREATE INDEX jobs_due ON jobs (scheduled_at)
    WHERE status IN ('pending', 'scheduled') AND scheduled_at IS NOT NULL;
-- Listing, stats and retention.
CREATE INDEX jobs_org_created ON jobs (organization_id, created_at DESC);
CREATE INDEX jobs_org_status ON jobs (organization_id, status, queue_name);
CREATE INDEX jobs_worker ON jobs (assigned_worker_id) WHERE status = 'processing';
CREATE INDEX jobs_workflow ON jobs (workflow_id) WHERE workflow_id IS NOT NULL;
CREATE INDEX jobs_parent ON jobs (parent_job_id) WHERE parent_job_id IS NOT NULL;
CREATE INDEX jobs_tags ON jobs USING gin (tags) WHERE tags IS NOT NULL;
-- Idempotency is a unique index, so concurrent duplicates can never both insert.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (organization_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The jobs table churns: vacuum it early and often.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
                      autovacuum_vacuum_cost_delay = 0, fillfactor = 85);

CREATE TABLE job_dependencies (
    job_id              TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    depends_on_job_id   TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    dependency_type     TEXT NOT NULL DEFAULT 'success',
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, depends_on_job_id),
    CHECK (job_id <> depends_on_job_id)
);
CREATE INDEX job_dependencies_parent ON job_dependencies (depends_on_job_id);

CREATE TABLE queue_config (
    id              TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    queue_name      TEXT NOT NULL,
    max_retries     INTEGER NOT NULL DEFAULT 3,
    default_timeout INTEGER NOT NULL DEFAULT 300,
    rate_limit      INTEGER,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    settings        JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (organization_id, queue_name)
);

CREATE TABLE workers (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    queue_name          TEXT NOT NULL,
    queue_names         TEXT[] NOT NULL DEFAULT '{}',
    hostname            TEXT NOT NULL,
    worker_type         TEXT,
    max_concurrency     INTEGER NOT NULL DEFAULT 5,
    current_jobs        INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL DEFAULT 'healthy'
                        CHECK (status IN ('healthy', 'degraded', 'draining', 'offline')),
    last_heartbeat      TIMESTAMPTZ NOT NULL DEFAULT now(),
    metadata            JSONB NOT NULL DEFAULT '{}'::jsonb,
    version             TEXT,
    registered_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX workers_org ON workers (organization_id, last_heartbeat DESC);
CREATE INDEX workers_live ON workers (last_heartbeat) WHERE status IN ('healthy', 'degraded', 'draining');
