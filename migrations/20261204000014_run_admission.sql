-- Admission of runs into a limited group (e.g. provisioning: at most N helm installs in flight
-- per cluster). A run of a limited workflow is claimable only once admitted; admission is FIFO
-- by creation and happens while fewer than N admitted runs of the group are unfinished
-- (engine/src/store.rs `admit`). Every claim admits the run it takes, so unlimited workflows
-- need nothing; a retried step gives the slot back and queues again.
ALTER TABLE workflow_runs ADD COLUMN admitted_at timestamptz;

UPDATE workflow_runs SET admitted_at = coalesce(started_at, created_at)
WHERE started_at IS NOT NULL;

-- The queue in front of a limited group, in admission order.
CREATE INDEX workflow_runs_awaiting_admission ON workflow_runs (workflow, created_at, id)
    WHERE admitted_at IS NULL AND status = 'queued';
-- What holds a slot.
CREATE INDEX workflow_runs_admitted_unfinished ON workflow_runs (workflow)
    WHERE admitted_at IS NOT NULL AND status IN ('queued', 'waiting', 'running');
