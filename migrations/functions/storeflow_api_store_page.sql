-- GET /stores/{id}: one store with its current run (where it stands), its rotation run's
-- status, its last 50 runs and the current run's progress — one round trip, read with the
-- caller's rights (row-level security applies). Run data comes from the engine's read
-- functions (workflow_run_summary, workflow_subject_runs, workflow_run_progress): the API does
-- not read the engine's tables. Installed by `storeflow_engine::migrate` from
-- migrations/functions/ on every migrate; its result type is fixed (changing it needs a
-- migration that drops the function).
CREATE OR REPLACE FUNCTION storeflow_api_store_page(p_store text)
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
           r.status, r.workflow, r.current_step, r.step_count, r.step_name,
           r.next_run_at, s.rotation_run_id,
           (SELECT rr.status FROM workflow_run_summary(s.rotation_run_id) rr),
           s.first_order_ms, s.chart_version, s.app_version, s.last_upgrade,
           s.restore_backup_id, s.restored_at,
           (SELECT json_agg(json_build_object('id', x.id, 'workflow', x.workflow, 'status', x.status,
                                              'created_at', x.created_at, 'finished_at', x.finished_at)
                            ORDER BY x.created_at DESC, x.id)
              FROM (SELECT w.id, w.workflow, w.status, w.created_at, w.finished_at
                      FROM workflow_subject_runs(s.id) w
                     ORDER BY w.created_at DESC, w.id LIMIT 50) x),
           workflow_run_progress(s.current_run_id)
    FROM stores s JOIN users u ON u.id = s.owner_id
    LEFT JOIN LATERAL workflow_run_summary(s.current_run_id) r ON true
    WHERE s.id = p_store
$$;

REVOKE ALL ON FUNCTION storeflow_api_store_page(text) FROM PUBLIC;
