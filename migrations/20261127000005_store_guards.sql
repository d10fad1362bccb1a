-- Guards found in review of the store routes.

-- A run that no longer drives its store (the store was deleted or retried with a new run
-- meanwhile) must not resume: it would reinstall what a teardown removes. Resuming such a run
-- is refused with SQLSTATE SF409, which the API answers as a 409.
CREATE OR REPLACE FUNCTION stores_follow_lifecycle_run() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    store record;
    step text;
BEGIN
    SELECT s.id, s.status, s.current_operation, s.current_run_id INTO store
    FROM stores s
    WHERE s.id = NEW.subject
    FOR UPDATE;
    IF NOT FOUND THEN
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

-- The tenant role reads stores and locks them for update (FOR UPDATE needs UPDATE), but the
-- API inserts stores as the owner; of users it needs only ids and names, and only its own row.
REVOKE INSERT ON stores FROM storeflow_tenant;
REVOKE SELECT ON users FROM storeflow_tenant;
GRANT SELECT (id, username) ON users TO storeflow_tenant;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_tenant_scope ON users FOR SELECT TO storeflow_tenant
    USING (id = nullif(current_setting('storeflow.user_id', true), '')::uuid);

-- How long after its creation a store took its first (verification) order.
ALTER TABLE stores ADD COLUMN first_order_ms bigint;

-- While a credential rotation runs: the admin credentials it replaces (sealed like the
-- current ones), so a step can sign in with them to set the new password.
ALTER TABLE stores ADD COLUMN previous_credentials bytea;
-- The rotation run in progress (a store's lifecycle run stays its current_run_id).
ALTER TABLE stores ADD COLUMN rotation_run_id uuid;
