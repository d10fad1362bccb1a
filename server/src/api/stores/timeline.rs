//! A store's history: its timeline of run and audit events, and its live event stream.

use super::*;

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
pub(super) struct TimelineEvent {
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
pub(super) struct TimelineRow {
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
             SELECT 'run' AS source, e.id, e.at, e.kind, e.run_id, e.workflow,
                    e.step_name AS step, e.attempt, e.data->>'by' AS actor, e.data
             FROM workflow_subject_events($1) e
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
            crate::api::runs::redact(&mut event);
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
        let (newest,): (Option<i64>,) =
            sqlx::query_as("SELECT max(id) FROM workflow_subject_events($1)")
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
