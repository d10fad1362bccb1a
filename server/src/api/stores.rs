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
use storeflow_engine::{NewRun, RunProgress, RunStatus, StepRef};
use storeflow_workflows::{ROTATE_CREDENTIALS, TEARDOWN_STORE, provision_workflow};
use uuid::Uuid;

use super::events::{last_event_id, store_event_stream};
use super::page_cache::{Page, PageKey, splice};
use super::{
    ApiJson, ApiPath, ApiQuery, AppState, ClientIp, RequestId, Route, StoreSettings,
    current_request_id, inline_schema, schema,
};
use crate::auth::{Audit, AuthUser, Bearer, Role, User};
use crate::error::{ApiError, ApiResult};
use crate::store_rules::{is_store_id, name_problems, new_store_id};
use crate::tenancy::{self, Scope};
use storeflow_executors::credentials::{StoreCredentials, random_password};
use storeflow_executors::engines;
use storeflow_executors::lifecycle;
use storeflow_executors::store_state::StoreStatus;

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
    r.status::text AS run_status, r.workflow AS run_workflow, r.current_step AS run_current_step,
    r.step_count AS run_step_count,
    (SELECT d.step_name FROM workflow_definition_steps d
      WHERE d.workflow = r.workflow AND d.version = r.version AND d.step_index = r.current_step)
      AS run_step_name,
    r.next_run_at AS run_next_at,
    s.rotation_run_id,
    (SELECT rr.status::text FROM workflow_runs rr WHERE rr.id = s.rotation_run_id) AS rotation_status,
    s.chart_version, s.app_version, s.last_upgrade, s.restore_backup_id, s.restored_at
"#;

pub(crate) const STORE_FROM: &str = "FROM stores s JOIN users u ON u.id = s.owner_id \
                          LEFT JOIN workflow_runs r ON r.id = s.current_run_id";

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
    #[schemars(schema_with = "super::engines::engine_name")]
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
    super::runs::redact(&mut value);
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

// ---------------------------------------------------------------------------------------
// Create

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateStore {
    /// A DNS label: 3-63 lowercase letters, digits and single hyphens, not starting or ending
    /// with a hyphen; unique among the owner's stores (not reserved, no blocked words).
    #[schemars(
        required,
        with = "Option<String>",
        length(min = 3, max = 63),
        regex(pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")
    )]
    name: Option<Value>,
    /// An engine of `GET /engines` (taken from the backup with `restoreFrom`).
    #[serde(default)]
    #[schemars(schema_with = "super::engines::optional_engine_name")]
    engine: Option<Value>,
    /// One of the engine's themes (`GET /engines`); its default when left out.
    #[schemars(with = "Option<String>")]
    theme: Option<Value>,
    /// The store's admin password (8-128 characters, no control characters); generated
    /// when left out.
    #[schemars(with = "Option<String>", length(min = 8, max = 128))]
    password: Option<Value>,
    /// A complete backup's id: the new store is provisioned with its data.
    #[serde(rename = "restoreFrom")]
    #[schemars(with = "Option<Uuid>")]
    restore_from: Option<Value>,
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
    pub(crate) backup: Option<super::backups::BackupView<'a>>,
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

struct ValidCreate {
    name: String,
    engine: &'static str,
    theme: Option<String>,
    password: Option<String>,
    restore_from: Option<Uuid>,
}

fn validate_create(body: CreateStore) -> ApiResult<ValidCreate> {
    let mut problems: Vec<Value> = Vec::new();
    let mut problem = |field: &str, message: &str| {
        problems.push(json!({ "field": field, "message": message }));
    };
    let restore_from = match &body.restore_from {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => match id.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                problem("restoreFrom", "restoreFrom must be a backup id (a UUID).");
                None
            }
        },
        Some(_) => {
            problem("restoreFrom", "restoreFrom must be a backup id (a UUID).");
            None
        }
    };
    let name = match body.name {
        Some(Value::String(name)) => name,
        Some(_) => {
            problem("name", "Store name must be a string.");
            String::new()
        }
        None => {
            problem("name", "Store name is required.");
            String::new()
        }
    };
    // The engines and their themes are the registry's: an engine added there is accepted
    // here, with no list of names to keep in step.
    let names = engines::names();
    let engine = match body.engine.as_ref().and_then(Value::as_str) {
        Some(name) if engines::find(name).is_some() => engines::find(name),
        Some(_) | None if body.engine.is_some() => {
            problem(
                "engine",
                &format!("Engine must be one of: {}.", names.join(", ")),
            );
            None
        }
        _ => {
            problem(
                "engine",
                &format!("Engine is required ({}).", names.join(" or ")),
            );
            None
        }
    };
    let themed: Vec<&str> = engines::registry()
        .into_iter()
        .filter(|engine| !engine.themes().is_empty())
        .map(|engine| engine.label())
        .collect();
    // Without a valid engine, a theme is checked against every engine's.
    let themes = match engine {
        Some(engine) => engine.themes(),
        None => engines::registry()
            .into_iter()
            .flat_map(|engine| engine.themes())
            .collect(),
    };
    let theme = match (&body.theme, engine) {
        (None | Some(Value::Null), None) => None,
        (None | Some(Value::Null), Some(_)) => themes.first().map(|theme| (*theme).to_owned()),
        (Some(_), Some(_)) if themes.is_empty() => {
            problem(
                "theme",
                &format!(
                    "Theme is only applicable to {} stores.",
                    themed.join(" or ")
                ),
            );
            None
        }
        (Some(Value::String(theme)), _) if themes.contains(&theme.as_str()) => Some(theme.clone()),
        (Some(_), _) => {
            problem(
                "theme",
                &format!("Theme must be one of: {}.", themes.join(", ")),
            );
            None
        }
    };
    let engine = engine.map(|engine| engine.name());
    let password = match &body.password {
        None | Some(Value::Null) => None,
        Some(Value::String(password)) => {
            let length = password.chars().count();
            if !(8..=128).contains(&length) {
                problem("password", "Password must be 8 to 128 characters.");
            } else if password.chars().any(char::is_control) {
                problem("password", "Password must not contain control characters.");
            }
            Some(password.clone())
        }
        Some(_) => {
            problem("password", "Password must be a string.");
            None
        }
    };
    if !name.is_empty() || problems.iter().all(|p| p["field"] != "name") {
        problems.extend(name_problems(&name));
    }
    match engine {
        Some(engine) if problems.is_empty() => Ok(ValidCreate {
            name,
            engine,
            theme,
            password,
            restore_from,
        }),
        _ => Err(ApiError::validation(
            problems
                .first()
                .and_then(|p| p["message"].as_str())
                .unwrap_or("The store request is invalid.")
                .to_owned(),
            Value::Array(problems),
        )),
    }
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| (1..=255).contains(&v.len()) && v.bytes().all(|b| (0x21..0x7f).contains(&b)))
            .map(|v| Some(v.to_owned()))
            .ok_or_else(|| {
                ApiError::validation(
                    "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID works well).",
                    json!([{ "field": "Idempotency-Key" }]),
                )
            }),
    }
}

/// Where a store is reached, by its id (names are unique per owner only).
fn store_urls(
    settings: &StoreSettings,
    store_id: &str,
    engine: &str,
) -> (String, String, Option<String>) {
    let host = format!("{store_id}{}", settings.domain_suffix);
    let scheme = if settings.tls_secret.is_some() {
        "https"
    } else {
        "http"
    };
    let port = settings
        .ingress_port
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let base = format!("{scheme}://{host}{port}");
    let admin = storeflow_executors::engines::find(engine)
        .filter(|engine| scheme == "https" || !engine.admin_needs_https())
        .and_then(|engine| engine.admin_path())
        .map(|path| format!("{base}{path}"));
    (host, format!("{base}/"), admin)
}

/// The run input of every lifecycle run of a store (no secrets).
pub(crate) fn run_input(settings: &StoreSettings, store: &StoreRow) -> Value {
    let (host, storefront, admin) = store_urls(settings, &store.id, &store.engine);
    let mut input = json!({
        "store_id": store.id,
        "namespace": store.namespace,
        "engine": store.engine,
        "tenant": store.owner_id,
        "name": store.name,
        "theme": store.theme,
        "host": host,
        "urls": { "storefront": storefront, "admin": admin },
        "ingress": {
            "className": settings.ingress_class,
            "controller": settings.ingress_controller,
            "tlsSecretName": settings.tls_secret.clone().unwrap_or_default(),
        },
    });
    if let Some(backup) = restored_by_operation(store) {
        input["restore_backup_id"] = json!(backup);
    }
    input
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

fn fingerprint(valid: &ValidCreate) -> String {
    let mut hash = Sha256::new();
    hash.update(valid.name.as_bytes());
    hash.update([0]);
    hash.update(valid.engine.as_bytes());
    hash.update([0]);
    hash.update(valid.theme.as_deref().unwrap_or("").as_bytes());
    if let Some(backup) = valid.restore_from {
        hash.update([0]);
        hash.update(backup.as_bytes());
    }
    hex::encode(hash.finalize())
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

/// The backup a creation restores (`restoreFrom`), checked: the caller may see it, it is
/// complete, and the store's engine is the backup's (taken from it when the body has none).
async fn restore_source(
    state: &AppState,
    user: &User,
    body: &mut CreateStore,
) -> ApiResult<Option<Uuid>> {
    let Some(Value::String(id)) = &body.restore_from else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<Uuid>() else {
        // validate_create names the field.
        return Ok(None);
    };
    let owner = (user.role != Role::Admin).then_some(user.id);
    let mut conn = state.pool().acquire().await?;
    let backup = super::backups::visible_backup(&mut conn, id, owner).await?;
    let view = backup.view();
    if view.status != "complete" {
        return Err(ApiError::conflict(
            "BACKUP_NOT_RESTORABLE",
            format!("Backup {id} is {}, not complete.", view.status),
        )
        .suggestion("Restore a complete backup: GET /api/v1/backups?status=complete lists them.")
        .details(json!({ "status": view.status })));
    }
    let engine = view.engine;
    // The restored site keeps the backed-up store's theme: the store says so too.
    if matches!(body.theme, None | Some(Value::Null)) {
        let theme: Option<(Option<String>,)> =
            sqlx::query_as("SELECT theme FROM stores WHERE id = $1")
                .bind(view.store_id)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((Some(theme),)) = theme {
            body.theme = Some(json!(theme));
        }
    }
    match &body.engine {
        None | Some(Value::Null) => body.engine = Some(json!(engine)),
        Some(Value::String(given)) if given == engine => {}
        Some(_) => {
            return Err(ApiError::validation(
                format!(
                    "Backup {id} is of a {engine} store; it can only be restored into a {engine} store."
                ),
                json!([{ "field": "engine", "message": format!("must be {engine} (or left out) to restore this backup") }]),
            ));
        }
    }
    if storeflow_executors::engines::find(engine)
        .and_then(|e| e.restore_workflow())
        .is_none()
    {
        return Err(ApiError::conflict(
            "RESTORE_NOT_SUPPORTED",
            format!("Stores of engine '{engine}' cannot be restored by storeflow yet."),
        ));
    }
    Ok(Some(id))
}

pub async fn create_store(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateStore>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let mut body = body;
    let backup = restore_source(&state, &user, &mut body).await?;
    let valid = validate_create(body)?;
    let settings = &state.config().stores;
    let print = fingerprint(&valid);
    let mut tx = state.pool().begin().await?;
    // One creation at a time per user, across replicas: the cap, the cooldown and the
    // idempotency key are then exact. A burst of parallel creates waits its turn but gives up
    // (503, retryable) rather than holding pool connections indefinitely.
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('storeflow:create-store:' || $1::text, 0))",
    )
    .bind(user.id)
    .execute(&mut *tx)
    .await?;

    if let Some(key) = &key {
        let earlier: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, request_fingerprint FROM stores WHERE owner_id = $1 AND idempotency_key = $2",
        )
        .bind(user.id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, earlier_print)) = earlier {
            if earlier_print.as_deref() != Some(print.as_str()) {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "IDEMPOTENCY_KEY_REUSED",
                    "This Idempotency-Key was already used for a different store request.",
                )
                .suggestion("Use a new Idempotency-Key for a new request."));
            }
            let store = load_store(&mut tx, &id, false)
                .await?
                .ok_or_else(|| store_not_found(&id))?;
            tx.commit().await?;
            let run = run_ref(
                store.provision_run_id,
                provision_workflow(&store.engine),
                if store.provision_run_id == store.current_run_id {
                    store.run_status.as_deref().unwrap_or("queued")
                } else {
                    "superseded"
                },
            );
            let mut response = StoreAccepted::new(
                "Store creation was already requested with this Idempotency-Key.",
                store.view(&state, &user),
                run,
            )
            .into_response();
            response.headers_mut().insert(
                "idempotent-replayed",
                axum::http::HeaderValue::from_static("true"),
            );
            return Ok(response);
        }
    }

    let live: Option<(String, String)> = sqlx::query_as(
        "SELECT id, status::text FROM stores WHERE owner_id = $1 AND name = $2 AND status <> 'deleted'",
    )
    .bind(user.id)
    .bind(&valid.name)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((id, status)) = live {
        return Err(ApiError::conflict(
            "STORE_NAME_TAKEN",
            format!(
                "A store named '{}' already exists (status: {status}).",
                valid.name
            ),
        )
        .suggestion("Use a different name, or delete the existing store first.")
        .details(json!({ "storeId": id, "status": status })));
    }

    let (active,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM stores WHERE owner_id = $1 AND status <> 'deleted'")
            .bind(user.id)
            .fetch_one(&mut *tx)
            .await?;
    if active >= i64::from(settings.max_per_user) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "STORE_LIMIT_EXCEEDED",
            format!(
                "You have {active} stores (failed ones included: they still hold cluster resources); the limit is {}.",
                settings.max_per_user
            ),
        )
        .suggestion("Delete a store you no longer need (or a failed one), then try again.")
        .details(json!({ "active": active, "limit": settings.max_per_user })));
    }

    if settings.max_total > 0 {
        // Creations take turns on the platform-wide count (held to this transaction's end),
        // so two of them cannot both take the last place. The count itself is read outside
        // the tenant's row-level security, which would show only the tenant's own stores.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('storeflow:platform-store-cap'))")
            .execute(&mut *tx)
            .await?;
        let (total,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM stores WHERE status <> 'deleted'")
                .fetch_one(state.pool())
                .await?;
        if total >= i64::from(settings.max_total) {
            Audit::new("store", "creation_refused_platform_full")
                .actor(&user)
                .data(json!({ "stores": total, "limit": settings.max_total }))
                .write(state.pool())
                .await;
            return Err(ApiError::conflict(
                "PLATFORM_FULL",
                "The platform is at its limit of stores; no new store can be created right now.",
            )
            .suggestion(
                "Delete a store you no longer need, or ask an operator to raise MAX_STORES.",
            )
            .details(json!({ "limit": settings.max_total })));
        }
    }

    if user.role != Role::Admin && !settings.creation_cooldown.is_zero() {
        // The database's clock, so every replica agrees.
        let (wait_ms,): (Option<f64>,) = sqlx::query_as(
            "SELECT (extract(epoch FROM (max(created_at) + make_interval(secs => $2) - now())) * 1000)::float8 \
             FROM stores WHERE owner_id = $1",
        )
        .bind(user.id)
        .bind(settings.creation_cooldown.as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
        if let Some(wait_ms) = wait_ms.filter(|ms| *ms > 0.0) {
            let seconds = (wait_ms / 1000.0).ceil() as u64;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "CREATION_COOLDOWN",
                format!("Please wait {seconds} seconds before creating another store."),
            )
            .suggestion(format!("Wait {seconds} seconds before retrying."))
            .retry_after(seconds));
        }
    }

    // Ids are 32 random bits: on the rare collision, draw again.
    let mut id = new_store_id();
    for _ in 0..5 {
        let taken: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM stores WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_none() {
            break;
        }
        id = new_store_id();
    }
    let credentials = StoreCredentials {
        username: "admin".into(),
        email: user.email.clone(),
        password: valid
            .password
            .clone()
            .unwrap_or_else(|| random_password(20)),
    };
    let sealed = credentials.seal(&state.config().sealer, &id);
    sqlx::query(
        "INSERT INTO stores (id, owner_id, name, engine, theme, status, namespace, credentials, \
                             idempotency_key, request_fingerprint, current_operation, restore_backup_id) \
         VALUES ($1, $2, $3, $4::store_engine, $5, 'requested', $1, $6, $7, $8, 'provision', $9)",
    )
    .bind(&id)
    .bind(user.id)
    .bind(&valid.name)
    .bind(valid.engine)
    .bind(&valid.theme)
    .bind(&sealed)
    .bind(&key)
    .bind(&print)
    .bind(backup)
    .execute(&mut *tx)
    .await?;
    let store = load_store(&mut tx, &id, false)
        .await?
        .ok_or_else(|| ApiError::internal("the new store row is not readable"))?;
    let engine = storeflow_executors::engines::find(valid.engine);
    let (workflow, input) = match &backup {
        Some(backup) => {
            let mut input = run_input(settings, &store);
            input["restore_backup_id"] = json!(backup);
            (
                engine
                    .and_then(|e| e.restore_workflow())
                    .unwrap_or_default(),
                input,
            )
        }
        None => (
            provision_workflow(valid.engine).unwrap_or_default(),
            run_input(settings, &store),
        ),
    };
    let run = state
        .engine()
        .enqueue(
            &mut tx,
            NewRun::new(workflow, input)
                .subject(&id)
                .tenant(user.id.to_string())
                .request_id(current_request_id()),
        )
        .await?;
    sqlx::query("UPDATE stores SET current_run_id = $2, provision_run_id = $2 WHERE id = $1")
        .bind(&id)
        .bind(run.run_id)
        .execute(&mut *tx)
        .await?;
    Audit::new("store", "store_created")
        .actor(&user)
        .ip(&ip)
        .subject(&id)
        .data(json!({ "name": valid.name, "engine": valid.engine, "theme": valid.theme, "runId": run.run_id, "restoreFrom": backup }))
        .write_in(&mut tx)
        .await?;
    let store = load_store(&mut tx, &id, false)
        .await?
        .ok_or_else(|| ApiError::internal("the new store row is not readable"))?;
    tx.commit().await?;
    metrics::counter!(crate::metric_names::STORES_CREATED, "engine" => valid.engine).increment(1);
    tracing::info!(store = %id, engine = valid.engine, run = %run.run_id, "store requested");
    Ok(StoreAccepted::new(
        if backup.is_some() {
            "Store creation initiated. Provisioning and the restore of the backup are in progress."
        } else {
            "Store creation initiated. Provisioning is in progress."
        },
        store.view(&state, &user),
        run_ref(Some(run.run_id), Some(workflow), "queued"),
    )
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Read

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    /// Only stores in this status.
    #[schemars(with = "Option<StoreStatus>")]
    status: Option<String>,
    /// An engine of `GET /engines`.
    #[serde(default)]
    #[schemars(schema_with = "super::engines::optional_engine_name")]
    engine: Option<String>,
    /// Admins: one owner's stores (a user id).
    #[schemars(with = "Option<Uuid>")]
    owner_id: Option<String>,
    /// Part of the name.
    #[schemars(length(max = 63))]
    q: Option<String>,
    /// Default 50.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

pub async fn list_stores(
    State(state): State<AppState>,
    bearer: Bearer,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let mut problems = Vec::new();
    if let Some(status) = &query.status
        && !storeflow_executors::store_state::STORE_STATUSES.contains(&status.as_str())
    {
        problems.push(json!({ "field": "status", "message": format!(
            "must be one of {}",
            storeflow_executors::store_state::STORE_STATUSES.join(", ")
        ) }));
    }
    if let Some(engine) = &query.engine
        && engines::find(engine).is_none()
    {
        problems.push(json!({ "field": "engine", "message": format!(
            "must be {}",
            engines::names().join(" or ")
        ) }));
    }
    let owner: Option<Uuid> = match &query.owner_id {
        None => None,
        Some(text) => match text.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                problems.push(json!({ "field": "ownerId", "message": "must be a user id (UUID)" }));
                None
            }
        },
    };
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    if !(1..=100).contains(&limit) {
        problems.push(json!({ "field": "limit", "message": "must be 1 to 100" }));
    }
    if offset < 0 {
        problems.push(json!({ "field": "offset", "message": "must be at least 0" }));
    }
    if query
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > 63 || q.chars().any(char::is_control))
    {
        problems.push(json!({ "field": "q", "message": "must be at most 63 characters, without control characters" }));
    }
    if !problems.is_empty() {
        return Err(ApiError::validation(
            "The list query is invalid.",
            Value::Array(problems),
        ));
    }
    let pattern = query.q.as_ref().map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    // The count of run-event notifications, read before the check: a run that changes
    // after this point moves it, so a rendering stored with it is never older than it says.
    let events_seen = state.event_hub().generation();
    // First statement: the token's version, the page's store ids chosen under the caller's
    // row-level security (a tenant sees its own stores whatever it asks for; an admin may
    // narrow the list to one owner), the total, and the page's stamp.
    let check: Option<PgRow> =
        sqlx::query("SELECT * FROM storeflow_api_stores_check($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(bearer.user)
            .bind(bearer.token_version)
            .bind(&query.status)
            .bind(&query.engine)
            .bind(owner)
            .bind(&pattern)
            .bind(limit)
            .bind(offset)
            .fetch_optional(state.pool())
            .await?;
    let check = check.ok_or_else(crate::auth::invalid_token)?;
    let user = caller_of(&check, bearer)?;
    let page_ids: Vec<String> = check.try_get("page")?;
    let total: i64 = check.try_get("total")?;
    let stamp = events_seen.map(|seen| format!("{}/{seen}", check.get::<String, _>("stamp")));
    let admin = user.role == Role::Admin;
    let key = PageKey::List {
        caller: user.id,
        admin,
        query: format!(
            "{:?}|{:?}|{:?}|{:?}|{limit}|{offset}",
            query.status,
            query.engine,
            owner.filter(|_| admin),
            pattern
        ),
    };
    let cached = stamp
        .as_ref()
        .and_then(|stamp| state.pages().get(&key, stamp));
    let page = match cached {
        Some(page) => page,
        None => {
            let rows: Vec<StoreRow> = sqlx::query_as("SELECT * FROM storeflow_api_stores_page($1)")
                .bind(&page_ids)
                .fetch_all(state.pool())
                .await?;
            let body = serde_json::to_vec(&StoreList {
                stores: rows.iter().map(|row| row.view(&state, &user)).collect(),
                total,
                limit,
                offset,
            })
            .map_err(ApiError::internal)?;
            let page = Page {
                body: body.into(),
                sealed_credentials: None,
                login_url: None,
                queued_run: None,
                valid_until: rows.iter().filter_map(StoreRow::shown_until).min(),
            };
            if let Some(stamp) = stamp {
                state.pages().put(key, stamp, page.clone());
            }
            page
        }
    };
    Ok(json_answer(splice(
        &current_request_id(),
        None,
        &[],
        &page.body,
    )))
}

/// An answer with a JSON body made elsewhere.
fn json_answer(body: axum::body::Bytes) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct StoreList<'a> {
    stores: Vec<StoreView<'a>>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// A page of stores: `{requestId}` spliced before a (cached) [`StoreList`] rendering.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct StoreListAnswer<'a> {
    request_id: RequestId,
    #[serde(flatten)]
    list: StoreList<'a>,
}

/// One store: `{requestId, store}` around a (cached) [`StorePage`] rendering, with the
/// per-answer fields spliced in.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct StoreAnswer<'a> {
    request_id: RequestId,
    store: StoreAnswerStore<'a>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct StoreAnswerStore<'a> {
    #[serde(flatten)]
    page: StorePage<'a>,
    /// In clear for the owner, masked for anyone else; absent while the store has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_credentials: Option<CredentialsView>,
    /// Runs ahead of the store's queued provisioning run.
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_position: Option<u64>,
}

/// The caller columns of a `storeflow_api_store(s)_check` row (the function checked the
/// token).
fn caller_of(row: &PgRow, bearer: Bearer) -> sqlx::Result<User> {
    Ok(User {
        id: bearer.user,
        email: row.try_get("caller_email")?,
        username: row.try_get("caller_username")?,
        role: row.try_get("caller_role")?,
        created_at: row.try_get("caller_created_at")?,
        // The function checked that the token carries the current version.
        token_version: bearer.token_version,
    })
}

/// A run of a store, as listed with the store.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"))]
struct StoreRun {
    id: Uuid,
    workflow: String,
    #[schemars(with = "storeflow_engine::RunStatus")]
    status: String,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

pub async fn get_store(
    State(state): State<AppState>,
    bearer: Bearer,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    // First statement: the token's version, whether the caller may see the store (row-level
    // security, as the tenant), its owner and the page's stamp.
    let check: Option<PgRow> = sqlx::query("SELECT * FROM storeflow_api_store_check($1, $2, $3)")
        .bind(bearer.user)
        .bind(bearer.token_version)
        .bind(id)
        .fetch_optional(state.pool())
        .await?;
    let check = check.ok_or_else(crate::auth::invalid_token)?;
    let user = caller_of(&check, bearer)?;
    let (Some(owner_id), Some(stamp)) = (
        check.try_get::<Option<Uuid>, _>("owner_id")?,
        check.try_get::<Option<String>, _>("stamp")?,
    ) else {
        return Err(store_not_found(id));
    };
    let owner = owner_id == user.id;
    let key = PageKey::Store {
        id: id.to_owned(),
        owner,
        admin: user.role == Role::Admin,
    };
    let page = match state.pages().get(&key, &stamp) {
        Some(page) => page,
        None => {
            let page = render_store_page(&state, id, &user).await?;
            state.pages().put(key, stamp, page.clone());
            page
        }
    };
    // Credentials are opened per answer, never kept in a rendering.
    let credentials = page
        .sealed_credentials
        .as_deref()
        .map(|sealed| credentials_view(&state, id, sealed, page.login_url.as_deref(), owner));
    let credentials = credentials
        .map(|c| serde_json::to_string(&c))
        .transpose()
        .map_err(ApiError::internal)?;
    let queue_position = match page.queued_run {
        Some(run) => state
            .engine()
            .queue_position(run, &storeflow_workflows::store::provisioning_workflows())
            .await?
            .map(|position| position.to_string()),
        None => None,
    };
    let mut fields = Vec::with_capacity(2);
    if let Some(credentials) = credentials.as_deref() {
        fields.push(("adminCredentials", credentials));
    }
    if let Some(position) = queue_position.as_deref() {
        fields.push(("queuePosition", position));
    }
    Ok(json_answer(splice(
        &current_request_id(),
        Some("store"),
        &fields,
        &page.body,
    )))
}

/// One store's page as `viewer` sees it — without the credentials — read with the second
/// statement (for a store the check admitted).
async fn render_store_page(state: &AppState, id: &str, viewer: &User) -> ApiResult<Page> {
    let row: Option<PgRow> = sqlx::query("SELECT * FROM storeflow_api_store_page($1)")
        .bind(id)
        .fetch_optional(state.pool())
        .await?;
    let row = row.ok_or_else(|| store_not_found(id))?;
    let store = StoreRow::from_row(&row)?;
    let runs: Vec<StoreRun> = row
        .try_get::<Option<sqlx::types::Json<Vec<StoreRun>>>, _>("runs")?
        .map(|runs| runs.0)
        .unwrap_or_default();
    // A run pruned from history leaves the store without progress, not without a page.
    let progress = RunProgress::from_json(row.try_get("progress")?)?;
    let body = serde_json::to_vec(&StorePage {
        store: store.view_without_credentials(state, viewer),
        progress: progress.as_ref().map(ProgressView::of),
        runs: &runs,
    })
    .map_err(ApiError::internal)?;
    Ok(Page {
        body: body.into(),
        sealed_credentials: store.credentials.clone(),
        login_url: store.admin_url.clone(),
        queued_run: store
            .current_run_id
            .filter(|_| store.run_status.as_deref() == Some("queued")),
        valid_until: store.shown_until(),
    })
}

/// A store's page: the store, its current run's progress, its runs.
#[derive(Debug, Serialize, JsonSchema)]
struct StorePage<'a> {
    #[serde(flatten)]
    store: StoreView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<ProgressView<'a>>,
    runs: &'a [StoreRun],
}

/// The current run's progress as a store page shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ProgressView<'a> {
    run_id: Uuid,
    workflow: &'a str,
    version: i32,
    status: RunStatus,
    percent: u8,
    error: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    steps: Vec<StepProgress<'a>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct StepProgress<'a> {
    number: i32,
    name: &'a str,
    status: storeflow_engine::StepStatus,
    attempt: i32,
    max_attempts: i32,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    /// Tool output may quote a connection string: scrubbed like every error shown.
    error: Option<String>,
    waiting_for: Option<String>,
}

impl<'a> ProgressView<'a> {
    fn of(run: &'a RunProgress) -> Self {
        ProgressView {
            run_id: run.summary.id,
            workflow: &run.summary.workflow,
            version: run.summary.version,
            status: run.summary.status,
            percent: run.progress,
            error: run.summary.error.as_deref().map(scrub),
            started_at: run.summary.started_at,
            finished_at: run.summary.finished_at,
            next_attempt_at: match run.summary.status {
                RunStatus::Queued | RunStatus::Waiting if run.summary.next_run_at > Utc::now() => {
                    Some(run.summary.next_run_at)
                }
                _ => None,
            },
            steps: run
                .steps
                .iter()
                .map(|step| StepProgress {
                    number: step.index + 1,
                    name: &step.name,
                    status: step.status,
                    attempt: step.attempts,
                    max_attempts: step.max_attempts,
                    started_at: step.started_at,
                    finished_at: step.finished_at,
                    duration_ms: step.duration_ms,
                    error: step.error.as_deref().map(scrub),
                    waiting_for: step.waiting_for.as_deref().map(scrub),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Delete and retry

/// A lifecycle request that was refused (the store moved meanwhile: `aborted` says what was
/// not done) or that failed.
pub(crate) fn transition_error(err: lifecycle::TransitionError, aborted: &str) -> ApiError {
    match err {
        lifecycle::TransitionError::Refused { .. } => ApiError::conflict(
            "INVALID_STORE_STATE",
            format!("Store status changed concurrently. {aborted}"),
        )
        .suggestion("Refresh and try again."),
        lifecycle::TransitionError::Engine(err) => err.into(),
        lifecycle::TransitionError::Database(err) => err.into(),
    }
}

pub(crate) fn state_conflict(store: &StoreRow, action: &str, allowed: &str) -> ApiError {
    let reason = match store.status {
        StoreStatus::Deleted => "Store is already deleted.".to_owned(),
        StoreStatus::Deleting => "Store is already being deleted.".to_owned(),
        StoreStatus::Requested | StoreStatus::Provisioning => {
            "Store is currently provisioning. Wait for it to finish or fail, or ask an operator to cancel the run."
                .to_owned()
        }
        other => format!("Cannot {action} a store in '{other}' state."),
    };
    ApiError::conflict("INVALID_STORE_STATE", reason)
        .suggestion(format!(
            "Only {allowed} stores can be {action}d; wait for the current operation to complete."
        ))
        .details(json!({ "status": store.status }))
}

pub async fn delete_store(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    if !matches!(store.status, StoreStatus::Ready | StoreStatus::Failed) {
        return Err(state_conflict(&store, "delete", "ready or failed"));
    }
    let run = lifecycle::request_teardown(
        &mut tx,
        state.engine(),
        id,
        store.status,
        NewRun::new(TEARDOWN_STORE, run_input(&state.config().stores, &store))
            .subject(id)
            .tenant(store.owner_id.to_string())
            .request_id(current_request_id()),
    )
    .await
    .map_err(|err| transition_error(err, "Aborting deletion."))?;
    Audit::new("store", "store_delete_requested")
        .actor(&user)
        .ip(&ip)
        .subject(id)
        .data(json!({ "from": store.status, "runId": run.run_id }))
        .write_in(&mut tx)
        .await?;
    let store = load_store(&mut tx, id, false)
        .await?
        .ok_or_else(|| store_not_found(id))?;
    tx.commit().await?;
    tracing::info!(store = %id, run = %run.run_id, "store deletion requested");
    Ok(StoreAccepted::new(
        "Store deletion initiated.",
        store.view(&state, &user),
        run_ref(Some(run.run_id), Some(TEARDOWN_STORE), "queued"),
    )
    .into_response())
}

pub async fn retry_store(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    let settings = &state.config().stores;
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    if store.status != StoreStatus::Failed {
        return Err(ApiError::conflict(
            "INVALID_STORE_STATE",
            format!(
                "Only failed stores can be retried. Current status: '{}'.",
                store.status
            ),
        )
        .suggestion("Only failed stores can be retried.")
        .details(json!({ "status": store.status })));
    }
    if store.retry_count >= settings.max_retries as i32 {
        return Err(ApiError::conflict(
            "RETRY_LIMIT_REACHED",
            format!("Maximum retry count ({}) reached.", settings.max_retries),
        )
        .suggestion(
            "Look at the failed step's error with an operator, or delete and recreate the store.",
        ));
    }
    let operation = store
        .current_operation
        .clone()
        .unwrap_or_else(|| "provision".into());
    let workflow = operation_workflow(&store);
    let actor = format!("{} (store retry)", user.email);
    let resumed = store.run_status.as_deref() == Some("failed") && store.current_run_id.is_some();
    let run_id = match (store.current_run_id, store.run_status.as_deref()) {
        // A failed run resumes at its failed step: finished steps never run again. All in
        // this transaction, which holds the store: no delete can slip in between, and the
        // trigger moves the store back to provisioning/deleting as the run is requeued.
        (Some(run_id), Some("failed")) => {
            let step = StepRef::Number(store.run_current_step.unwrap_or(0) as usize + 1);
            state
                .engine()
                .retry_step_in(&mut tx, run_id, &step, Some(&actor))
                .await
                .map_err(|err| match err {
                    storeflow_engine::Error::InvalidRunState { .. } => ApiError::conflict(
                        "INVALID_STORE_STATE",
                        "The store's run changed concurrently; it is no longer failed.",
                    )
                    .suggestion("Refresh and try again."),
                    other => other.into(),
                })?;
            sqlx::query("UPDATE stores SET retry_count = retry_count + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Audit::new("store", "store_retry_requested")
                .actor(&user)
                .ip(&ip)
                .subject(id)
                .data(json!({ "runId": run_id, "operation": operation, "resumeAt": store.run_step_name }))
                .write_in(&mut tx)
                .await?;
            tx.commit().await?;
            run_id
        }
        // A cancelled (or missing) run cannot resume: start the operation again. Every step
        // is idempotent, so work already done is recognised, not repeated.
        _ => {
            let run = lifecycle::request_restart(
                &mut tx,
                state.engine(),
                id,
                operation.parse().unwrap_or(lifecycle::Operation::Provision),
                NewRun::new(workflow, run_input(settings, &store))
                    .subject(id)
                    .tenant(store.owner_id.to_string())
                    .request_id(current_request_id()),
            )
            .await
            .map_err(|err| transition_error(err, "Nothing was retried."))?;
            Audit::new("store", "store_retry_requested")
                .actor(&user)
                .ip(&ip)
                .subject(id)
                .data(json!({ "runId": run.run_id, "operation": operation, "restarted": true }))
                .write_in(&mut tx)
                .await?;
            tx.commit().await?;
            run.run_id
        }
    };
    let mut tx = scoped(&state, &user).await?;
    let store = load_store(&mut tx, id, false)
        .await?
        .ok_or_else(|| store_not_found(id))?;
    tx.commit().await?;
    Ok(StoreAccepted::new(
        match (operation.as_str(), resumed) {
                ("teardown", true) => "Store deletion retry initiated: the teardown resumes at its failed step.",
                ("teardown", false) => "Store deletion retry initiated: the teardown starts again.",
                ("upgrade", true) => "Store upgrade retry initiated: the upgrade resumes at its failed step.",
                ("upgrade", false) => "Store upgrade retry initiated: the upgrade starts again from the release as it is now.",
                ("restore", true) => "Store restore retry initiated: the restore resumes at its failed step.",
                ("restore", false) => "Store restore retry initiated: the backup is checked and restored again from its beginning.",
                (_, true) => "Store retry initiated. Provisioning resumes at the failed step.",
                (_, false) => "Store retry initiated. Provisioning starts again; work already done is recognised, not repeated.",
            },
        store.view(&state, &user),
        run_ref(
            Some(run_id),
            Some(workflow),
            store.run_status.as_deref().unwrap_or("queued"),
        ),
    )
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Upgrade

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBody {
    /// Upgrade also when the store already has the target versions (values are computed
    /// again and the store verified again).
    #[serde(default)]
    force: bool,
}

/// `POST /stores/{id}/upgrade`: upgrades a ready store's release to the chart this build
/// ships (admins; tenants when `TENANT_UPGRADES` allows). The store becomes `upgrading` in
/// the transaction that enqueues the run; the run rolls the release back by itself if the
/// upgrade fails.
pub async fn upgrade_store(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    let force = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        serde_json::from_slice::<UpgradeBody>(&body)
            .map_err(|err| {
                ApiError::validation(
                    format!("The request body is not valid: {err}."),
                    json!([{ "field": "body", "message": "expected {\"force\": true|false} or no body" }]),
                )
            })?
            .force
    };
    let settings = &state.config().stores;
    let mut tx = scoped(&state, &user).await?;
    // A tenant who may not upgrade still learns nothing about other tenants' stores: the
    // store is looked up (404 if not theirs) before the policy answers.
    let store = visible_store(&mut tx, id).await?;
    if user.role != Role::Admin && !settings.tenant_upgrades {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "UPGRADE_NOT_ALLOWED",
            "Store upgrades are started by operators on this platform.",
        )
        .suggestion("Ask an operator to upgrade the store, or to set TENANT_UPGRADES=true."));
    }
    let Some(workflow) =
        storeflow_executors::engines::find(&store.engine).and_then(|e| e.upgrade_workflow())
    else {
        return Err(ApiError::conflict(
            "UPGRADE_NOT_SUPPORTED",
            format!(
                "Stores of engine '{}' cannot be upgraded in place.",
                store.engine
            ),
        )
        .suggestion("Create a new store and move the data over."));
    };
    let Some(target) = settings.release.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CHART_UNKNOWN",
            "This server cannot read the store chart, so it does not know which version to upgrade to.",
        )
        .suggestion("Set HELM_CHART_PATH to the ecommerce-store chart directory and restart storeflow; `storeflow doctor` checks it."));
    };
    if store.status != StoreStatus::Ready {
        return Err(match store.status {
            StoreStatus::Upgrading => ApiError::conflict(
                "INVALID_STORE_STATE",
                "Store is already being upgraded.",
            )
            .suggestion(
                "Follow the upgrade's progress on the store; it rolls back by itself if it fails.",
            )
            .details(json!({ "status": store.status })),
            _ => state_conflict(&store, "upgrade", "ready"),
        });
    }
    let current = (store.chart_version.as_deref(), store.app_version.as_deref());
    if !force && current == (Some(&target.chart_version), Some(&target.app_version)) {
        return Err(ApiError::conflict(
            "UP_TO_DATE",
            format!(
                "Store already runs chart {} with app version {}.",
                target.chart_version, target.app_version
            ),
        )
        .suggestion("Nothing to upgrade. Send {\"force\": true} to apply the chart and verify the store again anyway.")
        .details(json!({ "versions": { "chart": target.chart_version, "app": target.app_version } })));
    }
    let run = lifecycle::request(
        &mut tx,
        state.engine(),
        id,
        lifecycle::Operation::Upgrade,
        store.status,
        NewRun::new(workflow, run_input(settings, &store))
            .subject(id)
            .tenant(store.owner_id.to_string())
            .request_id(current_request_id()),
    )
    .await
    .map_err(|err| transition_error(err, "Aborting the upgrade."))?;
    let from = Versions {
        chart: store.chart_version.as_deref(),
        app: store.app_version.as_deref(),
    };
    let to = Versions {
        chart: Some(&target.chart_version),
        app: Some(&target.app_version),
    };
    Audit::new("store", "store_upgrade_requested")
        .actor(&user)
        .ip(&ip)
        .subject(id)
        .data(json!({ "runId": run.run_id, "from": from, "to": to, "force": force }))
        .write_in(&mut tx)
        .await?;
    let upgraded = load_store(&mut tx, id, false)
        .await?
        .ok_or_else(|| store_not_found(id))?;
    tx.commit().await?;
    tracing::info!(store = %id, run = %run.run_id, "store upgrade requested");
    let mut answer = StoreAccepted::new(
        format!(
            "Store upgrade to chart {} (app {}) initiated; a failed upgrade is rolled back and verified again by itself.",
            target.chart_version, target.app_version
        ),
        upgraded.view(&state, &user),
        run_ref(Some(run.run_id), Some(workflow), "queued"),
    );
    answer.from = Some(from);
    answer.to = Some(to);
    Ok(answer.into_response())
}

// ---------------------------------------------------------------------------------------
// Credential rotation

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RotateBody {
    /// The new admin password (8-128 characters, no control characters); generated when left
    /// out.
    #[schemars(with = "Option<String>", length(min = 8, max = 128))]
    password: Option<Value>,
}

pub async fn rotate_credentials(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?;
    // The body is optional: without one, a password is generated.
    let chosen = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: RotateBody = serde_json::from_slice(&body).map_err(|err| {
            ApiError::validation(
                format!("The request body is not valid JSON: {err}."),
                json!([{ "field": "body" }]),
            )
        })?;
        match parsed.password {
            None | Some(Value::Null) => None,
            Some(Value::String(password))
                if (8..=128).contains(&password.chars().count())
                    && !password.chars().any(char::is_control) =>
            {
                Some(password)
            }
            Some(_) => {
                return Err(ApiError::validation(
                    "Password must be a string of 8 to 128 characters without control characters.",
                    json!([{ "field": "password", "message": "8 to 128 characters" }]),
                ));
            }
        }
    };
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    // Operators see another tenant's credentials masked; choosing the new password would undo
    // that. They rotate to a generated one, which only the owner sees.
    if chosen.is_some() && store.owner_id != user.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "OWNER_CHOOSES_PASSWORD",
            "Only the store's owner can choose its new admin password.",
        )
        .suggestion(
            "Leave out `password`: a generated one is applied, and only the owner sees it.",
        ));
    }
    if store.status != StoreStatus::Ready {
        return Err(ApiError::conflict(
            "INVALID_STORE_STATE",
            format!(
                "Credentials can be rotated on ready stores only. Current status: '{}'.",
                store.status
            ),
        )
        .suggestion("Wait until the store is ready.")
        .details(json!({ "status": store.status })));
    }
    let running: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT r.id, r.status::text FROM stores s JOIN workflow_runs r ON r.id = s.rotation_run_id \
         WHERE s.id = $1 AND r.finished_at IS NULL",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((run_id, status)) = running {
        return Err(ApiError::conflict(
            "ROTATION_IN_PROGRESS",
            format!("A credential rotation of this store is still {status}."),
        )
        .suggestion("Wait for it to finish, then rotate again if needed.")
        .details(json!({ "runId": run_id })));
    }
    let sealer = &state.config().sealer;
    let current = store
        .credentials
        .as_deref()
        .and_then(|sealed| StoreCredentials::open(sealer, id, sealed).ok())
        .ok_or_else(|| {
            ApiError::conflict(
                "CREDENTIALS_UNAVAILABLE",
                "The store's credentials cannot be decrypted with this server's STOREFLOW_ENCRYPTION_KEY.",
            )
            .suggestion("Give this server the encryption key the store was created with.")
        })?;
    let was_chosen = chosen.is_some();
    let next = StoreCredentials {
        password: chosen.unwrap_or_else(|| random_password(20)),
        ..current
    };
    let run = state
        .engine()
        .enqueue(
            &mut tx,
            NewRun::new(
                ROTATE_CREDENTIALS,
                run_input(&state.config().stores, &store),
            )
            .subject(id)
            .tenant(store.owner_id.to_string())
            .request_id(current_request_id()),
        )
        .await?;
    // The password the apps accept now is kept until the rotation has applied the new one.
    sqlx::query(
        "UPDATE stores SET previous_credentials = credentials, credentials = $2, \
                           rotation_run_id = $3, updated_at = now() \
         WHERE id = $1 AND status = 'ready'",
    )
    .bind(id)
    .bind(next.seal(sealer, id))
    .bind(run.run_id)
    .execute(&mut *tx)
    .await?;
    Audit::new("store", "credentials_rotation_requested")
        .actor(&user)
        .ip(&ip)
        .subject(id)
        .data(json!({ "runId": run.run_id, "chosen": was_chosen }))
        .write_in(&mut tx)
        .await?;
    let store = load_store(&mut tx, id, false)
        .await?
        .ok_or_else(|| store_not_found(id))?;
    tx.commit().await?;
    Ok(StoreAccepted::new(
        "Credential rotation initiated: the new password works once the run finishes; until then the previous one does.",
        store.view(&state, &user),
        run_ref(Some(run.run_id), Some(ROTATE_CREDENTIALS), "queued"),
    )
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Timeline and live progress

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventsQuery {
    /// The newest events, oldest first (default 500).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<i64>,
}

/// A store's timeline, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreTimeline {
    request_id: RequestId,
    store_id: String,
    /// [`TimelineEvent`]s whose secret-looking values read `[redacted]`.
    #[schemars(with = "Vec<TimelineEvent>")]
    events: Vec<Value>,
}

/// One event of a store's timeline: of one of its runs, or of the audit log.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct TimelineEvent {
    /// `run-<n>` or `audit-<n>`.
    id: String,
    /// `run` or `audit`.
    #[schemars(extend("enum" = ["run", "audit"]))]
    source: String,
    at: DateTime<Utc>,
    /// A run event's kind (`step_succeeded`, …) or an audit action.
    kind: String,
    run_id: Option<Uuid>,
    workflow: Option<String>,
    step: Option<String>,
    attempt: Option<i32>,
    /// Who acted (tenants see `operator` for anyone but themselves).
    actor: Option<String>,
    data: Option<Value>,
}

#[derive(Debug, sqlx::FromRow)]
struct TimelineRow {
    source: String,
    id: i64,
    at: DateTime<Utc>,
    kind: String,
    run_id: Option<Uuid>,
    workflow: Option<String>,
    step: Option<String>,
    attempt: Option<i32>,
    actor: Option<String>,
    data: Option<Value>,
}

pub async fn store_events(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_store_id(&id)?;
    let limit = query.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation(
            "`limit` must be 1 to 1000.",
            json!([{ "field": "limit" }]),
        ));
    }
    let mut tx = scoped(&state, &user).await?;
    if load_store(&mut tx, id, false).await?.is_none() {
        return Err(store_not_found(id));
    }
    // Both sources are filtered by row-level security as well as by the store id.
    let rows: Vec<TimelineRow> = sqlx::query_as(
        r#"SELECT * FROM (
             SELECT 'run' AS source, e.id, e.at, e.kind, e.run_id, r.workflow,
                    (SELECT d.step_name FROM workflow_definition_steps d
                      WHERE d.workflow = r.workflow AND d.version = r.version
                        AND d.step_index = e.step_index) AS step,
                    e.attempt, e.data->>'by' AS actor, e.data
             FROM workflow_run_events e JOIN workflow_runs r ON r.id = e.run_id
             WHERE r.subject = $1
             UNION ALL
             SELECT 'audit', a.id, a.at, a.action, NULL, NULL, NULL, NULL, a.actor_email, a.data
             FROM audit_events a WHERE a.subject = $1
           ) t ORDER BY at DESC, id DESC LIMIT $2"#,
    )
    .bind(id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let events: Vec<Value> = rows
        .into_iter()
        .rev()
        .map(|row| {
            // Tenants see who acted only when it was themselves.
            let actor = match (&row.actor, user.role) {
                (Some(actor), Role::Tenant) if !actor.starts_with(&user.email) => {
                    Some("operator".to_owned())
                }
                (actor, _) => actor.clone(),
            };
            let mut data = row.data;
            if let (Some(Value::Object(map)), Role::Tenant) = (&mut data, user.role) {
                map.remove("by");
            }
            let event = TimelineEvent {
                id: format!("{}-{}", row.source, row.id),
                source: row.source,
                at: row.at,
                kind: row.kind,
                run_id: row.run_id,
                workflow: row.workflow,
                step: row.step,
                attempt: row.attempt,
                actor,
                data,
            };
            let mut event = serde_json::to_value(event).unwrap_or_default();
            super::runs::redact(&mut event);
            event
        })
        .collect();
    Ok(axum::Json(StoreTimeline {
        request_id: RequestId::current(),
        store_id: id.to_owned(),
        events,
    }))
}

pub async fn store_event_stream_route(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = parse_store_id(&id)?.to_owned();
    let after = last_event_id(&headers)?.unwrap_or(0);
    let mut tx = scoped(&state, &user).await?;
    let store = load_store(&mut tx, &id, false)
        .await?
        .ok_or_else(|| store_not_found(&id))?;
    tx.commit().await?;
    // A deleted store's history is complete: a client that has seen all of it is told to
    // stop reconnecting.
    if store.status == StoreStatus::Deleted {
        let (newest,): (Option<i64>,) = sqlx::query_as(
            "SELECT max(e.id) FROM workflow_run_events e JOIN workflow_runs r ON r.id = e.run_id \
             WHERE r.subject = $1",
        )
        .bind(&id)
        .fetch_one(state.pool())
        .await?;
        if newest.is_none_or(|newest| newest <= after) {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
    let stream = store_event_stream(
        state.pool().clone(),
        scope_of(&user),
        state.event_hub().subscribe(),
        state.shutdown_token(),
        id,
        after,
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
