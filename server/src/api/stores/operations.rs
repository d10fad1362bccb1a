//! Operations on an existing store — delete, retry, upgrade, rotate credentials: each
//! checks the store, requests the lifecycle transition and answers 202 with the run.

use super::*;

/// A lifecycle request that was refused (the store moved meanwhile: `aborted` says what was
/// not done) or that failed.
pub(crate) fn transition_error(err: lifecycle::TransitionError, aborted: &str) -> ApiError {
    match err {
        lifecycle::TransitionError::Refused { .. } => ApiError::conflict(
            "INVALID_STORE_STATE",
            format!("Store status changed concurrently. {aborted}"),
        )
        .suggestion("Refresh and try again."),
        lifecycle::TransitionError::InProgress {
            operation,
            run_id,
            status,
            ..
        } => ApiError::conflict(
            "ROTATION_IN_PROGRESS",
            format!("A credential {operation} of this store is still {status}."),
        )
        .suggestion("Wait for it to finish, then rotate again if needed.")
        .details(json!({ "runId": run_id })),
        lifecycle::TransitionError::Engine(err) => err.into(),
        lifecycle::TransitionError::Database(err) => err.into(),
    }
}

fn state_conflict(store: &StoreRow, action: &str, allowed: &str) -> ApiError {
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

/// Refuses `operation` (an upgrade, a restore) unless the store is ready; a caller whose store
/// is already in that operation is told where to `follow` it.
pub(crate) fn require_ready(
    store: &StoreRow,
    operation: lifecycle::Operation,
    follow: &str,
) -> ApiResult<()> {
    let action = operation.as_str();
    if store.status == StoreStatus::Ready {
        Ok(())
    } else if store.status == operation.running_status() {
        Err(ApiError::conflict(
            "INVALID_STORE_STATE",
            format!("Store is already being {action}d."),
        )
        .suggestion(follow)
        .details(json!({ "status": store.status })))
    } else {
        Err(state_conflict(store, action, "ready"))
    }
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
        store.run(TEARDOWN_STORE, &run_input(&state.config().stores, &store)),
    )
    .await
    .map_err(|err| transition_error(err, "Aborting deletion."))?;
    audit_store(StoreAction::DeleteRequested, &user, &ip, id)
        .data(json!({ "from": store.status, "runId": run.run_id }))
        .record_in(&mut tx)
        .await?;
    let store = reloaded_store(&mut tx, id).await?;
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
    require_retryable(&store, settings.max_retries)?;
    let operation = store.failed_operation();
    let workflow = operation_workflow(&store);
    let retried = lifecycle::request_retry(
        &mut tx,
        state.engine(),
        id,
        operation,
        store.failed_run(),
        &format!("{} (store retry)", user.email),
        store.run(workflow, &run_input(settings, &store)),
    )
    .await
    .map_err(|err| transition_error(err, "Nothing was retried."))?;
    let resumed = matches!(retried, lifecycle::Retried::Resumed(_));
    let run_id = retried.run_id();
    let detail = if resumed {
        json!({ "runId": run_id, "operation": operation.as_str(), "resumeAt": store.run_step_name })
    } else {
        json!({ "runId": run_id, "operation": operation.as_str(), "restarted": true })
    };
    audit_store(StoreAction::RetryRequested, &user, &ip, id)
        .data(detail)
        .record_in(&mut tx)
        .await?;
    tx.commit().await?;
    let mut tx = scoped(&state, &user).await?;
    let store = reloaded_store(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StoreAccepted::new(
        retry_message(operation, resumed),
        store.view(&state, &user),
        run_ref(
            Some(run_id),
            Some(workflow),
            store.run_status.as_deref().unwrap_or("queued"),
        ),
    )
    .into_response())
}

/// Refuses a retry unless the store failed and has retries left.
fn require_retryable(store: &StoreRow, max_retries: u32) -> ApiResult<()> {
    require_status(
        store,
        StoreStatus::Failed,
        "Only failed stores can be retried",
        "Only failed stores can be retried.",
    )?;
    if store.retry_count >= max_retries as i32 {
        return Err(ApiError::conflict(
            "RETRY_LIMIT_REACHED",
            format!("Maximum retry count ({max_retries}) reached."),
        )
        .suggestion(
            "Look at the failed step's error with an operator, or delete and recreate the store.",
        ));
    }
    Ok(())
}

/// What the answer to a retry says it does.
fn retry_message(operation: lifecycle::Operation, resumed: bool) -> &'static str {
    use lifecycle::Operation::{Provision, Restore, Teardown, Upgrade};
    match (operation, resumed) {
        (Teardown, true) => {
            "Store deletion retry initiated: the teardown resumes at its failed step."
        }
        (Teardown, false) => "Store deletion retry initiated: the teardown starts again.",
        (Upgrade, true) => "Store upgrade retry initiated: the upgrade resumes at its failed step.",
        (Upgrade, false) => {
            "Store upgrade retry initiated: the upgrade starts again from the release as it is now."
        }
        (Restore, true) => "Store restore retry initiated: the restore resumes at its failed step.",
        (Restore, false) => {
            "Store restore retry initiated: the backup is checked and restored again from its beginning."
        }
        (Provision, true) => "Store retry initiated. Provisioning resumes at the failed step.",
        (Provision, false) => {
            "Store retry initiated. Provisioning starts again; work already done is recognised, not repeated."
        }
    }
}

impl StoreRow {
    /// The operation that failed (a store row from before operations were recorded was
    /// provisioning).
    fn failed_operation(&self) -> lifecycle::Operation {
        self.current_operation
            .as_deref()
            .and_then(|operation| operation.parse().ok())
            .unwrap_or(lifecycle::Operation::Provision)
    }

    /// The run the failed operation ended with, as read with the store.
    fn failed_run(&self) -> Option<lifecycle::FailedRun> {
        self.current_run_id.map(|id| lifecycle::FailedRun {
            id,
            failed: self.run_status.as_deref() == Some("failed"),
            step_index: self.run_current_step.unwrap_or(0).max(0) as usize,
        })
    }
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
    let force = optional_body::<UpgradeBody>(&body, |err| {
        ApiError::validation(
            format!("The request body is not valid: {err}."),
            json!([{ "field": "body", "message": "expected {\"force\": true|false} or no body" }]),
        )
    })?
    .is_some_and(|body| body.force);
    let settings = &state.config().stores;
    let mut tx = scoped(&state, &user).await?;
    // A tenant who may not upgrade still learns nothing about other tenants' stores: the
    // store is looked up (404 if not theirs) before the policy answers.
    let store = visible_store(&mut tx, id).await?;
    let (workflow, target) = upgrade_of(&store, &user, settings, force)?;
    let run = lifecycle::request(
        &mut tx,
        state.engine(),
        id,
        lifecycle::Operation::Upgrade,
        store.status,
        store.run(workflow, &run_input(settings, &store)),
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
    audit_store(StoreAction::UpgradeRequested, &user, &ip, id)
        .data(json!({ "runId": run.run_id, "from": from, "to": to, "force": force }))
        .record_in(&mut tx)
        .await?;
    let upgraded = reloaded_store(&mut tx, id).await?;
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

/// An optional JSON body: `None` when the request has none (or only whitespace), `invalid`'s
/// error when it is not a `T`.
fn optional_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    invalid: impl FnOnce(serde_json::Error) -> ApiError,
) -> ApiResult<Option<T>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(invalid)
}

/// What upgrading `store` means for `user` now: its engine's upgrade workflow and the release
/// this build ships — or why it is refused (policy, engine, unknown chart, status, already on
/// the target unless `force`).
fn upgrade_of<'a>(
    store: &StoreRow,
    user: &User,
    settings: &'a StoreSettings,
    force: bool,
) -> ApiResult<(&'static str, &'a storeflow_executors::chart::ChartRelease)> {
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
    require_ready(
        store,
        lifecycle::Operation::Upgrade,
        "Follow the upgrade's progress on the store; it rolls back by itself if it fails.",
    )?;
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
    Ok((workflow, target))
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
    let chosen = chosen_password(&body)?;
    let mut tx = scoped(&state, &user).await?;
    let store = visible_store(&mut tx, id).await?;
    let current = rotatable(&store, &user, chosen.is_some(), &state.config().sealer)?;
    let was_chosen = chosen.is_some();
    let next = StoreCredentials {
        password: chosen.unwrap_or_else(|| random_password(20)),
        ..current
    };
    let run = lifecycle::request_rotation(
        &mut tx,
        state.engine(),
        id,
        store.status,
        next.seal(&state.config().sealer, id),
        store.run(
            ROTATE_CREDENTIALS,
            &run_input(&state.config().stores, &store),
        ),
    )
    .await
    .map_err(|err| transition_error(err, "No rotation was started."))?;
    audit_store(StoreAction::CredentialsRotationRequested, &user, &ip, id)
        .data(json!({ "runId": run.run_id, "chosen": was_chosen }))
        .record_in(&mut tx)
        .await?;
    let store = reloaded_store(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StoreAccepted::new(
        "Credential rotation initiated: the new password works once the run finishes; until then the previous one does.",
        store.view(&state, &user),
        run_ref(Some(run.run_id), Some(ROTATE_CREDENTIALS), "queued"),
    )
    .into_response())
}

/// The password the owner chose in a rotation's body, if any (`None` without a body or with
/// `password` left out or null: one is generated).
fn chosen_password(body: &[u8]) -> ApiResult<Option<String>> {
    let parsed = optional_body::<RotateBody>(body, |err| {
        ApiError::validation(
            format!("The request body is not valid JSON: {err}."),
            json!([{ "field": "body" }]),
        )
    })?;
    match parsed.and_then(|body| body.password) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(password))
            if (8..=128).contains(&password.chars().count())
                && !password.chars().any(char::is_control) =>
        {
            Ok(Some(password))
        }
        Some(_) => Err(ApiError::validation(
            "Password must be a string of 8 to 128 characters without control characters.",
            json!([{ "field": "password", "message": "8 to 128 characters" }]),
        )),
    }
}

/// The store's current credentials, if `user` may rotate them now (a chosen password only by
/// the owner, a ready store only, credentials this server can open).
fn rotatable(
    store: &StoreRow,
    user: &User,
    chosen: bool,
    sealer: &storeflow_executors::store::sealing::Sealer,
) -> ApiResult<StoreCredentials> {
    // Operators see another tenant's credentials masked; choosing the new password would undo
    // that. They rotate to a generated one, which only the owner sees.
    if chosen && store.owner_id != user.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "OWNER_CHOOSES_PASSWORD",
            "Only the store's owner can choose its new admin password.",
        )
        .suggestion(
            "Leave out `password`: a generated one is applied, and only the owner sees it.",
        ));
    }
    require_status(
        store,
        StoreStatus::Ready,
        "Credentials can be rotated on ready stores only",
        "Wait until the store is ready.",
    )?;
    store
        .credentials
        .as_deref()
        .and_then(|sealed| StoreCredentials::open(sealer, &store.id, sealed).ok())
        .ok_or_else(|| {
            ApiError::conflict(
                "CREDENTIALS_UNAVAILABLE",
                "The store's credentials cannot be decrypted with this server's STOREFLOW_ENCRYPTION_KEY.",
            )
            .suggestion("Give this server the encryption key the store was created with.")
        })
}
