//! Store routes: the server writes intent (a store row and the workflow run that acts on
//! it, in one transaction) and reads progress; it never calls Kubernetes or helm itself.
//!
//! # Guarantees
//! - Creating a store writes the store row, its provisioning run and the audit row in one
//!   transaction, serialized per user by an advisory lock, so the per-user cap, the
//!   cooldown and `Idempotency-Key` hold exactly under any concurrency and across replicas.
//! - Every status write is conditional on the status the caller saw; an illegal transition
//!   is a 409 naming the actual status.
//! - Reads run under the caller's row-level security — in a tenant-scoped transaction, or,
//!   for the two hottest reads (one store, the list), in the check functions
//!   `storeflow_api_store(s)_check`, which take the tenant role for the visibility decision and
//!   also check the token's version; an unchanged page is then answered from its last
//!   rendering (`page_cache`). A foreign store is a 404, like an unknown one.
//! - Credentials are sealed at rest; only the store's owner sees the password.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, Row, Transaction};
use storeflow_engine::{NewRun, RunProgress, RunStatus};
use storeflow_executors::store::input::{IngressInput, StoreUrls};
use storeflow_executors::store::{StoreAction, StoreRunInput};
use storeflow_workflows::{ROTATE_CREDENTIALS, TEARDOWN_STORE, provision_workflow};
use uuid::Uuid;

use super::events::{last_event_id, store_event_stream};
use super::page_cache::{Page, PageKey, splice};
use super::{
    ApiJson, ApiPath, ApiQuery, AppState, ClientIp, RequestId, Route, StoreSettings,
    current_request_id, inline_schema, schema,
};
use crate::auth::{Audit, AuthUser, Bearer, RecordAudit, Role, User};
use crate::error::{ApiError, ApiResult};
use crate::store_rules::{is_store_id, name_problems, new_store_id};
use crate::tenancy::{self, Scope};
use storeflow_executors::engines;
use storeflow_executors::store::credentials::{StoreCredentials, random_password};
use storeflow_executors::store::{StoreStatus, lifecycle};

mod create;
mod operations;
mod read;
mod timeline;

use create::*;
use operations::*;
pub(crate) use operations::{require_ready, transition_error};
use read::*;
use timeline::*;

pub(super) const ROUTES: &[Route] = &[
    Route::post(
        "/api/v1/stores",
        "Create a store (enqueues its provisioning run); honours Idempotency-Key",
        || post(create_store),
    )
    .status(202)
    .body(schema::<CreateStore>)
    .answer(schema::<StoreAccepted<'static>>),
    Route::get(
        "/api/v1/stores",
        "List stores (own stores; admins all, filter by ownerId)",
        || get(list_stores),
    )
    .query(inline_schema::<ListQuery>)
    .answer(schema::<StoreListAnswer<'static>>),
    Route::get(
        "/api/v1/stores/{id}",
        "A store with its current run's progress",
        || get(get_store),
    )
    .answer(schema::<StoreAnswer<'static>>),
    Route::delete(
        "/api/v1/stores/{id}",
        "Delete a ready or failed store (enqueues its teardown run)",
        || delete(delete_store),
    )
    .status(202)
    .answer(schema::<StoreAccepted<'static>>),
    Route::post(
        "/api/v1/stores/{id}/retry",
        "Retry a failed store: resumes the failed run at its failed step",
        || post(retry_store),
    )
    .status(202)
    .answer(schema::<StoreAccepted<'static>>),
    Route::post(
        "/api/v1/stores/{id}/rotate-credentials",
        "Set a new store admin password (optional `password`; enqueues the rotation run)",
        || post(rotate_credentials),
    )
    .status(202)
    .body(schema::<RotateBody>)
    .answer(schema::<StoreAccepted<'static>>),
    Route::post(
        "/api/v1/stores/{id}/upgrade",
        "Upgrade a ready store's release to the chart this build ships (admins; tenants with \
         TENANT_UPGRADES); a failed upgrade rolls back by itself",
        || post(upgrade_store),
    )
    .status(202)
    .body(schema::<UpgradeBody>)
    .answer(schema::<StoreAccepted<'static>>),
    Route::get(
        "/api/v1/stores/{id}/events",
        "The store's timeline: run events and audit events",
        || get(store_events),
    )
    .query(inline_schema::<EventsQuery>)
    .answer(schema::<StoreTimeline>),
    Route::get(
        "/api/v1/stores/{id}/events/stream",
        "The store's run progress as Server-Sent Events; resume with Last-Event-ID (204 once a \
         deleted store's history has been seen)",
        || get(store_event_stream_route),
    )
    .event_stream(schema::<storeflow_engine::RunEvent>)
    .no_content_too(),
];

const MASK: &str = "••••••••";

/// The scope a user reads stores in.
fn scope_of(user: &User) -> Scope {
    match user.role {
        Role::Admin => Scope::All,
        Role::Tenant => Scope::Tenant(user.id),
    }
}

pub(crate) fn parse_store_id(id: &str) -> ApiResult<&str> {
    if is_store_id(id) {
        Ok(id)
    } else {
        Err(ApiError::validation(
            "Store ID must match format: store-XXXXXXXX (8 hex characters).",
            json!([{ "field": "id", "message": "must look like store-1a2b3c4d" }]),
        ))
    }
}

pub(crate) fn store_not_found(id: &str) -> ApiError {
    ApiError::not_found("STORE_NOT_FOUND", format!("Store {id} was not found."))
        .suggestion("Check the store id; list your stores with GET /api/v1/stores.")
}

/// A store row with what the API shows about its current run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoreRow {
    pub id: String,
    pub owner_id: Uuid,
    pub owner_username: Option<String>,
    pub name: String,
    pub engine: String,
    pub theme: Option<String>,
    pub status: StoreStatus,
    pub namespace: String,
    pub storefront_url: Option<String>,
    pub admin_url: Option<String>,
    pub credentials: Option<Vec<u8>>,
    pub failure_reason: Option<String>,
    pub failed_step: Option<String>,
    pub current_run_id: Option<Uuid>,
    pub current_operation: Option<String>,
    pub provision_run_id: Option<Uuid>,
    pub retry_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// From creation to the first order (the verification's); single-store reads only (the
    /// list pages' SQL functions do not select it).
    #[sqlx(default)]
    pub first_order_ms: Option<i64>,
    pub run_status: Option<String>,
    pub run_workflow: Option<String>,
    pub run_current_step: Option<i32>,
    pub run_step_count: Option<i32>,
    pub run_step_name: Option<String>,
    pub run_next_at: Option<DateTime<Utc>>,
    pub rotation_run_id: Option<Uuid>,
    pub rotation_status: Option<String>,
    /// The chart and app version of the store's release (unknown for stores provisioned
    /// before versions were recorded, until their first upgrade).
    #[sqlx(default)]
    pub chart_version: Option<String>,
    #[sqlx(default)]
    pub app_version: Option<String>,
    /// What the last upgrade did (see migration 20261205000016).
    #[sqlx(default)]
    pub last_upgrade: Option<sqlx::types::Json<Value>>,
    /// The backup the store's current or last restore brings back (migration
    /// 20261207000021), and when that restore completed.
    #[sqlx(default)]
    pub restore_backup_id: Option<Uuid>,
    #[sqlx(default)]
    pub restored_at: Option<DateTime<Utc>>,
}

pub(crate) const STORE_COLUMNS: &str = r#"
    s.id, s.owner_id, u.username AS owner_username, s.name, s.engine::text AS engine, s.theme,
    s.status::text AS status, s.namespace, s.storefront_url, s.admin_url, s.credentials,
    s.failure_reason, s.failed_step, s.current_run_id, s.current_operation, s.provision_run_id,
    s.retry_count, s.created_at, s.updated_at, s.ready_at, s.deleted_at, s.first_order_ms,
    r.status AS run_status, r.workflow AS run_workflow, r.current_step AS run_current_step,
    r.step_count AS run_step_count, r.step_name AS run_step_name, r.next_run_at AS run_next_at,
    s.rotation_run_id,
    (SELECT rr.status FROM workflow_run_summary(s.rotation_run_id) rr) AS rotation_status,
    s.chart_version, s.app_version, s.last_upgrade, s.restore_backup_id, s.restored_at
"#;

/// The store's current run comes from the engine's `workflow_run_summary` (the engine owns
/// its tables; PostgreSQL inlines the function, so this is still one join).
pub(crate) const STORE_FROM: &str = "FROM stores s JOIN users u ON u.id = s.owner_id \
                          LEFT JOIN LATERAL workflow_run_summary(s.current_run_id) r ON true";

fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let keep: String = local.chars().take(2).collect();
            format!("{keep}****@{domain}")
        }
        None => MASK.into(),
    }
}

/// Sealed store credentials as the API shows them: in clear for the owner, masked for
/// anyone else (an operator), or why they cannot be shown.
pub fn credentials_view(
    state: &AppState,
    store_id: &str,
    sealed: &[u8],
    login_url: Option<&str>,
    owner: bool,
) -> CredentialsView {
    let login_url = login_url.map(str::to_owned);
    match StoreCredentials::open(&state.config().sealer, store_id, sealed).ok() {
        Some(c) if owner => CredentialsView::Shown {
            username: c.username,
            email: c.email,
            password: c.password,
            login_url,
        },
        Some(c) => CredentialsView::Shown {
            username: c.username,
            email: mask_email(&c.email),
            password: MASK.into(),
            login_url,
        },
        None => CredentialsView::Unavailable {
            unavailable: "The credentials cannot be decrypted with this server's STOREFLOW_ENCRYPTION_KEY.",
        },
    }
}

/// A store's admin login: in clear for its owner, masked for anyone else (an operator), or
/// why it cannot be shown.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CredentialsView {
    Shown {
        username: String,
        email: String,
        password: String,
        #[serde(rename = "loginUrl")]
        login_url: Option<String>,
    },
    Unavailable {
        unavailable: &'static str,
    },
}

impl StoreRow {
    /// The store as the API shows it to `viewer` (credentials only if the row carries them:
    /// single-store answers do, lists do not). Serialized straight into the response.
    pub fn view<'a>(&'a self, state: &'a AppState, viewer: &User) -> StoreView<'a> {
        let mut view = self.view_without_credentials(state, viewer);
        view.admin_credentials = self.credentials_view(state, viewer.id == self.owner_id);
        view
    }

    /// The store's admin credentials as `owner` (in clear) or anyone else (masked) sees
    /// them, if the row carries them.
    pub fn credentials_view(&self, state: &AppState, owner: bool) -> Option<CredentialsView> {
        Some(credentials_view(
            state,
            &self.id,
            self.credentials.as_deref()?,
            self.admin_url.as_deref(),
            owner,
        ))
    }

    /// [`StoreRow::view`] without the credentials (what a cached page keeps).
    pub fn view_without_credentials<'a>(
        &'a self,
        state: &'a AppState,
        viewer: &User,
    ) -> StoreView<'a> {
        let owner = viewer.id == self.owner_id;
        let percent = match (
            self.run_status.as_deref(),
            self.run_current_step,
            self.run_step_count,
        ) {
            (Some("succeeded"), _, _) => 100,
            (Some(_), Some(current), Some(count)) if count > 0 => {
                current.clamp(0, count) * 100 / count
            }
            _ => 0,
        };
        StoreView {
            id: &self.id,
            name: &self.name,
            engine: &self.engine,
            theme: self.theme.as_deref(),
            status: self.status,
            namespace: &self.namespace,
            owner_id: self.owner_id,
            owner_username: (viewer.role == Role::Admin)
                .then_some(self.owner_username.as_deref())
                .flatten(),
            urls: Urls {
                storefront: self.storefront_url.as_deref(),
                admin: self.admin_url.as_deref(),
            },
            admin_credentials: None,
            is_credential_owner: owner,
            failure_reason: self.failure_reason.as_deref().map(scrub),
            failed_step: self.failed_step.as_deref(),
            retry_count: self.retry_count,
            provisioning_duration_ms: self
                .ready_at
                .map(|at| (at - self.created_at).num_milliseconds()),
            time_to_first_order_ms: self.first_order_ms,
            current_run: self.current_run_id.map(|id| CurrentRun {
                id,
                operation: self.current_operation.as_deref(),
                workflow: self.run_workflow.as_deref(),
                status: self.run_status.as_deref(),
                percent,
                step: self.run_step_name.as_deref(),
                // A finished run stands past its last step: it shows as at its last one.
                step_number: self
                    .run_current_step
                    .map(|s| (s + 1).min(self.run_step_count.unwrap_or(i32::MAX))),
                step_count: self.run_step_count,
                next_attempt_at: match self.run_status.as_deref() {
                    Some("queued") | Some("waiting") => {
                        self.run_next_at.filter(|at| *at > Utc::now())
                    }
                    _ => None,
                },
            }),
            rotation: match (self.rotation_run_id, self.rotation_status.as_deref()) {
                (Some(run_id), Some(status))
                    if !matches!(status, "succeeded" | "failed" | "cancelled") =>
                {
                    Some(Rotation { run_id, status })
                }
                _ => None,
            },
            versions: Versions {
                chart: self.chart_version.as_deref(),
                app: self.app_version.as_deref(),
            },
            last_upgrade: self.last_upgrade.as_ref().map(|json| &json.0),
            available_upgrade: self.available_upgrade(state),
            restored_from: self.restore_backup_id.map(|backup_id| RestoredFrom {
                backup_id,
                restored_at: self.restored_at,
            }),
            created_at: self.created_at,
            updated_at: self.updated_at,
            ready_at: self.ready_at,
            deleted_at: self.deleted_at,
        }
    }

    /// The versions an upgrade would bring this store to, when they differ from its own
    /// (or its own are unknown) and its engine can be upgraded.
    fn available_upgrade<'a>(&self, state: &'a AppState) -> Option<Versions<'a>> {
        let target = state.config().stores.release.as_ref()?;
        storeflow_executors::engines::find(&self.engine)?.upgrade_workflow()?;
        if self.status.is_going() {
            return None;
        }
        let current = (self.chart_version.as_deref(), self.app_version.as_deref());
        (current != (Some(&target.chart_version), Some(&target.app_version))).then_some(Versions {
            chart: Some(&target.chart_version),
            app: Some(&target.app_version),
        })
    }

    /// Until when a rendering of this row is right: `nextAttemptAt` is shown while the
    /// run's next attempt is in the future.
    pub fn shown_until(&self) -> Option<std::time::Instant> {
        match self.run_status.as_deref() {
            Some("queued") | Some("waiting") => {
                let left = (self.run_next_at? - Utc::now()).to_std().ok()?;
                Some(std::time::Instant::now() + left)
            }
            _ => None,
        }
    }
}

/// Which backup a store was restored from, and when that restore completed (null while it
/// runs, or after it failed).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoredFrom {
    backup_id: Uuid,
    restored_at: Option<DateTime<Utc>>,
}

/// A store as the API shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Store")]
pub struct StoreView<'a> {
    #[schemars(regex(pattern = r"^store-[0-9a-f]{8}$"))]
    id: &'a str,
    name: &'a str,
    #[schemars(schema_with = "crate::api::engines::engine_name")]
    engine: &'a str,
    theme: Option<&'a str>,
    status: StoreStatus,
    namespace: &'a str,
    owner_id: Uuid,
    /// Admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_username: Option<&'a str>,
    urls: Urls<'a>,
    /// Single-store answers only: in clear for the owner, masked for anyone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_credentials: Option<CredentialsView>,
    is_credential_owner: bool,
    failure_reason: Option<String>,
    failed_step: Option<&'a str>,
    retry_count: i32,
    provisioning_duration_ms: Option<i64>,
    /// From creation to the store's first order (its verification order); single-store
    /// answers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    time_to_first_order_ms: Option<i64>,
    current_run: Option<CurrentRun<'a>>,
    /// A credential rotation still running: the new password works once it finishes.
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<Rotation<'a>>,
    /// The chart and app version the store's release runs.
    versions: Versions<'a>,
    /// The last upgrade's outcome: `status` succeeded, rolling_back or rolled_back, `from`
    /// and `to` versions, and for a failed one `failedStep` and `error`.
    last_upgrade: Option<&'a Value>,
    /// The versions `POST /stores/{id}/upgrade` would bring the store to; null when it has
    /// them already.
    available_upgrade: Option<Versions<'a>>,
    /// The backup this store was (or is being) restored from: at its creation
    /// (`restoreFrom`) or in place (`POST /stores/{id}/restore`); null for a store never
    /// restored.
    restored_from: Option<RestoredFrom>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    ready_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

/// A credential rotation in progress.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotation<'a> {
    run_id: Uuid,
    #[schemars(with = "storeflow_engine::RunStatus")]
    status: &'a str,
}

/// A release's chart and app versions.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Versions<'a> {
    chart: Option<&'a str>,
    app: Option<&'a str>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Urls<'a> {
    storefront: Option<&'a str>,
    admin: Option<&'a str>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct CurrentRun<'a> {
    id: Uuid,
    /// What the run does to the store.
    #[schemars(extend("enum" = ["provision", "teardown", "upgrade", "restore", null]))]
    operation: Option<&'a str>,
    workflow: Option<&'a str>,
    #[schemars(with = "Option<storeflow_engine::RunStatus>")]
    status: Option<&'a str>,
    percent: i32,
    step: Option<&'a str>,
    step_number: Option<i32>,
    step_count: Option<i32>,
    next_attempt_at: Option<DateTime<Utc>>,
}

/// Error text from tools may quote a connection string: never show its password.
pub(crate) fn scrub(text: &str) -> String {
    let mut value = Value::String(text.to_owned());
    crate::api::runs::redact(&mut value);
    value.as_str().unwrap_or_default().to_owned()
}

/// Reads one store in `scope` (row-level security applies), optionally locking it.
pub(crate) async fn load_store(
    tx: &mut PgConnection,
    id: &str,
    lock: bool,
) -> ApiResult<Option<StoreRow>> {
    let sql = format!(
        "SELECT {STORE_COLUMNS} {STORE_FROM} WHERE s.id = $1{}",
        if lock { " FOR UPDATE OF s" } else { "" }
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?)
}

/// A transaction in which `user` can see exactly the stores row-level security allows;
/// after [`visible_store`] it continues with the owner's rights for writes.
pub(crate) async fn scoped(
    state: &AppState,
    user: &User,
) -> ApiResult<Transaction<'static, Postgres>> {
    Ok(tenancy::begin(state.pool(), scope_of(user)).await?)
}

/// The store if `user` may see it (404 otherwise), locked for update; the transaction then
/// leaves the tenant role so the caller can write runs and audit rows.
pub(crate) async fn visible_store(
    tx: &mut Transaction<'static, Postgres>,
    id: &str,
) -> ApiResult<StoreRow> {
    let store = load_store(tx, id, true)
        .await?
        .ok_or_else(|| store_not_found(id))?;
    sqlx::query("RESET ROLE").execute(&mut **tx).await?;
    Ok(store)
}

/// The audit row of `user`'s request, from `ip`, about store `id`.
pub(crate) fn audit_store<'a>(
    action: StoreAction,
    user: &'a User,
    ip: &'a str,
    id: &'a str,
) -> Audit<'a> {
    Audit::store(action).actor(user).ip(ip).subject(id)
}

/// Refuses an operation unless the store is `wanted`: `needs` says so ("Only failed stores
/// can be retried"), `then` what to do instead.
pub(crate) fn require_status(
    store: &StoreRow,
    wanted: StoreStatus,
    needs: &str,
    then: &str,
) -> ApiResult<()> {
    if store.status == wanted {
        return Ok(());
    }
    Err(ApiError::conflict(
        "INVALID_STORE_STATE",
        format!("{needs}. Current status: '{}'.", store.status),
    )
    .suggestion(then)
    .details(json!({ "status": store.status })))
}

/// The store as it is now in the caller's transaction, after an operation moved it (locked
/// by [`visible_store`], it is still there).
pub(crate) async fn reloaded_store(tx: &mut PgConnection, id: &str) -> ApiResult<StoreRow> {
    load_store(tx, id, false)
        .await?
        .ok_or_else(|| store_not_found(id))
}

// ---------------------------------------------------------------------------------------
// Answers and run inputs shared by the operations

impl StoreRow {
    /// A run of `workflow` about this store with `input`, for the request being served: its
    /// subject is the store, its tenant the store's owner, and it carries the request's id.
    pub(crate) fn run(&self, workflow: &str, input: &StoreRunInput) -> NewRun {
        NewRun::new(workflow, input.to_value())
            .subject(&self.id)
            .tenant(self.owner_id.to_string())
            .request_id(current_request_id())
    }
}

/// A store operation was accepted: the store as it is now, and the run that carries the
/// operation out (follow it on the store's page or its event stream).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreAccepted<'a> {
    request_id: RequestId,
    message: String,
    store: StoreView<'a>,
    run: RunRef<'a>,
    /// Upgrades: the versions the store runs now.
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Versions<'a>>,
    /// Upgrades: the versions it is upgraded to.
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Versions<'a>>,
    /// Restores: the backup restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) backup: Option<crate::api::backups::BackupView<'a>>,
}

impl<'a> StoreAccepted<'a> {
    pub(crate) fn new(
        message: impl Into<String>,
        store: StoreView<'a>,
        run: RunRef<'a>,
    ) -> StoreAccepted<'a> {
        StoreAccepted {
            request_id: RequestId::current(),
            message: message.into(),
            store,
            run,
            from: None,
            to: None,
            backup: None,
        }
    }
}

/// Answered with 202.
impl IntoResponse for StoreAccepted<'_> {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, axum::Json(self)).into_response()
    }
}

/// The run of an operation.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunRef<'a> {
    id: Option<Uuid>,
    workflow: Option<&'a str>,
    /// The run's status (`queued` for a new one); `superseded` when a later operation's run
    /// drives the store now.
    #[schemars(extend("enum" = ["queued", "running", "waiting", "succeeded", "failed", "cancelled", "superseded"]))]
    status: &'a str,
}

/// The run input of every lifecycle run of a store (no secrets).
pub(crate) fn run_input(settings: &StoreSettings, store: &StoreRow) -> StoreRunInput {
    let (host, storefront, admin) = store_urls(settings, &store.id, &store.engine);
    StoreRunInput {
        store_id: store.id.clone(),
        namespace: store.namespace.clone(),
        engine: Some(store.engine.clone()),
        tenant: Some(store.owner_id.to_string()),
        name: Some(store.name.clone()),
        theme: store.theme.clone(),
        host: Some(host),
        urls: Some(StoreUrls { storefront, admin }),
        ingress: Some(IngressInput {
            class_name: settings.ingress_class.clone(),
            controller: settings.ingress_controller.clone(),
            tls_secret_name: settings.tls_secret.clone().unwrap_or_default(),
        }),
        restore_backup_id: restored_by_operation(store),
        backup_id: None,
    }
}

/// The backup the store's current operation restores: a restore in place, or the
/// provisioning of a store created from a backup (until it was first ready).
fn restored_by_operation(store: &StoreRow) -> Option<Uuid> {
    let backup = store.restore_backup_id?;
    match store.current_operation.as_deref() {
        Some("restore") => Some(backup),
        Some("provision") | None if store.ready_at.is_none() => Some(backup),
        _ => None,
    }
}

/// The workflow of the store's current operation (what a retry resumes or starts again).
fn operation_workflow(store: &StoreRow) -> &'static str {
    let engine = storeflow_executors::engines::find(&store.engine);
    let restores = restored_by_operation(store).is_some();
    match store.current_operation.as_deref() {
        Some("teardown") => Some(TEARDOWN_STORE),
        Some("upgrade") => engine.and_then(|e| e.upgrade_workflow()),
        Some("restore") => engine.and_then(|e| e.restore_in_place_workflow()),
        _ if restores => engine.and_then(|e| e.restore_workflow()),
        _ => engine.map(|e| e.provision_workflow()),
    }
    .unwrap_or_default()
}

pub(crate) fn run_ref<'a>(
    run_id: Option<Uuid>,
    workflow: Option<&'a str>,
    status: &'a str,
) -> RunRef<'a> {
    RunRef {
        id: run_id,
        workflow,
        status,
    }
}
