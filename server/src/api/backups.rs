//! Backup routes: start a store's backup, list and read backups, set a store's backup
//! schedule and retention, restore a backup into the same store. Restoring into a new store
//! is creating a store with `restoreFrom` (see `stores::create_store`). Like the other store routes, the server only records intent
//! (a backup row and its run, in one transaction) and reads progress; the workers talk to
//! the store's pods and the bucket.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use storeflow_executors::backup::{BackupSubject, start_backup};
use storeflow_executors::store::{StoreAction, StoreStatus, lifecycle};
use uuid::Uuid;

use super::stores::{
    StoreAccepted, StoreRow, audit_store, parse_store_id, reloaded_store, require_ready,
    require_status, run_input, run_ref, scoped, transition_error, visible_store,
};
use super::{
    ApiJson, ApiPath, ApiQuery, AppState, ClientIp, RequestId, Route, current_request_id,
    inline_schema, schema,
};
use crate::auth::{AuthUser, RecordAudit, Role, User};
use crate::error::{ApiError, ApiResult};

pub(super) const ROUTES: &[Route] = &[
    Route::post(
        "/api/v1/stores/{id}/backups",
        "Back a ready store up now (database and uploads, encrypted, to the backup bucket); the \
         store stays available",
        || post(create_backup),
    )
    .status(202)
    .answer(schema::<BackupAccepted<'static>>),
    Route::post(
        "/api/v1/stores/{id}/restore",
        "Replace a ready store's data with one of its owner's complete backups (`backupId`; \
         `confirm`: the store's name)",
        || post(restore_store),
    )
    .status(202)
    .body(schema::<RestoreBody>)
    .answer(schema::<StoreAccepted<'static>>),
    Route::get(
        "/api/v1/stores/{id}/backup-policy",
        "The store's backup schedule (cron, UTC) and retention (daily, weekly)",
        || get(get_backup_policy),
    )
    .answer(schema::<PolicyAnswer>),
    Route::put(
        "/api/v1/stores/{id}/backup-policy",
        "Set the store's backup schedule (`schedule`: 5-field cron or null) and retention \
         (`keepDaily`, `keepWeekly`)",
        || put(set_backup_policy),
    )
    .body(schema::<BackupPolicyBody>)
    .answer(schema::<PolicyAnswer>),
    Route::get(
        "/api/v1/backups",
        "Backups you can see, newest first, deleted stores' included (`storeId`, `status`, \
         `limit`); restore one by creating a store with `restoreFrom`",
        || get(list_backups),
    )
    .query(inline_schema::<BackupQuery>)
    .answer(schema::<BackupList<'static>>),
    Route::get(
        "/api/v1/backups/{id}",
        "One backup: status, size, versions, parts with their SHA-256",
        || get(get_backup),
    )
    .answer(schema::<BackupAnswer<'static>>),
];

fn backup_status(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": ["running", "complete", "failed"] })
}

/// A backup was started.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupAccepted<'a> {
    request_id: String,
    message: &'static str,
    backup: BackupView<'a>,
}

/// Backups, newest first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupList<'a> {
    request_id: RequestId,
    backups: Vec<BackupView<'a>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupAnswer<'a> {
    request_id: RequestId,
    backup: BackupView<'a>,
}

/// A store's backup policy.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAnswer {
    request_id: RequestId,
    /// After a change: what it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    policy: Policy,
}

/// When a store is backed up by itself, and which of its backups are kept.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Policy {
    /// 5-field cron (UTC); null: no scheduled backups.
    schedule: Option<String>,
    /// The newest backup of each of the last `keepDaily` days stays.
    keep_daily: i32,
    /// The newest backup of each of the last `keepWeekly` ISO weeks stays.
    keep_weekly: i32,
    /// The next scheduled backup.
    next_at: Option<DateTime<Utc>>,
}

/// A backup as the API shows it.
#[derive(Debug, FromRow)]
pub(crate) struct BackupRow {
    id: Uuid,
    store_id: String,
    owner_id: Uuid,
    store_name: String,
    engine: String,
    status: String,
    trigger: String,
    run_id: Option<Uuid>,
    manifest: Option<Value>,
    size_bytes: Option<i64>,
    stored_bytes: Option<i64>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    run_status: Option<String>,
    run_error: Option<String>,
    run_step_name: Option<String>,
    /// What the current step waits for, or its last attempt's error while it retries.
    run_waiting: Option<String>,
}

/// A backup whose run ended without completing it (failed for good, or cancelled before its
/// on-failure step could record it) is `failed`, whatever its row says.
const EFFECTIVE_STATUS: &str = "CASE WHEN b.status = 'running' AND p.status IN ('failed', 'cancelled') \
                                     THEN 'failed' ELSE b.status END";

/// A backup with where its run stands (the engine's `workflow_run_position`).
const BACKUP_SELECT: &str = "SELECT b.id, b.store_id, b.owner_id, b.store_name, b.engine::text AS engine, \
        b.status, b.trigger, b.run_id, b.manifest, b.size_bytes, b.stored_bytes, b.error, \
        b.created_at, b.completed_at, p.status AS run_status, p.error AS run_error, \
        p.step_name AS run_step_name, \
        CASE WHEN b.status = 'running' THEN p.waiting_for END AS run_waiting \
     FROM store_backups b \
     LEFT JOIN LATERAL workflow_run_position(b.run_id) p ON true";

impl BackupRow {
    /// `running` until complete; a backup whose run ended without completing it (failed for
    /// good, or cancelled before its on-failure step could record it) is `failed`.
    fn status(&self) -> &str {
        match (self.status.as_str(), self.run_status.as_deref()) {
            ("running", Some("failed" | "cancelled")) => "failed",
            (status, _) => status,
        }
    }

    /// The backup as the API shows it.
    pub(crate) fn view(&self) -> BackupView<'_> {
        let manifest = self.manifest.as_ref();
        let parts = manifest
            .and_then(|m| m["parts"].as_array())
            .map(|parts| {
                parts
                    .iter()
                    .map(|p| BackupPart {
                        name: p["name"].as_str(),
                        size: p["size"].as_i64(),
                        sha256: p["sha256"].as_str(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let error = match self.status() {
            "failed" => self
                .error
                .clone()
                .or_else(|| self.run_error.clone())
                .or_else(|| Some("The backup run was cancelled.".into())),
            _ => None,
        };
        let running = self.status() == "running";
        BackupView {
            id: self.id,
            store_id: &self.store_id,
            store_name: &self.store_name,
            owner_id: self.owner_id,
            engine: &self.engine,
            status: self.status(),
            trigger: &self.trigger,
            run_id: self.run_id,
            step: self.run_step_name.as_deref().filter(|_| running),
            waiting_for: self.run_waiting.as_deref().filter(|_| running),
            size_bytes: self.size_bytes,
            stored_bytes: self.stored_bytes,
            versions: manifest.map(|m| &m["versions"]),
            parts,
            error,
            created_at: self.created_at,
            completed_at: self.completed_at,
        }
    }
}

/// A backup of a store.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Backup")]
pub struct BackupView<'a> {
    pub(crate) id: Uuid,
    pub(crate) store_id: &'a str,
    store_name: &'a str,
    owner_id: Uuid,
    pub(crate) engine: &'a str,
    #[schemars(schema_with = "backup_status")]
    pub(crate) status: &'a str,
    #[schemars(extend("enum" = ["manual", "scheduled"]))]
    trigger: &'a str,
    run_id: Option<Uuid>,
    /// While running: the step the backup is at.
    step: Option<&'a str>,
    /// While running: what that step waits for, or its last attempt's error while it retries.
    waiting_for: Option<&'a str>,
    size_bytes: Option<i64>,
    stored_bytes: Option<i64>,
    /// The store's chart and app versions when it was backed up (from the manifest).
    versions: Option<&'a Value>,
    /// The parts stored (database, uploads, …), each with its size and SHA-256.
    parts: Vec<BackupPart<'a>>,
    /// Why a failed backup failed.
    error: Option<String>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct BackupPart<'a> {
    name: Option<&'a str>,
    size: Option<i64>,
    sha256: Option<&'a str>,
}

fn parse_backup_id(id: &str) -> ApiResult<Uuid> {
    id.parse().map_err(|_| {
        ApiError::validation(
            "Backup ID must be a UUID.",
            json!([{ "field": "id", "message": "must be a UUID, as listed by GET /api/v1/backups" }]),
        )
    })
}

fn backup_not_found(id: Uuid) -> ApiError {
    ApiError::not_found("BACKUP_NOT_FOUND", format!("Backup {id} was not found."))
        .suggestion("List the backups you can see with GET /api/v1/backups.")
}

/// The backup if the caller may see it (a tenant sees their own).
pub(crate) async fn visible_backup(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Option<Uuid>,
) -> ApiResult<BackupRow> {
    let sql = format!("{BACKUP_SELECT} WHERE b.id = $1 AND ($2::uuid IS NULL OR b.owner_id = $2)");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(owner)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| backup_not_found(id))
}

/// Refuses a backup request when no bucket is configured (`BACKUP_S3_BUCKET`).
fn require_bucket(state: &AppState) -> ApiResult<()> {
    if state.config().stores.backups_configured {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BACKUPS_NOT_CONFIGURED",
            "Backups are not configured on this platform: there is no bucket to store them in.",
        )
        .suggestion(
            "Ask an operator to set backups.bucket in the storeflow chart (BACKUP_S3_BUCKET and \
             its credentials for the workers), then try again.",
        ))
    }
}

fn backups_unsupported(engine: &str) -> ApiError {
    ApiError::conflict(
        "BACKUP_NOT_SUPPORTED",
        format!("Stores of engine '{engine}' cannot be backed up by storeflow yet."),
    )
    .suggestion("Back the store's database up with the engine's own tools for now.")
}

/// `POST /stores/{id}/backups`: backs a ready store up now.
pub async fn create_backup(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    require_bucket(&state)?;
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    require_backup_engine(&store)?;
    require_status(
        &store,
        StoreStatus::Ready,
        "Only ready stores can be backed up",
        "Wait until the store is ready (its current operation has finished), then back it up.",
    )?;
    if let Some(running) = running_backup(&mut tx, id).await? {
        return Err(ApiError::conflict(
            "BACKUP_IN_PROGRESS",
            "A backup of this store is already running.",
        )
        .suggestion("Follow it with GET /api/v1/backups/{id}; start another once it has finished.")
        .details(json!({ "backupId": running })));
    }
    let input = run_input(&state.config().stores, &store);
    let subject = BackupSubject {
        store_id: &store.id,
        owner_id: store.owner_id,
        name: &store.name,
        engine: &store.engine,
        input: &input,
    };
    let request_id = current_request_id();
    let started = start_backup(
        &mut tx,
        state.engine(),
        &subject,
        "manual",
        Some(user.id),
        Some(&request_id),
    )
    .await
    .map_err(ApiError::internal)?;
    audit_store(StoreAction::BackupRequested, &user, &ip, id)
        .data(json!({ "backupId": started.backup_id, "runId": started.run_id }))
        .record_in(&mut tx)
        .await?;
    let backup = visible_backup(&mut tx, started.backup_id, None).await?;
    tx.commit().await?;
    tracing::info!(store = %id, backup = %started.backup_id, "store backup requested");
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(BackupAccepted {
            request_id,
            message: "Backup started. The store stays available while it runs.",
            backup: backup.view(),
        }),
    )
        .into_response())
}

/// The backup of the store that is running now, if any.
async fn running_backup(conn: &mut PgConnection, store: &str) -> ApiResult<Option<Uuid>> {
    let running: Option<(Uuid,)> = sqlx::query_as(
        "SELECT b.id FROM store_backups b \
         JOIN LATERAL workflow_run_summary(b.run_id) r ON NOT r.finished \
         WHERE b.store_id = $1 AND b.status = 'running' LIMIT 1",
    )
    .bind(store)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(running.map(|(id,)| id))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreBody {
    /// A complete backup of the store's owner and engine.
    #[schemars(required, with = "Option<Uuid>")]
    backup_id: Option<Value>,
    /// The store's name, exactly: its current data is replaced.
    #[schemars(required, with = "Option<String>")]
    confirm: Option<Value>,
}

/// `POST /stores/{id}/restore`: replaces a ready store's data with a complete backup of the
/// same owner and engine. `confirm` must be the store's name: the store's current data is
/// gone once the restore has run. The store becomes `restoring` in the transaction that
/// enqueues the run; the run checks the whole backup before it touches the store.
pub async fn restore_store(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RestoreBody>,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    let (backup_id, confirm) = restore_request(&body)?;
    require_bucket(&state)?;
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    let (workflow, backup) = restorable(&state, &mut tx, &user, &store, backup_id, confirm).await?;
    let mut input = run_input(&state.config().stores, &store);
    input.restore_backup_id = Some(backup_id);
    let run = lifecycle::request_restore(
        &mut tx,
        state.engine(),
        id,
        store.status,
        backup_id,
        store.run(workflow, &input),
    )
    .await
    .map_err(|err| transition_error(err, "Nothing was restored."))?;
    audit_store(StoreAction::RestoreRequested, &user, &ip, id)
        .data(json!({
            "runId": run.run_id,
            "backupId": backup_id,
            "backupCreatedAt": backup.created_at,
            "inPlace": true,
        }))
        .record_in(&mut tx)
        .await?;
    let store = reloaded_store(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(store = %id, backup = %backup_id, run = %run.run_id, "store restore requested");
    let mut answer = StoreAccepted::new(
        format!(
            "Restore of the backup of {} into store '{}' initiated: the backup is checked whole first, then the store's data is replaced and the store is verified with a test order.",
            backup.created_at.format("%Y-%m-%d %H:%M UTC"),
            store.name
        ),
        store.view(&state, &user),
        run_ref(Some(run.run_id), Some(workflow), "queued"),
    );
    answer.backup = Some(backup.view());
    Ok(answer.into_response())
}

/// The backup and the confirmation (the store's name) of a restore request.
fn restore_request(body: &RestoreBody) -> ApiResult<(Uuid, &str)> {
    let backup_id = match &body.backup_id {
        Some(Value::String(text)) => text.parse::<Uuid>().ok(),
        _ => None,
    };
    let confirm = match &body.confirm {
        Some(Value::String(text)) => Some(text.as_str()),
        _ => None,
    };
    let mut problems = Vec::new();
    if backup_id.is_none() {
        problems.push(json!({
            "field": "backupId",
            "message": "must be the id (a UUID) of a complete backup, as listed by GET /api/v1/backups?status=complete"
        }));
    }
    if confirm.is_none() {
        problems.push(json!({
            "field": "confirm",
            "message": "must be the store's name, to confirm that its current data is replaced by the backup's"
        }));
    }
    match (backup_id, confirm) {
        (Some(backup_id), Some(confirm)) => Ok((backup_id, confirm)),
        _ => Err(ApiError::validation(
            "The restore request is not valid.",
            json!(problems),
        )),
    }
}

/// The restore workflow of `store`'s engine and the backup to restore, if `backup_id` may
/// replace the store's data now: the name confirmed, the engine able to, the store ready with
/// no backup running, and the backup the owner's, complete and of the store's engine.
async fn restorable(
    state: &AppState,
    tx: &mut PgConnection,
    user: &User,
    store: &StoreRow,
    backup_id: Uuid,
    confirm: &str,
) -> ApiResult<(&'static str, BackupRow)> {
    if confirm != store.name {
        return Err(ApiError::validation(
            "The confirmation does not match the store's name; nothing was restored.",
            json!([{
                "field": "confirm",
                "message": format!("must be exactly '{}': restoring replaces this store's data with the backup's", store.name)
            }]),
        ));
    }
    let Some(workflow) = storeflow_executors::engines::find(&store.engine)
        .and_then(|engine| engine.restore_in_place_workflow())
    else {
        return Err(ApiError::conflict(
            "RESTORE_NOT_SUPPORTED",
            format!(
                "Stores of engine '{}' cannot be restored by storeflow yet.",
                store.engine
            ),
        ));
    };
    require_ready(
        store,
        lifecycle::Operation::Restore,
        "Follow the restore's progress on the store.",
    )?;
    if let Some(running) = running_backup(tx, &store.id).await? {
        return Err(ApiError::conflict(
            "BACKUP_IN_PROGRESS",
            "A backup of this store is running; the store cannot be restored until it has finished.",
        )
        .suggestion("Follow it with GET /api/v1/backups/{id}, then restore.")
        .details(json!({ "backupId": running })));
    }
    // Read with the service's role (a backup's status comes from its run, which a tenant's
    // role cannot see), scoped by the explicit owner filter.
    let owner = (user.role != Role::Admin).then_some(user.id);
    let backup = {
        let mut conn = state.pool().acquire().await?;
        visible_backup(&mut conn, backup_id, owner).await?
    };
    if backup.owner_id != store.owner_id {
        // Only an operator gets here: a tenant sees no one else's backups.
        return Err(ApiError::conflict(
            "BACKUP_OF_ANOTHER_OWNER",
            format!("Backup {backup_id} belongs to another owner than this store's."),
        )
        .suggestion("Restore it into a new store of its owner (POST /api/v1/stores with restoreFrom) instead."));
    }
    if backup.status() != "complete" {
        return Err(ApiError::conflict(
            "BACKUP_NOT_RESTORABLE",
            format!("Backup {backup_id} is {}, not complete.", backup.status()),
        )
        .suggestion("Restore a complete backup: GET /api/v1/backups?status=complete lists them.")
        .details(json!({ "status": backup.status() })));
    }
    if backup.engine != store.engine {
        return Err(ApiError::validation(
            format!(
                "Backup {backup_id} is of a {} store; this store is {}.",
                backup.engine, store.engine
            ),
            json!([{ "field": "backupId", "message": format!("must be a backup of a {} store", store.engine) }]),
        ));
    }
    Ok((workflow, backup))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupQuery {
    /// One store's backups.
    #[schemars(regex(pattern = r"^store-[0-9a-f]{8}$"))]
    store_id: Option<String>,
    /// `running`, `complete` or `failed`.
    #[serde(default)]
    #[schemars(schema_with = "backup_status")]
    status: Option<String>,
    /// Default 100.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
}

/// `GET /backups`: the backups the caller can see, newest first (deleted stores' too).
pub async fn list_backups(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<BackupQuery>,
) -> ApiResult<Response> {
    if let Some(store) = &query.store_id {
        parse_store_id(store)?;
    }
    if let Some(status) = &query.status
        && !["running", "complete", "failed"].contains(&status.as_str())
    {
        return Err(ApiError::validation(
            "status must be one of: running, complete, failed.",
            json!([{ "field": "status" }]),
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(
            "limit must be between 1 and 500.",
            json!([{ "field": "limit" }]),
        ));
    }
    // Read with the service's role, scoped by the explicit owner filter: a tenant's role
    // cannot see the backup runs (their subject is the backup, not a store), and the status
    // and current step come from them.
    let owner = (user.role != Role::Admin).then_some(user.id);
    let sql = format!(
        "{BACKUP_SELECT} WHERE ($1::uuid IS NULL OR b.owner_id = $1) \
           AND ($2::text IS NULL OR b.store_id = $2) \
           AND ($3::text IS NULL OR {EFFECTIVE_STATUS} = $3) \
         ORDER BY b.created_at DESC LIMIT $4"
    );
    let rows: Vec<BackupRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(&query.store_id)
        .bind(&query.status)
        .bind(limit)
        .fetch_all(state.pool())
        .await?;
    Ok(axum::Json(BackupList {
        request_id: RequestId::current(),
        backups: rows.iter().map(BackupRow::view).collect(),
    })
    .into_response())
}

/// `GET /backups/{id}`.
pub async fn get_backup(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = parse_backup_id(&id)?;
    // As in the list: the explicit owner filter scopes it (see there).
    let owner = (user.role != Role::Admin).then_some(user.id);
    let mut conn = state.pool().acquire().await?;
    let backup = visible_backup(&mut conn, id, owner).await?;
    Ok(axum::Json(BackupAnswer {
        request_id: RequestId::current(),
        backup: backup.view(),
    })
    .into_response())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupPolicyBody {
    /// 5-field cron (UTC); `null` turns scheduled backups off.
    schedule: Option<String>,
    /// Default 7.
    #[schemars(range(min = 0, max = 366))]
    keep_daily: Option<i32>,
    /// Default 4.
    #[schemars(range(min = 0, max = 520))]
    keep_weekly: Option<i32>,
}

fn policy(
    schedule: Option<&str>,
    keep_daily: i32,
    keep_weekly: i32,
    next_at: Option<DateTime<Utc>>,
) -> Policy {
    Policy {
        schedule: schedule.map(str::to_owned),
        keep_daily,
        keep_weekly,
        next_at,
    }
}

/// `GET /stores/{id}/backup-policy`.
pub async fn get_backup_policy(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    let (schedule, daily, weekly, next): (Option<String>, i32, i32, Option<DateTime<Utc>>) =
        sqlx::query_as(
            "SELECT backup_schedule, backup_keep_daily, backup_keep_weekly, backup_next_at \
             FROM stores WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    // A deleted store's schedule never fires again.
    let next = next.filter(|_| !store.status.is_going());
    Ok(axum::Json(PolicyAnswer {
        request_id: RequestId::current(),
        message: None,
        policy: policy(schedule.as_deref(), daily, weekly, next),
    })
    .into_response())
}

/// `PUT /stores/{id}/backup-policy`: the store's backup schedule and retention.
pub async fn set_backup_policy(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<BackupPolicyBody>,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    let change = body.change()?;
    let schedule = change.schedule;
    if schedule.is_some() {
        require_bucket(&state)?;
    }
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    if schedule.is_some() {
        require_backups(&store)?;
    }
    let (daily, weekly) = change.store(&mut tx, id).await?;
    if schedule.is_some() && daily == 0 && weekly == 0 {
        return Err(ApiError::validation(
            "a schedule needs at least one daily or weekly backup kept",
            json!([{ "field": "keepDaily", "message": "a schedule needs at least one daily or weekly backup kept" }]),
        ));
    }
    audit_store(StoreAction::BackupPolicyChanged, &user, &ip, id)
        .data(json!({ "schedule": schedule, "keepDaily": daily, "keepWeekly": weekly }))
        .record_in(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(axum::Json(PolicyAnswer {
        request_id: RequestId::current(),
        message: Some(match schedule {
            Some(_) => "Scheduled backups are on.",
            None => "Scheduled backups are off; existing backups are kept.",
        }),
        policy: policy(schedule, daily, weekly, change.next),
    })
    .into_response())
}

/// A backup policy request that passed validation; numbers left out keep the store's.
struct PolicyChange<'a> {
    schedule: Option<&'a str>,
    /// When the schedule next fires (none without a schedule).
    next: Option<DateTime<Utc>>,
    keep_daily: Option<i32>,
    keep_weekly: Option<i32>,
}

impl BackupPolicyBody {
    /// The change the body asks for, or every problem with it at once.
    fn change(&self) -> ApiResult<PolicyChange<'_>> {
        let mut problems = Vec::new();
        let schedule = self
            .schedule
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let next = match schedule {
            Some(expression) if expression.split_whitespace().count() != 5 => {
                problems.push(json!({ "field": "schedule", "message": "use 5 fields: minute hour day-of-month month day-of-week (UTC), e.g. \"0 3 * * *\"" }));
                None
            }
            Some(expression) => match storeflow_engine::parse_cron(expression) {
                Ok(parsed) => parsed.upcoming(Utc).next(),
                Err(err) => {
                    problems.push(json!({ "field": "schedule", "message": err.to_string() }));
                    None
                }
            },
            None => None,
        };
        // Omitted numbers keep the store's current ones (checked below once they are read).
        let (daily_given, weekly_given) = (self.keep_daily, self.keep_weekly);
        let daily = daily_given.unwrap_or(7);
        let weekly = weekly_given.unwrap_or(4);
        if !(0..=366).contains(&daily) {
            problems
                .push(json!({ "field": "keepDaily", "message": "keep 0 to 366 daily backups" }));
        }
        if !(0..=520).contains(&weekly) {
            problems
                .push(json!({ "field": "keepWeekly", "message": "keep 0 to 520 weekly backups" }));
        }
        if schedule.is_some() && daily_given == Some(0) && weekly_given == Some(0) {
            problems.push(json!({ "field": "keepDaily", "message": "a schedule needs at least one daily or weekly backup kept" }));
        }
        if let Some(first) = problems.first() {
            return Err(ApiError::validation(
                first["message"]
                    .as_str()
                    .unwrap_or("The backup policy is invalid.")
                    .to_owned(),
                Value::Array(problems),
            ));
        }
        Ok(PolicyChange {
            schedule,
            next,
            keep_daily: daily_given,
            keep_weekly: weekly_given,
        })
    }
}

impl PolicyChange<'_> {
    /// Writes the policy on the store; the numbers it keeps now.
    async fn store(&self, tx: &mut PgConnection, id: &str) -> ApiResult<(i32, i32)> {
        let kept: (i32, i32) = sqlx::query_as(
            "UPDATE stores SET backup_schedule = $2, \
                               backup_keep_daily = coalesce($3, backup_keep_daily), \
                               backup_keep_weekly = coalesce($4, backup_keep_weekly), \
                               backup_next_at = $5 WHERE id = $1 \
             RETURNING backup_keep_daily, backup_keep_weekly",
        )
        .bind(id)
        .bind(self.schedule)
        .bind(self.keep_daily)
        .bind(self.keep_weekly)
        .bind(self.next)
        .fetch_one(&mut *tx)
        .await?;
        Ok(kept)
    }
}

/// Refuses backups of a store whose engine has none.
fn require_backup_engine(store: &StoreRow) -> ApiResult<()> {
    match storeflow_executors::engines::find(&store.engine).and_then(|e| e.backup_workflow()) {
        Some(_) => Ok(()),
        None => Err(backups_unsupported(&store.engine)),
    }
}

/// Refuses scheduled backups of a store whose engine has none or that is going away.
fn require_backups(store: &StoreRow) -> ApiResult<()> {
    require_backup_engine(store)?;
    if store.status.is_going() {
        return Err(ApiError::conflict(
            "INVALID_STORE_STATE",
            format!("Store is {}; it gets no more backups.", store.status),
        ));
    }
    Ok(())
}
