-- GET /stores/{id} also says how long after its creation the store took its first order
-- (stores.first_order_ms, written when it became ready): the page function returns it. Its
-- result type changes, so it is dropped and created again (as 20261203000010 made it, plus
-- that column).
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
    first_order_ms bigint, runs json, progress json
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
           s.first_order_ms,
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
