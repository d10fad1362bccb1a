//! Child runs: a run's step starts other runs and a later step waits for them.
//!
//! # Guarantees
//! - Children are enqueued by [`crate::StepContext::start_child`] in the starting step's
//!   checkpoint transaction: they exist exactly when that step's completion commits, so a
//!   crash or a retry of the step never leaves two sets.
//! - [`AwaitChildren`] holds no worker while children run: it returns `Pending` and is
//!   claimed again after `recheck`, bounded by its step timeout like any polling step.
//! - Cancelling a parent cancels its unfinished children (and theirs), in the same
//!   transaction ([`crate::Engine::cancel_run`]).
//!
//! # Caveats
//! - A finished child does not wake its parent: the parent sees it at its next recheck.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::definition::humantime_duration;
use crate::runs::RunStatus;
use crate::step::{Step, StepContext, StepOutcome};

/// A child run as its parent reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ChildRun {
    /// The child run's id.
    pub id: Uuid,
    /// The workflow it runs.
    pub workflow: String,
    /// The version of that workflow it is pinned to.
    pub version: i32,
    /// What it is about (e.g. a store id), as given when it was started.
    pub subject: Option<String>,
    /// Its status now; [`RunStatus::is_final`] once it finished.
    pub status: RunStatus,
    /// The error it failed with, if it failed.
    pub error: Option<String>,
    /// The outputs of its finished steps, by step name.
    pub state: Value,
}

/// The children that step `step` of run `parent` started, oldest first.
pub(crate) async fn of(pool: &PgPool, parent: Uuid, step: i32) -> sqlx::Result<Vec<ChildRun>> {
    sqlx::query_as(
        "SELECT id, workflow, version, subject, status, error, state FROM workflow_runs \
         WHERE parent_run_id = $1 AND parent_step = $2 ORDER BY created_at, id",
    )
    .bind(parent)
    .bind(step)
    .fetch_all(pool)
    .await
}

fn default_recheck() -> Duration {
    Duration::from_secs(2)
}

/// Waits until every child the step `started_by` started has finished, then succeeds with
/// their outcomes: `{children: [{id, workflow, subject, status, error}], succeeded, failed,
/// cancelled}`. A failed child does not fail this step: what the parent makes of failures is
/// the next step's decision (e.g. stop a rollout when too many failed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwaitChildren {
    /// The name of the step (of the same run) that started the children.
    pub started_by: String,
    /// How long to wait between looks at the children (default 2s); a finished child is
    /// noticed at most this late.
    #[serde(with = "humantime_duration", default = "default_recheck")]
    pub recheck: Duration,
}

impl AwaitChildren {
    /// Waits for the children of the step named `started_by`, rechecking every 2s.
    pub fn new(started_by: impl Into<String>) -> Self {
        AwaitChildren {
            started_by: started_by.into(),
            recheck: default_recheck(),
        }
    }
}

#[typetag::serde(name = "await-children")]
#[async_trait::async_trait]
impl Step for AwaitChildren {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let children = match cx.children(&self.started_by).await {
            Ok(children) => children,
            Err(err) => return StepOutcome::Retry(err),
        };
        let finished = children.iter().filter(|c| c.status.is_final()).count();
        if finished < children.len() {
            return StepOutcome::pending_on(
                self.recheck,
                format!("{finished} of {} child runs finished", children.len()),
            );
        }
        let count = |status: RunStatus| children.iter().filter(|c| c.status == status).count();
        StepOutcome::Done(json!({
            "children": children
                .iter()
                .map(|c| json!({
                    "id": c.id, "workflow": c.workflow, "subject": c.subject,
                    "status": c.status, "error": c.error,
                }))
                .collect::<Vec<_>>(),
            "succeeded": count(RunStatus::Succeeded),
            "failed": count(RunStatus::Failed),
            "cancelled": count(RunStatus::Cancelled),
        }))
    }
}
