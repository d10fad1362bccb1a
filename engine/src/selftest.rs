//! The built-in `selftest` workflow: no-op steps with optional delay and injected failures.
//! Used by `storeflow bench`, by the crash tests, and by operators to check an installation.
//!
//! Input (all optional): `{"steps": N, "delay_ms": D, "fail_step": i, "fail_times": n,
//! "journal": bool}`. A run executes steps `step-1` … `step-N` (default 3, at most
//! [`MAX_STEPS`]); each sleeps `delay_ms`; step number `fail_step` fails (retryably) its
//! first `fail_times` attempts. With `journal`, every execution is recorded in
//! `workflow_selftest_journal` (begin and end), independently of the engine's bookkeeping.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::definition::{Definition, RetryPolicy, StepDef};
use crate::step::{Step, StepContext, StepOutcome};

/// The workflow's name; [`crate::Engine::start`] registers it unless the build did.
pub const WORKFLOW: &str = "selftest";
/// Its only version.
pub const VERSION: i32 = 1;
/// Steps in the definition, the most a run can ask for with `steps`.
pub const MAX_STEPS: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelftestInput {
    #[serde(default)]
    #[allow(dead_code)]
    steps: Option<u64>,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    fail_step: Option<u32>,
    #[serde(default)]
    fail_times: u32,
    #[serde(default)]
    journal: bool,
}

/// One selftest step; `number` is 1-based.
#[derive(Debug, Serialize, Deserialize)]
pub struct SelftestStep {
    /// The step's 1-based number (`step-<number>`), matched against the input's `fail_step`.
    pub number: u32,
}

#[typetag::serde(name = "selftest")]
#[async_trait::async_trait]
impl Step for SelftestStep {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let input: SelftestInput = match serde_json::from_value(cx.input.clone()) {
            Ok(input) => input,
            Err(err) => return StepOutcome::fatal(format!("invalid selftest input: {err}")),
        };
        if input.journal
            && let Err(err) = journal(cx, "begin").await
        {
            return StepOutcome::retry(format!("writing the selftest journal failed: {err}"));
        }
        if input.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(input.delay_ms)).await;
        }
        if input.fail_step == Some(self.number) && (cx.attempt_in_budget as u32) <= input.fail_times
        {
            return StepOutcome::retry(format!(
                "selftest: injected failure {} of {} at step {}",
                cx.attempt_in_budget, input.fail_times, self.number
            ));
        }
        if input.journal
            && let Err(err) = journal(cx, "end").await
        {
            return StepOutcome::retry(format!("writing the selftest journal failed: {err}"));
        }
        StepOutcome::Done(json!({ "step": self.number, "attempt": cx.attempt }))
    }
}

async fn journal(cx: &StepContext<'_>, phase: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO workflow_selftest_journal (run_id, step_index, attempt, worker_id, phase) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(cx.run_id)
    .bind(cx.step_index as i32)
    .bind(cx.attempt)
    .bind(cx.worker_id)
    .bind(phase)
    .execute(cx.pool())
    .await?;
    Ok(())
}

/// The `selftest` definition: [`MAX_STEPS`] steps, of which a run executes the first `steps`.
pub fn definition() -> Definition {
    let retry = RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        multiplier: 2.0,
        jitter: 0.1,
    };
    let mut definition = Definition::new(WORKFLOW, VERSION).length_from_input("steps", 3);
    for number in 1..=MAX_STEPS as u32 {
        definition = definition.step(
            StepDef::new(format!("step-{number}"), SelftestStep { number })
                .retry(retry.clone())
                .timeout(Duration::from_secs(60)),
        );
    }
    definition
}
