//! Database steps that move a store through its lifecycle. They run inside the engine's
//! checkpoint transaction, so a status change and the step's completion commit together,
//! exactly once.
//!
//! # Guarantees
//! - Every write is conditional on the status the store is expected to have *and* on the
//!   store still pointing at this run (`current_run_id`): a superseded run can never
//!   overwrite the status a newer run set. A refused transition fails the run with a message
//!   that names the store's actual status.
//! - `failed` is not a step: the `stores_follow_lifecycle_run` trigger marks the store failed
//!   in the same transaction in which its run fails or is cancelled (see ARCHITECTURE.md).

use serde::{Deserialize, Serialize};
use storeflow_engine::{OrOutcome, StepContext, StepOutcome, StepResult};

use crate::store::{Audit, StoreAction, StoreRunInput, StoreStatus};

/// Moves the store from one of `from` to `to` if it still belongs to this run; `extra` is a
/// SQL fragment of further assignments (constants and `$3`-bound text only).
async fn transition(
    cx: &mut StepContext<'_>,
    from: &[StoreStatus],
    to: StoreStatus,
    extra: &'static str,
    extra_value: Option<String>,
) -> StepOutcome {
    StepOutcome::of(move_store(cx, from, to, extra, extra_value).await)
}

async fn move_store(
    cx: &mut StepContext<'_>,
    from: &[StoreStatus],
    to: StoreStatus,
    extra: &'static str,
    extra_value: Option<String>,
) -> StepResult {
    let store = StoreRunInput::read(cx)?.store_id;
    let run_id = cx.run_id;
    // Locks in the order the engine and the store trigger use (run, then store), so this step
    // and a concurrent rescue of the same run cannot deadlock.
    let conn = cx.transaction_locking_run().await?;
    let from: Vec<&str> = from.iter().map(|status| status.as_str()).collect();
    // Only this module's constants are spliced in (a status's name, `extra` is `'static`);
    // values are bound.
    let to = to.as_str();
    let sql = format!(
        "WITH old AS (SELECT status FROM stores WHERE id = $1 FOR UPDATE) \
         UPDATE stores s SET status = '{to}', updated_at = now(){extra} \
         FROM old \
         WHERE s.id = $1 AND s.current_run_id = $2 AND s.status::text = ANY($4) \
         RETURNING old.status::text, $3::text"
    );
    let updated: Option<(String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&store)
        .bind(run_id)
        .bind(extra_value)
        .bind(&from)
        .fetch_optional(&mut *conn)
        .await
        .or_retry(&format!("updating store {store} failed"))?;
    match updated {
        Some((previous, _)) if previous == to => {
            Ok(serde_json::json!({ "store": store, "from": previous, "to": to }))
        }
        Some((previous, _)) => {
            Audit::store(StoreAction::StatusChanged)
                .subject(&store)
                .data(serde_json::json!({ "from": previous, "to": to, "runId": run_id }))
                .write_in(&mut *conn)
                .await
                .or_retry("recording the status change failed")?;
            Ok(serde_json::json!({ "store": store, "from": previous, "to": to }))
        }
        None => {
            let actual: Option<(String, Option<uuid::Uuid>)> =
                sqlx::query_as("SELECT status::text, current_run_id FROM stores WHERE id = $1")
                    .bind(&store)
                    .fetch_optional(&mut *conn)
                    .await
                    .or_retry(&format!("reading store {store} failed"))?;
            Err(match actual {
                None => StepOutcome::fatal(format!("store {store} does not exist")),
                Some((status, current)) if current != Some(run_id) => StepOutcome::fatal(format!(
                    "store {store} is now handled by another run ({}); this run stops without touching it (status {status})",
                    current
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "none".into())
                )),
                Some((status, _)) => StepOutcome::fatal(format!(
                    "store {store} is {status}; it cannot become {to} (expected {})",
                    from.join(" or ")
                )),
            })
        }
    }
}

/// `requested → provisioning` (also accepted when already provisioning).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkProvisioning {}

#[typetag::serde(name = "mark-provisioning")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MarkProvisioning {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        transition(
            cx,
            &[StoreStatus::Requested, StoreStatus::Provisioning],
            StoreStatus::Provisioning,
            "",
            None,
        )
        .await
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

/// `provisioning → ready`, with the store's URLs (from the run input's `urls`) and, from the
/// output of the verification step `first_order_from` (its `orderedAt`), how long after its
/// creation the store took its first order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkReady {
    /// The verification step whose output's `orderedAt` timestamp is the first order. `None`,
    /// or no `orderedAt`: no time to first order is recorded. Recorded once; a later ready
    /// keeps the first value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_order_from: Option<String>,
}

#[typetag::serde(name = "mark-ready")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MarkReady {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let outcome = StepOutcome::of(self.mark(cx).await);
        if matches!(outcome, StepOutcome::Done(_)) {
            record_ready(cx).await;
        }
        outcome
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

impl MarkReady {
    async fn mark(&self, cx: &mut StepContext<'_>) -> StepResult {
        let input = StoreRunInput::read(cx)?;
        let storefront = input.storefront_url()?.to_owned();
        // Engines without an admin UI have none.
        let admin = input
            .urls
            .as_ref()
            .and_then(|urls| urls.admin.clone())
            .unwrap_or_default();
        let ordered_at = self
            .first_order_from
            .as_deref()
            .and_then(|step| cx.output_of(step))
            .and_then(|output| output["orderedAt"].as_str())
            .unwrap_or("")
            .to_owned();
        // The versions the release was installed with (the last install's output).
        let installed = ["publish-chart", "install-chart"]
            .iter()
            .find_map(|step| cx.output_of(step))
            .cloned()
            .unwrap_or_default();
        let version = |key: &str| {
            installed[key]
                .as_str()
                .filter(|v| !v.contains('\n'))
                .unwrap_or("")
                .to_owned()
        };
        let (chart_version, app_version) = (version("chartVersion"), version("appVersion"));
        // Five values, one bind: `$3` carries them separated by newlines (URLs, a timestamp
        // and versions cannot contain one).
        move_store(
            cx,
            &[StoreStatus::Provisioning],
            StoreStatus::Ready,
            ", storefront_url = split_part($3, E'\\n', 1), admin_url = nullif(split_part($3, E'\\n', 2), ''), \
             ready_at = coalesce(s.ready_at, now()), \
             first_order_ms = coalesce(s.first_order_ms, (extract(epoch FROM \
                 (nullif(split_part($3, E'\\n', 3), '')::timestamptz - s.created_at)) * 1000)::bigint), \
             chart_version = coalesce(nullif(split_part($3, E'\\n', 4), ''), s.chart_version), \
             app_version = coalesce(nullif(split_part($3, E'\\n', 5), ''), s.app_version), \
             restored_at = CASE WHEN s.restore_backup_id IS NULL THEN s.restored_at \
                                ELSE coalesce(s.restored_at, now()) END, \
             failure_reason = NULL, failed_step = NULL",
            Some(format!(
                "{storefront}\n{admin}\n{ordered_at}\n{chart_version}\n{app_version}"
            )),
        )
        .await
    }
}

/// Records how long the store took to become ready and to take its first order (in the
/// checkpoint's transaction: a fenced checkpoint, rare, may count a store twice).
async fn record_ready(cx: &mut StepContext<'_>) {
    let Ok(store) = StoreRunInput::read(cx).map(|input| input.store_id) else {
        return;
    };
    let Ok(conn) = cx.transaction() else {
        return;
    };
    // (engine, seconds to ready, milliseconds to the first order)
    type Times = (String, Option<f64>, Option<i64>);
    let times: Result<Option<Times>, sqlx::Error> = sqlx::query_as(
        "SELECT engine::text, extract(epoch FROM ready_at - created_at)::float8, first_order_ms \
         FROM stores WHERE id = $1",
    )
    .bind(&store)
    .fetch_optional(&mut *conn)
    .await;
    if let Ok(Some((engine, ready, first_order))) = times {
        if let Some(seconds) = ready {
            metrics::histogram!(crate::metrics::PROVISIONING_DURATION, "engine" => engine.clone())
                .record(seconds);
        }
        if let Some(ms) = first_order {
            metrics::histogram!(crate::metrics::TIME_TO_FIRST_ORDER, "engine" => engine)
                .record(ms as f64 / 1000.0);
        }
    }
}

/// `restoring → ready` at the end of a restore into the same store (the API set `restoring`
/// when it started the restore), with the time the restore completed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkRestored {}

#[typetag::serde(name = "mark-restored")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MarkRestored {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        transition(
            cx,
            &[StoreStatus::Restoring],
            StoreStatus::Ready,
            ", restored_at = now(), failure_reason = NULL, failed_step = NULL",
            None,
        )
        .await
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

/// `ready | failed → deleting` (for teardowns started by schedules; the API sets `deleting`
/// itself in the transaction that enqueues the teardown).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkDeleting {}

#[typetag::serde(name = "mark-deleting")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MarkDeleting {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        transition(
            cx,
            &[
                StoreStatus::Ready,
                StoreStatus::Failed,
                StoreStatus::Deleting,
            ],
            StoreStatus::Deleting,
            "",
            None,
        )
        .await
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

/// `deleting → deleted`: the store's name becomes free again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkDeleted {}

#[typetag::serde(name = "mark-deleted")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MarkDeleted {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        transition(
            cx,
            &[StoreStatus::Deleting],
            StoreStatus::Deleted,
            ", deleted_at = now(), credentials = NULL, failure_reason = NULL, failed_step = NULL",
            None,
        )
        .await
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

/// Ends a credential rotation: the replaced credentials are forgotten (the store's apps no
/// longer accept them) and the store points back at no running operation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FinishRotation {}

#[typetag::serde(name = "finish-rotation")]
#[async_trait::async_trait]
impl storeflow_engine::Step for FinishRotation {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(finish_rotation(cx).await)
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

async fn finish_rotation(cx: &mut StepContext<'_>) -> StepResult {
    let store = StoreRunInput::read(cx)?.store_id;
    let run_id = cx.run_id;
    let finishing = format!("finishing the rotation of {store}");
    let conn = cx.transaction_locking_run().await?;
    sqlx::query(
        "UPDATE stores SET previous_credentials = NULL, updated_at = now() \
         WHERE id = $1 AND rotation_run_id = $2",
    )
    .bind(&store)
    .bind(run_id)
    .execute(&mut *conn)
    .await
    .or_retry(&finishing)?;
    Audit::store(StoreAction::CredentialsRotated)
        .subject(&store)
        .data(serde_json::json!({ "runId": run_id }))
        .write_in(&mut *conn)
        .await
        .or_retry(&finishing)?;
    Ok(serde_json::json!({ "store": store, "rotated": true }))
}

// ---------------------------------------------------------------------------------------
// Upgrades

/// `{chart, app}` from a step output with `chartVersion` / `appVersion` (install, record or
/// rollback of the release).
fn versions_of(output: Option<&serde_json::Value>) -> serde_json::Value {
    let output = output.cloned().unwrap_or_default();
    serde_json::json!({ "chart": output["chartVersion"], "app": output["appVersion"] })
}

/// `upgrading → ready` after a verified upgrade: the store takes the versions its release
/// was upgraded to (the output of `to`), and `last_upgrade` says what changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkUpgraded {
    /// The step that recorded the release before the upgrade.
    pub from: String,
    /// The step that upgraded it.
    pub to: String,
}

#[typetag::serde(name = "mark-upgraded")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MarkUpgraded {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let outcome = serde_json::json!({
            "status": "succeeded",
            "runId": cx.run_id,
            "from": versions_of(cx.output_of(&self.from)),
            "to": versions_of(cx.output_of(&self.to)),
        });
        transition(
            cx,
            &[StoreStatus::Upgrading],
            StoreStatus::Ready,
            ", chart_version = $3::jsonb #>> '{to,chart}', app_version = $3::jsonb #>> '{to,app}', \
             last_upgrade = $3::jsonb || jsonb_build_object('at', now()), \
             failure_reason = NULL, failed_step = NULL",
            Some(outcome.to_string()),
        )
        .await
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

/// First compensation step of an upgrade: the store says at once that its upgrade failed
/// and is being rolled back, and why (it stays `upgrading` until the rollback is verified).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordUpgradeFailure {
    /// The step that recorded the release before the upgrade.
    pub from: String,
}

#[typetag::serde(name = "record-upgrade-failure")]
#[async_trait::async_trait]
impl storeflow_engine::Step for RecordUpgradeFailure {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.record(cx).await)
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

impl RecordUpgradeFailure {
    async fn record(&self, cx: &mut StepContext<'_>) -> StepResult {
        let store = StoreRunInput::read(cx)?.store_id;
        let failure = cx.failure();
        let outcome = serde_json::json!({
            "status": "rolling_back",
            "runId": cx.run_id,
            "from": versions_of(cx.output_of(&self.from)),
            "failedStep": failure.as_ref().map(|f| f.step.clone()),
            "error": failure.as_ref().map(|f| f.error.clone()),
        });
        let run_id = cx.run_id;
        let conn = cx.transaction_locking_run().await?;
        let updated = sqlx::query(
            "UPDATE stores SET last_upgrade = $3::jsonb || jsonb_build_object('at', now()), \
                    updated_at = now() \
             WHERE id = $1 AND current_run_id = $2 AND status = 'upgrading'",
        )
        .bind(&store)
        .bind(run_id)
        .bind(outcome.to_string())
        .execute(&mut *conn)
        .await
        .or_retry(&format!("recording the failed upgrade of {store}"))?;
        if updated.rows_affected() != 1 {
            return Err(StepOutcome::fatal(format!(
                "store {store} is no longer being upgraded by this run; it is left as it is"
            )));
        }
        Ok(outcome)
    }
}

/// `upgrading → ready` after the release was rolled back and verified again: the store keeps
/// the versions it had, and `last_upgrade` says the upgrade failed, where and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkRolledBack {
    /// The step that recorded the release before the upgrade.
    pub from: String,
    /// The step that upgraded it (absent from the state if it never finished).
    pub attempted: String,
}

#[typetag::serde(name = "mark-rolled-back")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MarkRolledBack {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let failure = cx.failure();
        let outcome = serde_json::json!({
            "status": "rolled_back",
            "runId": cx.run_id,
            "from": versions_of(cx.output_of(&self.from)),
            "to": versions_of(cx.output_of(&self.attempted)),
            "failedStep": failure.as_ref().map(|f| f.step.clone()),
            "error": failure.as_ref().map(|f| f.error.clone()),
        });
        transition(
            cx,
            &[StoreStatus::Upgrading],
            StoreStatus::Ready,
            ", chart_version = coalesce($3::jsonb #>> '{from,chart}', s.chart_version), \
             app_version = coalesce($3::jsonb #>> '{from,app}', s.app_version), \
             last_upgrade = $3::jsonb || jsonb_build_object('at', now()), \
             failure_reason = NULL, failed_step = NULL",
            Some(outcome.to_string()),
        )
        .await
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}
