-- The API's hottest reads, GET /stores/{id} and GET /stores, as one small statement each
-- when nothing changed since the last answer (the usual case for a page that is polled),
-- and one more when something did.
--
-- `storeflow_api_store_check` / `storeflow_api_stores_check` check the caller's token
-- version, decide which stores the caller may see — by row-level security, as the tenant:
-- the function takes the role storeflow_tenant and the caller's identity for that decision
-- (plpgsql plans and runs each statement when it is reached, so it runs as the tenant) and
-- gives both back — and return a *stamp* of what the answer shows: the transaction ids
-- (`xmin`) of the rows it is built from, which change with every update of those rows (for
-- lists, the store rows only: see there).
-- The API keeps its last rendering of each page with its stamp and answers from it while
-- the stamp is the same; otherwise `storeflow_api_store_page` / `storeflow_api_stores_page`
-- read the rows by the ids the check admitted, in one statement.
--
-- They are called outside any transaction block, so role and identity end with the
-- statement's own transaction in any case, and nothing is left open between round trips
-- for a client that goes away. Reading the page rows as the owner (after the tenant's
-- decision) is what the API did before for a visible store's run; evaluating the tenant
-- policies of runs, events and attempts (each a subquery over the tenant's stores) for every
-- read of a store already known to be visible made this page cost four times its work.

-- A run's progress as a store page shows it: the run, its step catalogue, its attempts and
-- what the current step last said it waits for (NULL for no such run). Runs with its
-- caller's rights: under the tenant role only that tenant's runs are found. Decoded by the
-- engine (`RunProgress`). plpgsql, so its plan is kept per connection (a SQL function with
-- a FROM clause would be planned again on every call).
CREATE FUNCTION workflow_run_progress(p_run uuid) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT json_build_object(
        'run', json_build_object(
            'id', r.id, 'workflow', r.workflow, 'version', r.version, 'status', r.status,
            'current_step', r.current_step,
            'current_step_name', (SELECT d.step_name FROM workflow_definition_steps d
                                   WHERE d.workflow = r.workflow AND d.version = r.version
                                     AND d.step_index = r.current_step
                                     AND r.current_step < r.step_count),
            'step_count', r.step_count, 'subject', r.subject, 'tenant', r.tenant,
            'request_id', r.request_id, 'error', r.error, 'next_run_at', r.next_run_at,
            'created_at', r.created_at, 'started_at', r.started_at,
            'finished_at', r.finished_at, 'updated_at', r.updated_at,
            'pending_since', r.pending_since, 'step_started_at', r.step_started_at),
        'steps', (SELECT json_agg(json_build_array(d.step_index, d.step_name, d.max_attempts, d.timeout_ms)
                                  ORDER BY d.step_index)
                  FROM workflow_definition_steps d
                  WHERE d.workflow = r.workflow AND d.version = r.version AND d.step_index < r.step_count),
        'attempts', (SELECT json_agg(json_build_array(a.step_index, a.attempt, a.outcome, a.error,
                                                      a.worker_id, a.started_at, a.finished_at)
                                     ORDER BY a.step_index, a.attempt)
                     FROM workflow_step_attempts a WHERE a.run_id = r.id),
        'waiting_for', (SELECT e.data ->> 'waiting_for' FROM workflow_run_events e
                        WHERE e.run_id = r.id AND e.kind = 'pending' AND e.step_index = r.current_step
                        ORDER BY e.id DESC LIMIT 1))
    FROM workflow_runs r WHERE r.id = p_run);
END
$$;

-- GET /stores/{id}, first statement: no row when the token is no longer good; else the
-- caller, and — when the caller may see the store — its owner and the page's stamp.
CREATE FUNCTION storeflow_api_store_check(
    p_user uuid, p_token_version integer, p_store text,
    OUT caller_email text, OUT caller_username text, OUT caller_role user_role,
    OUT caller_created_at timestamptz, OUT owner_id uuid, OUT stamp text
)
RETURNS SETOF record
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    previous_plan_mode text := current_setting('plan_cache_mode');
    visible boolean;
    previous_role text;
    previous_identity text;
BEGIN
    -- Generic plans, kept per connection: a custom plan per call would plan these
    -- statements (and the row-level-security subquery) afresh every time — slower than
    -- running them. (A SET clause on the function would cost more than it saves here.)
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    -- The token is good while its user is active and its version current.
    SELECT u.email, u.username, u.role, u.created_at
      INTO caller_email, caller_username, caller_role, caller_created_at
      FROM users u WHERE u.id = p_user AND u.is_active AND u.token_version = p_token_version;
    IF NOT FOUND THEN
        PERFORM set_config('plan_cache_mode', previous_plan_mode, true);
        RETURN;
    END IF;
    IF caller_role = 'admin' THEN
        visible := true;
    ELSE
        previous_role := current_setting('role');
        previous_identity := coalesce(current_setting('storeflow.user_id', true), '');
        PERFORM set_config('role', 'storeflow_tenant', true);
        PERFORM set_config('storeflow.user_id', p_user::text, true);
        visible := EXISTS (SELECT 1 FROM stores s WHERE s.id = p_store);
        PERFORM set_config('storeflow.user_id', previous_identity, true);
        PERFORM set_config('role', previous_role, true);
    END IF;
    IF visible THEN
        -- The stamp: the store row and its last 50 runs (among them its current and its
        -- rotation run; a run's attempts and events are written in the transactions that
        -- update its row).
        SELECT s.owner_id,
               s.xmin::text || '/' ||
               coalesce((SELECT string_agg(w.xmin::text, ',' ORDER BY w.created_at DESC, w.id)
                           FROM (SELECT w.xmin, w.created_at, w.id FROM workflow_runs w
                                  WHERE w.subject = s.id
                                  ORDER BY w.created_at DESC, w.id LIMIT 50) w), '')
          INTO owner_id, stamp
          FROM stores s WHERE s.id = p_store;
    END IF;
    PERFORM set_config('plan_cache_mode', previous_plan_mode, true);
    RETURN NEXT;
END
$$;

-- GET /stores/{id}, second statement (only when the stamp changed), for a store the check
-- admitted: the store, its last 50 runs and its current run's progress. Read after the
-- check, so never older than the stamp it is kept with (at worst newer: read again later).
CREATE FUNCTION storeflow_api_store_page(p_store text)
RETURNS TABLE (
    id text, owner_id uuid, owner_username text, name text, engine text, theme text,
    status text, namespace text, storefront_url text, admin_url text, credentials bytea,
    failure_reason text, failed_step text, current_run_id uuid, current_operation text,
    provision_run_id uuid, retry_count integer, created_at timestamptz,
    updated_at timestamptz, ready_at timestamptz, deleted_at timestamptz,
    run_status text, run_workflow text, run_current_step integer, run_step_count integer,
    run_step_name text, run_next_at timestamptz, rotation_run_id uuid, rotation_status text,
    runs json, progress json
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

-- GET /stores, first statement: no row when the token is no longer good; else the caller,
-- the ids of the page's stores (chosen under the tenant's row-level security: a tenant
-- lists its own stores whatever owner it names), the total the filter matches, and the
-- page's stamp.
CREATE FUNCTION storeflow_api_stores_check(
    p_user uuid, p_token_version integer, p_status text, p_engine text, p_owner uuid,
    p_name_pattern text, p_limit bigint, p_offset bigint,
    OUT caller_email text, OUT caller_username text, OUT caller_role user_role,
    OUT caller_created_at timestamptz, OUT page text[], OUT total bigint, OUT stamp text
)
RETURNS SETOF record
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    previous_plan_mode text := current_setting('plan_cache_mode');
    previous_role text;
    previous_identity text;
    stores_stamp text;
BEGIN
    -- Generic plans, kept per connection: a custom plan per call would plan these
    -- statements (and the row-level-security subquery) afresh every time — slower than
    -- running them. (A SET clause on the function would cost more than it saves here.)
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    SELECT u.email, u.username, u.role, u.created_at
      INTO caller_email, caller_username, caller_role, caller_created_at
      FROM users u WHERE u.id = p_user AND u.is_active AND u.token_version = p_token_version;
    IF NOT FOUND THEN
        PERFORM set_config('plan_cache_mode', previous_plan_mode, true);
        RETURN;
    END IF;
    IF caller_role <> 'admin' THEN
        p_owner := NULL;
        previous_role := current_setting('role');
        previous_identity := coalesce(current_setting('storeflow.user_id', true), '');
        PERFORM set_config('role', 'storeflow_tenant', true);
        PERFORM set_config('storeflow.user_id', p_user::text, true);
    END IF;
    SELECT array_agg(x.id ORDER BY x.created_at DESC, x.id),
           string_agg(x.xmin::text, ',' ORDER BY x.created_at DESC, x.id), max(x.matching)
      INTO page, stores_stamp, total
    FROM (SELECT s.id, s.created_at, s.xmin, count(*) OVER () AS matching
            FROM stores s
           WHERE (p_status IS NULL OR s.status::text = p_status)
             AND (p_status IS NOT NULL OR s.status <> 'deleted')
             AND (p_engine IS NULL OR s.engine::text = p_engine)
             AND (p_owner IS NULL OR s.owner_id = p_owner)
             AND (p_name_pattern IS NULL OR s.name LIKE p_name_pattern)
           ORDER BY s.created_at DESC, s.id
           LIMIT p_limit OFFSET p_offset) x;
    IF page IS NULL THEN
        page := '{}';
        total := 0;
        IF p_offset > 0 THEN
            -- Past the last page: still say how many there are.
            SELECT count(*) INTO total
              FROM stores s
             WHERE (p_status IS NULL OR s.status::text = p_status)
               AND (p_status IS NOT NULL OR s.status <> 'deleted')
               AND (p_engine IS NULL OR s.engine::text = p_engine)
               AND (p_owner IS NULL OR s.owner_id = p_owner)
               AND (p_name_pattern IS NULL OR s.name LIKE p_name_pattern);
        END IF;
    END IF;
    IF caller_role <> 'admin' THEN
        PERFORM set_config('storeflow.user_id', previous_identity, true);
        PERFORM set_config('role', previous_role, true);
    END IF;
    -- The stamp: the page's store rows and the total. Their runs change far more often and
    -- reading each of them would cost as much as the page itself: the API adds the count of
    -- run-event notifications it has received (every change of a run is written with an
    -- event, and each batch of events is announced on `storeflow_events` at commit).
    stamp := coalesce(stores_stamp, '') || '/' || total;
    PERFORM set_config('plan_cache_mode', previous_plan_mode, true);
    RETURN NEXT;
END
$$;

-- GET /stores, second statement (only when the stamp changed): the rows of the stores the
-- check admitted, in page order. Lists never carry credentials.
CREATE FUNCTION storeflow_api_stores_page(p_page text[])
RETURNS TABLE (
    id text, owner_id uuid, owner_username text, name text, engine text, theme text,
    status text, namespace text, storefront_url text, admin_url text, credentials bytea,
    failure_reason text, failed_step text, current_run_id uuid, current_operation text,
    provision_run_id uuid, retry_count integer, created_at timestamptz,
    updated_at timestamptz, ready_at timestamptz, deleted_at timestamptz,
    run_status text, run_workflow text, run_current_step integer, run_step_count integer,
    run_step_name text, run_next_at timestamptz, rotation_run_id uuid, rotation_status text
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
           r.next_run_at, s.rotation_run_id, rr.status::text
    FROM unnest(p_page) WITH ORDINALITY AS p(id, ord)
    JOIN stores s ON s.id = p.id
    JOIN users u ON u.id = s.owner_id
    LEFT JOIN workflow_runs r ON r.id = s.current_run_id
    LEFT JOIN workflow_runs rr ON rr.id = s.rotation_run_id
    ORDER BY p.ord
$$;

-- The API's connection (the table owner) calls these; the tenant role may not.
REVOKE ALL ON FUNCTION storeflow_api_store_check(uuid, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION storeflow_api_store_page(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION storeflow_api_stores_check(uuid, integer, text, text, uuid, text, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION storeflow_api_stores_page(text[]) FROM PUBLIC;
