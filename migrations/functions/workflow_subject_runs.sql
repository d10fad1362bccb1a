-- The engine's runs about one subject (started with `NewRun::subject`, e.g. a store id): id,
-- workflow, status, when each was created and finished. Unordered and unbounded: callers order
-- and limit (`ORDER BY created_at DESC, id LIMIT 50`), which reaches the runs' subject index
-- because PostgreSQL inlines this set-returning SQL function into the caller's query. Runs
-- with the caller's rights. Installed by `storeflow_engine::migrate` from migrations/functions/
-- on every migrate.
CREATE OR REPLACE FUNCTION workflow_subject_runs(p_subject text)
RETURNS TABLE (id uuid, workflow text, status text, created_at timestamptz,
               finished_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT r.id, r.workflow, r.status::text, r.created_at, r.finished_at
    FROM workflow_runs r
    WHERE r.subject = p_subject
$$;
