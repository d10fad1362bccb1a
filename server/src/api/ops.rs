//! Health, metrics, audit and the OpenAPI document.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ApiQuery, AppState, RequestId, Route, inline_schema, schema};
use crate::auth::{AdminUser, AuthUser, MaybeUser, Role};
use crate::error::{ApiError, ApiResult};
use crate::tenancy::{self, Scope};

pub(super) const ROUTES: &[Route] = &[
    Route::get(
        "/api/v1/audit",
        "Audit events (admins: everything; tenants: their stores')",
        || get(audit),
    )
    .query(inline_schema::<AuditQuery>)
    .answer(schema::<AuditPage>),
    Route::get("/api/v1/health", "Health (details for admins)", || {
        get(health)
    })
    .public()
    .unavailable_too()
    .answer(schema::<Health>),
    Route::get("/api/v1/health/live", "Liveness", || get(live))
        .public()
        .answer(schema::<Liveness>),
    Route::get(
        "/api/v1/health/ready",
        "Readiness (database reachable)",
        || get(ready),
    )
    .public()
    .unavailable_too()
    .answer(schema::<Readiness>),
    Route::get("/api/v1/metrics", "Prometheus metrics", || get(prometheus))
        .admin()
        .prometheus_text(),
    Route::get("/api/v1/metrics/json", "Process and queue figures", || {
        get(metrics_json)
    })
    .admin()
    .answer(schema::<ProcessFigures>),
    Route::get(
        "/api/v1/openapi.json",
        "This API's OpenAPI 3.1 document",
        || get(openapi),
    )
    .public()
    .answer(schema::<OpenApiDocument>),
];

/// The health of this API process and, for operators, of what it depends on. Answered with
/// 503 while the database cannot be reached.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    request_id: RequestId,
    /// `degraded`: the database is down, or a worker's circuit is open.
    #[schemars(extend("enum" = ["healthy", "degraded"]))]
    status: &'static str,
    timestamp: DateTime<Utc>,
    /// Whether stores go to a cluster simulated in this process (nothing really deployed).
    simulated_cluster: bool,
    /// `closed`: registration by invitation only.
    #[schemars(extend("enum" = ["open", "closed"]))]
    registration: &'static str,
    /// Operators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime_seconds: Option<u64>,
    /// Operators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<HealthChecks>,
    /// Operators only: the run queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<QueueCounts>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HealthChecks {
    database: DatabaseCheck,
    kubernetes: KubernetesCheck,
    /// Each dependency's circuit breaker, as the workers report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    circuits: Option<BTreeMap<String, Circuit>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DatabaseCheck {
    #[schemars(extend("enum" = ["healthy", "unhealthy"]))]
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    latency_ms: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct KubernetesCheck {
    #[schemars(extend("enum" = ["healthy", "unavailable"]))]
    status: &'static str,
    message: String,
    context: Option<String>,
    source: Option<String>,
    server: Option<String>,
    version: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct QueueCounts {
    /// Due now.
    runnable: i64,
    running: i64,
    /// Waiting for a later attempt.
    delayed: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Circuit {
    /// `open` on some worker, else `closed`.
    #[schemars(extend("enum" = ["open", "closed"]))]
    status: &'static str,
    open_on_workers: i64,
    workers: i64,
}

/// The process runs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Liveness {
    #[schemars(extend("const" = "alive"))]
    status: &'static str,
}

/// Whether this process can serve (its database answers). Answered with 503 when not.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Readiness {
    #[schemars(extend("enum" = ["ready", "not-ready"]))]
    status: &'static str,
    ready: bool,
    timestamp: DateTime<Utc>,
}

/// Process and queue figures.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessFigures {
    request_id: RequestId,
    uptime_seconds: u64,
    memory: Memory,
    /// Runs by status (`queued`, `running`, `succeeded`, …).
    runs_by_status: BTreeMap<String, i64>,
    timestamp: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Memory {
    /// Resident memory of this process (null where the system does not tell).
    rss_bytes: Option<u64>,
}

/// An OpenAPI 3.1 document.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct OpenApiDocument(Value);

/// A query through the pool, answered within [`HEALTH_CHECK_TIMEOUT`] (a probe with a 1 s
/// timeout must see "not ready", not time out); at once when the database monitor already
/// knows it is down.
async fn database_check(state: &AppState) -> (bool, DatabaseCheck) {
    let unhealthy = |latency_ms: f64| DatabaseCheck {
        status: "unhealthy",
        message: Some("Cannot reach PostgreSQL."),
        latency_ms,
    };
    if !state.database_health().is_up() {
        return (false, unhealthy(0.0));
    }
    let started = Instant::now();
    let result = tokio::time::timeout(
        HEALTH_CHECK_TIMEOUT,
        sqlx::query("SELECT 1").execute(state.pool()),
    )
    .await;
    let latency = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(Ok(_)) => (
            true,
            DatabaseCheck {
                status: "healthy",
                message: None,
                latency_ms: latency,
            },
        ),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health: database check failed");
            (false, unhealthy(latency))
        }
        Err(_) => {
            tracing::warn!("health: the database did not answer in time");
            (false, unhealthy(latency))
        }
    }
}

/// How long the health routes wait for the database.
const HEALTH_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(700);

/// Public: status only. Admins (valid admin token) also get the checks.
pub async fn health(
    State(state): State<AppState>,
    mut parts: axum::http::request::Parts,
) -> Response {
    let (database_ok, database) = database_check(&state).await;
    // Who is asking needs the database: while it is down, nobody gets the details.
    let caller = if database_ok {
        use axum::extract::FromRequestParts;
        let Ok(MaybeUser(caller)) = MaybeUser::from_request_parts(&mut parts, &state).await;
        caller
    } else {
        None
    };
    let status_code = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let status = if database_ok { "healthy" } else { "degraded" };
    let simulated = state.config().simulated_cluster.as_deref();
    // Public: a client shows everyone that nothing is really deployed.
    let mut body = Health {
        request_id: RequestId::current(),
        status,
        timestamp: Utc::now(),
        simulated_cluster: simulated.is_some(),
        // Whether the sign-up page offers registration or says it is by invitation.
        registration: if state.config().registration_open {
            "open"
        } else {
            "closed"
        },
        uptime_seconds: None,
        checks: None,
        runs: None,
    };
    if caller.is_some_and(|user| user.role == Role::Admin) {
        let queue = state.engine().queue_counts().await;
        body.uptime_seconds = Some(state.uptime().as_secs());
        if let Ok(queue) = queue {
            body.runs = Some(QueueCounts {
                runnable: queue.runnable,
                running: queue.running,
                delayed: queue.delayed,
            });
        }
        let circuits = worker_circuits(&state).await;
        if circuits
            .as_ref()
            .is_some_and(|circuits| circuits.values().any(|c| c.status == "open"))
            && body.status == "healthy"
        {
            body.status = "degraded";
        }
        let checks = HealthChecks {
            database,
            kubernetes: kubernetes_check(simulated).await,
            circuits,
        };
        body.checks = Some(checks);
    }
    (status_code, axum::Json(body)).into_response()
}

/// Whether the cluster the workers are configured for answers (2 s at most).
async fn kubernetes_check(simulated: Option<&std::path::Path>) -> KubernetesCheck {
    let source = match simulated {
        Some(kubeconfig) => storeflow_executors::cluster::ConfigSource::File(kubeconfig),
        None => storeflow_executors::cluster::ConfigSource::Infer,
    };
    let cluster =
        storeflow_executors::cluster::probe(source, std::time::Duration::from_secs(2)).await;
    KubernetesCheck {
        status: if cluster.reachable {
            "healthy"
        } else {
            "unavailable"
        },
        message: cluster.message,
        context: cluster.context,
        source: cluster.source,
        server: cluster.server,
        version: cluster.version,
    }
}

/// What the workers' circuit breakers say (each worker reports every 5 s; reports older than
/// 30 s are left out); none when they cannot be read.
async fn worker_circuits(state: &AppState) -> Option<BTreeMap<String, Circuit>> {
    let circuits: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT dependency, count(*) FILTER (WHERE open), count(*) FROM worker_dependencies \
         WHERE reported_at > now() - interval '30 seconds' GROUP BY dependency ORDER BY dependency",
    )
    .fetch_all(state.pool())
    .await
    .ok()?;
    Some(
        circuits
            .into_iter()
            .map(|(dependency, open, workers)| {
                let status = if open > 0 { "open" } else { "closed" };
                (
                    dependency,
                    Circuit {
                        status,
                        open_on_workers: open,
                        workers,
                    },
                )
            })
            .collect(),
    )
}

pub async fn live() -> impl IntoResponse {
    axum::Json(Liveness { status: "alive" })
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let (ok, _) = database_check(&state).await;
    let body = Readiness {
        status: if ok { "ready" } else { "not-ready" },
        ready: ok,
        timestamp: Utc::now(),
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

pub async fn prometheus(State(state): State<AppState>, _admin: AdminUser) -> ApiResult<Response> {
    let Some(handle) = state.metrics() else {
        return Err(ApiError::unavailable(
            "This process does not record metrics (no Prometheus recorder is installed).",
        ));
    };
    // Current counts, also in API processes that run no worker.
    storeflow_executors::metrics::refresh_store_gauges(state.pool()).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok((headers, handle.render()).into_response())
}

pub async fn metrics_json(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> ApiResult<impl IntoResponse> {
    let by_status = state.engine().runs_by_status().await?;
    Ok(axum::Json(ProcessFigures {
        request_id: RequestId::current(),
        uptime_seconds: state.uptime().as_secs(),
        memory: Memory {
            rss_bytes: rss_bytes(),
        },
        runs_by_status: by_status
            .into_iter()
            .map(|(status, count)| (status.to_string(), count))
            .collect(),
        timestamp: Utc::now(),
    }))
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    /// `store`, `security`, `run`, `schedule`, …
    #[schemars(length(max = 128))]
    category: Option<String>,
    /// e.g. `created`, `login_success`.
    #[schemars(length(max = 128))]
    action: Option<String>,
    /// A store id, user id, run id or schedule name.
    #[schemars(length(max = 128))]
    subject: Option<String>,
    /// Default 100.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    request_id: RequestId,
    events: Vec<AuditRow>,
    total: i64,
    limit: i64,
    offset: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    category: String,
    action: String,
    actor_id: Option<Uuid>,
    actor_email: Option<String>,
    ip_address: Option<String>,
    subject: Option<String>,
    request_id: Option<String>,
    data: Value,
}

pub async fn audit(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<impl IntoResponse> {
    let limit = query.limit.unwrap_or(100);
    let offset = query.offset.unwrap_or(0);
    for (field, value) in [
        ("category", &query.category),
        ("action", &query.action),
        ("subject", &query.subject),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > 128 || v.chars().any(char::is_control))
        {
            return Err(ApiError::validation(
                format!("`{field}` must be at most 128 characters, without control characters."),
                json!([{ "field": field }]),
            ));
        }
    }
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(ApiError::validation(
            "`limit` must be 1-500 and `offset` at least 0.",
            json!([{ "field": "limit" }, { "field": "offset" }]),
        ));
    }
    // Row-level security scopes tenants to their stores' events (never security events).
    let scope = match user.role {
        Role::Admin => Scope::All,
        Role::Tenant => Scope::Tenant(user.id),
    };
    let mut tx = tenancy::begin(state.pool(), scope).await?;
    let (total,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_events WHERE ($1::text IS NULL OR category = $1) \
         AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR subject = $3)",
    )
    .bind(&query.category)
    .bind(&query.action)
    .bind(&query.subject)
    .fetch_one(&mut *tx)
    .await?;
    // Tenants see who acted only when it was themselves; operators stay "operator", and no
    // address is shown.
    let events: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at, category, action, \
                CASE WHEN $6::uuid IS NULL OR actor_id = $6 THEN actor_id END AS actor_id, \
                CASE WHEN $6::uuid IS NULL OR actor_id = $6 THEN actor_email \
                     WHEN actor_id IS NULL AND actor_email IS NULL THEN NULL ELSE 'operator' END AS actor_email, \
                CASE WHEN $6::uuid IS NULL THEN ip_address END AS ip_address, \
                subject, request_id, data \
         FROM audit_events WHERE ($1::text IS NULL OR category = $1) \
         AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR subject = $3) \
         ORDER BY at DESC, id DESC LIMIT $4 OFFSET $5",
    )
    .bind(&query.category)
    .bind(&query.action)
    .bind(&query.subject)
    .bind(limit)
    .bind(offset)
    .bind(match scope {
        Scope::Tenant(me) => Some(me),
        Scope::All => None,
    })
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(axum::Json(AuditPage {
        request_id: RequestId::current(),
        events,
        total,
        limit,
        offset,
    }))
}

pub async fn openapi() -> impl IntoResponse {
    axum::Json(OpenApiDocument(crate::openapi::document()))
}
