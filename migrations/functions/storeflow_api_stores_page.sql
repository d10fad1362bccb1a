-- GET /stores: the rows of one page of stores (ids in page order), with each store's current
-- run and rotation status from the engine's `workflow_run_summary` (the API does not read the
-- engine's tables). Read with the caller's rights. Installed by `storeflow_engine::migrate`
-- from migrations/functions/ on every migrate; its result type is fixed (changing it needs a
-- migration that drops the function).
CREATE OR REPLACE FUNCTION storeflow_api_stores_page(p_page text[])
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
           r.status, r.workflow, r.current_step, r.step_count, r.step_name,
           r.next_run_at, s.rotation_run_id, rr.status,
           s.chart_version, s.app_version, s.last_upgrade,
           s.restore_backup_id, s.restored_at
    FROM unnest(p_page) WITH ORDINALITY AS p(id, ord)
    JOIN stores s ON s.id = p.id
    JOIN users u ON u.id = s.owner_id
    LEFT JOIN LATERAL workflow_run_summary(s.current_run_id) r ON true
    LEFT JOIN LATERAL workflow_run_summary(s.rotation_run_id) rr ON true
    ORDER BY p.ord
$$;

REVOKE ALL ON FUNCTION storeflow_api_stores_page(text[]) FROM PUBLIC;
