-- Store lifecycle: what creating, deleting and retrying stores through the API needs, the
-- link from a store's lifecycle run back to the store's status, and row-level security on
-- run progress and audit rows, so a tenant's query sees only its own stores' rows.

-- A repeated create with the same Idempotency-Key returns the first store and run.
ALTER TABLE stores
    ADD COLUMN idempotency_key      text,
    -- sha256 of the create request's non-secret fields, to refuse a key reused for another request.
    ADD COLUMN request_fingerprint  text,
    ADD COLUMN provision_run_id     uuid,
    -- What the current run does: 'provision' or 'teardown' (decides the status on resume).
    ADD COLUMN current_operation    text CHECK (current_operation IN ('provision', 'teardown')),
    ADD COLUMN failed_step          text;
CREATE UNIQUE INDEX stores_idempotency ON stores (owner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX stores_status ON stores (status, updated_at);

-- A store follows the lifecycle run it points at (current_run_id): when that run fails or is
-- cancelled the store becomes `failed` with the failing step and its error; when an operator
-- retries the failed step the store goes back to `provisioning` or `deleting`. Doing this in
-- the same transaction as the run's own status change means a worker crash can never leave
-- a failed run under a store that still says `provisioning`. Success is written by the
-- workflows' own mark-ready / mark-deleted steps. Every write is conditional on the status
-- the store is expected to have, and recorded in the audit trail.
CREATE FUNCTION stores_follow_lifecycle_run() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    store record;
    step text;
BEGIN
    SELECT s.id, s.status, s.current_operation INTO store
    FROM stores s
    WHERE s.id = NEW.subject AND s.current_run_id = NEW.id
    FOR UPDATE;
    IF NOT FOUND THEN
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

CREATE TRIGGER stores_follow_lifecycle_run
    AFTER UPDATE OF status ON workflow_runs
    FOR EACH ROW
    WHEN (NEW.subject IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status
          AND (NEW.status IN ('failed', 'cancelled') OR OLD.status IN ('failed', 'cancelled')))
    EXECUTE FUNCTION stores_follow_lifecycle_run();

-- Row-level security, tightened and extended. Only tenant-scoped transactions run as
-- `storeflow_tenant` (admins read as the table owner, which policies do not restrict), so the
-- policies need no "scope = all" escape hatch; comparing `owner_id` as a uuid lets the planner
-- use the owner index instead of scanning every store.
DROP POLICY stores_tenant_scope ON stores;
CREATE POLICY stores_tenant_scope ON stores TO storeflow_tenant
    USING (owner_id = nullif(current_setting('storeflow.user_id', true), '')::uuid)
    WITH CHECK (owner_id = nullif(current_setting('storeflow.user_id', true), '')::uuid);

-- What tenants read besides stores: the runs of their stores, those runs' events and
-- attempts, and the audit rows about their stores (never security events).
GRANT SELECT ON workflow_runs, workflow_run_events, workflow_step_attempts,
                workflow_definition_steps, audit_events TO storeflow_tenant;

ALTER TABLE workflow_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_runs_tenant_scope ON workflow_runs FOR SELECT TO storeflow_tenant
    USING (subject IN (SELECT id FROM stores));

ALTER TABLE workflow_run_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_run_events_tenant_scope ON workflow_run_events FOR SELECT TO storeflow_tenant
    USING (run_id IN (SELECT id FROM workflow_runs));

ALTER TABLE workflow_step_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_step_attempts_tenant_scope ON workflow_step_attempts FOR SELECT TO storeflow_tenant
    USING (run_id IN (SELECT id FROM workflow_runs));

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant_scope ON audit_events FOR SELECT TO storeflow_tenant
    USING (category <> 'security' AND subject IN (SELECT id FROM stores));
