-- The store lifecycle trigger's function: its one canonical body. `storeflow_engine::migrate`
-- runs this file after the migrations, on every migrate, so a change is made here only (the
-- migrations up to 20261207000021 restated it each time; they stay as history). The trigger
-- that calls it is created by 20261127000004_store_lifecycle.sql. A database test compares the
-- installed body with this file.
--
-- When a store's current run fails or is cancelled, the store becomes failed (with the failing
-- step and error) in the same transaction; when that run is resumed by a step retry, the store
-- returns to the status its operation runs in. A failed or cancelled rotation puts the previous
-- credentials back unless its set-admin-password step had succeeded; a failed or cancelled
-- restore leaves the store failed (its data may be half replaced: the failed step says where).
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
        -- An upgrade whose rollback completed has already made the store ready again (its
        -- mark-rolled-back step); only one that could not roll back leaves it failed.
        IF store.status NOT IN ('requested', 'provisioning', 'deleting', 'upgrading', 'restoring') THEN
            RETURN NULL;
        END IF;
        -- An upgrade that ended before it touched the release (cancelled while it waited for
        -- its turn, e.g. with its fleet rollout) leaves the store as it was: ready.
        IF store.status = 'upgrading' AND NOT stores_release_touched(NEW.id) THEN
            UPDATE stores SET
                status = 'ready',
                last_upgrade = jsonb_build_object(
                    'status', CASE WHEN NEW.status = 'cancelled' THEN 'cancelled' ELSE 'failed' END,
                    'runId', NEW.id, 'error', NEW.error, 'at', now(),
                    'from', jsonb_build_object('chart', chart_version, 'app', app_version)),
                updated_at = now()
            WHERE id = store.id AND status = 'upgrading';
            INSERT INTO audit_events (category, action, subject, data)
            VALUES ('store', 'status_changed', store.id,
                    jsonb_build_object('from', 'upgrading', 'to', 'ready', 'runId', NEW.id,
                                       'runStatus', NEW.status,
                                       'reason', 'the upgrade ended before it changed the release'));
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
            status = CASE store.current_operation
                          WHEN 'teardown' THEN 'deleting'::store_status
                          WHEN 'upgrade' THEN 'upgrading'::store_status
                          WHEN 'restore' THEN 'restoring'::store_status
                          ELSE 'provisioning'::store_status END,
            failed_step = NULL,
            failure_reason = NULL,
            updated_at = now()
        WHERE id = store.id AND status = 'failed';
        INSERT INTO audit_events (category, action, subject, data)
        VALUES ('store', 'status_changed', store.id,
                jsonb_build_object('from', 'failed',
                                   'to', CASE store.current_operation
                                              WHEN 'teardown' THEN 'deleting'
                                              WHEN 'upgrade' THEN 'upgrading'
                                              WHEN 'restore' THEN 'restoring'
                                              ELSE 'provisioning' END,
                                   'runId', NEW.id, 'reason', 'the failed step was retried'));
    END IF;
    RETURN NULL;
END
$$;
