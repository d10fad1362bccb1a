-- Durable workflow engine: definitions, runs, attempts, events, schedules.
-- Forward-only. Hot tables (runs, attempts, events) carry no foreign keys on purpose:
-- an FK check per checkpointed row costs ~15% of throughput; pruning deletes all three together.

CREATE TYPE workflow_run_status AS ENUM ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled');

CREATE TABLE workflow_definitions (
    name          text        NOT NULL,
    version       integer     NOT NULL CHECK (version > 0),
    content_hash  text        NOT NULL,
    definition    jsonb       NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- One row per step of each stored definition, so SQL (events, views) can name steps.
CREATE TABLE workflow_definition_steps (
    workflow     text    NOT NULL,
    version      integer NOT NULL,
    step_index   integer NOT NULL,
    step_name    text    NOT NULL,
    max_attempts integer NOT NULL,
    timeout_ms   bigint  NOT NULL,
    PRIMARY KEY (workflow, version, step_index),
    FOREIGN KEY (workflow, version) REFERENCES workflow_definitions (name, version)
);

CREATE SEQUENCE workflow_fencing_tokens;

CREATE TABLE workflow_runs (
    id               uuid                PRIMARY KEY,
    workflow         text                NOT NULL,
    version          integer             NOT NULL,
    status           workflow_run_status NOT NULL DEFAULT 'queued',
    input            jsonb               NOT NULL,
    -- Outputs of finished steps, keyed by step name; later steps read them.
    state            jsonb               NOT NULL DEFAULT '{}',
    step_count       integer             NOT NULL CHECK (step_count > 0),
    current_step     integer             NOT NULL DEFAULT 0,
    -- Attempt number of the current step's next or running execution (monotonic per step).
    attempt          integer             NOT NULL DEFAULT 1,
    -- First attempt number that counts against the retry budget (rescues, releases and
    -- operator retries move it forward so they do not consume the budget).
    budget_from      integer             NOT NULL DEFAULT 1,
    -- Set while the current step is durably polling (Pending); bounds polling by the step timeout.
    pending_since    timestamptz,
    -- When the current attempt began (recorded on the attempt row if the worker dies).
    step_started_at  timestamptz,
    rescues          integer             NOT NULL DEFAULT 0,
    subject          text,
    tenant           text,
    request_id       text,
    idempotency_key  text,
    next_run_at      timestamptz         NOT NULL DEFAULT now(),
    deadline_at      timestamptz,
    lease_owner      uuid,
    lease_expires_at timestamptz,
    fencing_token    bigint,
    cancel_requested boolean             NOT NULL DEFAULT false,
    error            text,
    created_at       timestamptz         NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz         NOT NULL DEFAULT now(),
    FOREIGN KEY (workflow, version) REFERENCES workflow_definitions (name, version)
) WITH (fillfactor = 70);

-- Claims read only this partial index, so finished history never slows a claim.
CREATE INDEX workflow_runs_runnable ON workflow_runs (next_run_at) WHERE status IN ('queued', 'waiting');
-- Rescues range-scan expired leases; finished runs have no lease (NULL sorts last, outside
-- the range). Deliberately not partial on status = 'running': the planner would then pick it
-- for by-id updates of running runs (checkpoints, heartbeats) and scan every lease.
CREATE INDEX workflow_runs_lease_expiry ON workflow_runs (lease_expires_at);
CREATE UNIQUE INDEX workflow_runs_idempotency_key ON workflow_runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflow_runs_created ON workflow_runs (created_at DESC, id);
CREATE INDEX workflow_runs_subject ON workflow_runs (subject, created_at DESC) WHERE subject IS NOT NULL;
CREATE INDEX workflow_runs_finished ON workflow_runs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE workflow_step_attempts (
    run_id      uuid        NOT NULL,
    step_index  integer     NOT NULL,
    attempt     integer     NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN
                    ('succeeded', 'failed', 'timed_out', 'rescued', 'released', 'cancelled')),
    error       text,
    worker_id   uuid,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, step_index, attempt)
);

CREATE TABLE workflow_run_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     uuid        NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind       text        NOT NULL,
    step_index integer,
    attempt    integer,
    data       jsonb
);
CREATE INDEX workflow_run_events_run ON workflow_run_events (run_id, id);

-- Every batch of new events is announced once, with the highest new id, so progress
-- streams wake up without polling. Listeners re-read by (run_id, id > last seen).
CREATE FUNCTION workflow_run_events_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    newest bigint := (SELECT max(id) FROM new_events);
BEGIN
    -- Statement triggers fire for empty inserts too; announce only real events.
    IF newest IS NOT NULL THEN
        PERFORM pg_notify('storeflow_events', newest::text);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER workflow_run_events_announce
    AFTER INSERT ON workflow_run_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_run_events_announce();

CREATE TABLE workflow_schedules (
    name           text        PRIMARY KEY,
    cron           text        NOT NULL,
    workflow       text        NOT NULL,
    input          jsonb       NOT NULL DEFAULT '{}',
    enabled        boolean     NOT NULL DEFAULT true,
    -- Ticks after this instant are due; set to the fired tick, or to now() on (re)enable.
    last_tick_at   timestamptz NOT NULL DEFAULT now(),
    last_run_id    uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Written by the built-in `selftest` workflow when asked to journal: an independent record
-- of every step execution (at-least-once), used to check an installation and by crash tests.
CREATE TABLE workflow_selftest_journal (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     uuid        NOT NULL,
    step_index integer     NOT NULL,
    attempt    integer     NOT NULL,
    worker_id  uuid        NOT NULL,
    phase      text        NOT NULL CHECK (phase IN ('begin', 'end')),
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX workflow_selftest_journal_run ON workflow_selftest_journal (run_id, step_index);
