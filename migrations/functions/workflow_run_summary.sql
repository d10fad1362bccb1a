-- The engine's answer to "what is this run", for readers that show their own rows with the
-- run working on each (the API's store pages, the rotation and backup checks, the CLI): its
-- workflow and version, status, step position (0-based `current_step` of `step_count`, and
-- that step's name), when it runs next, its error and input, and whether it has finished. No
-- row for an unknown run. A set-returning SQL function, so PostgreSQL inlines it into the
-- caller's query (`LEFT JOIN LATERAL workflow_run_summary(s.current_run_id) r ON true`); it
-- runs with the caller's rights. Installed by `storeflow_engine::migrate` from
-- migrations/functions/ on every migrate.
CREATE OR REPLACE FUNCTION workflow_run_summary(p_run uuid)
RETURNS TABLE (status text, workflow text, version integer, current_step integer,
               step_count integer, step_name text, next_run_at timestamptz, error text,
               input jsonb, finished boolean)
LANGUAGE sql STABLE AS $$
    SELECT r.status::text, r.workflow, r.version, r.current_step, r.step_count,
           (SELECT d.step_name FROM workflow_definition_steps d
             WHERE d.workflow = r.workflow AND d.version = r.version
               AND d.step_index = r.current_step),
           r.next_run_at, r.error, r.input, r.finished_at IS NOT NULL
    FROM workflow_runs r
    WHERE r.id = p_run
$$;
