//! Admin routes over the engine: runs, workflows, schedules.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{
    Enqueued, NewRun, RunDetail, RunFilter, RunStatus, RunSummary, Schedule, StepRef,
};
use uuid::Uuid;

use super::{
    ApiJson, ApiPath, ApiQuery, AppState, RequestId, Route, current_request_id, inline_schema,
    schema,
};
use crate::auth::{AdminUser, Audit, RecordAudit};
use crate::error::{ApiError, ApiResult};

pub(super) const ROUTES: &[Route] = &[
    Route::get("/api/v1/runs", "List workflow runs", || get(list_runs))
        .admin()
        .query(inline_schema::<RunsQuery>)
        .answer(schema::<RunList>),
    Route::get(
        "/api/v1/runs/{id}",
        "A run with steps, attempt history and events",
        || get(get_run),
    )
    .admin()
    .answer(schema::<RunAnswer>),
    Route::post(
        "/api/v1/runs/{id}/steps/{step}/retry",
        "Retry the failed step of a failed run",
        || post(retry_step),
    )
    .admin()
    .status(202)
    .answer(schema::<StepRetryAccepted>),
    Route::post("/api/v1/runs/{id}/cancel", "Cancel a run", || {
        post(cancel_run)
    })
    .admin()
    .status(202)
    .answer(schema::<CancelAccepted>),
    Route::get(
        "/api/v1/workflows",
        "Workflow definitions, versions and steps",
        || get(list_workflows),
    )
    .admin()
    .answer(schema::<WorkflowList>),
    Route::get("/api/v1/schedules", "Cron schedules", || {
        get(list_schedules)
    })
    .admin()
    .answer(schema::<ScheduleList>),
    Route::patch(
        "/api/v1/schedules/{name}",
        "Enable, disable or re-time a schedule (`enabled`, `cron`)",
        || patch(set_schedule),
    )
    .admin()
    .body(schema::<ScheduleChange>)
    .answer(schema::<ScheduleAnswer>),
    Route::post(
        "/api/v1/schedules/{name}/run",
        "Run a schedule's workflow now",
        || post(run_schedule),
    )
    .admin()
    .status(202)
    .answer(schema::<ScheduleRunAccepted>),
];

/// A page of runs, newest first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunList {
    request_id: RequestId,
    runs: Vec<RunSummary>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// A run, its secrets redacted.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunAnswer {
    request_id: RequestId,
    /// A [`RunDetail`] whose secret-looking values read `[redacted]`.
    #[schemars(with = "RunDetail")]
    run: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRetryAccepted {
    request_id: RequestId,
    message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelAccepted {
    request_id: RequestId,
    /// The run's status after the request (`cancelled`, or still `running` until its step
    /// notices).
    status: RunStatus,
}

/// Every registered version of every workflow.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowList {
    request_id: RequestId,
    workflows: Vec<WorkflowVersion>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WorkflowVersion {
    name: String,
    version: i32,
    /// Whether new runs of this workflow get this version.
    latest: bool,
    /// SHA-256 of the definition: a registered version never changes.
    content_hash: String,
    registered_at: chrono::DateTime<chrono::Utc>,
    steps: Vec<WorkflowStep>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WorkflowStep {
    index: i32,
    name: String,
    max_attempts: i32,
    timeout_ms: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleList {
    request_id: RequestId,
    schedules: Vec<Schedule>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleAnswer {
    request_id: RequestId,
    schedule: Schedule,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRunAccepted {
    request_id: RequestId,
    run: Enqueued,
}

/// Keys whose values never leave the server in run input, state, events or schedules
/// (compared without case, `_` or `-`).
fn is_secret_key(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "privatekey",
        "credential",
        "authorization",
        "dsn",
        "databaseurl",
        "connectionstring",
    ]
    .iter()
    .any(|needle| key.contains(needle))
}

/// `scheme://user:password@host` → `scheme://user:[redacted]@host`.
fn scrub_url_credentials(text: &str) -> Option<String> {
    let scheme_end = text.find("://")? + 3;
    let rest = &text[scheme_end..];
    let at = rest.find('@')?;
    let userinfo = &rest[..at];
    if userinfo.contains('/') {
        return None;
    }
    let colon = userinfo.find(':')?;
    Some(format!(
        "{}{}:[redacted]{}",
        &text[..scheme_end],
        &userinfo[..colon],
        &rest[at..]
    ))
}

/// Replaces secret values, at any depth: values under secret-looking keys, `value`s of
/// `{"name": "DB_PASSWORD", "value": …}` pairs, and passwords inside URLs.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let named_secret = map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_secret_key);
            for (key, value) in map.iter_mut() {
                if (is_secret_key(key) || (named_secret && key == "value")) && !value.is_null() {
                    *value = json!("[redacted]");
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => {
            if let Some(scrubbed) = scrub_url_credentials(text) {
                *text = scrubbed;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_covers_key_spellings_pairs_and_urls() {
        let mut value = json!({
            "adminPassword": "a", "private_key": "b", "privateKey": "c", "DB-PASSWD": "d",
            "env": [{ "name": "DB_PASSWORD", "value": "e" }, { "name": "REGION", "value": "eu" }],
            "database": "postgres://shop:f@db:5432/shop",
            "nested": { "apiToken": "g", "plain": "visible" }
        });
        redact(&mut value);
        let text = value.to_string();
        for secret in ["\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"e\"", ":f@", "\"g\""] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(value["env"][1]["value"], "eu");
        assert_eq!(value["database"], "postgres://shop:[redacted]@db:5432/shop");
        assert_eq!(value["nested"]["plain"], "visible");
    }
}

fn parse_run_id(id: &str) -> ApiResult<Uuid> {
    id.parse().map_err(|_| {
        ApiError::validation(
            format!("`{id}` is not a run id (a UUID)."),
            json!([{ "field": "id", "message": "must be a UUID" }]),
        )
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    #[schemars(with = "Option<RunStatus>")]
    status: Option<String>,
    workflow: Option<String>,
    /// Runs about this subject (e.g. a store id).
    subject: Option<String>,
    /// Runs of this store (the same as `subject` with a store id).
    store: Option<String>,
    /// Default 50.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

pub async fn list_runs(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> ApiResult<impl IntoResponse> {
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(
            s.parse::<RunStatus>()
                .map_err(|reason| ApiError::validation(reason, json!([{ "field": "status" }])))?,
        ),
    };
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(ApiError::validation(
            "`limit` must be 1-500 and `offset` at least 0.",
            json!([{ "field": "limit" }, { "field": "offset" }]),
        ));
    }
    let filter = RunFilter {
        status,
        workflow: query.workflow,
        subject: query.subject.or(query.store),
        tenant: None,
        limit: Some(limit),
        offset: Some(offset),
    };
    let (runs, total) = tokio::try_join!(
        state.engine().list_runs(&filter),
        state.engine().count_runs(&filter)
    )?;
    Ok(axum::Json(RunList {
        request_id: RequestId::current(),
        runs,
        total,
        limit,
        offset,
    }))
}

pub async fn get_run(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let run = state.engine().get_run(parse_run_id(&id)?).await?;
    let mut run = serde_json::to_value(run).map_err(ApiError::internal)?;
    redact(&mut run);
    Ok(axum::Json(RunAnswer {
        request_id: RequestId::current(),
        run,
    }))
}

pub async fn retry_step(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath((id, step)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let run_id = parse_run_id(&id)?;
    let step: StepRef = step.parse().unwrap_or(StepRef::Name(step));
    state
        .engine()
        .retry_step(run_id, &step, Some(&format!("user:{}", admin.email)))
        .await?;
    Audit::new("run", "step_retry_requested")
        .actor(&admin)
        .subject(&run_id.to_string())
        .data(json!({ "step": step.to_string() }))
        .record(state.pool())
        .await;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(StepRetryAccepted {
            request_id: RequestId::current(),
            message: format!("Step {step} will be retried; the run resumes from it."),
        }),
    ))
}

pub async fn cancel_run(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let run_id = parse_run_id(&id)?;
    let status = state
        .engine()
        .cancel_run(run_id, Some(&format!("user:{}", admin.email)))
        .await?;
    Audit::new("run", "cancel_requested")
        .actor(&admin)
        .subject(&run_id.to_string())
        .record(state.pool())
        .await;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(CancelAccepted {
            request_id: RequestId::current(),
            status,
        }),
    ))
}

pub async fn list_workflows(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> ApiResult<impl IntoResponse> {
    let latest = state.engine().workflows();
    let workflows = state
        .engine()
        .stored_definitions()
        .await?
        .into_iter()
        .map(|stored| WorkflowVersion {
            latest: latest.get(&stored.name) == Some(&stored.version),
            name: stored.name,
            version: stored.version,
            content_hash: stored.content_hash,
            registered_at: stored.registered_at,
            steps: stored
                .steps
                .into_iter()
                .map(|step| WorkflowStep {
                    index: step.index,
                    name: step.name,
                    max_attempts: step.max_attempts,
                    timeout_ms: step.timeout_ms,
                })
                .collect(),
        })
        .collect();
    Ok(axum::Json(WorkflowList {
        request_id: RequestId::current(),
        workflows,
    }))
}

pub async fn list_schedules(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> ApiResult<impl IntoResponse> {
    let schedules = state.engine().list_schedules().await?;
    Ok(axum::Json(ScheduleList {
        request_id: RequestId::current(),
        schedules,
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleChange {
    enabled: Option<bool>,
    /// A new cron expression (5 fields, or 6-7 with seconds first; UTC).
    cron: Option<String>,
}

/// `PATCH /schedules/{name}`: enable, disable, or change when it fires.
pub async fn set_schedule(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(name): ApiPath<String>,
    ApiJson(change): ApiJson<ScheduleChange>,
) -> ApiResult<impl IntoResponse> {
    let cron = change.cron.as_deref().map(str::trim);
    if change.enabled.is_none() && cron.is_none() {
        return Err(ApiError::validation(
            "Send `enabled` (true or false), `cron` (e.g. \"0 3 * * *\"), or both.",
            json!([{ "field": "enabled" }, { "field": "cron" }]),
        ));
    }
    let before = state
        .engine()
        .list_schedules()
        .await?
        .into_iter()
        .find(|s| s.name == name);
    let schedule = state
        .engine()
        .change_schedule(&name, cron, change.enabled)
        .await?;
    let action = match (change.enabled, cron) {
        (_, Some(_)) => "changed",
        (Some(true), None) => "enabled",
        _ => "disabled",
    };
    Audit::new("schedule", action)
        .actor(&admin)
        .subject(&name)
        .data(json!({
            "cron": schedule.cron,
            "previousCron": before.map(|b| b.cron),
            "enabled": schedule.enabled,
        }))
        .record(state.pool())
        .await;
    Ok(axum::Json(ScheduleAnswer {
        request_id: RequestId::current(),
        schedule,
    }))
}

pub async fn run_schedule(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let schedule = state
        .engine()
        .list_schedules()
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::from(storeflow_engine::Error::ScheduleNotFound(name.clone())))?;
    let run = state
        .engine()
        .enqueue_now(
            NewRun::new(schedule.workflow.clone(), schedule.input.clone())
                .subject(format!("schedule:{name}"))
                .request_id(current_request_id()),
        )
        .await?;
    Audit::new("schedule", "run_now")
        .actor(&admin)
        .subject(&name)
        .data(json!({ "runId": run.run_id }))
        .record(state.pool())
        .await;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ScheduleRunAccepted {
            request_id: RequestId::current(),
            run,
        }),
    ))
}
