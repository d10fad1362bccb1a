-- The engine's answer to "where does this run stand", for readers that list their own rows with
-- the run that works on each (the API's backups): the run's status and error, the name of the
-- step it is at, and — while it is not finished — what that step waits for (its last `pending`
-- event) or, while it retries, its last attempt's error. No row for an unknown run. A set-
-- returning SQL function, so PostgreSQL inlines it into the caller's query (`LEFT JOIN LATERAL
-- workflow_run_position(x.run_id) p ON true`); it runs with the caller's rights. Installed by
-- `storeflow_engine::migrate` from migrations/functions/ on every migrate.
CREATE OR REPLACE FUNCTION workflow_run_position(p_run uuid)
RETURNS TABLE (status text, error text, step_name text, waiting_for text)
LANGUAGE sql STABLE AS $$
    SELECT r.status::text, r.error, d.step_name,
           CASE WHEN r.status NOT IN ('failed', 'cancelled', 'succeeded') THEN
             coalesce((SELECT e.data->>'waiting_for' FROM workflow_run_events e
                       WHERE e.run_id = r.id AND e.kind = 'pending' AND e.step_index = r.current_step
                       ORDER BY e.id DESC LIMIT 1),
                      (SELECT a.error FROM workflow_step_attempts a
                       WHERE a.run_id = r.id AND a.step_index = r.current_step
                       ORDER BY a.attempt DESC LIMIT 1)) END
    FROM workflow_runs r
    LEFT JOIN workflow_definition_steps d
      ON d.workflow = r.workflow AND d.version = r.version AND d.step_index = r.current_step
    WHERE r.id = p_run
$$;
