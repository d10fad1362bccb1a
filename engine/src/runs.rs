//! Reading runs and the operator actions on them (retry a step, cancel a run).
//! The HTTP API and the CLI are thin layers over these.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::{Error, Result};

/// A run's status; mirrors the `workflow_run_status` PostgreSQL enum.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    sqlx::Type,
    schemars::JsonSchema,
)]
#[sqlx(type_name = "workflow_run_status", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Runnable from `next_run_at`, waiting for a worker (or, under an admission cap, for
    /// a slot).
    Queued,
    /// Claimed: a worker holds its lease and executes its current step.
    Running,
    /// Released until `next_run_at`: backing off before a retry, or durably polling.
    Waiting,
    /// Every step succeeded. Final.
    Succeeded,
    /// A step failed for good: its retries spent, a fatal error, the deadline passed, or its
    /// worker lost too often. Final, but an operator may retry the failed step (unless the
    /// run's compensation steps ran).
    Failed,
    /// Cancelled by an operator, or with its parent run. Final.
    Cancelled,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The lowercase name, as stored in PostgreSQL and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// True for `succeeded`, `failed` and `cancelled`: no worker will touch the run again
    /// (only an operator retry of a failed run moves it).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown run status `{s}`; expected one of: queued, running, waiting, succeeded, failed, cancelled"
                )
            })
    }
}

/// A step's status within a run, derived from the run's position and its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Not reached yet.
    Pending,
    /// An attempt is executing now.
    Running,
    /// Backing off before its next attempt.
    Retrying,
    /// Durably polling (the step returned `Pending`).
    Polling,
    /// Reached, waiting for a worker.
    Queued,
    /// Finished; its output is in the run's state.
    Succeeded,
    /// Failed for good: the run failed here, or compensated after it.
    Failed,
    /// The run was cancelled while at this step.
    Cancelled,
    /// Passed over: main steps after one that failed when the run compensated, and
    /// compensation steps of a run that did not need them.
    Skipped,
}

/// One run, as listed.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct RunSummary {
    /// The run's id (UUIDv7: ordered by creation).
    pub id: Uuid,
    /// The workflow it executes.
    pub workflow: String,
    /// The workflow version it is pinned to.
    pub version: i32,
    /// Where the run is in its lifecycle.
    pub status: RunStatus,
    /// Index (0-based) of the step the run is at; equals `step_count` once all succeeded.
    pub current_step: i32,
    /// The name of that step; none once all steps succeeded (a definition may have more
    /// steps than the run executes, e.g. `selftest`).
    pub current_step_name: Option<String>,
    /// Steps this run executes, compensation steps included; fewer than the definition has
    /// when its length comes from the input.
    pub step_count: i32,
    /// What the run is about, e.g. a store id.
    pub subject: Option<String>,
    /// Who the run works for, as given at enqueue.
    pub tenant: Option<String>,
    /// The request that caused the run; its steps' log lines carry it.
    pub request_id: Option<String>,
    /// What the run failed with once `failed`; while a retry is pending, the failed
    /// attempt's error.
    pub error: Option<String>,
    /// When the run is next runnable: its start, the end of a retry backoff, or a polling
    /// step's recheck.
    pub next_run_at: DateTime<Utc>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When a worker first claimed it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final status.
    pub finished_at: Option<DateTime<Utc>>,
    /// When its row last changed.
    pub updated_at: DateTime<Utc>,
}

/// One attempt of a step.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AttemptView {
    /// The attempt's number, increasing across retries, rescues and operator retries.
    pub attempt: i32,
    /// succeeded, failed, timed_out, rescued, released, cancelled
    pub outcome: String,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// The worker that executed it.
    pub worker_id: Option<Uuid>,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When it ended (for a rescue: when the expired lease was noticed).
    pub finished_at: DateTime<Utc>,
    /// `finished_at` minus `started_at`, in milliseconds.
    pub duration_ms: i64,
}

/// One step of a run, with its attempt history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StepView {
    /// The step's 0-based index; compensation steps follow the main steps.
    pub index: i32,
    /// The step's name.
    pub name: String,
    /// Where the step stands in this run.
    pub status: StepStatus,
    /// Executions started so far (recorded attempts plus the one running now).
    pub attempts: i32,
    /// Attempts its retry policy allows before the step fails for good.
    pub max_attempts: i32,
    /// Limit on one attempt (and on time spent polling), in milliseconds.
    pub timeout_ms: i64,
    /// When its first attempt began (for a step polling or running now without a recorded
    /// attempt: when it began).
    pub started_at: Option<DateTime<Utc>>,
    /// When its last attempt ended, once the step succeeded, failed or was cancelled.
    pub finished_at: Option<DateTime<Utc>>,
    /// From `started_at` to `finished_at`, in milliseconds, once both are known.
    pub duration_ms: Option<i64>,
    /// The run's error when the run failed at this step; otherwise the last attempt's.
    /// None once the step succeeded.
    pub error: Option<String>,
    /// While the step is polling: what it waits for, as the step last said.
    pub waiting_for: Option<String>,
    /// Its recorded attempts, oldest first.
    pub history: Vec<AttemptView>,
}

/// An event of a run. Ids are monotonic per run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct RunEvent {
    /// Increases with every event (across runs); a reader resumes after the last id it saw.
    pub id: i64,
    /// The run it belongs to.
    pub run_id: Uuid,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// What happened, e.g. `queued`, `started`, `step_started`, `step_succeeded`,
    /// `step_failed`, `retry_scheduled`, `pending`, `rescued`, `cancel_requested`,
    /// `finished`.
    pub kind: String,
    /// The 0-based index of the step it concerns; none for run-level events.
    pub step_index: Option<i32>,
    /// That step's name.
    pub step_name: Option<String>,
    /// The attempt it concerns, for step events.
    pub attempt: Option<i32>,
    /// Details that depend on the kind (an error, who asked, the final status, ...).
    pub data: Option<Value>,
}

/// A run with its input, state, steps and events.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    /// The run as listed.
    pub summary: RunSummary,
    /// The run's input, a JSON object.
    pub input: Value,
    /// The outputs of its finished steps, keyed by step name (plus the engine's own `$`
    /// keys, e.g. the failure a compensating run records).
    pub state: Value,
    /// Cancellation was asked for; a running run's step is cancelled and the run ends
    /// `cancelled`.
    pub cancel_requested: bool,
    /// The worker holding the run's lease, while it runs.
    pub lease_owner: Option<Uuid>,
    /// When that lease lapses unless heartbeated; after it, any worker rescues the run.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When the run fails if unfinished (its definition's deadline, counted from enqueue
    /// or from an operator retry); compensation steps are not bound by it.
    pub deadline_at: Option<DateTime<Utc>>,
    /// Percentage of steps finished.
    pub progress: u8,
    /// The steps this run executes, in order.
    pub steps: Vec<StepView>,
    /// Its events, oldest first (at most 10,000).
    pub events: Vec<RunEvent>,
}

/// The run queue, as [`Engine::queue_counts`] counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    /// Due now: queued, or waiting with their time come.
    pub runnable: i64,
    /// Held by a worker.
    pub running: i64,
    /// Waiting for a later time (a retry's backoff, a poll).
    pub delayed: i64,
}

/// A child run, as [`Engine::child_runs`] lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChildRun {
    /// The child's id.
    pub id: Uuid,
    /// Its status.
    pub status: RunStatus,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// Filters for [`Engine::list_runs`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunFilter {
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Only runs of this workflow (any version).
    pub workflow: Option<String>,
    /// Only runs about this subject.
    pub subject: Option<String>,
    /// Only runs for this tenant.
    pub tenant: Option<String>,
    /// Default 50, at most 500.
    pub limit: Option<i64>,
    /// Runs to skip, newest first (default 0).
    pub offset: Option<i64>,
}

/// A step named by its name or its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRef {
    /// The step's name.
    Name(String),
    /// The step's 1-based number, as operators count them (`#1` is index 0).
    Number(usize),
}

impl std::str::FromStr for StepRef {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(n) => StepRef::Number(n),
            Err(_) => StepRef::Name(s.to_owned()),
        })
    }
}

impl std::fmt::Display for StepRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepRef::Name(name) => f.write_str(name),
            StepRef::Number(n) => write!(f, "#{n}"),
        }
    }
}

const SUMMARY_COLUMNS: &str = r#"
    r.id, r.workflow, r.version, r.status, r.current_step,
    (SELECT s.step_name FROM workflow_definition_steps s
      WHERE s.workflow = r.workflow AND s.version = r.version AND s.step_index = r.current_step
        AND r.current_step < r.step_count)
      AS current_step_name,
    r.step_count, r.subject, r.tenant, r.request_id, r.error, r.next_run_at, r.created_at,
    r.started_at, r.finished_at, r.updated_at
"#;

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    summary: RunSummary,
    input: Value,
    state: Value,
    pending_since: Option<DateTime<Utc>>,
    step_started_at: Option<DateTime<Utc>>,
    cancel_requested: bool,
    lease_owner: Option<Uuid>,
    lease_expires_at: Option<DateTime<Utc>>,
    deadline_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    step_index: i32,
    attempt: i32,
    outcome: String,
    error: Option<String>,
    worker_id: Option<Uuid>,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
}

impl Engine {
    /// Runs, newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        let limit = filter.limit.unwrap_or(50).clamp(1, 500);
        let offset = filter.offset.unwrap_or(0).max(0);
        let sql = format!(
            r#"SELECT {SUMMARY_COLUMNS} FROM workflow_runs r
               WHERE ($1::workflow_run_status IS NULL OR r.status = $1)
                 AND ($2::text IS NULL OR r.workflow = $2)
                 AND ($3::text IS NULL OR r.subject = $3)
                 AND ($4::text IS NULL OR r.tenant = $4)
               ORDER BY r.created_at DESC, r.id DESC
               LIMIT $5 OFFSET $6"#
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(filter.status)
            .bind(&filter.workflow)
            .bind(&filter.subject)
            .bind(&filter.tenant)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?)
    }

    /// The run queue now: runs due (queued, or waiting with their time come), running, and
    /// waiting for a later time (a retry's backoff, a poll).
    pub async fn queue_counts(&self) -> Result<QueueCounts> {
        let (runnable, running, delayed): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status IN ('queued', 'waiting') AND next_run_at <= now()), \
                    count(*) FILTER (WHERE status = 'running'), \
                    count(*) FILTER (WHERE status = 'waiting' AND next_run_at > now()) \
             FROM workflow_runs WHERE status IN ('queued', 'waiting', 'running')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(QueueCounts {
            runnable,
            running,
            delayed,
        })
    }

    /// How many runs there are of each status (statuses without runs left out).
    pub async fn runs_by_status(&self) -> Result<Vec<(RunStatus, i64)>> {
        Ok(sqlx::query_as(
            "SELECT status, count(*) FROM workflow_runs GROUP BY status ORDER BY status",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Whether run `id` has finished (a cheap look, for stream ends and wait loops); none
    /// for an unknown run.
    pub async fn run_finished(&self, id: Uuid) -> Result<Option<bool>> {
        Ok(
            sqlx::query_scalar("SELECT finished_at IS NOT NULL FROM workflow_runs WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// An unfinished run of `workflow` (queued, running or waiting), if there is one, read on
    /// the caller's connection — inside its transaction, so a caller that serializes starts
    /// of a workflow (an advisory lock) sees every run the previous holder enqueued.
    pub async fn unfinished_run_of(
        &self,
        conn: &mut PgConnection,
        workflow: &str,
    ) -> Result<Option<Uuid>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM workflow_runs WHERE workflow = $1 AND finished_at IS NULL \
             ORDER BY created_at LIMIT 1",
        )
        .bind(workflow)
        .fetch_optional(conn)
        .await?)
    }

    /// The runs a run started as its children (a rollout's upgrades): id, status, error.
    pub async fn child_runs(&self, parent: Uuid) -> Result<Vec<ChildRun>> {
        Ok(
            sqlx::query_as("SELECT id, status, error FROM workflow_runs WHERE parent_run_id = $1")
                .bind(parent)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// How many runs match `filter` (its limit and offset aside), for paging.
    pub async fn count_runs(&self, filter: &RunFilter) -> Result<i64> {
        let (total,): (i64,) = sqlx::query_as(
            r#"SELECT count(*) FROM workflow_runs r
               WHERE ($1::workflow_run_status IS NULL OR r.status = $1)
                 AND ($2::text IS NULL OR r.workflow = $2)
                 AND ($3::text IS NULL OR r.subject = $3)
                 AND ($4::text IS NULL OR r.tenant = $4)"#,
        )
        .bind(filter.status)
        .bind(&filter.workflow)
        .bind(&filter.subject)
        .bind(&filter.tenant)
        .fetch_one(self.pool())
        .await?;
        Ok(total)
    }

    /// One run with its steps (status, attempts, history) and its events.
    pub async fn get_run(&self, run_id: Uuid) -> Result<RunDetail> {
        let sql = format!(
            r#"SELECT {SUMMARY_COLUMNS}, r.input, r.state, r.pending_since,
                      r.step_started_at, r.cancel_requested, r.lease_owner, r.lease_expires_at,
                      r.deadline_at
               FROM workflow_runs r WHERE r.id = $1"#
        );
        let row: DetailRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(Error::RunNotFound(run_id))?;
        let step_defs: Vec<(i32, String, i32, i64)> = sqlx::query_as(
            "SELECT step_index, step_name, max_attempts, timeout_ms FROM workflow_definition_steps \
             WHERE workflow = $1 AND version = $2 AND step_index < $3 ORDER BY step_index",
        )
        .bind(&row.summary.workflow)
        .bind(row.summary.version)
        .bind(row.summary.step_count)
        .fetch_all(self.pool())
        .await?;
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT step_index, attempt, outcome, error, worker_id, started_at, finished_at \
             FROM workflow_step_attempts WHERE run_id = $1 ORDER BY step_index, attempt",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        let events = self.run_events(run_id, None, 10_000).await?;
        let steps = build_steps(
            &row.summary,
            row.pending_since,
            row.step_started_at,
            step_defs,
            attempts,
            |index| {
                events
                    .iter()
                    .rev()
                    .find(|e| e.kind == "pending" && e.step_index == Some(index))
                    .and_then(|e| e.data.as_ref())
                    .and_then(|d| d.get("waiting_for"))
                    .and_then(|w| w.as_str())
                    .map(str::to_owned)
            },
        );
        Ok(RunDetail {
            progress: percent_done(&row.summary),
            input: row.input.clone(),
            state: row.state.clone(),
            cancel_requested: row.cancel_requested,
            lease_owner: row.lease_owner,
            lease_expires_at: row.lease_expires_at,
            deadline_at: row.deadline_at,
            steps,
            events,
            summary: row.summary,
        })
    }

    /// Events of a run after `after_id` (exclusive), oldest first.
    pub async fn run_events(
        &self,
        run_id: Uuid,
        after_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RunEvent>> {
        Ok(sqlx::query_as(
            r#"SELECT e.id, e.run_id, e.at, e.kind, e.step_index,
                      (SELECT s.step_name FROM workflow_definition_steps s
                        WHERE s.workflow = r.workflow AND s.version = r.version
                          AND s.step_index = e.step_index) AS step_name,
                      e.attempt, e.data
               FROM workflow_run_events e JOIN workflow_runs r ON r.id = e.run_id
               WHERE e.run_id = $1 AND e.id > $2
               ORDER BY e.id
               LIMIT $3"#,
        )
        .bind(run_id)
        .bind(after_id.unwrap_or(0))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await?)
    }

    /// Retries the failed step of a failed run: the run resumes from it with a fresh retry
    /// budget; earlier steps are not run again. Recorded as an event.
    pub async fn retry_step(
        &self,
        run_id: Uuid,
        step: &StepRef,
        actor: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        self.retry_step_in(&mut tx, run_id, step, actor).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Engine::retry_step`] inside the caller's transaction (e.g. one that also updates the
    /// record the run works on); workers are woken when it commits.
    pub async fn retry_step_in(
        &self,
        tx: &mut sqlx::PgConnection,
        run_id: Uuid,
        step: &StepRef,
        actor: Option<&str>,
    ) -> Result<()> {
        let (status, current_step, workflow, version) = lock_run(&mut *tx, run_id).await?;
        let index = resolve_step(&mut *tx, run_id, &workflow, version, step).await?;
        if status != RunStatus::Failed {
            return Err(Error::InvalidRunState {
                run: run_id,
                action: "retry a step of",
                reason: format!(
                    "the run is {status}; only a failed run's failed step can be retried"
                ),
            });
        }
        let definition = self.definition(&workflow, version).await?;
        if current_step as usize >= definition.all_steps().count() {
            return Err(Error::InvalidRunState {
                run: run_id,
                action: "retry a step of",
                reason: "a step failed and the run's on-failure steps completed (it was \
                         compensated, e.g. rolled back); start a new run instead"
                    .into(),
            });
        }
        if index != current_step {
            return Err(Error::InvalidRunState {
                run: run_id,
                action: "retry a step of",
                reason: format!(
                    "step {step} has not failed; the failed step is number {}",
                    current_step + 1
                ),
            });
        }
        // A fresh retry budget, and a fresh deadline if the definition has one (the old one
        // may be what failed the run); a cancellation that lost the race is void.
        let deadline = definition.deadline.map(|d| d.as_secs_f64());
        sqlx::query(
            r#"UPDATE workflow_runs SET
                   status = 'queued', attempt = attempt + 1, budget_from = attempt + 1,
                   -- A retried run queues for a slot again (runs under an admission cap).
                   admitted_at = NULL,
                   pending_since = NULL, rescues = 0, error = NULL, finished_at = NULL,
                   cancel_requested = false,
                   deadline_at = now() + make_interval(secs => $2),
                   next_run_at = now(), updated_at = now()
               WHERE id = $1"#,
        )
        .bind(run_id)
        .bind(deadline)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO workflow_run_events (run_id, kind, step_index, data) \
             VALUES ($1, 'step_retry_requested', $2, jsonb_build_object('by', $3::text))",
        )
        .bind(run_id)
        .bind(index)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify('storeflow_work', '')")
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Where a queued run stands in the queue of an admission cap shared by `workflows`
    /// (see [`crate::WorkerOptions::admission`]): 1 = the next to be admitted. `None` once it
    /// was admitted (or claimed), or when it is not queued.
    pub async fn queue_position(&self, run_id: Uuid, workflows: &[String]) -> Result<Option<i64>> {
        let position: Option<(i64,)> = sqlx::query_as(
            r#"SELECT 1 + (SELECT count(*) FROM workflow_runs q
                           WHERE q.workflow = ANY($2) AND q.admitted_at IS NULL
                             AND q.status = 'queued'
                             AND (q.created_at, q.id) < (r.created_at, r.id))
               FROM workflow_runs r
               WHERE r.id = $1 AND r.admitted_at IS NULL AND r.status = 'queued'
                 AND r.workflow = ANY($2)"#,
        )
        .bind(run_id)
        .bind(workflows)
        .fetch_optional(self.pool())
        .await?;
        Ok(position.map(|(p,)| p))
    }

    /// Cancels a run. A queued or waiting run is cancelled at once; a running one is asked to
    /// stop (its step is cancelled cooperatively) and ends `cancelled`. Returns the status
    /// after the call: `Cancelled`, or `Running` while the worker winds the step down.
    pub async fn cancel_run(&self, run_id: Uuid, actor: Option<&str>) -> Result<RunStatus> {
        let mut tx = self.pool().begin().await?;
        let after = cancel_one(&mut tx, run_id, actor).await?;
        // Children of a cancelled run would work for nobody: cancel them too (and theirs).
        let mut parents = vec![run_id];
        let by = format!("cancellation of parent run {run_id}");
        while let Some(parent) = parents.pop() {
            let children: Vec<(Uuid,)> = sqlx::query_as(
                "SELECT id FROM workflow_runs WHERE parent_run_id = $1 \
                 AND status NOT IN ('succeeded', 'failed', 'cancelled') ORDER BY id",
            )
            .bind(parent)
            .fetch_all(&mut *tx)
            .await?;
            for (child,) in children {
                cancel_one(&mut tx, child, Some(&by)).await?;
                parents.push(child);
            }
        }
        tx.commit().await?;
        Ok(after)
    }
}

/// Cancels one unfinished run in `tx` (see [`Engine::cancel_run`]).
async fn cancel_one(
    tx: &mut sqlx::PgConnection,
    run_id: Uuid,
    actor: Option<&str>,
) -> Result<RunStatus> {
    let (status, _, _, _) = lock_run(&mut *tx, run_id).await?;
    let after = match status {
        s if s.is_final() => {
            return Err(Error::InvalidRunState {
                run: run_id,
                action: "cancel",
                reason: format!("the run already finished ({s})"),
            });
        }
        RunStatus::Running => {
            sqlx::query(
                "UPDATE workflow_runs SET cancel_requested = true, updated_at = now() WHERE id = $1",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO workflow_run_events (run_id, kind, data) \
                 VALUES ($1, 'cancel_requested', jsonb_build_object('by', $2::text))",
            )
            .bind(run_id)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            sqlx::query("SELECT pg_notify('storeflow_cancel', $1)")
                .bind(run_id.to_string())
                .execute(&mut *tx)
                .await?;
            RunStatus::Running
        }
        _ => {
            sqlx::query(
                r#"UPDATE workflow_runs SET status = 'cancelled', cancel_requested = true,
                       finished_at = now(), updated_at = now(), lease_owner = NULL,
                       lease_expires_at = NULL
                   WHERE id = $1"#,
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                r#"INSERT INTO workflow_run_events (run_id, kind, data) VALUES
                     ($1, 'cancelled', jsonb_build_object('by', $2::text)),
                     ($1, 'finished', '{"status": "cancelled"}'::jsonb)"#,
            )
            .bind(run_id)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            RunStatus::Cancelled
        }
    };
    Ok(after)
}

impl Engine {
    /// Deletes finished runs (with their attempts and events) that finished before `before`.
    /// Returns how many runs were deleted.
    pub async fn prune_finished_runs(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let ids: Vec<(Uuid,)> = sqlx::query_as(
            "DELETE FROM workflow_runs WHERE finished_at < $1 \
             AND status IN ('succeeded', 'failed', 'cancelled') RETURNING id",
        )
        .bind(before)
        .fetch_all(&mut *tx)
        .await?;
        let ids: Vec<Uuid> = ids.into_iter().map(|(id,)| id).collect();
        delete_run_records(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}

/// Deletes what refers to the (deleted) runs `ids`: their attempts, events and selftest
/// journal (these tables have no foreign key to the runs that would cascade).
pub(crate) async fn delete_run_records(conn: &mut PgConnection, ids: &[Uuid]) -> Result<()> {
    for table in [
        "DELETE FROM workflow_step_attempts WHERE run_id = ANY($1)",
        "DELETE FROM workflow_run_events WHERE run_id = ANY($1)",
        "DELETE FROM workflow_selftest_journal WHERE run_id = ANY($1)",
    ] {
        sqlx::query(table).bind(ids).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Percentage of a run's steps finished.
fn percent_done(run: &RunSummary) -> u8 {
    let done = match run.status {
        RunStatus::Succeeded => run.step_count,
        _ => run.current_step,
    };
    ((done as f64 / run.step_count.max(1) as f64) * 100.0).round() as u8
}

/// Each step's view from the run's position and its attempt rows; `waiting_for` says what
/// a polling step last said it waits for.
fn build_steps(
    run: &RunSummary,
    pending_since: Option<DateTime<Utc>>,
    step_started_at: Option<DateTime<Utc>>,
    step_defs: Vec<(i32, String, i32, i64)>,
    attempts: Vec<AttemptRow>,
    waiting_for: impl Fn(i32) -> Option<String>,
) -> Vec<StepView> {
    let mut history: HashMap<i32, Vec<AttemptView>> = HashMap::new();
    for a in attempts {
        history.entry(a.step_index).or_default().push(AttemptView {
            attempt: a.attempt,
            outcome: a.outcome,
            error: a.error,
            worker_id: a.worker_id,
            started_at: a.started_at,
            finished_at: a.finished_at,
            duration_ms: (a.finished_at - a.started_at).num_milliseconds(),
        });
    }
    step_defs
        .into_iter()
        .map(|(index, name, max_attempts, timeout_ms)| {
            let history = history.remove(&index).unwrap_or_default();
            let status = match step_status(run, pending_since, index) {
                // Behind the run's position without a successful attempt: the step failed
                // and the run compensated, or the run went past it (compensation steps
                // follow the main steps) without running it.
                StepStatus::Succeeded if !history.iter().any(|a| a.outcome == "succeeded") => {
                    if history.is_empty() {
                        StepStatus::Skipped
                    } else {
                        StepStatus::Failed
                    }
                }
                status => status,
            };
            let running_now = status == StepStatus::Running;
            let attempts = history.len() as i32 + i32::from(running_now);
            let started_at =
                history
                    .first()
                    .map(|a| a.started_at)
                    .or(if index == run.current_step {
                        pending_since.or(step_started_at)
                    } else {
                        None
                    });
            let finished_at = match status {
                StepStatus::Succeeded | StepStatus::Failed | StepStatus::Cancelled => {
                    history.last().map(|a| a.finished_at)
                }
                _ => None,
            };
            let error = match status {
                StepStatus::Succeeded => None,
                StepStatus::Failed if index == run.current_step => run.error.clone(),
                _ => history.last().and_then(|a| a.error.clone()),
            };
            StepView {
                waiting_for: (status == StepStatus::Polling)
                    .then(|| waiting_for(index))
                    .flatten(),
                index,
                name,
                status,
                attempts,
                max_attempts,
                timeout_ms,
                started_at,
                finished_at,
                duration_ms: match (started_at, finished_at) {
                    (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
                    _ => None,
                },
                error,
                history,
            }
        })
        .collect()
}

/// A run's progress as a store page shows it — summary, percentage, steps with their
/// attempts — without input, state or events. Read in the caller's statement through the
/// SQL function `workflow_run_progress(run id)`, which runs with the caller's rights (so
/// row-level security applies), and decoded here with the same rules as [`Engine::get_run`].
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunProgress {
    /// The run as listed.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Percentage of steps finished.
    pub progress: u8,
    /// The steps this run executes, in order, with their attempts.
    pub steps: Vec<StepView>,
}

#[derive(Deserialize)]
struct ProgressJson {
    run: ProgressRun,
    steps: Option<Vec<(i32, String, i32, i64)>>,
    #[allow(clippy::type_complexity)]
    attempts: Option<
        Vec<(
            i32,
            i32,
            String,
            Option<String>,
            Option<Uuid>,
            DateTime<Utc>,
            DateTime<Utc>,
        )>,
    >,
    waiting_for: Option<String>,
}

#[derive(Deserialize)]
struct ProgressRun {
    #[serde(flatten)]
    summary: RunSummary,
    pending_since: Option<DateTime<Utc>>,
    step_started_at: Option<DateTime<Utc>>,
}

impl RunProgress {
    /// Decodes what `workflow_run_progress` returned (`None` for SQL NULL: no such run, or
    /// not visible to the caller).
    pub fn from_json(value: Option<Value>) -> Result<Option<RunProgress>> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        // The function and this decoder ship together: a mismatch is a database error.
        let parts: ProgressJson = serde_json::from_value(value)
            .map_err(|err| Error::Database(sqlx::Error::Decode(Box::new(err))))?;
        let run = parts.run;
        let current = run.summary.current_step;
        let waiting_for = parts.waiting_for;
        let attempts = parts
            .attempts
            .unwrap_or_default()
            .into_iter()
            .map(
                |(step_index, attempt, outcome, error, worker_id, started_at, finished_at)| {
                    AttemptRow {
                        step_index,
                        attempt,
                        outcome,
                        error,
                        worker_id,
                        started_at,
                        finished_at,
                    }
                },
            )
            .collect();
        let steps = build_steps(
            &run.summary,
            run.pending_since,
            run.step_started_at,
            parts.steps.unwrap_or_default(),
            attempts,
            |index| (index == current).then(|| waiting_for.clone()).flatten(),
        );
        Ok(Some(RunProgress {
            progress: percent_done(&run.summary),
            summary: run.summary,
            steps,
        }))
    }
}

fn step_status(run: &RunSummary, pending_since: Option<DateTime<Utc>>, index: i32) -> StepStatus {
    if index < run.current_step || run.status == RunStatus::Succeeded {
        return StepStatus::Succeeded;
    }
    if index > run.current_step {
        return StepStatus::Pending;
    }
    match run.status {
        RunStatus::Running => StepStatus::Running,
        RunStatus::Waiting if pending_since.is_some() => StepStatus::Polling,
        RunStatus::Waiting => StepStatus::Retrying,
        RunStatus::Queued => StepStatus::Queued,
        RunStatus::Failed => StepStatus::Failed,
        RunStatus::Cancelled => StepStatus::Cancelled,
        RunStatus::Succeeded => StepStatus::Succeeded,
    }
}

async fn lock_run(conn: &mut PgConnection, run_id: Uuid) -> Result<(RunStatus, i32, String, i32)> {
    sqlx::query_as(
        "SELECT status, current_step, workflow, version FROM workflow_runs WHERE id = $1 FOR UPDATE",
    )
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::RunNotFound(run_id))
}

async fn resolve_step(
    conn: &mut PgConnection,
    run_id: Uuid,
    workflow: &str,
    version: i32,
    step: &StepRef,
) -> Result<i32> {
    let found: Option<(i32,)> = match step {
        StepRef::Name(name) => {
            sqlx::query_as(
                "SELECT step_index FROM workflow_definition_steps \
             WHERE workflow = $1 AND version = $2 AND step_name = $3",
            )
            .bind(workflow)
            .bind(version)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?
        }
        // A number beyond i32 names no step (and must not wrap around to one).
        StepRef::Number(n) => match i32::try_from(*n).ok().and_then(|n| n.checked_sub(1)) {
            Some(index) => {
                sqlx::query_as(
                    "SELECT step_index FROM workflow_definition_steps \
                     WHERE workflow = $1 AND version = $2 AND step_index = $3",
                )
                .bind(workflow)
                .bind(version)
                .bind(index)
                .fetch_optional(&mut *conn)
                .await?
            }
            None => None,
        },
    };
    found.map(|(i,)| i).ok_or_else(|| Error::StepNotFound {
        run: run_id,
        step: step.to_string(),
    })
}
