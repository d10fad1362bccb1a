-- Restore into the same store (restore-in-place-<engine> v1), with the store's name as its
-- confirmation: the store is `restoring` while its data is replaced by a backup, and its
-- current operation is 'restore'.
--
-- `restore_backup_id`: the backup the store's current or last restore brings back (set when
-- a store is created from a backup, too), so that a restore started again after a cancelled
-- run restores the same backup. `restored_at`: when that restore completed; the store page
-- shows both ("restored from").
ALTER TABLE stores
    ADD COLUMN restore_backup_id uuid,
    ADD COLUMN restored_at timestamptz;

ALTER TABLE stores DROP CONSTRAINT stores_current_operation_check;
ALTER TABLE stores ADD CONSTRAINT stores_current_operation_check
    CHECK (current_operation IN ('provision', 'teardown', 'upgrade', 'restore'));

-- The lifecycle trigger as 20261205000018 made it, plus restores in place: a failed or
-- cancelled restore leaves the store failed (its data may be half replaced: the failed step
-- says where), and retrying its failed step makes it `restoring` again.
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

-- GET /stores/{id} and GET /stores show which backup a store was restored from and when: the
-- page functions return it (their result type changes, so they are dropped and created
-- again, as 20261205000016 made them plus those columns).
DROP FUNCTION storeflow_api_store_page(text);

CREATE FUNCTION storeflow_api_store_page(p_store text)
RETURNS TABLE (
    id text, owner_id uuid, owner_username text, name text, engine text, theme text,
    status text, namespace text, storefront_url text, admin_url text, credentials bytea,
    failure_reason text, failed_step text, current_run_id uuid, current_operation text,
    provision_run_id uuid, retry_count integer, created_at timestamptz,
    updated_at timestamptz, ready_at timestamptz, deleted_at timestamptz,
    run_status text, run_workflow text, run_current_step integer, run_step_count integer,
    run_step_name text, run_next_at timestamptz, rotation_run_id uuid, rotation_status text,
    first_order_ms bigint, chart_version text, app_version text, last_upgrade jsonb,
    restore_backup_id uuid, restored_at timestamptz, runs json, progress json
)
LANGUAGE sql STABLE AS $$
    SELECT s.id, s.owner_id, u.username, s.name, s.engine::text, s.theme,
           s.status::text, s.namespace, s.storefront_url, s.admin_url, s.credentials,
           s.failure_reason, s.failed_step, s.current_run_id, s.current_operation,
           s.provision_run_id, s.retry_count, s.created_at, s.updated_at, s.ready_at, s.deleted_at,
           r.status::text, r.workflow, r.current_step, r.step_count,
           (SELECT d.step_name FROM workflow_definition_steps d
             WHERE d.workflow = r.workflow AND d.version = r.version AND d.step_index = r.current_step),
           r.next_run_at, s.rotation_run_id,
           (SELECT rr.status::text FROM workflow_runs rr WHERE rr.id = s.rotation_run_id),
           s.first_order_ms, s.chart_version, s.app_version, s.last_upgrade,
           s.restore_backup_id, s.restored_at,
           (SELECT json_agg(json_build_object('id', x.id, 'workflow', x.workflow, 'status', x.status,
                                              'created_at', x.created_at, 'finished_at', x.finished_at)
                            ORDER BY x.created_at DESC, x.id)
              FROM (SELECT w.id, w.workflow, w.status, w.created_at, w.finished_at
                      FROM workflow_runs w WHERE w.subject = s.id
                     ORDER BY w.created_at DESC, w.id LIMIT 50) x),
           workflow_run_progress(s.current_run_id)
    FROM stores s JOIN users u ON u.id = s.owner_id
    LEFT JOIN workflow_runs r ON r.id = s.current_run_id
    WHERE s.id = p_store
$$;

REVOKE ALL ON FUNCTION storeflow_api_store_page(text) FROM PUBLIC;

DROP FUNCTION storeflow_api_stores_page(text[]);

CREATE FUNCTION storeflow_api_stores_page(p_page text[])
RETURNS TABLE (
    id text, owner_id uuid, owner_username text, name text, engine text, theme text,
    status text, namespace text, storefront_url text, admin_url text, credentials bytea,
    failure_reason text, failed_step text, current_run_id uuid, current_operation text,
    provision_run_id uuid, retry_count integer, created_at timestamptz,
    updated_at timestamptz, ready_at timestamptz, deleted_at timestamptz,
    run_status text, run_workflow text, run_current_step integer, run_step_count integer,
    run_step_name text, run_next_at timestamptz, rotation_run_id uuid, rotation_status text,
    chart_version text, app_version text, last_upgrade jsonb,
    restore_backup_id uuid, restored_at timestamptz
)
LANGUAGE sql STABLE AS $$
    SELECT s.id, s.owner_id, u.username, s.name, s.engine::text, s.theme,
           s.status::text, s.namespace, s.storefront_url, s.admin_url, NULL::bytea,
           s.failure_reason, s.failed_step, s.current_run_id, s.current_operation,
           s.provision_run_id, s.retry_count, s.created_at, s.updated_at, s.ready_at,
           s.deleted_at,
           r.status::text, r.workflow, r.current_step, r.step_count,
           (SELECT d.step_name FROM workflow_definition_steps d
             WHERE d.workflow = r.workflow AND d.version = r.version
               AND d.step_index = r.current_step),
           r.next_run_at, s.rotation_run_id, rr.status::text,
           s.chart_version, s.app_version, s.last_upgrade,
           s.restore_backup_id, s.restored_at
    FROM unnest(p_page) WITH ORDINALITY AS p(id, ord)
    JOIN stores s ON s.id = p.id
    JOIN users u ON u.id = s.owner_id
    LEFT JOIN workflow_runs r ON r.id = s.current_run_id
    LEFT JOIN workflow_runs rr ON rr.id = s.rotation_run_id
    ORDER BY p.ord
$$;

REVOKE ALL ON FUNCTION storeflow_api_stores_page(text[]) FROM PUBLIC;
