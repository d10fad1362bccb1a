//! `POST /stores`: validate, apply the guardrails (caps, cooldown, Idempotency-Key), write the
//! store row, its provisioning (or restore) run and the audit row in one transaction.

use super::*;

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
    #[schemars(schema_with = "crate::api::engines::optional_engine_name")]
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

pub(super) struct ValidCreate {
    name: String,
    engine: &'static str,
    theme: Option<String>,
    password: Option<String>,
    restore_from: Option<Uuid>,
}

pub(super) fn validate_create(body: CreateStore) -> ApiResult<ValidCreate> {
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

pub(super) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
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
pub(super) fn store_urls(
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

pub(super) fn fingerprint(valid: &ValidCreate) -> String {
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

/// The backup a creation restores (`restoreFrom`), checked: the caller may see it, it is
/// complete, and the store's engine is the backup's (taken from it when the body has none).
pub(super) async fn restore_source(
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
    let backup = crate::api::backups::visible_backup(&mut conn, id, owner).await?;
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
    let print = fingerprint(&valid);
    let mut tx = state.pool().begin().await?;
    take_creation_turn(&mut tx, &user).await?;
    if let Some(key) = &key
        && let Some(replayed) = replay(&mut tx, &state, &user, key, &print).await?
    {
        return Ok(replayed);
    }
    check_room(&mut tx, &state, &user, &valid).await?;
    let id = free_store_id(&mut tx).await?;
    let (store, run_id, workflow) =
        insert_requested(&mut tx, &state, &user, &id, &valid, (&key, &print), backup).await?;
    audit_store(StoreAction::Created, &user, &ip, &id)
        .data(json!({ "name": valid.name, "engine": valid.engine, "theme": valid.theme, "runId": run_id, "restoreFrom": backup }))
        .record_in(&mut tx)
        .await?;
    tx.commit().await?;
    metrics::counter!(crate::metric_names::STORES_CREATED, "engine" => valid.engine).increment(1);
    tracing::info!(store = %id, engine = valid.engine, run = %run_id, "store requested");
    Ok(StoreAccepted::new(
        if backup.is_some() {
            "Store creation initiated. Provisioning and the restore of the backup are in progress."
        } else {
            "Store creation initiated. Provisioning is in progress."
        },
        store.view(&state, &user),
        run_ref(Some(run_id), Some(workflow), "queued"),
    )
    .into_response())
}

/// One creation at a time per user, across replicas: the cap, the cooldown and the
/// idempotency key are then exact. A burst of parallel creates waits its turn but gives up
/// (503, retryable) rather than holding pool connections indefinitely.
async fn take_creation_turn(tx: &mut PgConnection, user: &User) -> ApiResult<()> {
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('storeflow:create-store:' || $1::text, 0))",
    )
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The answer to a creation already made with this Idempotency-Key (`print` must be the same
/// request's), or none when the key is new.
async fn replay(
    tx: &mut PgConnection,
    state: &AppState,
    user: &User,
    key: &str,
    print: &str,
) -> ApiResult<Option<Response>> {
    let earlier: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT id, request_fingerprint FROM stores WHERE owner_id = $1 AND idempotency_key = $2",
    )
    .bind(user.id)
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, earlier_print)) = earlier else {
        return Ok(None);
    };
    if earlier_print.as_deref() != Some(print) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was already used for a different store request.",
        )
        .suggestion("Use a new Idempotency-Key for a new request."));
    }
    let store = load_store(&mut *tx, &id, false)
        .await?
        .ok_or_else(|| store_not_found(&id))?;
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
        store.view(state, user),
        run,
    )
    .into_response();
    response.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
    Ok(Some(response))
}

/// Whether the user may create this store now: the name is free among their stores, they are
/// under their limit, the platform under its own, and their cooldown has passed.
async fn check_room(
    tx: &mut PgConnection,
    state: &AppState,
    user: &User,
    valid: &ValidCreate,
) -> ApiResult<()> {
    let settings = &state.config().stores;
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
            Audit::store(StoreAction::CreationRefusedPlatformFull)
                .actor(user)
                .data(json!({ "stores": total, "limit": settings.max_total }))
                .record(state.pool())
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
    Ok(())
}

/// A store id no store has. Ids are 32 random bits: on the rare collision, draw again.
async fn free_store_id(tx: &mut PgConnection) -> ApiResult<String> {
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
    Ok(id)
}

/// Inserts the store `requested` with its sealed credentials and enqueues its provisioning (or
/// its restore from `backup`) in `tx`: the store and its run exist together or not at all.
/// Returns the store as read back, the run and its workflow.
async fn insert_requested(
    tx: &mut PgConnection,
    state: &AppState,
    user: &User,
    id: &str,
    valid: &ValidCreate,
    (key, print): (&Option<String>, &str),
    backup: Option<Uuid>,
) -> ApiResult<(StoreRow, Uuid, &'static str)> {
    let credentials = StoreCredentials {
        username: "admin".into(),
        email: user.email.clone(),
        password: valid
            .password
            .clone()
            .unwrap_or_else(|| random_password(20)),
    };
    let sealed = credentials.seal(&state.config().sealer, id);
    sqlx::query(
        "INSERT INTO stores (id, owner_id, name, engine, theme, status, namespace, credentials, \
                             idempotency_key, request_fingerprint, current_operation, restore_backup_id) \
         VALUES ($1, $2, $3, $4::store_engine, $5, 'requested', $1, $6, $7, $8, 'provision', $9)",
    )
    .bind(id)
    .bind(user.id)
    .bind(&valid.name)
    .bind(valid.engine)
    .bind(&valid.theme)
    .bind(&sealed)
    .bind(key)
    .bind(print)
    .bind(backup)
    .execute(&mut *tx)
    .await?;
    let store = load_store(&mut *tx, id, false)
        .await?
        .ok_or_else(|| ApiError::internal("the new store row is not readable"))?;
    let mut input = run_input(&state.config().stores, &store);
    let workflow = match backup {
        Some(backup) => {
            input.restore_backup_id = Some(backup);
            storeflow_executors::engines::find(valid.engine)
                .and_then(|e| e.restore_workflow())
                .unwrap_or_default()
        }
        None => provision_workflow(valid.engine).unwrap_or_default(),
    };
    let run =
        lifecycle::request_provision(&mut *tx, state.engine(), id, store.run(workflow, &input))
            .await
            .map_err(|err| transition_error(err, "No store was created."))?;
    let store = load_store(&mut *tx, id, false)
        .await?
        .ok_or_else(|| ApiError::internal("the new store row is not readable"))?;
    Ok((store, run.run_id, workflow))
}
