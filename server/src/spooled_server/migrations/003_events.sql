-- Real-time events: every statement that creates jobs or changes their status sends ONE
-- coalesced NOTIFY on 'spooled_events' (a JSON array of compact changes), split into several
-- notifications only when the array would pass ~7000 bytes (PostgreSQL's limit is 8000).
-- Statement-level triggers with transition tables keep the cost per statement, not per row,
-- and leave the jobs engine's SQL untouched. NOTIFY is delivered at commit, so a rolled-back
-- change emits nothing.
--
-- Job change keys: o org, j job id, q queue, s new status, p previous status (absent on insert),
-- r retry_count, pr priority, d run time in ms (on completion), e error (failed attempts).
-- Worker change keys: o org, w worker id, q queue, s new status, p previous status.

CREATE FUNCTION spooled_notify_chunks(changes json[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    part text := '';
    item text;
BEGIN
    IF changes IS NULL THEN
        RETURN;
    END IF;
    FOREACH item IN ARRAY changes::text[] LOOP
        IF length(part) + length(item) > 7000 AND part <> '' THEN
            PERFORM pg_notify('spooled_events', '[' || part || ']');
            part := '';
        END IF;
        part := CASE WHEN part = '' THEN item ELSE part || ',' || item END;
    END LOOP;
    IF part <> '' THEN
        PERFORM pg_notify('spooled_events', '[' || part || ']');
    END IF;
END;
$$;

CREATE FUNCTION spooled_jobs_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM spooled_notify_chunks(ARRAY(
        SELECT json_build_object('o', organization_id, 'j', id, 'q', queue_name, 's', status,
                                 'r', retry_count, 'pr', priority)
        FROM new_rows));
    RETURN NULL;
END;
$$;

CREATE FUNCTION spooled_jobs_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM spooled_notify_chunks(ARRAY(
        SELECT json_strip_nulls(json_build_object(
                   'o', n.organization_id, 'j', n.id, 'q', n.queue_name, 's', n.status,
                   'p', o.status, 'r', n.retry_count, 'pr', n.priority,
                   'd', CASE WHEN n.status = 'completed' AND n.started_at IS NOT NULL
                             THEN (extract(epoch FROM n.completed_at - n.started_at) * 1000)::bigint END,
                   'e', CASE WHEN n.status IN ('failed', 'deadletter')
                               OR (o.status = 'processing' AND n.retry_count > o.retry_count)
                             THEN coalesce(left(n.last_error, 300), '') END))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status IS DISTINCT FROM o.status));
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_events_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION spooled_jobs_inserted();

CREATE TRIGGER jobs_events_update AFTER UPDATE ON jobs
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION spooled_jobs_updated();

-- Workers: registrations and status changes only (plain heartbeats would cost a NOTIFY each).
CREATE FUNCTION spooled_workers_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM spooled_notify_chunks(ARRAY(
        SELECT json_build_object('o', organization_id, 'w', id, 'q', queue_name, 's', status)
        FROM new_rows));
    RETURN NULL;
END;
$$;

CREATE FUNCTION spooled_workers_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM spooled_notify_chunks(ARRAY(
        SELECT json_build_object('o', n.organization_id, 'w', n.id, 'q', n.queue_name,
                                 's', n.status, 'p', o.status)
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status IS DISTINCT FROM o.status));
    RETURN NULL;
END;
$$;

CREATE TRIGGER workers_events_insert AFTER INSERT ON workers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION spooled_workers_inserted();

CREATE TRIGGER workers_events_update AFTER UPDATE ON workers
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION spooled_workers_updated();
