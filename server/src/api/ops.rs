//! Health, metrics, audit and the OpenAPI document.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ApiQuery, AppState, current_request_id};
use crate::auth::{AdminUser, AuthUser, MaybeUser, Role};
use crate::error::{ApiError, ApiResult};
use crate::tenancy::{self, Scope};

/// A query through the pool, answered within [`HEALTH_CHECK_TIMEOUT`] (a probe with a 1 s
/// timeout must see "not ready", not time out); at once when the database monitor already
/// knows it is down.
async fn database_check(state: &AppState) -> (bool, Value) {
    let unhealthy = |latency: f64| json!({ "status": "unhealthy", "message": "Cannot reach PostgreSQL.", "latencyMs": latency });
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
        Ok(Ok(_)) => (true, json!({ "status": "healthy", "latencyMs": latency })),
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
    let mut body = json!({
        "requestId": current_request_id(),
        "status": status,
        "timestamp": Utc::now(),
        "simulatedCluster": simulated.is_some(),
        // Whether the sign-up page offers registration or says it is by invitation.
        "registration": if state.config().registration_open { "open" } else { "closed" },
    });
    if caller.is_some_and(|user| user.role == Role::Admin) {
        let queue: Result<(i64, i64, i64), sqlx::Error> = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status IN ('queued', 'waiting') AND next_run_at <= now()), \
                    count(*) FILTER (WHERE status = 'running'), \
                    count(*) FILTER (WHERE status = 'waiting' AND next_run_at > now()) \
             FROM workflow_runs WHERE status IN ('queued', 'waiting', 'running')",
        )
        .fetch_one(state.pool())
        .await;
        let source = match simulated {
            Some(kubeconfig) => storeflow_executors::cluster::ConfigSource::File(kubeconfig),
            None => storeflow_executors::cluster::ConfigSource::Infer,
        };
        let cluster =
            storeflow_executors::cluster::probe(source, std::time::Duration::from_secs(2)).await;
        body["uptimeSeconds"] = json!(state.uptime().as_secs());
        body["checks"] = json!({
            "database": database,
            "kubernetes": {
                "status": if cluster.reachable { "healthy" } else { "unavailable" },
                "message": cluster.message,
                "context": cluster.context,
                "source": cluster.source,
                "server": cluster.server,
                "version": cluster.version,
            },
        });
        if let Ok((runnable, running, delayed)) = queue {
            body["runs"] = json!({ "runnable": runnable, "running": running, "delayed": delayed });
        }
        // What the workers' circuit breakers say (reported by each worker every 5 s).
        let circuits: Result<Vec<(String, i64, i64)>, sqlx::Error> = sqlx::query_as(
            "SELECT dependency, count(*) FILTER (WHERE open), count(*) FROM worker_dependencies \
             WHERE reported_at > now() - interval '30 seconds' GROUP BY dependency ORDER BY dependency",
        )
        .fetch_all(state.pool())
        .await;
        if let Ok(circuits) = circuits {
            let mut map = serde_json::Map::new();
            for (dependency, open, workers) in circuits {
                map.insert(
                    dependency,
                    json!({
                        "status": if open > 0 { "open" } else { "closed" },
                        "openOnWorkers": open,
                        "workers": workers,
                    }),
                );
            }
            if map.values().any(|c| c["status"] == "open") && body["status"] == "healthy" {
                body["status"] = json!("degraded");
            }
            body["checks"]["circuits"] = Value::Object(map);
        }
    }
    (status_code, axum::Json(body)).into_response()
}

pub async fn live() -> impl IntoResponse {
    axum::Json(json!({ "status": "alive" }))
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let (ok, _) = database_check(&state).await;
    let body = json!({ "status": if ok { "ready" } else { "not-ready" }, "ready": ok, "timestamp": Utc::now() });
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
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status::text, count(*) FROM workflow_runs GROUP BY status ORDER BY 1",
    )
    .fetch_all(state.pool())
    .await?;
    let runs: serde_json::Map<String, Value> =
        by_status.into_iter().map(|(s, n)| (s, json!(n))).collect();
    Ok(axum::Json(json!({
        "requestId": current_request_id(),
        "uptimeSeconds": state.uptime().as_secs(),
        "memory": { "rssBytes": rss_bytes() },
        "runsByStatus": runs,
        "timestamp": Utc::now(),
    })))
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    category: Option<String>,
    action: Option<String>,
    subject: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Debug, serde::Serialize, sqlx::FromRow)]
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
    Ok(axum::Json(json!({
        "requestId": current_request_id(),
        "events": events,
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

pub async fn openapi() -> impl IntoResponse {
    axum::Json(crate::openapi::document())
}
