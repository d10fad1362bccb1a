//! The steps of the cleanup schedules: tearing down stores that stayed failed too long,
//! namespaces labelled as storeflow's that no live store owns, and pruning old history.
//!
//! Teardowns are enqueued through the engine (a worker resource) inside the step's checkpoint
//! transaction, together with the store's move to `deleting`: a reaper that crashes halfway
//! either did all of a store or none of it.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{
    Engine, NewRun, OrOutcome, StepContext, StepOutcome, StepResult, humantime_duration,
};

use crate::breaker::{Breakers, guarded};
use crate::kubernetes::{MANAGED_BY, STORE_ID_LABEL, classify, client};
use crate::store::{Audit, StoreAction, StoreRunInput, StoreStatus, lifecycle};

/// The workflow that tears a store down (see the workflows crate).
pub const TEARDOWN_WORKFLOW: &str = "teardown-store";
/// The workflow that removes a namespace no store owns.
pub const ORPHAN_WORKFLOW: &str = "reap-orphan-namespace";

fn engine<'a>(cx: &'a StepContext<'_>) -> Result<&'a Engine, StepOutcome> {
    cx.resource::<Engine>().map_err(StepOutcome::Fatal)
}

/// Stores `failed` for longer than `older_than` are torn down (at most `limit` per run): those
/// that never became ready, and those whose teardown failed. A store that served before and
/// failed in a day-2 operation (an upgrade that could not roll back, a restore) holds its
/// tenant's data: it waits for its owner or an operator, however long.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReapFailedStores {
    /// How long a store stays `failed` before it is reaped (default 7 days); the schedule's
    /// input `older_than` (e.g. "3d", at least 1h) takes precedence.
    #[serde(with = "humantime_duration")]
    pub older_than: Duration,
    /// At most this many stores per run (default 50); the rest wait for the next one.
    pub limit: i64,
}

impl Default for ReapFailedStores {
    fn default() -> Self {
        ReapFailedStores {
            older_than: Duration::from_secs(7 * 24 * 3600),
            limit: 50,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct FailedStore {
    id: String,
    owner_id: uuid::Uuid,
    name: String,
    engine: String,
    theme: Option<String>,
    namespace: String,
    current_run_id: Option<uuid::Uuid>,
    teardown_input: Option<Value>,
}

impl ReapFailedStores {
    async fn reap(&self, cx: &mut StepContext<'_>) -> StepResult {
        // The age may come from the schedule's input (`older_than`, e.g. "3d"); a failed
        // store gets time to be looked at.
        let older_than = age_from_input(cx, "older_than", "7d")?.unwrap_or(self.older_than);
        let engine = engine(cx)?.clone();
        let request_id = cx.request_id.map(str::to_owned);
        let conn = cx.transaction().map_err(StepOutcome::Fatal)?;
        let stores: Vec<FailedStore> = sqlx::query_as(
            "SELECT s.id, s.owner_id, s.name, s.engine::text AS engine, s.theme, s.namespace, \
                    s.current_run_id, r.input AS teardown_input \
             FROM stores s LEFT JOIN LATERAL workflow_run_summary(s.current_run_id) r ON true \
             WHERE s.status = 'failed' AND s.updated_at < now() - make_interval(secs => $1) \
               AND (s.ready_at IS NULL OR s.current_operation = 'teardown') \
             ORDER BY s.updated_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED",
        )
        .bind(older_than.as_secs_f64())
        .bind(self.limit)
        .fetch_all(&mut *conn)
        .await
        .or_retry("listing failed stores")?;
        let mut reaped = Vec::new();
        for store in stores {
            // The store's own run input has everything a teardown needs; older rows fall
            // back to the identifying fields.
            let input = store.teardown_input.clone().unwrap_or_else(|| {
                StoreRunInput {
                    store_id: store.id.clone(),
                    namespace: store.namespace.clone(),
                    engine: Some(store.engine.clone()),
                    tenant: Some(store.owner_id.to_string()),
                    name: Some(store.name.clone()),
                    theme: store.theme.clone(),
                    ..StoreRunInput::default()
                }
                .to_value()
            });
            let mut run = NewRun::new(TEARDOWN_WORKFLOW, input)
                .subject(&store.id)
                .tenant(store.owner_id.to_string())
                // One teardown per failure (identified by the run that failed).
                .idempotency_key(format!(
                    "reap-failed:{}:{}",
                    store.id,
                    store
                        .current_run_id
                        .map(|id| id.to_string())
                        .unwrap_or_default()
                ));
            if let Some(request_id) = &request_id {
                run = run.request_id(request_id.clone());
            }
            let enqueued = lifecycle::request_teardown(
                &mut *conn,
                &engine,
                &store.id,
                StoreStatus::Failed,
                run,
            )
            .await
            .or_retry(&format!("requesting the teardown of {}", store.id))?;
            let mut audit = Audit::store(StoreAction::Reaped)
                .subject(&store.id)
                .data(json!({ "reason": "failed for too long", "runId": enqueued.run_id }));
            if let Some(request_id) = &request_id {
                audit = audit.request_id(request_id.clone());
            }
            audit
                .write_in(&mut *conn)
                .await
                .or_retry(&format!("recording the reaping of {}", store.id))?;
            reaped.push(json!({ "store": store.id, "run": enqueued.run_id }));
        }
        Ok(
            json!({ "reaped": reaped, "olderThan": humantime::format_duration(older_than).to_string() }),
        )
    }
}

#[typetag::serde(name = "reap-failed-stores")]
#[async_trait::async_trait]
impl storeflow_engine::Step for ReapFailedStores {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.reap(cx).await)
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

/// Namespaces labelled as storeflow's whose store this installation knows as deleted are
/// removed (their release uninstalled, the namespace deleted). A failed listing is retried,
/// never taken for "nothing exists"; namespaces of live stores, and of store ids this database
/// does not know, are never touched.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReapOrphans {}

#[typetag::serde(name = "reap-orphans")]
#[async_trait::async_trait]
impl storeflow_engine::Step for ReapOrphans {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), reap_orphans(cx)).await
    }
}

async fn reap_orphans(cx: &StepContext<'_>) -> StepOutcome {
    StepOutcome::of(find_and_reap_orphans(cx).await)
}

async fn find_and_reap_orphans(cx: &StepContext<'_>) -> StepResult {
    let client = client(cx)?;
    let engine = engine(cx)?.clone();
    let selector = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    let namespaces = Api::<Namespace>::all(client)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|err| classify(err, "listing storeflow's namespaces"))?
        .items;
    let mut candidates = Vec::new();
    for namespace in &namespaces {
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let store = namespace
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(STORE_ID_LABEL))
            .cloned()
            .unwrap_or_default();
        let terminating = namespace.metadata.deletion_timestamp.is_some();
        if !store.is_empty() && !terminating {
            candidates.push((name, store));
        }
    }
    if candidates.is_empty() {
        return Ok(json!({ "namespaces": namespaces.len(), "reaped": [] }));
    }
    let ids: Vec<String> = candidates.iter().map(|(_, store)| store.clone()).collect();
    // Only namespaces of stores this installation knows as deleted are orphans. A store id
    // without a row here may belong to another control plane sharing the cluster, or to a
    // store created after the backup this database was restored from: never touched. Neither
    // is a namespace whose removal is already under way.
    let deleted: Vec<(String,)> = sqlx::query_as(
        "SELECT s.id FROM stores s WHERE s.id = ANY($1) AND s.status = 'deleted' \
           AND NOT EXISTS (SELECT 1 FROM workflow_subject_runs('orphan:' || s.id) r \
                           WHERE r.finished_at IS NULL)",
    )
    .bind(&ids)
    .fetch_all(cx.pool())
    .await
    .or_retry("reading stores")?;
    let mut reaped = Vec::new();
    for (namespace, store) in candidates {
        if !deleted.iter().any(|(id,)| id == &store) || namespace != store {
            continue;
        }
        let run = NewRun::new(
            ORPHAN_WORKFLOW,
            StoreRunInput {
                store_id: store.clone(),
                namespace: namespace.clone(),
                ..StoreRunInput::default()
            }
            .to_value(),
        )
        .subject(format!("orphan:{namespace}"))
        .idempotency_key(format!("reap-orphan:{namespace}:{}", cx.run_id));
        let enqueued = engine
            .enqueue_now(run)
            .await
            .or_retry(&format!("enqueuing the removal of {namespace}"))?;
        reaped.push(json!({ "namespace": namespace, "run": enqueued.run_id }));
    }
    Ok(json!({ "namespaces": namespaces.len(), "reaped": reaped }))
}

/// Deletes finished runs (with their attempts and events), audit rows, and expired limiter and
/// lockout rows older than the retention (default 30 days; the schedule's input may set
/// `retention`, e.g. "90d").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneHistory {
    /// Age past which finished runs and audit rows go (default 30 days); the schedule's input
    /// `retention` (at least 1h) takes precedence. Limiter and lockout rows have their own,
    /// fixed day.
    #[serde(with = "humantime_duration")]
    pub retention: Duration,
}

impl Default for PruneHistory {
    fn default() -> Self {
        PruneHistory {
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

#[typetag::serde(name = "prune-history")]
#[async_trait::async_trait]
impl storeflow_engine::Step for PruneHistory {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.prune(cx).await)
    }
}

impl PruneHistory {
    async fn prune(&self, cx: &mut StepContext<'_>) -> StepResult {
        let retention = age_from_input(cx, "retention", "30d")?.unwrap_or(self.retention);
        let engine = engine(cx)?.clone();
        let before = chrono::Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(30));
        let runs = engine
            .prune_finished_runs(before)
            .await
            .or_retry("pruning finished runs")?;
        let audit = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(cx.pool())
            .await
            .or_retry("pruning the audit log")?
            .rows_affected();
        // The API's authentication rows: its own function decides which are spent.
        let (windows, lockouts, links): (i64, i64, i64) =
            sqlx::query_as("SELECT * FROM storeflow_prune_auth_rows()")
                .fetch_one(cx.pool())
                .await
                .or_retry("pruning the API's spent authentication rows")?;
        Ok(json!({
            "before": before, "runs": runs, "auditEvents": audit,
            "rateLimitWindows": windows, "loginLockouts": lockouts, "oneTimeLinks": links,
        }))
    }
}

/// An age the schedule's input may set under `key` (e.g. "30d"); at least an hour, so a
/// typo cannot prune what just happened. `None` when the input does not set it.
fn age_from_input(cx: &StepContext<'_>, key: &str, example: &str) -> StepResult<Option<Duration>> {
    let Some(text) = cx.input.get(key).and_then(Value::as_str) else {
        return Ok(None);
    };
    match humantime::parse_duration(text) {
        Ok(age) if age >= Duration::from_secs(3600) => Ok(Some(age)),
        Ok(_) => Err(StepOutcome::fatal(format!(
            "the schedule's {key} must be at least 1h"
        ))),
        Err(err) => Err(StepOutcome::fatal(format!(
            "the schedule's {key} `{text}` is not a duration ({err}); use e.g. {example}"
        ))),
    }
}
