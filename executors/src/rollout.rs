//! Fleet rollouts: upgrading many stores in waves of growing size, each store's upgrade a
//! child run (its own `upgrade-<engine>` run, which rolls its store back by itself), a wave
//! started only when the one before it went well enough.
//!
//! The run input is a [`RolloutPlan`], written by the API, which chose the stores and computed
//! each upgrade's input.
//!
//! # Guarantees
//! - A wave's upgrades are started in its `start-wave` step's checkpoint transaction: each
//!   store is locked and only a store still `ready` and not yet on the target is marked
//!   `upgrading` and gets its run; the others are skipped with the reason. A crash never
//!   starts a store twice.
//! - `check-wave` halts the rollout (the run fails) when more than `maxFailureShare` of the
//!   wave's upgrades failed (rolled back, failed or cancelled): later waves are never started,
//!   so no store of theirs is touched. An operator who retries that step (`resume`) accepts
//!   the wave's failures and the rollout goes on.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{NewRun, OrOutcome, StepContext, StepOutcome, StepResult};

use crate::store::lifecycle::{self, Operation};
use crate::store::{Audit, StoreAction, StoreRunInput, StoreStatus};

/// The most waves a rollout has (the API refuses plans with more).
pub const MAX_WAVES: usize = 8;

/// The workflow's name.
pub const FLEET_ROLLOUT: &str = "fleet-rollout";

/// Step names of wave `wave` (0-based): start, await, check.
pub fn wave_steps(wave: usize) -> [String; 3] {
    let n = wave + 1;
    [
        format!("start-wave-{n}"),
        format!("await-wave-{n}"),
        format!("check-wave-{n}"),
    ]
}

/// A fleet rollout's run input: planned by the API (which chose the stores and computed each
/// upgrade's input), followed by the steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPlan {
    /// The versions the stores move to.
    pub target: RolloutTarget,
    /// The share (0–1) of a wave's upgrades that may fail before the rollout halts.
    pub max_failure_share: f64,
    /// The waves, in order.
    pub waves: Vec<Vec<PlannedUpgrade>>,
}

/// The chart and app versions a rollout moves its stores to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutTarget {
    /// The store chart's version.
    pub chart: String,
    /// The app's version that chart runs.
    pub app: String,
}

/// One store's upgrade in a wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedUpgrade {
    /// The store.
    pub store_id: String,
    /// Its engine's upgrade workflow.
    pub workflow: String,
    /// The upgrade run's input.
    pub input: StoreRunInput,
}

impl RolloutPlan {
    /// The plan in a rollout run's input.
    pub fn from_input(input: &Value) -> Result<RolloutPlan, String> {
        RolloutPlan::deserialize(input)
            .map_err(|err| format!("the run input is not a rollout plan: {err}"))
    }

    /// The plan as a run input.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Starts the upgrades of wave `wave` as child runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartWave {
    /// 0-based index into the input's `waves`; an index past the end starts nothing.
    pub wave: usize,
}

#[typetag::serde(name = "start-wave")]
#[async_trait::async_trait]
impl storeflow_engine::Step for StartWave {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.start(cx).await)
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

impl StartWave {
    async fn start(&self, cx: &mut StepContext<'_>) -> StepResult {
        let plan = RolloutPlan::from_input(cx.input).map_err(StepOutcome::fatal)?;
        let entries = plan.waves.get(self.wave).cloned().unwrap_or_default();
        let RolloutTarget { chart, app } = &plan.target;
        let run_id = cx.run_id;
        let mut started = Vec::new();
        let mut skipped = Vec::new();
        // Locks in the order the engine and the store trigger use: the run, then stores.
        cx.transaction_locking_run().await?;
        for entry in entries {
            let store = entry.store_id.as_str();
            let conn = cx.transaction().map_err(StepOutcome::Fatal)?;
            let found: Option<(StoreStatus, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT status, chart_version, app_version FROM stores WHERE id = $1 FOR UPDATE",
            )
            .bind(store)
            .fetch_optional(&mut *conn)
            .await
            .or_retry(&format!("reading store {store}"))?;
            let reason = match found {
                None => Some("the store no longer exists".to_owned()),
                Some((status, _, _)) if status != StoreStatus::Ready => {
                    Some(format!("the store is {status}, not ready"))
                }
                Some((_, Some(c), Some(a))) if &c == chart && &a == app => {
                    Some("the store is already on the target versions".to_owned())
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                skipped.push(json!({ "store": store, "reason": reason }));
                continue;
            }
            let mut run = NewRun::new(&entry.workflow, entry.input.to_value()).subject(store);
            if let Some(tenant) = &entry.input.tenant {
                run = run.tenant(tenant);
            }
            let child = cx.start_child(run).await.map_err(StepOutcome::Retry)?;
            let conn = cx.transaction().map_err(StepOutcome::Fatal)?;
            let marking = format!("marking store {store} upgrading");
            lifecycle::move_to_run(
                &mut *conn,
                store,
                Operation::Upgrade,
                StoreStatus::Ready,
                child,
            )
            .await
            .or_retry(&marking)?;
            Audit::store(StoreAction::UpgradeRequested)
                .subject(store)
                .data(json!({
                    "runId": child,
                    "rolloutId": run_id,
                    "wave": self.wave + 1,
                    "to": plan.target,
                }))
                .write_in(&mut *conn)
                .await
                .or_retry(&marking)?;
            started.push(json!({ "store": store, "run": child }));
        }
        Ok(json!({ "wave": self.wave + 1, "started": started, "skipped": skipped }))
    }
}

/// Decides whether the rollout goes on after wave `wave` (see the module's guarantees).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckWave {
    /// 0-based; reads the output of this wave's `await-wave-<wave + 1>` step.
    pub wave: usize,
}

#[typetag::serde(name = "check-wave")]
#[async_trait::async_trait]
impl storeflow_engine::Step for CheckWave {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let [_, awaited, _] = wave_steps(self.wave);
        let outcome = cx.output_of(&awaited).cloned().unwrap_or_default();
        let children = outcome["children"].as_array().cloned().unwrap_or_default();
        let failed: Vec<&str> = children
            .iter()
            .filter(|c| c["status"] != "succeeded")
            .filter_map(|c| c["subject"].as_str())
            .collect();
        let started = children.len();
        let share = if started == 0 {
            0.0
        } else {
            failed.len() as f64 / started as f64
        };
        let allowed = match RolloutPlan::from_input(cx.input) {
            Ok(plan) => plan.max_failure_share,
            Err(problem) => return StepOutcome::fatal(problem),
        };
        let over = share > allowed;
        // The step never retries by itself: a later attempt is an operator's retry, which
        // accepts the wave's failures.
        if over && cx.attempt == 1 {
            return StepOutcome::fatal(format!(
                "wave {} halted the rollout: {} of {started} upgrades failed ({:.0}% > {:.0}% \
                 allowed): {}; the failed stores were rolled back and no later wave was started. \
                 Resume the rollout to accept this and go on; otherwise it stays halted",
                self.wave + 1,
                failed.len(),
                share * 100.0,
                allowed * 100.0,
                failed.join(", ")
            ));
        }
        StepOutcome::Done(json!({
            "wave": self.wave + 1,
            "started": started,
            "failed": failed,
            "accepted": over,
        }))
    }
}
