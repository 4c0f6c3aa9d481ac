-- Outgoing webhooks: subscriptions, and the delivery outbox that a trigger on jobs fills in the
-- same transaction as the state change (so a committed change always has its delivery row, and
-- a rolled-back one never does).

CREATE TABLE outgoing_webhooks (
    id                   TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    url                  TEXT NOT NULL,
    events               TEXT[] NOT NULL CHECK (
                             cardinality(events) >= 1 AND events <@ ARRAY[
                                 'job.created', 'job.started', 'job.completed', 'job.failed',
                                 'job.cancelled', 'queue.paused', 'queue.resumed',
                                 'worker.registered', 'worker.deregistered', 'schedule.triggered']),
    secret               TEXT,
    enabled              BOOLEAN NOT NULL DEFAULT true,
    -- Failed deliveries in a row (shown as failure_count); any success resets it.
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_triggered_at    TIMESTAMPTZ,
    last_status          TEXT CHECK (last_status IN ('success', 'failed', 'auto_disabled')),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The trigger's "does this organization listen at all?" probe.
CREATE INDEX outgoing_webhooks_enabled ON outgoing_webhooks (organization_id) WHERE enabled;
CREATE INDEX outgoing_webhooks_org ON outgoing_webhooks (organization_id, created_at DESC);

CREATE TABLE webhook_deliveries_out (
    id               TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    -- NULL for a job's completion_webhook, which belongs to no subscription.
    webhook_id       TEXT REFERENCES outgoing_webhooks(id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    payload          JSONB NOT NULL,
    target_url       TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code      INTEGER,
    response_body    TEXT,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_out_due ON webhook_deliveries_out (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_out_webhook ON webhook_deliveries_out (webhook_id, created_at DESC);

-- Audit of accepted incoming webhooks (custom, github, stripe).
CREATE TABLE webhook_deliveries_in (
    id               TEXT PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider         TEXT NOT NULL,
    event_type       TEXT,
    job_id           TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_in_org ON webhook_deliveries_in (organization_id, created_at DESC);

-- The payload a subscription receives for a job event.
CREATE FUNCTION spooled_job_event_payload(event TEXT, org TEXT, job_id TEXT, queue TEXT, status TEXT,
                                          result JSONB, error TEXT, retry_count INTEGER,
                                          created TIMESTAMPTZ, started TIMESTAMPTZ, completed TIMESTAMPTZ)
RETURNS JSONB LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event', event, 'organization_id', org, 'job_id', job_id, 'queue_name', queue, 'status', status,
        'result', result, 'error', error, 'retry_count', retry_count,
        'created_at', to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'started_at', to_char(started AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'completed_at', to_char(completed AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
$$;

-- Statement-level triggers with transition tables: one call per statement, and when no
-- organization touched by the statement has an enabled webhook (and no completion_webhook is
-- due) the whole cost is one probe of a small partial index.
CREATE FUNCTION spooled_jobs_outbox_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM outgoing_webhooks w
                   WHERE w.enabled AND w.organization_id IN (SELECT organization_id FROM new_jobs)) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries_out (webhook_id, organization_id, event, payload, target_url)
    SELECT w.id, n.organization_id, 'job.created',
           spooled_job_event_payload('job.created', n.organization_id, n.id, n.queue_name, n.status,
                                     n.result, n.last_error, n.retry_count, n.created_at, n.started_at,
                                     n.completed_at),
           w.url
    FROM new_jobs n
    JOIN outgoing_webhooks w ON w.organization_id = n.organization_id AND w.enabled
                            AND 'job.created' = ANY (w.events);
    RETURN NULL;
END $$;

CREATE FUNCTION spooled_jobs_outbox_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_jobs n WHERE n.completion_webhook IS NOT NULL
                       AND n.status IN ('completed', 'failed', 'deadletter'))
       AND NOT EXISTS (SELECT 1 FROM outgoing_webhooks w
                       WHERE w.enabled AND w.organization_id IN (SELECT organization_id FROM new_jobs)) THEN
        RETURN NULL;
    END IF;
    WITH changed AS (
        SELECT n.*, CASE n.status WHEN 'processing' THEN 'job.started'
                                  WHEN 'completed' THEN 'job.completed'
                                  WHEN 'failed' THEN 'job.failed'
                                  WHEN 'deadletter' THEN 'job.failed'
                                  WHEN 'cancelled' THEN 'job.cancelled' END AS event
        FROM new_jobs n JOIN old_jobs o ON o.id = n.id
        WHERE o.status IS DISTINCT FROM n.status
    )
    INSERT INTO webhook_deliveries_out (webhook_id, organization_id, event, payload, target_url)
    SELECT w.id, c.organization_id, c.event,
           spooled_job_event_payload(c.event, c.organization_id, c.id, c.queue_name, c.status, c.result,
                                     c.last_error, c.retry_count, c.created_at, c.started_at, c.completed_at),
           w.url
    FROM changed c
    JOIN outgoing_webhooks w ON w.organization_id = c.organization_id AND w.enabled AND c.event = ANY (w.events)
    WHERE c.event IS NOT NULL
    UNION ALL
    -- A job's own completion_webhook: the completion payload (no organization-wide fields).
    SELECT NULL, c.organization_id, e.name,
           jsonb_build_object(
               'event', e.name, 'job_id', c.id, 'queue_name', c.queue_name, 'status', c.status,
               'result', c.result, 'error', c.last_error, 'retry_count', c.retry_count,
               'created_at', to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'completed_at', to_char(c.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
           c.completion_webhook
    FROM changed c
    CROSS JOIN LATERAL (SELECT CASE c.status WHEN 'completed' THEN 'job.completed'
                                             WHEN 'failed' THEN 'job.failed'
                                             ELSE 'job.deadlettered' END AS name) e
    WHERE c.completion_webhook IS NOT NULL AND c.status IN ('completed', 'failed', 'deadletter');
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_outbox_created AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION spooled_jobs_outbox_created();
CREATE TRIGGER jobs_outbox_changed AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION spooled_jobs_outbox_changed();
