-- The engine's progress events of every run about one subject (runs started with
-- `NewRun::subject`, e.g. a store id), each with its run's workflow and the name of the step it
-- concerns. Unordered and unbounded: callers filter, order and limit (`WHERE id > $after ORDER
-- BY id LIMIT 500`), and since PostgreSQL inlines this set-returning SQL function into the
-- caller's query those clauses reach the tables' indexes. Runs with the caller's rights.
-- Installed by `storeflow_engine::migrate` from migrations/functions/ on every migrate.
CREATE OR REPLACE FUNCTION workflow_subject_events(p_subject text)
RETURNS TABLE (id bigint, run_id uuid, at timestamptz, kind text, step_index integer,
               step_name text, attempt integer, data jsonb, workflow text)
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.run_id, e.at, e.kind, e.step_index,
           (SELECT d.step_name FROM workflow_definition_steps d
             WHERE d.workflow = r.workflow AND d.version = r.version
               AND d.step_index = e.step_index),
           e.attempt, e.data, r.workflow
    FROM workflow_run_events e JOIN workflow_runs r ON r.id = e.run_id
    WHERE r.subject = p_subject
$$;
