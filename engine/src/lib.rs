//! storeflow's durable workflow engine on PostgreSQL.
//!
//! A workflow is a versioned [`Definition`]: ordered typed steps, each a typetag-serialized
//! [`Step`] with a retry policy and a timeout. Runs are enqueued (inside the caller's
//! transaction if it likes), claimed by [`Worker`]s with `FOR UPDATE SKIP LOCKED`, leased
//! with a fencing token, and checkpointed after every step, so a worker killed mid-run is
//! resumed by another at the step where it stopped.
//!
//! # Guarantees
//! - A checkpoint commits only while its worker still holds the run's lease (fencing token).
//! - A completed (checkpointed) step never runs again; the in-flight step of a crashed
//!   worker runs again (at-least-once), recorded as a *rescue*, not a failure.
//! - Runs pin `(name, version)` and execute the stored definition of that version.
//! - Every state change is an event with a monotonic id per run, announced with `NOTIFY`.
//!
//! # Caveats
//! - Steps other than database-only ones must be idempotent; see [`StepContext::idempotency_key`].

#![warn(missing_docs)]

pub mod children;
mod definition;
mod engine;
mod error;
mod measure;
pub mod metrics;
mod runs;
mod scheduler;
pub mod selftest;
mod step;
mod store;
mod worker;

pub use definition::{Definition, LengthFromInput, RetryPolicy, StepDef, humantime_duration};
pub use engine::{Engine, Enqueued, NewRun, StoredDefinition, StoredStep};
pub use error::{Error, Result};
pub use measure::{Completions, FinishTimes};
pub use runs::{
    AttemptView, ChildRun, QueueCounts, RunDetail, RunEvent, RunFilter, RunProgress, RunStatus,
    RunSummary, StepRef, StepStatus, StepView,
};
pub use scheduler::{Schedule, ScheduleSpec, Scheduler, SchedulerOptions, parse_cron};
pub use step::{
    OrOutcome, Resources, RunFailure, Step, StepContext, StepError, StepOutcome, StepResult,
};
pub use worker::{AdmissionLimit, Worker, WorkerOptions};

/// The SQL migrations of the whole product, embedded at build time. Apply them with
/// [`migrate`], which also installs [`FUNCTIONS`].
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// SQL functions kept in one canonical file each (`migrations/functions/`), as (name, SQL),
/// in install order (a SQL function's body must name functions that exist):
/// [`migrate`] replaces them on every run, after the migrations, so a change to one is made in
/// its file only — forward-only migrations would otherwise restate the whole body each time.
pub static FUNCTIONS: &[(&str, &str)] = &[
    (
        "stores_follow_lifecycle_run",
        include_str!("../../migrations/functions/stores_follow_lifecycle_run.sql"),
    ),
    (
        "storeflow_prune_auth_rows",
        include_str!("../../migrations/functions/storeflow_prune_auth_rows.sql"),
    ),
    (
        "workflow_run_position",
        include_str!("../../migrations/functions/workflow_run_position.sql"),
    ),
    (
        "workflow_run_summary",
        include_str!("../../migrations/functions/workflow_run_summary.sql"),
    ),
    (
        "workflow_subject_events",
        include_str!("../../migrations/functions/workflow_subject_events.sql"),
    ),
    (
        "workflow_subject_runs",
        include_str!("../../migrations/functions/workflow_subject_runs.sql"),
    ),
    // The API's page reads call the engine's read functions above, so they come after them.
    (
        "storeflow_api_store_page",
        include_str!("../../migrations/functions/storeflow_api_store_page.sql"),
    ),
    (
        "storeflow_api_stores_page",
        include_str!("../../migrations/functions/storeflow_api_stores_page.sql"),
    ),
];

/// Applies [`MIGRATOR`] (concurrent callers serialize on its advisory lock), then replaces
/// those of [`FUNCTIONS`] whose installed body differs from their file, in one transaction.
pub async fn migrate(pool: &sqlx::PgPool) -> Result<()> {
    MIGRATOR.run(pool).await?;
    let mut tx = pool.begin().await?;
    // Processes starting together (a worker and a CLI command) take turns: two `CREATE OR
    // REPLACE` of one function at once fail with "tuple concurrently updated".
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('storeflow:functions'))")
        .execute(&mut *tx)
        .await?;
    for (name, sql) in FUNCTIONS {
        let installed: Option<String> =
            sqlx::query_scalar("SELECT prosrc FROM pg_proc WHERE proname = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        // The body is what `$$` quotes; an unchanged one is left alone (no catalog write on
        // every start).
        if installed.as_deref() != sql.split("$$").nth(1) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `NOTIFY` channel announcing runnable work.
pub const WORK_CHANNEL: &str = "storeflow_work";
/// `NOTIFY` channel carrying the id of a run whose cancellation was requested.
pub const CANCEL_CHANNEL: &str = "storeflow_cancel";
/// `NOTIFY` channel announcing new events (payload: the highest new event id).
pub const EVENTS_CHANNEL: &str = "storeflow_events";
