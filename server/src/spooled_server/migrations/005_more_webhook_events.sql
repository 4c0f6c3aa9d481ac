-- Outgoing webhook events beyond jobs: queue.paused/resumed, worker.registered/deregistered and
-- schedule.triggered, written to the outbox by triggers in the transaction of the change (like
-- the job events of 004). Plus the indexes the healer and retention loops read by.

-- One event for one organization: a delivery row per enabled subscription to it.
CREATE FUNCTION spooled_outbox_emit(org TEXT, event TEXT, body JSONB) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO webhook_deliveries_out (webhook_id, organization_id, event, payload, target_url)
    SELECT w.id, org, event,
           jsonb_build_object('event', event, 'organization_id', org,
                              'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                                   'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) || body,
           w.url
    FROM outgoing_webhooks w
    WHERE w.organization_id = org AND w.enabled AND event = ANY (w.events)
$$;

-- Queues: paused is settings.paused = true (see store/queues.py); only transitions emit.
CREATE FUNCTION spooled_queue_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_paused BOOLEAN := TG_OP = 'UPDATE' AND coalesce((OLD.settings->>'paused')::boolean, false);
    is_paused BOOLEAN := coalesce((NEW.settings->>'paused')::boolean, false);
BEGIN
    IF is_paused AND NOT was_paused THEN
        PERFORM spooled_outbox_emit(NEW.organization_id, 'queue.paused', jsonb_build_object(
            'queue_name', NEW.queue_name, 'reason', NEW.settings->'paused_reason',
            'paused_at', NEW.settings->'paused_at'));
    ELSIF was_paused AND NOT is_paused THEN
        PERFORM spooled_outbox_emit(NEW.organization_id, 'queue.resumed', jsonb_build_object(
            'queue_name', NEW.queue_name));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER queue_config_outbox AFTER INSERT OR UPDATE OF settings ON queue_config
    FOR EACH ROW EXECUTE FUNCTION spooled_queue_outbox();

-- Workers: a new row or an offline worker coming back is a registration; going offline (by
-- deregistering, a heartbeat saying so, or the stale-worker sweep) is a deregistration.
CREATE FUNCTION spooled_worker_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_online BOOLEAN := TG_OP = 'UPDATE' AND OLD.status <> 'offline';
    is_online BOOLEAN := NEW.status <> 'offline';
BEGIN
    IF is_online = was_online THEN
        RETURN NULL;
    END IF;
    PERFORM spooled_outbox_emit(NEW.organization_id,
        CASE WHEN is_online THEN 'worker.registered' ELSE 'worker.deregistered' END,
        jsonb_build_object('worker_id', NEW.id, 'queue_name', NEW.queue_name, 'hostname', NEW.hostname,
                           'status', NEW.status));
    RETURN NULL;
END $$;

CREATE TRIGGER workers_outbox AFTER INSERT OR UPDATE OF status ON workers
    FOR EACH ROW EXECUTE FUNCTION spooled_worker_outbox();

-- Schedules: a run that finished (its job created, or the attempt failed) was triggered.
CREATE FUNCTION spooled_schedule_run_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'running' AND NEW.status <> 'running' THEN
        PERFORM spooled_outbox_emit(NEW.organization_id, 'schedule.triggered', jsonb_build_object(
            'schedule_id', NEW.schedule_id,
            'schedule_name', (SELECT s.name FROM schedules s WHERE s.id = NEW.schedule_id),
            'queue_name', (SELECT s.queue_name FROM schedules s WHERE s.id = NEW.schedule_id),
            'run_id', NEW.id, 'job_id', NEW.job_id, 'status', NEW.status, 'error', NEW.error_message,
            'fire_time', to_char(NEW.fire_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'manual', false));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER schedule_runs_outbox AFTER UPDATE OF status ON schedule_runs
    FOR EACH ROW EXECUTE FUNCTION spooled_schedule_run_outbox();

-- The dependency healer's worklist: jobs still waiting for their dependencies (few, usually none).
CREATE INDEX jobs_blocked ON jobs (created_at) WHERE NOT dependencies_met AND status IN ('pending', 'scheduled');
-- Retention of finished history.
CREATE INDEX schedule_runs_age ON schedule_runs (started_at) WHERE status <> 'running';
CREATE INDEX webhook_deliveries_out_age ON webhook_deliveries_out (created_at) WHERE status <> 'pending';
