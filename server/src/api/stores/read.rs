//! The two hottest reads, `GET /stores` and `GET /stores/{id}`: checked and scoped in one
//! statement, answered from the page cache while unchanged.

use super::*;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    /// Only stores in this status.
    #[schemars(with = "Option<StoreStatus>")]
    status: Option<String>,
    /// An engine of `GET /engines`.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::engines::optional_engine_name")]
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
    let filter = query.filter()?;
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
            .bind(filter.status)
            .bind(filter.engine)
            .bind(filter.owner)
            .bind(&filter.pattern)
            .bind(filter.limit)
            .bind(filter.offset)
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
            "{:?}|{:?}|{:?}|{:?}|{}|{}",
            filter.status,
            filter.engine,
            filter.owner.filter(|_| admin),
            filter.pattern,
            filter.limit,
            filter.offset
        ),
    };
    let cached = stamp
        .as_ref()
        .and_then(|stamp| state.pages().get(&key, stamp));
    let page = match cached {
        Some(page) => page,
        None => {
            let page = list_page(&state, &user, &page_ids, total, &filter).await?;
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

/// A store list query that passed validation.
struct ListFilter<'a> {
    status: Option<&'a str>,
    engine: Option<&'a str>,
    /// Admins only; row-level security keeps a tenant to its own stores whatever it asks.
    owner: Option<Uuid>,
    /// `q` as a `LIKE` pattern, its wildcards escaped.
    pattern: Option<String>,
    limit: i64,
    offset: i64,
}

impl ListQuery {
    /// The query's filter, or every problem with it at once.
    fn filter(&self) -> ApiResult<ListFilter<'_>> {
        let mut problems = Vec::new();
        if let Some(status) = &self.status
            && !storeflow_executors::store::STORE_STATUSES.contains(&status.as_str())
        {
            problems.push(json!({ "field": "status", "message": format!(
                "must be one of {}",
                storeflow_executors::store::STORE_STATUSES.join(", ")
            ) }));
        }
        if let Some(engine) = &self.engine
            && engines::find(engine).is_none()
        {
            problems.push(json!({ "field": "engine", "message": format!(
                "must be {}",
                engines::names().join(" or ")
            ) }));
        }
        let owner: Option<Uuid> = match &self.owner_id {
            None => None,
            Some(text) => match text.parse() {
                Ok(id) => Some(id),
                Err(_) => {
                    problems
                        .push(json!({ "field": "ownerId", "message": "must be a user id (UUID)" }));
                    None
                }
            },
        };
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=100).contains(&limit) {
            problems.push(json!({ "field": "limit", "message": "must be 1 to 100" }));
        }
        if offset < 0 {
            problems.push(json!({ "field": "offset", "message": "must be at least 0" }));
        }
        if self
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
        let pattern = self.q.as_ref().map(|q| {
            format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
        Ok(ListFilter {
            status: self.status.as_deref(),
            engine: self.engine.as_deref(),
            owner,
            pattern,
            limit,
            offset,
        })
    }
}

/// A page of the store list for `user`: the stores `page_ids` names, rendered.
async fn list_page(
    state: &AppState,
    user: &User,
    page_ids: &[String],
    total: i64,
    filter: &ListFilter<'_>,
) -> ApiResult<Page> {
    let rows: Vec<StoreRow> = sqlx::query_as("SELECT * FROM storeflow_api_stores_page($1)")
        .bind(page_ids)
        .fetch_all(state.pool())
        .await?;
    let body = serde_json::to_vec(&StoreList {
        stores: rows.iter().map(|row| row.view(state, user)).collect(),
        total,
        limit: filter.limit,
        offset: filter.offset,
    })
    .map_err(ApiError::internal)?;
    Ok(Page {
        body: body.into(),
        sealed_credentials: None,
        login_url: None,
        queued_run: None,
        valid_until: rows.iter().filter_map(StoreRow::shown_until).min(),
    })
}

/// An answer with a JSON body made elsewhere.
pub(super) fn json_answer(body: axum::body::Bytes) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoreList<'a> {
    stores: Vec<StoreView<'a>>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// A page of stores: `{requestId}` spliced before a (cached) [`StoreList`] rendering.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(super) struct StoreListAnswer<'a> {
    request_id: RequestId,
    #[serde(flatten)]
    list: StoreList<'a>,
}

/// One store: `{requestId, store}` around a (cached) [`StorePage`] rendering, with the
/// per-answer fields spliced in.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(super) struct StoreAnswer<'a> {
    request_id: RequestId,
    store: StoreAnswerStore<'a>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(super) struct StoreAnswerStore<'a> {
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
pub(super) fn caller_of(row: &PgRow, bearer: Bearer) -> sqlx::Result<User> {
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
pub(super) struct StoreRun {
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
pub(super) async fn render_store_page(
    state: &AppState,
    id: &str,
    viewer: &User,
) -> ApiResult<Page> {
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
pub(super) struct StorePage<'a> {
    #[serde(flatten)]
    store: StoreView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<ProgressView<'a>>,
    runs: &'a [StoreRun],
}

/// The current run's progress as a store page shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProgressView<'a> {
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
pub(super) struct StepProgress<'a> {
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
