-- A rotation run that fails after its set-admin-password step succeeded has changed the
-- password in the store: the new credentials stay (only the kept previous ones are dropped).
-- Only when that step never succeeded do the previous credentials come back.
CREATE OR REPLACE FUNCTION stores_rotation_applied(run uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM workflow_step_attempts a
        JOIN workflow_runs r ON r.id = a.run_id
        JOIN workflow_definition_steps d
          ON d.workflow = r.workflow AND d.version = r.version AND d.step_index = a.step_index
        WHERE a.run_id = run AND a.outcome = 'succeeded' AND d.step_name = 'set-admin-password'
    )
$$;

CREATE OR REPLACE FUNCTION stores_follow_lifecycle_run() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    store record;
    step text;
BEGIN
    SELECT s.id, s.status, s.current_operation, s.current_run_id, s.rotation_run_id INTO store
    FROM stores s
    WHERE s.id = NEW.subject
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF store.rotation_run_id IS NOT DISTINCT FROM NEW.id THEN
        IF NEW.status IN ('failed', 'cancelled') THEN
            IF stores_rotation_applied(NEW.id) THEN
                UPDATE stores SET previous_credentials = NULL, updated_at = now() WHERE id = store.id;
                INSERT INTO audit_events (category, action, subject, data)
                VALUES ('store', 'credentials_rotation_failed', store.id,
                        jsonb_build_object('runId', NEW.id, 'runStatus', NEW.status,
                                           'reason', 'the new admin password was already applied and stays in effect'));
            ELSE
                UPDATE stores SET
                    credentials = coalesce(previous_credentials, credentials),
                    previous_credentials = NULL,
                    updated_at = now()
                WHERE id = store.id;
                INSERT INTO audit_events (category, action, subject, data)
                VALUES ('store', 'credentials_rotation_failed', store.id,
                        jsonb_build_object('runId', NEW.id, 'runStatus', NEW.status,
                                           'reason', 'the previous admin password stays in effect'));
            END IF;
        ELSIF OLD.status IN ('failed', 'cancelled') THEN
            RAISE EXCEPTION 'rotation run % of store % failed and its password was rolled back; it cannot be resumed',
                NEW.id, store.id
                USING ERRCODE = 'SF409',
                      HINT = 'Start a new rotation: POST /api/v1/stores/{id}/rotate-credentials.';
        END IF;
        RETURN NULL;
    END IF;
    IF store.current_run_id IS DISTINCT FROM NEW.id THEN
        IF OLD.status IN ('failed', 'cancelled') AND NEW.status NOT IN ('failed', 'cancelled') THEN
            RAISE EXCEPTION 'run % no longer drives store % (its current run is %); it cannot be resumed',
                NEW.id, store.id, coalesce(store.current_run_id::text, 'none')
                USING ERRCODE = 'SF409',
                      HINT = 'Act on the store instead (retry or delete it), which starts or resumes its current run.';
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.status IN ('failed', 'cancelled') THEN
        IF store.status NOT IN ('requested', 'provisioning', 'deleting') THEN
            RETURN NULL;
        END IF;
        SELECT step_name INTO step FROM workflow_definition_steps
        WHERE workflow = NEW.workflow AND version = NEW.version AND step_index = NEW.current_step;
        UPDATE stores SET
            status = 'failed',
            failed_step = step,
            failure_reason = CASE WHEN NEW.status = 'cancelled'
                                  THEN 'The run was cancelled by an operator.'
                                  ELSE coalesce(NEW.error, 'The run failed.') END,
            updated_at = now()
        WHERE id = store.id AND status = store.status;
        INSERT INTO audit_events (category, action, subject, data)
        VALUES ('store', 'status_changed', store.id,
                jsonb_build_object('from', store.status, 'to', 'failed', 'runId', NEW.id,
                                   'step', step, 'runStatus', NEW.status));
    ELSIF OLD.status IN ('failed', 'cancelled') AND store.status = 'failed' THEN
        UPDATE stores SET
            status = CASE WHEN store.current_operation = 'teardown'
                          THEN 'deleting'::store_status ELSE 'provisioning'::store_status END,
            failed_step = NULL,
            failure_reason = NULL,
            updated_at = now()
        WHERE id = store.id AND status = 'failed';
        INSERT INTO audit_events (category, action, subject, data)
        VALUES ('store', 'status_changed', store.id,
                jsonb_build_object('from', 'failed',
                                   'to', CASE WHEN store.current_operation = 'teardown'
                                              THEN 'deleting' ELSE 'provisioning' END,
                                   'runId', NEW.id, 'reason', 'the failed step was retried'));
    END IF;
    RETURN NULL;
END
$$;
