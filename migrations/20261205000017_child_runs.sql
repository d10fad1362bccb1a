-- Child runs: a step of a run may start other runs (in its checkpoint transaction) and a later
-- step waits for them without holding a worker (it polls; see the engine's `await-children`).
-- A child names its parent and the index of the step that started it; cancelling the parent
-- cancels its unfinished children. Nullable, no default: adding them rewrites nothing.
ALTER TABLE workflow_runs
    ADD COLUMN parent_run_id uuid,
    ADD COLUMN parent_step   integer;

CREATE INDEX workflow_runs_children ON workflow_runs (parent_run_id, parent_step)
    WHERE parent_run_id IS NOT NULL;
