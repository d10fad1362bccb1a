//! `/api/v1/auth/*`: register, login, me, change password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ApiJson, AppState, ClientIp, RequestId, Route, schema};
use crate::auth::{self, Audit, AuthUser, RecordAudit, Role, User};
use crate::error::{ApiError, ApiResult};

pub(super) const ROUTES: &[Route] = &[
    Route::post(
        "/api/v1/auth/register",
        "Register; the first user becomes admin",
        || post(register),
    )
    .public()
    .status(201)
    .body(schema::<RegisterBody>)
    .answer(schema::<SignedIn>),
    Route::post("/api/v1/auth/login", "Log in and get a token", || {
        post(login)
    })
    .public()
    .body(schema::<LoginBody>)
    .answer(schema::<SignedIn>),
    Route::get("/api/v1/auth/me", "The caller", || get(me)).answer(schema::<Me>),
    Route::patch(
        "/api/v1/auth/password",
        "Change the password (revokes earlier tokens)",
        || patch(change_password),
    )
    .body(schema::<PasswordBody>)
    .answer(schema::<PasswordChanged>),
    Route::post(
        "/api/v1/auth/logout-all",
        "Sign out everywhere: every token of the caller stops working",
        || post(super::users::logout_everywhere),
    )
    .answer(schema::<super::users::SignedOut>),
    Route::post(
        "/api/v1/auth/password-reset",
        "Set a new password with a reset link's token (signs in)",
        || post(super::users::reset_password),
    )
    .public()
    .body(schema::<super::users::ResetBody>)
    .answer(schema::<super::users::PasswordReset>),
];

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RegisterBody {
    #[schemars(required, email, length(max = 255))]
    email: Option<String>,
    /// 3 to 128 letters, digits, hyphens or underscores.
    #[schemars(
        required,
        length(min = 3, max = 128),
        regex(pattern = r"^[A-Za-z0-9_-]+$")
    )]
    username: Option<String>,
    #[schemars(required, length(min = 8, max = 128))]
    password: Option<String>,
    /// The token of an operator's invitation link (required while registration is closed).
    #[serde(rename = "inviteToken")]
    invite_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LoginBody {
    #[schemars(required, email)]
    email: Option<String>,
    #[schemars(required)]
    password: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordBody {
    #[schemars(required)]
    current_password: Option<String>,
    #[schemars(required, length(min = 8, max = 128))]
    new_password: Option<String>,
}

/// A signed-in user and their token (registration, login, password reset).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SignedIn {
    #[serde(rename = "requestId")]
    pub request_id: RequestId,
    pub user: User,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
}

impl SignedIn {
    pub fn new(user: User, token: String) -> SignedIn {
        SignedIn {
            request_id: RequestId::current(),
            user,
            token,
        }
    }
}

/// The caller.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Me {
    #[serde(rename = "requestId")]
    request_id: RequestId,
    user: User,
}

/// A changed password: earlier tokens no longer work; this one does.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PasswordChanged {
    #[serde(rename = "requestId")]
    request_id: RequestId,
    message: &'static str,
    token: String,
}

/// Collects field errors so one answer lists all of them.
#[derive(Default)]
struct Problems(Vec<Value>);

impl Problems {
    fn add(&mut self, field: &str, message: &str) {
        self.0.push(json!({ "field": field, "message": message }));
    }

    fn into_result(self) -> ApiResult<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let message = self
            .0
            .iter()
            .filter_map(|p| p["message"].as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Err(ApiError::validation(message, Value::Array(self.0)))
    }
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 255
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

/// 3 to 128 ASCII letters, digits, hyphens or underscores.
pub fn valid_username(username: &str) -> bool {
    (3..=128).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_password(problems: &mut Problems, field: &str, password: Option<&str>) {
    match password {
        None => problems.add(field, &format!("`{field}` is required.")),
        Some(p) if p.chars().count() < 8 => {
            problems.add(field, "Password must be at least 8 characters.")
        }
        Some(p) if p.chars().count() > 128 => {
            problems.add(field, "Password must be at most 128 characters.")
        }
        Some(_) => {}
    }
}

pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<impl IntoResponse> {
    let NewAccount {
        email,
        username,
        password,
        invite,
    } = body.checked()?;
    let config = state.config();
    if invite.is_none() && !config.registration_open {
        return Err(ApiError::forbidden("Registration is by invitation only.")
            .with_code("REGISTRATION_CLOSED")
            .suggestion("Ask an operator for an invitation link, then register from it."));
    }

    if let Some(retry) = auth::rate_limit(
        state.pool(),
        &format!("register:{ip}"),
        config.register_rate_max,
        config.register_rate_window,
    )
    .await?
    {
        Audit::security("registration_rate_limited")
            .email(&email)
            .ip(&ip)
            .record(state.pool())
            .await;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "REGISTRATION_RATE_LIMITED",
            "Too many registrations from this address.",
        )
        .suggestion("Wait before creating another account from this network.")
        .retry_after(retry));
    }

    let hash = auth::hash_password(password).await?;
    let mut tx = state.pool().begin().await?;
    // Registrations take turns, so exactly one first user becomes admin.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('storeflow:register'))")
        .execute(&mut *tx)
        .await?;
    let role = registration_role(&mut tx, &state, invite.as_deref(), &email).await?;
    let user = insert_user(&mut tx, &email, &username, &hash, role).await?;
    tx.commit().await?;
    Audit::security("registration")
        .actor(&user)
        .ip(&ip)
        .data(json!({ "role": user.role, "invited": invite.is_some() }))
        .record(state.pool())
        .await;
    let token = state.tokens().issue(&user)?;
    Ok((StatusCode::CREATED, axum::Json(SignedIn::new(user, token))))
}

/// A registration that passed validation.
struct NewAccount {
    email: String,
    username: String,
    password: String,
    invite: Option<String>,
}

impl RegisterBody {
    /// The account asked for, or every problem with the request at once.
    fn checked(&self) -> ApiResult<NewAccount> {
        let mut problems = Problems::default();
        let email = self
            .email
            .as_deref()
            .map(normalize_email)
            .unwrap_or_default();
        if self.email.is_none() {
            problems.add("email", "`email` is required.");
        } else if !valid_email(&email) {
            problems.add("email", "`email` must be a valid e-mail address.");
        }
        let username = self
            .username
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if self.username.is_none() {
            problems.add("username", "`username` is required.");
        } else if !valid_username(&username) {
            problems.add(
                "username",
                "Username must be 3-128 letters, numbers, hyphens or underscores.",
            );
        }
        check_password(&mut problems, "password", self.password.as_deref());
        problems.into_result()?;
        Ok(NewAccount {
            email,
            username,
            password: self.password.clone().unwrap_or_default(),
            invite: self
                .invite_token
                .clone()
                .filter(|token| !token.trim().is_empty()),
        })
    }
}

/// The role a new account gets: the invitation's (which must be for `email`; it is used up),
/// else the operator's for the first account where that is wanted, else tenant.
async fn registration_role(
    tx: &mut PgConnection,
    state: &AppState,
    invite: Option<&str>,
    email: &str,
) -> ApiResult<Role> {
    let (existing_users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await?;
    // The first account becomes the operator only where that is wanted (`storeflow up`); a
    // published deployment sets FIRST_USER_IS_ADMIN=false and creates operators with
    // `storeflow users create-admin`, so nobody can claim a fresh deployment first.
    Ok(match invite {
        // An invitation names the address it is for and the role the account gets.
        Some(token) => {
            let (invited, _, role) =
                super::users::consume_token(tx, token, super::users::Purpose::Invite).await?;
            if invited.as_deref() != Some(email) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVITATION_FOR_ANOTHER_EMAIL",
                    "This invitation is for another e-mail address.",
                )
                .suggestion("Register with the address the invitation was sent to."));
            }
            role.unwrap_or(Role::Tenant)
        }
        None if existing_users == 0 && state.config().first_user_is_admin => Role::Admin,
        None => Role::Tenant,
    })
}

/// Inserts the account (signed in: registering is a sign-in); an address or username that is
/// taken is a conflict that says which.
async fn insert_user(
    tx: &mut PgConnection,
    email: &str,
    username: &str,
    hash: &str,
    role: Role,
) -> ApiResult<User> {
    let inserted = sqlx::query_as::<_, User>(
        // Registering signs the new user in (the answer carries a token): that is a sign-in.
        "INSERT INTO users (id, email, username, password_hash, role, last_login_at) \
         VALUES ($1, $2, $3, $4, $5, now()) \
         RETURNING id, email, username, role, created_at, token_version",
    )
    .bind(Uuid::now_v7())
    .bind(email)
    .bind(username)
    .bind(hash)
    .bind(role)
    .fetch_one(&mut *tx)
    .await;
    match inserted {
        Ok(user) => Ok(user),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            let what = if db.constraint() == Some("users_username_key") {
                "username"
            } else {
                "e-mail address"
            };
            Err(ApiError::conflict(
                "USER_EXISTS",
                format!("A user with this {what} already exists."),
            )
            .suggestion(format!("Log in, or register with another {what}.")))
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<impl IntoResponse> {
    let (email, password) = body.checked()?;
    let pool = state.pool();
    // Limits and locks count per client network: one IPv6 host holds a whole /64, so per
    // address it would get fresh guesses from every address it can pick.
    let client = auth::client_network(&ip);

    check_login_limits(&state, &ip, &client, &email).await?;
    if let Some(seconds) = auth::locked_for(pool, &email, &client).await? {
        return Err(locked(seconds));
    }
    let found = auth::user_by_email(pool, &email).await?;
    let (user, stored, active) = match found {
        Some(found) => found,
        None => {
            // Same work as a wrong password, so timing does not reveal which e-mails exist.
            let _ = auth::verify_password(password, auth::decoy_hash().await).await;
            return Err(failed_login(&state, &email, &ip, &client).await);
        }
    };
    if !auth::verify_password(password, stored).await? {
        return Err(failed_login(&state, &email, &ip, &client).await);
    }
    // Only someone who knows the password learns the account is disabled.
    if !active {
        return Err(
            ApiError::forbidden("This account is disabled; its stores keep running.")
                .with_code("ACCOUNT_DISABLED")
                .suggestion("Ask an operator to enable the account again."),
        );
    }
    // A lock set by concurrent failures while this password was being checked still holds.
    if let Some(seconds) = auth::locked_for(pool, &email, &client).await? {
        return Err(locked(seconds));
    }
    auth::clear_failures(pool, &email, &client).await?;
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(user.id)
        .execute(pool)
        .await?;
    Audit::security("login_success")
        .actor(&user)
        .ip(&ip)
        .record(pool)
        .await;
    let token = state.tokens().issue(&user)?;
    Ok(axum::Json(SignedIn::new(user, token)))
}

impl LoginBody {
    /// The normalized e-mail and the password, or what is wrong with the request.
    fn checked(&self) -> ApiResult<(String, String)> {
        let mut problems = Problems::default();
        if self.email.is_none() {
            problems.add("email", "`email` is required.");
        }
        if self.password.is_none() {
            problems.add("password", "`password` is required.");
        }
        problems.into_result()?;
        let email = normalize_email(self.email.as_deref().unwrap_or_default());
        if !valid_email(&email) {
            return Err(ApiError::validation(
                "`email` must be a valid e-mail address.",
                json!([{ "field": "email", "message": "`email` must be a valid e-mail address." }]),
            ));
        }
        Ok((email, self.password.clone().unwrap_or_default()))
    }
}

/// Refuses a login attempt over its limits: per client network across all e-mails
/// (spraying), then per network and e-mail (guessing). A refusal is audited.
async fn check_login_limits(
    state: &AppState,
    ip: &str,
    client: &str,
    email: &str,
) -> ApiResult<()> {
    let config = state.config();
    let pool = state.pool();
    let limits = [
        (
            format!("login-ip:{client}"),
            config.login_rate_max.saturating_mul(10),
            "Too many login attempts from this address.",
        ),
        (
            format!("login:{client}:{email}"),
            config.login_rate_max,
            "Too many login attempts.",
        ),
    ];
    for (key, max, message) in limits {
        if let Some(retry) = auth::rate_limit(pool, &key, max, config.login_rate_window).await? {
            Audit::security("login_rate_limited")
                .email(email)
                .ip(ip)
                .record(pool)
                .await;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "LOGIN_RATE_LIMITED",
                message,
            )
            .suggestion("Wait before trying again.")
            .retry_after(retry));
        }
    }
    Ok(())
}

fn locked(seconds: u64) -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "ACCOUNT_LOCKED",
        format!(
            "Account temporarily locked after too many failed logins. Try again in {} minute(s).",
            seconds.div_ceil(60)
        ),
    )
    .suggestion("Wait for the lock to expire, then log in with the correct password.")
    .retry_after(seconds)
}

async fn failed_login(state: &AppState, email: &str, ip: &str, client: &str) -> ApiError {
    let config = state.config();
    let pool = state.pool();
    Audit::security("login_failed")
        .email(email)
        .ip(ip)
        .record(pool)
        .await;
    match auth::record_failure(
        pool,
        email,
        client,
        config.lockout_max_attempts,
        config.lockout_duration,
    )
    .await
    {
        Ok(Some(seconds)) => {
            Audit::security("account_locked")
                .email(email)
                .ip(ip)
                .data(json!({ "seconds": seconds }))
                .record(pool)
                .await;
            locked(seconds)
        }
        // Not `unauthorized()`: its hint about sending a bearer token means nothing to someone
        // who typed a wrong password.
        Ok(None) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
            "Invalid email or password.",
        )
        .suggestion("Check the e-mail address and the password, then try again."),
        Err(err) => err.into(),
    }
}

pub async fn me(AuthUser(user): AuthUser) -> impl IntoResponse {
    axum::Json(Me {
        request_id: RequestId::current(),
        user,
    })
}

pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<impl IntoResponse> {
    let mut problems = Problems::default();
    if body.current_password.is_none() {
        problems.add("currentPassword", "`currentPassword` is required.");
    }
    check_password(&mut problems, "newPassword", body.new_password.as_deref());
    problems.into_result()?;
    let config = state.config();
    if let Some(retry) = auth::rate_limit(
        state.pool(),
        &format!("password:{}", user.id),
        config.login_rate_max,
        config.login_rate_window,
    )
    .await?
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "PASSWORD_CHANGE_RATE_LIMITED",
            "Too many password change attempts.",
        )
        .suggestion("Wait before trying again.")
        .retry_after(retry));
    }
    let (stored,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_one(state.pool())
        .await?;
    if !auth::verify_password(body.current_password.unwrap_or_default(), stored).await? {
        return Err(ApiError::unauthorized("The current password is incorrect.")
            .with_code("INVALID_PASSWORD")
            .suggestion("Check the current password and try again."));
    }
    let hash = auth::hash_password(body.new_password.unwrap_or_default()).await?;
    let updated: User = sqlx::query_as(
        "UPDATE users SET password_hash = $2, token_version = token_version + 1, updated_at = now() \
         WHERE id = $1 RETURNING id, email, username, role, created_at, token_version",
    )
    .bind(user.id)
    .bind(&hash)
    .fetch_one(state.pool())
    .await?;
    Audit::security("password_changed")
        .actor(&updated)
        .ip(&ip)
        .record(state.pool())
        .await;
    let token = state.tokens().issue(&updated)?;
    Ok(axum::Json(PasswordChanged {
        request_id: RequestId::current(),
        message: "Password changed. Earlier tokens no longer work; use the token in this answer.",
        token,
    }))
}
