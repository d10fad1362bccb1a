//! Fleet rollouts: upgrading many stores in waves of growing size, each store's upgrade a
//! child run (its own `upgrade-<engine>` run, which rolls its store back by itself), a wave
//! started only when the one before it went well enough.
//!
//! The run input (written by the API, which chose the stores and computed each upgrade's
//! input): `target {chart, app}`, `maxFailureShare` (0–1), `waves: [[{store_id, workflow,
//! input}]]`.
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
        let entries: Vec<Value> = cx.input["waves"][self.wave]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let target = cx.input["target"].clone();
        let (chart, app) = (
            target["chart"].as_str().unwrap_or("").to_owned(),
            target["app"].as_str().unwrap_or("").to_owned(),
        );
        let run_id = cx.run_id;
        let mut started = Vec::new();
        let mut skipped = Vec::new();
        // Locks in the order the engine and the store trigger use: the run, then stores.
        cx.transaction_locking_run().await?;
        for entry in entries {
            let (Some(store), Some(workflow)) =
                (entry["store_id"].as_str(), entry["workflow"].as_str())
            else {
                return Err(StepOutcome::fatal(format!(
                    "wave {} has an entry without store_id or workflow: {entry}",
                    self.wave + 1
                )));
            };
            let conn = cx.transaction().map_err(StepOutcome::Fatal)?;
            let found: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT status::text, chart_version, app_version FROM stores \
                 WHERE id = $1 FOR UPDATE",
            )
            .bind(store)
            .fetch_optional(&mut *conn)
            .await
            .or_retry(&format!("reading store {store}"))?;
            let reason = match found {
                None => Some("the store no longer exists".to_owned()),
                Some((status, _, _)) if status != "ready" => {
                    Some(format!("the store is {status}, not ready"))
                }
                Some((_, Some(c), Some(a))) if c == chart && a == app => {
                    Some("the store is already on the target versions".to_owned())
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                skipped.push(json!({ "store": store, "reason": reason }));
                continue;
            }
            let mut run = NewRun::new(workflow, entry["input"].clone()).subject(store);
            if let Some(tenant) = entry["input"]["tenant"].as_str() {
                run = run.tenant(tenant);
            }
            let child = cx.start_child(run).await.map_err(StepOutcome::Retry)?;
            let conn = cx.transaction().map_err(StepOutcome::Fatal)?;
            let marking = format!("marking store {store} upgrading");
            sqlx::query(
                "UPDATE stores SET status = 'upgrading', current_run_id = $2, \
                        current_operation = 'upgrade', failure_reason = NULL, failed_step = NULL, \
                        retry_count = 0, updated_at = now() \
                 WHERE id = $1 AND status = 'ready'",
            )
            .bind(store)
            .bind(child)
            .execute(&mut *conn)
            .await
            .or_retry(&marking)?;
            sqlx::query(
                "INSERT INTO audit_events (category, action, subject, data) \
                 VALUES ('store', 'store_upgrade_requested', $1, \
                         jsonb_build_object('runId', $2::uuid, 'rolloutId', $3::uuid, \
                                            'wave', $4::int, 'to', $5::jsonb))",
            )
            .bind(store)
            .bind(child)
            .bind(run_id)
            .bind(self.wave as i32 + 1)
            .bind(&target)
            .execute(&mut *conn)
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
        let allowed = cx.input["maxFailureShare"].as_f64().unwrap_or(0.0);
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
