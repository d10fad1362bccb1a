//! Fleet rollouts (operators): upgrade many stores to the store chart this build ships, in
//! waves of growing size, halting by itself when a wave fails too often. A rollout is a
//! `fleet-rollout` run; each store's upgrade is a child `upgrade-<engine>` run.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use storeflow_engine::{NewRun, RunFilter, RunStatus, StepRef};
use storeflow_executors::chart::ChartRelease;
use storeflow_executors::rollout::{
    FLEET_ROLLOUT, MAX_WAVES, PlannedUpgrade, RolloutPlan, RolloutTarget, wave_steps,
};
use uuid::Uuid;

use super::stores::{StoreRow, run_input};
use super::{ApiJson, ApiPath, AppState, RequestId, Route, current_request_id, schema};
use crate::auth::{AdminUser, Audit, RecordAudit};
use crate::error::{ApiError, ApiResult};

/// Waves when the request names none: a canary, then 5, then 25, then the rest.
const DEFAULT_WAVES: [u32; 3] = [1, 5, 25];
/// Share of a wave's upgrades that may fail before the rollout halts, by default.
const DEFAULT_MAX_FAILURE_SHARE: f64 = 0.2;

pub(super) const ROUTES: &[Route] = &[
    Route::post(
        "/api/v1/rollouts",
        "Roll the store chart this build ships out to ready stores in waves (`engine?`, \
         `storeIds?`, `waves?`, `maxFailureShare?`); halts by itself when a wave fails too often",
        || post(create_rollout),
    )
    .admin()
    .status(202)
    .body(schema::<CreateRollout>)
    .answer(schema::<RolloutAnswer>),
    Route::get(
        "/api/v1/rollouts",
        "The newest fleet rollouts with their waves and each store's outcome",
        || get(list_rollouts),
    )
    .admin()
    .answer(schema::<RolloutList>),
    Route::get(
        "/api/v1/rollouts/{id}",
        "A fleet rollout: its waves and each store's outcome",
        || get(get_rollout),
    )
    .admin()
    .answer(schema::<RolloutAnswer>),
    Route::post(
        "/api/v1/rollouts/{id}/cancel",
        "Cancel a rollout (upgrades still waiting for their turn are cancelled; their stores \
         stay ready)",
        || post(cancel_rollout),
    )
    .admin()
    .status(202)
    .answer(schema::<RolloutAnswer>),
    Route::post(
        "/api/v1/rollouts/{id}/resume",
        "Resume a halted rollout: accept the halting wave's failures and start the next wave",
        || post(resume_rollout),
    )
    .admin()
    .status(202)
    .answer(schema::<RolloutAnswer>),
];

/// A rollout (after a change: with what was done).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnswer {
    request_id: RequestId,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    rollout: Rollout,
}

impl RolloutAnswer {
    fn new(message: Option<String>, rollout: Rollout) -> RolloutAnswer {
        RolloutAnswer {
            request_id: RequestId::current(),
            message,
            rollout,
        }
    }
}

/// The newest rollouts.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutList {
    request_id: RequestId,
    rollouts: Vec<Rollout>,
}

/// A fleet rollout.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    id: Uuid,
    /// The run's status, or `halted` when a wave failed too often.
    #[schemars(extend("enum" = ["queued", "running", "waiting", "succeeded", "failed", "cancelled", "halted"]))]
    status: String,
    /// The chart and app versions rolled out.
    target: Value,
    max_failure_share: Value,
    error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    totals: RolloutTotals,
    waves: Vec<Wave>,
}

/// Stores by outcome.
#[derive(Debug, Default, Serialize, JsonSchema)]
struct RolloutTotals {
    upgraded: u64,
    failed: u64,
    skipped: u64,
    pending: u64,
    upgrading: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Wave {
    number: usize,
    #[schemars(extend("enum" = ["pending", "running", "succeeded", "accepted", "halted", "cancelled"]))]
    status: &'static str,
    stores: Vec<WaveStore>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WaveStore {
    store_id: String,
    #[schemars(extend("enum" = ["pending", "upgrading", "upgraded", "failed", "skipped"]))]
    outcome: &'static str,
    run_id: Option<Uuid>,
    error: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateRollout {
    /// Only stores of this engine.
    engine: Option<String>,
    /// Only these stores.
    store_ids: Option<Vec<String>>,
    /// Sizes of the first waves (each at least 1; default 1, 5, 25); the stores left over
    /// form one last wave.
    #[schemars(length(min = 1, max = MAX_WAVES - 1), inner(range(min = 1)))]
    waves: Option<Vec<u32>>,
    /// The share of a wave's upgrades that may fail before the rollout halts (default 0.2).
    #[schemars(range(min = 0.0, max = 1.0))]
    max_failure_share: Option<f64>,
}

/// Takes the rollout turn in `tx` (one rollout at a time) and the stores this rollout upgrades:
/// refused while another rollout runs, or when no store needs the target.
async fn rollout_turn(
    tx: &mut PgConnection,
    state: &AppState,
    body: &CreateRollout,
    engines: &[&str],
    target: &ChartRelease,
) -> ApiResult<Vec<StoreRow>> {
    // One rollout at a time: two would race for the same stores and the upgrade cap.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('storeflow fleet rollout', 0))")
        .execute(&mut *tx)
        .await?;
    let running = state
        .engine()
        .unfinished_run_of(&mut *tx, FLEET_ROLLOUT)
        .await?;
    if let Some(running) = running {
        return Err(ApiError::conflict(
            "ROLLOUT_IN_PROGRESS",
            format!("Rollout {running} is still running."),
        )
        .suggestion("Wait for it to finish, or cancel it (POST /api/v1/rollouts/{id}/cancel).")
        .details(json!({ "rolloutId": running })));
    }
    let stores = candidates(&mut *tx, body, engines, target).await?;
    if stores.is_empty() {
        return Err(ApiError::conflict(
            "NOTHING_TO_UPGRADE",
            format!(
                "No ready store needs chart {} (app {}).",
                target.chart_version, target.app_version
            ),
        )
        .suggestion("Every matching store runs it already, or is not ready (only ready stores are upgraded)."));
    }
    Ok(stores)
}

impl CreateRollout {
    /// The wave sizes, the failure share and the engines that can upgrade, or every problem
    /// with the request at once.
    fn checked(&self) -> ApiResult<(Vec<u32>, f64, Vec<&'static str>)> {
        let sizes = self.waves.clone().unwrap_or_else(|| DEFAULT_WAVES.to_vec());
        let mut problems = Vec::new();
        if sizes.is_empty() || sizes.len() >= MAX_WAVES || sizes.contains(&0) {
            problems.push(json!({ "field": "waves", "message": format!(
                "1 to {} wave sizes of at least 1 (the stores left over form one more wave)",
                MAX_WAVES - 1
            )}));
        }
        let share = self.max_failure_share.unwrap_or(DEFAULT_MAX_FAILURE_SHARE);
        if !(0.0..=1.0).contains(&share) {
            problems.push(json!({ "field": "maxFailureShare", "message": "a number from 0 to 1" }));
        }
        let engines: Vec<&'static str> = storeflow_executors::engines::registry()
            .iter()
            .filter(|e| e.upgrade_workflow().is_some())
            .map(|e| e.name())
            .collect();
        if let Some(engine) = &self.engine
            && !engines.contains(&engine.as_str())
        {
            problems.push(
                json!({ "field": "engine", "message": format!("one of {}", engines.join(", ")) }),
            );
        }
        if self
            .store_ids
            .as_ref()
            .is_some_and(|ids| ids.is_empty() || ids.len() > 10_000)
        {
            problems.push(json!({ "field": "storeIds", "message": "1 to 10000 store ids" }));
        }
        if !problems.is_empty() {
            return Err(ApiError::validation(
                "The rollout request is not valid.",
                Value::Array(problems),
            ));
        }
        Ok((sizes, share, engines))
    }
}

/// The ready stores of `engines` (narrowed to the request's engine or ids) not yet on
/// `target`, oldest first: the stores the rollout's waves are made of.
async fn candidates(
    tx: &mut PgConnection,
    body: &CreateRollout,
    engines: &[&str],
    target: &ChartRelease,
) -> ApiResult<Vec<StoreRow>> {
    let sql = format!(
        "SELECT {} {} WHERE s.status = 'ready' AND s.engine::text = ANY($1) \
           AND ($2::text IS NULL OR s.engine::text = $2) \
           AND ($3::text[] IS NULL OR s.id = ANY($3)) \
           AND (s.chart_version IS DISTINCT FROM $4 OR s.app_version IS DISTINCT FROM $5) \
         ORDER BY s.created_at, s.id",
        super::stores::STORE_COLUMNS,
        super::stores::STORE_FROM
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(engines)
        .bind(&body.engine)
        .bind(&body.store_ids)
        .bind(&target.chart_version)
        .bind(&target.app_version)
        .fetch_all(&mut *tx)
        .await?)
}

fn rollout_id(id: &str) -> ApiResult<Uuid> {
    id.parse().map_err(|_| {
        ApiError::validation(
            format!("`{id}` is not a rollout id (a UUID)."),
            json!([{ "field": "id", "message": "must be a UUID" }]),
        )
    })
}

/// Splits `stores` into waves of `sizes`, then one wave of the rest.
fn plan<T>(stores: Vec<T>, sizes: &[u32]) -> Vec<Vec<T>> {
    let mut waves = Vec::new();
    let mut rest = stores.into_iter();
    for size in sizes {
        let wave: Vec<T> = rest.by_ref().take(*size as usize).collect();
        if wave.is_empty() {
            break;
        }
        waves.push(wave);
    }
    let last: Vec<T> = rest.collect();
    if !last.is_empty() {
        waves.push(last);
    }
    waves
}

/// `POST /rollouts`: plans the waves over the ready stores not yet on the target (filtered by
/// engine or ids), oldest first, and enqueues the rollout.
pub async fn create_rollout(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<CreateRollout>,
) -> ApiResult<Response> {
    let settings = &state.config().stores;
    let Some(target) = settings.release.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CHART_UNKNOWN",
            "This server cannot read the store chart, so it does not know which version to roll out.",
        )
        .suggestion("Set HELM_CHART_PATH to the ecommerce-store chart directory and restart storeflow."));
    };
    let (sizes, share, engines) = body.checked()?;
    let mut tx = state.pool().begin().await?;
    let stores = rollout_turn(&mut tx, &state, &body, &engines, target).await?;
    let entries: Vec<PlannedUpgrade> = stores
        .iter()
        .map(|store| PlannedUpgrade {
            store_id: store.id.clone(),
            workflow: storeflow_executors::engines::find(&store.engine)
                .and_then(|e| e.upgrade_workflow())
                .unwrap_or_default()
                .to_owned(),
            input: run_input(settings, store),
        })
        .collect();
    let count = entries.len();
    let rollout = RolloutPlan {
        target: RolloutTarget {
            chart: target.chart_version.clone(),
            app: target.app_version.clone(),
        },
        max_failure_share: share,
        waves: plan(entries, &sizes),
    };
    let run = state
        .engine()
        .enqueue(
            &mut tx,
            NewRun::new(FLEET_ROLLOUT, rollout.to_value()).request_id(current_request_id()),
        )
        .await?;
    Audit::new("rollout", "rollout_started")
        .actor(&admin)
        .subject(&run.run_id.to_string())
        .data(json!({ "target": rollout.target, "stores": count, "waves": rollout.waves.iter().map(Vec::len).collect::<Vec<_>>(), "maxFailureShare": share }))
        .record_in(&mut tx)
        .await?;
    tx.commit().await?;
    let waves = rollout.waves.len();
    let rollout = rollout_view(&state, run.run_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(RolloutAnswer::new(
            Some(format!(
                "Rollout of chart {} to {count} store(s) in {waves} wave(s) started.",
                target.chart_version,
            )),
            rollout,
        )),
    )
        .into_response())
}

fn rollout_not_found(id: Uuid) -> ApiError {
    ApiError::not_found("ROLLOUT_NOT_FOUND", format!("Rollout {id} was not found."))
        .suggestion("Check the id; GET /api/v1/rollouts lists the newest rollouts.")
}

/// The rollout's run (404 `ROLLOUT_NOT_FOUND` for no run, or a run of another workflow).
async fn rollout_run(state: &AppState, id: Uuid) -> ApiResult<storeflow_engine::RunDetail> {
    match state.engine().get_run(id).await {
        Ok(run) if run.summary.workflow == FLEET_ROLLOUT => Ok(run),
        Ok(_) | Err(storeflow_engine::Error::RunNotFound(_)) => Err(rollout_not_found(id)),
        Err(err) => Err(err.into()),
    }
}

/// A rollout with its waves and each store's outcome.
async fn rollout_view(state: &AppState, id: Uuid) -> ApiResult<Rollout> {
    let run = rollout_run(state, id).await?;
    let children = state.engine().child_runs(id).await?;
    // A rollout started by hand with another input (`storeflow runs start`) failed at its
    // first step; it is shown with no waves rather than refused.
    let planned =
        RolloutPlan::from_input(&run.input).map_or_else(|_| Vec::new(), |plan| plan.waves);
    let mut totals = RolloutTotals::default();
    let mut waves = Vec::new();
    for (index, planned_wave) in planned.iter().enumerate() {
        let [start, _, _] = wave_steps(index);
        let stores: Vec<WaveStore> = planned_wave
            .iter()
            .map(|entry| wave_store(&run.state[&start], &entry.store_id, &children))
            .collect();
        for store in &stores {
            totals.count(store.outcome);
        }
        waves.push(Wave {
            number: index + 1,
            status: wave_status(&run, index),
            stores,
        });
    }
    let status = match run.summary.status {
        RunStatus::Failed
            if run.steps.iter().any(|s| {
                s.name.starts_with("check-wave-")
                    && s.status == storeflow_engine::StepStatus::Failed
            }) =>
        {
            "halted"
        }
        other => other.as_str(),
    };
    Ok(Rollout {
        id,
        status: status.to_owned(),
        target: run.input["target"].clone(),
        max_failure_share: run.input["maxFailureShare"].clone(),
        error: run.summary.error.as_deref().map(super::stores::scrub),
        created_at: run.summary.created_at,
        finished_at: run.summary.finished_at,
        totals,
        waves,
    })
}

/// One store of a wave: skipped (with why), its upgrade's outcome, or still pending — from
/// the wave's `start-wave` output (`started`) and the rollout's child runs.
fn wave_store(started: &Value, store: &str, children: &[storeflow_engine::ChildRun]) -> WaveStore {
    let listed = |key: &str| {
        started[key]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["store"] == store)
    };
    let child = listed("started")
        .and_then(|s| s["run"].as_str())
        .and_then(|run| children.iter().find(|c| c.id.to_string() == run));
    let (outcome, run_id, error) = match (listed("skipped"), child) {
        (Some(skipped), _) => (
            "skipped",
            None,
            skipped["reason"].as_str().map(str::to_owned),
        ),
        (None, Some(child)) => (
            match child.status {
                RunStatus::Succeeded => "upgraded",
                RunStatus::Failed | RunStatus::Cancelled => "failed",
                _ => "upgrading",
            },
            Some(child.id),
            child.error.clone(),
        ),
        (None, None) => ("pending", None, None),
    };
    WaveStore {
        store_id: store.to_owned(),
        outcome,
        run_id,
        error: error.as_deref().map(super::stores::scrub),
    }
}

impl RolloutTotals {
    fn count(&mut self, outcome: &str) {
        *match outcome {
            "upgraded" => &mut self.upgraded,
            "failed" => &mut self.failed,
            "skipped" => &mut self.skipped,
            "pending" => &mut self.pending,
            _ => &mut self.upgrading,
        } += 1;
    }
}

/// Where wave `index` (0-based) stands, from its three steps and the rollout's status.
fn wave_status(run: &storeflow_engine::RunDetail, index: usize) -> &'static str {
    use storeflow_engine::StepStatus::{Cancelled, Failed, Succeeded};
    let [start, awaited, check] = wave_steps(index);
    let step_status = |name: &str| run.steps.iter().find(|s| s.name == name).map(|s| s.status);
    let finished = matches!(step_status(&check), Some(Succeeded | Failed));
    let cancelled = run.summary.status == RunStatus::Cancelled;
    match (
        step_status(&start),
        step_status(&awaited),
        step_status(&check),
    ) {
        // A cancelled rollout's unfinished waves are cancelled, whatever their stores did.
        _ if cancelled && !finished => "cancelled",
        (_, _, Some(Succeeded)) if run.state[&check]["accepted"] == true => "accepted",
        (_, _, Some(Succeeded)) => "succeeded",
        (_, _, Some(Failed)) => "halted",
        (Some(Succeeded), _, _) => "running",
        (Some(Cancelled), _, _) | (_, Some(Cancelled), _) => "cancelled",
        _ if cancelled => "cancelled",
        _ => "pending",
    }
}

/// `GET /rollouts`: the newest rollouts.
pub async fn list_rollouts(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> ApiResult<Response> {
    let runs = state
        .engine()
        .list_runs(&RunFilter {
            workflow: Some(FLEET_ROLLOUT.into()),
            limit: Some(20),
            ..RunFilter::default()
        })
        .await?;
    let mut rollouts = Vec::with_capacity(runs.len());
    for run in runs {
        rollouts.push(rollout_view(&state, run.id).await?);
    }
    Ok(axum::Json(RolloutList {
        request_id: RequestId::current(),
        rollouts,
    })
    .into_response())
}

/// `GET /rollouts/{id}`.
pub async fn get_rollout(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let rollout = rollout_view(&state, rollout_id(&id)?).await?;
    Ok(axum::Json(RolloutAnswer::new(None, rollout)).into_response())
}

/// `POST /rollouts/{id}/cancel`: stops the rollout; upgrades still waiting for their turn are
/// cancelled (their stores stay ready), running ones too (their stores may need a retry).
pub async fn cancel_rollout(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = rollout_id(&id)?;
    rollout_view(&state, id).await?;
    state
        .engine()
        .cancel_run(id, Some(&format!("user:{}", admin.email)))
        .await?;
    Audit::new("rollout", "rollout_cancelled")
        .actor(&admin)
        .subject(&id.to_string())
        .record(state.pool())
        .await;
    let rollout = rollout_view(&state, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(RolloutAnswer::new(
            Some("Rollout cancelled.".into()),
            rollout,
        )),
    )
        .into_response())
}

/// `POST /rollouts/{id}/resume`: a halted rollout accepts the failures of the wave that halted
/// it and goes on with the next wave.
pub async fn resume_rollout(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = rollout_id(&id)?;
    let run = rollout_run(&state, id).await?;
    let halted = run
        .steps
        .iter()
        .find(|s| s.status == storeflow_engine::StepStatus::Failed);
    let Some(step) = halted.filter(|s| s.name.starts_with("check-wave-")) else {
        return Err(ApiError::conflict(
            "ROLLOUT_NOT_HALTED",
            format!(
                "Rollout {id} is {}, not halted by a wave.",
                run.summary.status
            ),
        )
        .suggestion("Only a rollout that a wave's failures halted can be resumed."));
    };
    state
        .engine()
        .retry_step(
            id,
            &StepRef::Name(step.name.clone()),
            Some(&format!("user:{} (resume rollout)", admin.email)),
        )
        .await?;
    Audit::new("rollout", "rollout_resumed")
        .actor(&admin)
        .subject(&id.to_string())
        .data(json!({ "acceptedWave": step.name }))
        .record(state.pool())
        .await;
    let wave: usize = step
        .name
        .trim_start_matches("check-wave-")
        .parse()
        .unwrap_or(0);
    let planned = RolloutPlan::from_input(&run.input).map_or(0, |plan| plan.waves.len());
    let message = if wave < planned {
        format!(
            "Rollout resumed: the failures of wave {wave} are accepted; wave {} starts.",
            wave + 1
        )
    } else {
        format!(
            "Rollout resumed: the failures of wave {wave}, the last, are accepted; the rollout finishes."
        )
    };
    let rollout = rollout_view(&state, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(RolloutAnswer::new(Some(message), rollout)),
    )
        .into_response())
}
