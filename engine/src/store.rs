//! The worker's SQL: claims, batched checkpoints, heartbeats, rescues, releases.
//! Each is one statement (one round trip, one implicit transaction) over arrays, so a
//! worker's throughput is bounded by batches, not by rows.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::Result;
use crate::runs::RunStatus;

/// A run as a worker claimed it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ClaimedRun {
    pub id: Uuid,
    pub workflow: String,
    pub version: i32,
    pub input: Value,
    pub state: Value,
    pub step_count: i32,
    pub current_step: i32,
    pub attempt: i32,
    pub budget_from: i32,
    pub pending_since: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub tenant: Option<String>,
    pub request_id: Option<String>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub fencing_token: i64,
    pub cancel_requested: bool,
    pub first_claim: bool,
    pub waited_seconds: f64,
}

const CLAIM_SQL: &str = r#"
WITH picked AS (
    SELECT id, started_at IS NULL AS first_claim,
           extract(epoch FROM now() - next_run_at)::float8 AS waited_seconds
    FROM workflow_runs
    WHERE status IN ('queued', 'waiting') AND next_run_at <= now()
      AND (admitted_at IS NOT NULL OR NOT (workflow = ANY($4::text[])))
    ORDER BY next_run_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE workflow_runs r SET
        status = 'running',
        admitted_at = coalesce(r.admitted_at, now()),
        lease_owner = $2,
        lease_expires_at = now() + make_interval(secs => $3),
        fencing_token = nextval('workflow_fencing_tokens'),
        started_at = coalesce(r.started_at, now()),
        step_started_at = CASE WHEN r.pending_since IS NULL THEN now() ELSE r.step_started_at END,
        updated_at = now()
    FROM picked
    WHERE r.id = picked.id
    RETURNING r.id, r.workflow, r.version, r.input, r.state, r.step_count, r.current_step,
              r.attempt, r.budget_from, r.pending_since, r.subject, r.tenant,
              r.request_id, r.deadline_at, r.fencing_token, r.cancel_requested,
              picked.first_claim, picked.waited_seconds
), claim_events AS (
    INSERT INTO workflow_run_events (run_id, kind, step_index, attempt, data)
    SELECT c.id, v.kind,
           CASE WHEN v.kind = 'step_started' THEN c.current_step END,
           CASE WHEN v.kind = 'step_started' THEN c.attempt END,
           jsonb_build_object('worker', $2::uuid)
    FROM claimed c
    CROSS JOIN LATERAL (VALUES (1, 'started'), (2, 'step_started')) AS v(ord, kind)
    WHERE (v.kind = 'started' AND c.first_claim)
       OR (v.kind = 'step_started' AND c.pending_since IS NULL)
    ORDER BY c.id, v.ord
)
SELECT * FROM claimed
"#;

/// Claims up to `limit` runnable runs; runs of `admission_required` workflows only once
/// admitted (see [`admit`]).
pub(crate) async fn claim(
    pool: &PgPool,
    worker_id: Uuid,
    limit: usize,
    lease: Duration,
    admission_required: &[String],
) -> Result<Vec<ClaimedRun>> {
    Ok(sqlx::query_as(CLAIM_SQL)
        .bind(limit as i64)
        .bind(worker_id)
        .bind(lease.as_secs_f64())
        .bind(admission_required)
        .fetch_all(pool)
        .await?)
}

/// Admits queued runs of `workflows` in creation order while fewer than `max_in_flight`
/// admitted runs of them are unfinished. One admitter at a time across all workers (a
/// transaction-scoped advisory lock; a worker that does not get it leaves admission to the
/// one that has it), so concurrent workers cannot both fill the last slot. Returns how
/// many runs it admitted.
pub(crate) async fn admit(pool: &PgPool, workflows: &[String], max_in_flight: u32) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let (locked,): (bool,) =
        sqlx::query_as("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("storeflow admission {}", workflows.join(",")))
            .fetch_one(&mut *tx)
            .await?;
    if !locked {
        return Ok(0);
    }
    let admitted = sqlx::query(
        r#"
        WITH in_flight AS (
            SELECT count(*) AS n FROM workflow_runs
            WHERE workflow = ANY($1) AND admitted_at IS NOT NULL
              AND status IN ('queued', 'waiting', 'running')
        ), next AS (
            SELECT id FROM workflow_runs
            WHERE workflow = ANY($1) AND admitted_at IS NULL AND status = 'queued'
              AND next_run_at <= now()
            ORDER BY created_at, id
            LIMIT greatest($2 - (SELECT n FROM in_flight), 0)
            FOR UPDATE SKIP LOCKED
        ), admitted AS (
            UPDATE workflow_runs r SET admitted_at = now(), updated_at = now()
            FROM next WHERE r.id = next.id
            RETURNING r.id
        ), events AS (
            INSERT INTO workflow_run_events (run_id, kind)
            SELECT id, 'admitted' FROM admitted
        )
        SELECT count(*) FROM admitted
        "#,
    )
    .bind(workflows)
    .bind(i64::from(max_in_flight))
    .fetch_one(&mut *tx)
    .await
    .map(|row| sqlx::Row::get::<i64, _>(&row, 0))?;
    tx.commit().await?;
    Ok(admitted as u64)
}

/// The record of a finished attempt.
#[derive(Debug, Clone)]
pub(crate) struct AttemptRecord {
    pub step_index: i32,
    pub attempt: i32,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub kind: &'static str,
    pub step_index: Option<i32>,
    pub attempt: Option<i32>,
    pub data: Option<Value>,
}

/// One run's checkpoint: the run row's next values plus what to append.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    pub run_id: Uuid,
    pub token: i64,
    /// Where the run must still be (step, attempt) for the write to apply, so a replayed
    /// write (its first commit's acknowledgement was lost) cannot apply twice.
    pub expected_step: i32,
    pub expected_attempt: i32,
    pub status: RunStatus,
    pub current_step: i32,
    pub attempt: i32,
    pub budget_from: i32,
    pub pending_since: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub output: Option<(String, Value)>,
    pub error: Option<String>,
    /// Give up the lease (the run waits or ends).
    pub release: bool,
    pub finished: bool,
    /// The next attempt begins now (the run continues on this worker).
    pub step_started: bool,
    pub attempt_record: Option<AttemptRecord>,
    pub events: Vec<NewEvent>,
}

/// What a checkpoint write did to one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Committed {
    /// Written; the run's status is now this (a pending cancellation may turn a
    /// continuing status into `Cancelled`).
    Written(RunStatus),
    /// Refused: the worker's lease was taken over (fencing token mismatch).
    Fenced,
}

const CHECKPOINT_SQL: &str = r#"
WITH cp AS (
    SELECT * FROM unnest($2::uuid[], $3::int8[], $4::text[], $5::int4[], $6::int4[], $7::int4[],
                         $8::timestamptz[], $9::timestamptz[], $10::text[], $11::jsonb[],
                         $12::text[], $13::bool[], $14::bool[], $15::bool[], $28::int4[],
                         $29::int4[])
        AS t(run_id, token, status, current_step, attempt, budget_from, pending_since,
             next_run_at, output_key, output, error, release, finished, step_started,
             expected_step, expected_attempt)
), upd AS (
    UPDATE workflow_runs r SET
        status = (CASE WHEN r.cancel_requested AND NOT cp.finished THEN 'cancelled'
                       ELSE cp.status END)::workflow_run_status,
        current_step = cp.current_step,
        attempt = cp.attempt,
        budget_from = cp.budget_from,
        pending_since = cp.pending_since,
        rescues = CASE WHEN cp.current_step <> r.current_step THEN 0 ELSE r.rescues END,
        next_run_at = coalesce(cp.next_run_at, r.next_run_at),
        state = CASE WHEN cp.output_key IS NULL THEN r.state
                     ELSE r.state || jsonb_build_object(cp.output_key, cp.output) END,
        error = CASE WHEN r.cancel_requested AND NOT cp.finished THEN NULL ELSE cp.error END,
        step_started_at = CASE WHEN cp.step_started THEN now() ELSE r.step_started_at END,
        lease_owner = CASE WHEN cp.release OR cp.finished OR r.cancel_requested THEN NULL
                           ELSE r.lease_owner END,
        lease_expires_at = CASE WHEN cp.release OR cp.finished OR r.cancel_requested THEN NULL
                                ELSE r.lease_expires_at END,
        finished_at = CASE WHEN cp.finished OR r.cancel_requested THEN now() END,
        updated_at = now()
    FROM cp
    WHERE r.id = cp.run_id AND r.fencing_token = cp.token AND r.status = 'running'
      AND r.current_step = cp.expected_step AND r.attempt = cp.expected_attempt
    RETURNING r.id, r.status, (r.cancel_requested AND NOT cp.finished) AS cancelled_now
), attempts AS (
    INSERT INTO workflow_step_attempts
        (run_id, step_index, attempt, outcome, error, worker_id, started_at, finished_at)
    SELECT a.run_id, a.step_index, a.attempt, a.outcome, a.error, $1, a.started_at, a.finished_at
    FROM unnest($16::uuid[], $17::int4[], $18::int4[], $19::text[], $20::text[],
                $21::timestamptz[], $22::timestamptz[])
         AS a(run_id, step_index, attempt, outcome, error, started_at, finished_at)
    JOIN upd ON upd.id = a.run_id
), events AS (
    INSERT INTO workflow_run_events (run_id, kind, step_index, attempt, data)
    SELECT e.run_id, e.kind, e.step_index, e.attempt, e.data
    FROM unnest($23::uuid[], $24::text[], $25::int4[], $26::int4[], $27::jsonb[])
         WITH ORDINALITY AS e(run_id, kind, step_index, attempt, data, ord)
    JOIN upd ON upd.id = e.run_id
    -- A cancellation that overrides the continuation keeps what happened to this step
    -- (succeeded/failed) but not what would have come next.
    WHERE NOT upd.cancelled_now OR e.kind NOT IN ('step_started', 'retry_scheduled', 'pending')
    ORDER BY e.ord
), cancel_events AS (
    INSERT INTO workflow_run_events (run_id, kind, data)
    SELECT upd.id, v.kind, v.data
    FROM upd
    CROSS JOIN LATERAL (VALUES
        (1, 'cancelled', '{"during": "checkpoint"}'::jsonb),
        (2, 'finished', '{"status": "cancelled"}'::jsonb)) AS v(ord, kind, data)
    WHERE upd.cancelled_now
    ORDER BY upd.id, v.ord
)
SELECT id, status FROM upd
"#;

/// Writes a batch of checkpoints in one statement; each is conditioned on its fencing token.
pub(crate) async fn write_checkpoints(
    conn: &mut PgConnection,
    worker_id: Uuid,
    batch: &[&Checkpoint],
) -> Result<HashMap<Uuid, Committed>> {
    let mut batch = batch.to_vec();
    batch.sort_by_key(|cp| cp.run_id);
    let n = batch.len();
    let mut run_ids = Vec::with_capacity(n);
    let mut expected_steps = Vec::with_capacity(n);
    let mut expected_attempts = Vec::with_capacity(n);
    let mut tokens = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut current_steps = Vec::with_capacity(n);
    let mut attempts = Vec::with_capacity(n);
    let mut budgets = Vec::with_capacity(n);
    let mut pending = Vec::with_capacity(n);
    let mut next_run = Vec::with_capacity(n);
    let mut output_keys: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut outputs: Vec<Option<&Value>> = Vec::with_capacity(n);
    let mut errors: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut releases = Vec::with_capacity(n);
    let mut finished = Vec::with_capacity(n);
    let mut started = Vec::with_capacity(n);

    let mut a_run = Vec::new();
    let mut a_step = Vec::new();
    let mut a_attempt = Vec::new();
    let mut a_outcome = Vec::new();
    let mut a_error: Vec<Option<&str>> = Vec::new();
    let mut a_started = Vec::new();
    let mut a_finished = Vec::new();

    let mut e_run = Vec::new();
    let mut e_kind = Vec::new();
    let mut e_step = Vec::new();
    let mut e_attempt = Vec::new();
    let mut e_data: Vec<Option<&Value>> = Vec::new();

    for cp in &batch {
        run_ids.push(cp.run_id);
        expected_steps.push(cp.expected_step);
        expected_attempts.push(cp.expected_attempt);
        tokens.push(cp.token);
        statuses.push(cp.status.as_str());
        current_steps.push(cp.current_step);
        attempts.push(cp.attempt);
        budgets.push(cp.budget_from);
        pending.push(cp.pending_since);
        next_run.push(cp.next_run_at);
        output_keys.push(cp.output.as_ref().map(|(k, _)| k.as_str()));
        outputs.push(cp.output.as_ref().map(|(_, v)| v));
        errors.push(cp.error.as_deref());
        releases.push(cp.release);
        finished.push(cp.finished);
        started.push(cp.step_started);
        if let Some(a) = &cp.attempt_record {
            a_run.push(cp.run_id);
            a_step.push(a.step_index);
            a_attempt.push(a.attempt);
            a_outcome.push(a.outcome);
            a_error.push(a.error.as_deref());
            a_started.push(a.started_at);
            a_finished.push(a.finished_at);
        }
        for e in &cp.events {
            e_run.push(cp.run_id);
            e_kind.push(e.kind);
            e_step.push(e.step_index);
            e_attempt.push(e.attempt);
            e_data.push(e.data.as_ref());
        }
    }

    let rows: Vec<(Uuid, RunStatus)> = sqlx::query_as(CHECKPOINT_SQL)
        .bind(worker_id)
        .bind(&run_ids)
        .bind(&tokens)
        .bind(&statuses)
        .bind(&current_steps)
        .bind(&attempts)
        .bind(&budgets)
        .bind(&pending)
        .bind(&next_run)
        .bind(&output_keys)
        .bind(&outputs)
        .bind(&errors)
        .bind(&releases)
        .bind(&finished)
        .bind(&started)
        .bind(&a_run)
        .bind(&a_step)
        .bind(&a_attempt)
        .bind(&a_outcome)
        .bind(&a_error)
        .bind(&a_started)
        .bind(&a_finished)
        .bind(&e_run)
        .bind(&e_kind)
        .bind(&e_step)
        .bind(&e_attempt)
        .bind(&e_data)
        .bind(&expected_steps)
        .bind(&expected_attempts)
        .fetch_all(&mut *conn)
        .await?;
    let mut result: HashMap<Uuid, Committed> =
        run_ids.iter().map(|id| (*id, Committed::Fenced)).collect();
    for (id, status) in rows {
        result.insert(id, Committed::Written(status));
    }
    Ok(result)
}

/// Extends the leases this worker still holds; returns, for each, whether cancellation was
/// requested. Runs missing from the result were taken over.
pub(crate) async fn heartbeat(
    pool: &PgPool,
    held: &[(Uuid, i64)],
    lease: Duration,
) -> Result<HashMap<Uuid, bool>> {
    let mut held = held.to_vec();
    held.sort();
    let ids: Vec<Uuid> = held.iter().map(|(id, _)| *id).collect();
    let tokens: Vec<i64> = held.iter().map(|(_, t)| *t).collect();
    let rows: Vec<(Uuid, bool)> = sqlx::query_as(
        r#"
        UPDATE workflow_runs r SET lease_expires_at = now() + make_interval(secs => $3)
        FROM unnest($1::uuid[], $2::int8[]) AS h(id, token)
        WHERE r.id = h.id AND r.fencing_token = h.token AND r.status = 'running'
        RETURNING r.id, r.cancel_requested
        "#,
    )
    .bind(&ids)
    .bind(&tokens)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// A run whose worker's lease expired, as the rescue found it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RescuedRun {
    pub id: Uuid,
    pub workflow: String,
    pub status: RunStatus,
}

const RESCUE_SQL: &str = r#"
WITH expired AS (
    SELECT id, lease_owner, attempt, current_step, step_started_at, rescues, cancel_requested
    FROM workflow_runs
    WHERE status = 'running' AND lease_expires_at < now()
    ORDER BY lease_expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), upd AS (
    UPDATE workflow_runs r SET
        status = (CASE WHEN e.cancel_requested THEN 'cancelled'
                       WHEN e.rescues + 1 >= $2 THEN 'failed'
                       ELSE 'queued' END)::workflow_run_status,
        attempt = r.attempt + 1,
        budget_from = r.budget_from + 1,
        rescues = r.rescues + 1,
        lease_owner = NULL,
        lease_expires_at = NULL,
        next_run_at = now(),
        error = CASE WHEN NOT e.cancel_requested AND e.rescues + 1 >= $2
                     THEN format('step %s lost its worker %s times in a row (the worker crashed or '
                                 'stopped heartbeating while running it); retry the step once the '
                                 'cause is fixed', e.current_step + 1, e.rescues + 1) END,
        finished_at = CASE WHEN e.cancel_requested OR e.rescues + 1 >= $2 THEN now() END,
        updated_at = now()
    FROM expired e
    WHERE r.id = e.id
    RETURNING r.id, r.workflow, r.status, e.lease_owner, e.attempt, e.current_step,
              e.step_started_at, r.error
), attempts AS (
    INSERT INTO workflow_step_attempts
        (run_id, step_index, attempt, outcome, error, worker_id, started_at, finished_at)
    SELECT id, current_step, attempt, 'rescued', 'lease expired: the worker stopped heartbeating',
           lease_owner, coalesce(step_started_at, now()), now()
    FROM upd
), events AS (
    INSERT INTO workflow_run_events (run_id, kind, step_index, attempt, data)
    SELECT u.id, v.kind,
           CASE WHEN v.kind = 'rescued' THEN u.current_step END,
           CASE WHEN v.kind = 'rescued' THEN u.attempt END,
           CASE v.kind
               WHEN 'rescued' THEN jsonb_build_object('previous_worker', u.lease_owner)
               WHEN 'finished' THEN jsonb_build_object('status', u.status, 'error', u.error)
               ELSE NULL END
    FROM upd u
    CROSS JOIN LATERAL (VALUES (1, 'rescued'), (2, 'cancelled'), (3, 'finished')) AS v(ord, kind)
    WHERE v.kind = 'rescued'
       OR (v.kind = 'cancelled' AND u.status = 'cancelled')
       OR (v.kind = 'finished' AND u.status IN ('cancelled', 'failed'))
    ORDER BY u.id, v.ord
), wake AS (
    SELECT pg_notify('storeflow_work', '') FROM upd WHERE upd.status = 'queued' LIMIT 1
)
SELECT upd.id, upd.workflow, upd.status FROM upd LEFT JOIN wake ON true
"#;

/// Requeues runs whose lease expired (their worker died or hung). Fails a run whose step
/// lost its worker `max_rescues` times in a row, so a step that kills workers cannot loop.
pub(crate) async fn rescue_expired(
    pool: &PgPool,
    limit: usize,
    max_rescues: u32,
) -> Result<Vec<RescuedRun>> {
    Ok(sqlx::query_as(RESCUE_SQL)
        .bind(limit as i64)
        .bind(max_rescues as i32)
        .fetch_all(pool)
        .await?)
}

const RELEASE_SQL: &str = r#"
WITH h AS (
    SELECT * FROM unnest($1::uuid[], $2::int8[], $3::bool[]) AS t(id, token, began)
), upd AS (
    UPDATE workflow_runs r SET
        status = 'queued',
        attempt = CASE WHEN h.began THEN r.attempt + 1 ELSE r.attempt END,
        budget_from = CASE WHEN h.began THEN r.budget_from + 1 ELSE r.budget_from END,
        lease_owner = NULL,
        lease_expires_at = NULL,
        next_run_at = now(),
        updated_at = now()
    FROM h
    WHERE r.id = h.id AND r.fencing_token = h.token AND r.status = 'running'
    RETURNING r.id, h.began, r.current_step, r.attempt - 1 AS released_attempt, r.step_started_at
), attempts AS (
    INSERT INTO workflow_step_attempts
        (run_id, step_index, attempt, outcome, error, worker_id, started_at, finished_at)
    SELECT id, current_step, released_attempt, 'released',
           'the worker shut down before the step finished', $4,
           coalesce(step_started_at, now()), now()
    FROM upd WHERE began
), events AS (
    INSERT INTO workflow_run_events (run_id, kind, step_index, data)
    SELECT id, 'released', current_step, jsonb_build_object('worker', $4::uuid) FROM upd
), wake AS (
    SELECT pg_notify('storeflow_work', '') FROM upd LIMIT 1
)
SELECT upd.id FROM upd LEFT JOIN wake ON true
"#;

/// Hands runs back at shutdown so another worker takes them at once. `began` says whether
/// the current step had started (its interrupted attempt is then recorded as released).
pub(crate) async fn release(
    pool: &PgPool,
    worker_id: Uuid,
    runs: &[(Uuid, i64, bool)],
) -> Result<usize> {
    let mut runs = runs.to_vec();
    runs.sort();
    let ids: Vec<Uuid> = runs.iter().map(|r| r.0).collect();
    let tokens: Vec<i64> = runs.iter().map(|r| r.1).collect();
    let began: Vec<bool> = runs.iter().map(|r| r.2).collect();
    let rows: Vec<(Uuid,)> = sqlx::query_as(RELEASE_SQL)
        .bind(&ids)
        .bind(&tokens)
        .bind(&began)
        .bind(worker_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.len())
}

/// Runs runnable now and not claimed (the queue-depth gauge).
pub(crate) async fn runnable_count(pool: &PgPool) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM workflow_runs WHERE status IN ('queued', 'waiting') AND next_run_at <= now()",
    )
    .fetch_one(pool)
    .await?;
    Ok(n)
}
