//! User management: admins list users, disable and re-enable them (their tokens stop working;
//! a disabled tenant's stores keep running), promote and demote, force a password reset, and
//! invite people when registration is closed. Every user can sign out everywhere.
//!
//! # Guarantees
//! - Invitation and reset links carry a one-time token shown once, in the answer to the admin
//!   who asked; only its SHA-256 is stored, and neither the token nor the link is written to
//!   the audit log or the logs. A token works once, before it expires, for its purpose only.
//! - No admin can disable or demote themselves, and the last active admin cannot be disabled
//!   or demoted: someone can always sign in to run the platform.
//! - Every change that takes rights away (disable, demote, forced reset, sign out everywhere)
//!   bumps the user's token version, so tokens issued before it stop working at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    ApiJson, ApiPath, ApiQuery, AppState, ClientIp, RequestId, Route, inline_schema, schema,
};
use crate::auth::{self, AdminUser, Audit, AuthUser, RecordAudit, Role, User};
use crate::error::{ApiError, ApiResult};

/// How long an invitation link works.
const INVITE_VALID_FOR: chrono::Duration = chrono::Duration::days(7);
/// How long a password-reset link works.
const RESET_VALID_FOR: chrono::Duration = chrono::Duration::hours(24);

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Invite,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

/// A new one-time token: what the link carries, and what is stored.
fn new_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

/// A one-time token that is valid now, consumed inside `tx`: (email, user id, role).
pub(crate) async fn consume_token(
    tx: &mut sqlx::PgConnection,
    token: &str,
    purpose: Purpose,
) -> ApiResult<(Option<String>, Option<Uuid>, Option<Role>)> {
    let row: Option<(Option<String>, Option<Uuid>, Option<Role>)> = sqlx::query_as(
        "UPDATE one_time_tokens SET used_at = now() \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now() \
         RETURNING email, user_id, role",
    )
    .bind(token_hash(token))
    .bind(purpose.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    row.ok_or_else(|| {
        let (code, what) = match purpose {
            Purpose::Invite => ("INVALID_INVITATION", "invitation"),
            Purpose::PasswordReset => ("INVALID_RESET_LINK", "password-reset link"),
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("This {what} is not valid: it was already used, has expired, or was mistyped."),
        )
        .suggestion(format!("Ask an operator for a new {what}."))
    })
}

pub(super) const ROUTES: &[Route] = &[
    Route::get(
        "/api/v1/users",
        "Users with their role, state and store count (`q` searches e-mail and name)",
        || get(list_users),
    )
    .admin()
    .query(inline_schema::<UsersQuery>)
    .answer(schema::<UserList>),
    Route::patch(
        "/api/v1/users/{id}",
        "Disable or re-enable a user (`isActive`), promote or demote (`role`); revokes tokens \
         when rights shrink",
        || patch(change_user),
    )
    .admin()
    .body(schema::<UserChange>)
    .answer(schema::<UserChanged>),
    Route::post(
        "/api/v1/users/{id}/password-reset",
        "Force a password reset: the password stops working, sessions end, a one-time link \
         (24 h) is returned once",
        || post(force_password_reset),
    )
    .admin()
    .status(201)
    .answer(schema::<ResetLink>),
    Route::post(
        "/api/v1/invites",
        "Invite someone by e-mail: a one-time registration link (7 days), returned once",
        || post(create_invite),
    )
    .admin()
    .status(201)
    .body(schema::<InviteBody>)
    .answer(schema::<Invitation>),
    Route::get(
        "/api/v1/invites",
        "Invitations not used and not expired (without their links)",
        || get(list_invites),
    )
    .admin()
    .answer(schema::<InviteList>),
];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// Part of an e-mail address or user name.
    q: Option<String>,
    /// Default 50.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
    #[schemars(range(min = 0))]
    offset: Option<i64>,
}

/// A page of users.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    request_id: RequestId,
    users: Vec<UserListRow>,
    total: i64,
    limit: i64,
    offset: i64,
}

#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct UserListRow {
    id: Uuid,
    email: String,
    username: String,
    role: Role,
    is_active: bool,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    /// Stores that are not deleted.
    store_count: i64,
}

/// `GET /users`: every account, newest first, with its store count.
pub async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> ApiResult<impl IntoResponse> {
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(ApiError::validation(
            "`limit` must be 1-500 and `offset` at least 0.",
            json!([{ "field": "limit" }, { "field": "offset" }]),
        ));
    }
    let pattern = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
    let users: Vec<UserListRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.username, u.role, u.is_active, u.created_at, u.last_login_at, \
                (SELECT count(*) FROM stores s WHERE s.owner_id = u.id AND s.status <> 'deleted') \
                    AS store_count \
         FROM users u \
         WHERE $1::text IS NULL OR u.email ILIKE $1 OR u.username ILIKE $1 \
         ORDER BY u.created_at DESC, u.id LIMIT $2 OFFSET $3",
    )
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(state.pool())
    .await?;
    let (total,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM users u \
         WHERE $1::text IS NULL OR u.email ILIKE $1 OR u.username ILIKE $1",
    )
    .bind(&pattern)
    .fetch_one(state.pool())
    .await?;
    Ok(axum::Json(UserList {
        request_id: RequestId::current(),
        users,
        total,
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserChange {
    is_active: Option<bool>,
    #[schemars(with = "Option<Role>")]
    role: Option<String>,
}

/// A user after an operator's change.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserChanged {
    request_id: RequestId,
    user: ChangedUser,
    /// Whether the user's tokens stopped working (their rights shrank).
    sessions_revoked: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ChangedUser {
    id: Uuid,
    email: String,
    username: String,
    role: Role,
    is_active: bool,
    created_at: DateTime<Utc>,
}

/// A one-time password-reset link, shown once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetLink {
    request_id: RequestId,
    /// The dashboard path that sets a new password (`/reset-password?token=…`).
    reset_path: String,
    expires_at: DateTime<Utc>,
    message: &'static str,
}

/// A one-time registration link, shown once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    request_id: RequestId,
    /// The dashboard path that registers the invited address (`/register?invite=…`).
    invite_path: String,
    email: String,
    role: Role,
    expires_at: DateTime<Utc>,
    message: &'static str,
}

/// Open invitations (their links are never shown again).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteList {
    request_id: RequestId,
    invites: Vec<OpenInvite>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct OpenInvite {
    email: String,
    role: Role,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// The e-mail of the operator who invited (null once that account is gone).
    invited_by: Option<String>,
}

/// Every token of the caller stopped working.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedOut {
    request_id: RequestId,
    message: &'static str,
}

/// A password set with a reset link: signed in, unless the account is disabled.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    request_id: RequestId,
    message: &'static str,
    /// Absent while the account is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User>,
    /// Absent while the account is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn parse_user_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| {
        ApiError::validation(
            format!("`{id}` is not a user id (a UUID)."),
            json!([{ "field": "id" }]),
        )
    })
}

fn user_not_found(id: Uuid) -> ApiError {
    ApiError::not_found("USER_NOT_FOUND", format!("User {id} was not found."))
        .suggestion("List users with GET /api/v1/users.")
}

/// The user `id`, locked for the change in `tx`: (user, is_active).
async fn lock_user(tx: &mut sqlx::PgConnection, id: Uuid) -> ApiResult<(User, bool)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: User,
        is_active: bool,
    }
    // Admin changes take turns, so two admins cannot demote each other into no admin at all.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('storeflow:user-admin'))")
        .execute(&mut *tx)
        .await?;
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, email, username, role, created_at, token_version, is_active \
         FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| (r.user, r.is_active))
        .ok_or_else(|| user_not_found(id))
}

/// `PATCH /users/{id}`: `isActive` (disable / re-enable) and `role` (`admin` / `tenant`).
pub async fn change_user(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UserChange>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_user_id(&id)?;
    let role = body.checked()?;
    let mut tx = state.pool().begin().await?;
    let (user, active) = lock_user(&mut tx, id).await?;
    let disables = body.is_active == Some(false) && active;
    let demotes = role == Some(Role::Tenant) && user.role == Role::Admin;
    if disables || demotes {
        keep_an_operator(&mut tx, &admin, &user).await?;
    }
    let new_active = body.is_active.unwrap_or(active);
    let new_role = role.unwrap_or(user.role);
    // Rights taken away: earlier tokens stop working. A promotion also starts fresh sessions
    // (as `storeflow users promote` does), so the role in every token is the current one.
    let revoke = disables || new_role != user.role;
    let updated: (bool, Role) = sqlx::query_as(
        "UPDATE users SET is_active = $2, role = $3, \
                token_version = token_version + CASE WHEN $4 THEN 1 ELSE 0 END, updated_at = now() \
         WHERE id = $1 RETURNING is_active, role",
    )
    .bind(user.id)
    .bind(new_active)
    .bind(new_role)
    .bind(revoke)
    .fetch_one(&mut *tx)
    .await?;
    let actions = change_actions((active, user.role), (new_active, new_role));
    for action in &actions {
        Audit::security(action)
            .actor(&admin)
            .ip(&ip)
            .subject(&user.id.to_string())
            .data(json!({ "email": user.email }))
            .record_in(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(axum::Json(UserChanged {
        request_id: RequestId::current(),
        user: ChangedUser {
            id: user.id,
            email: user.email,
            username: user.username,
            role: updated.1,
            is_active: updated.0,
            created_at: user.created_at,
        },
        sessions_revoked: revoke,
    }))
}

impl UserChange {
    /// The role asked for, if any; refused when it is no role or when nothing is asked.
    fn checked(&self) -> ApiResult<Option<Role>> {
        let role = role_named(self.role.as_deref())?;
        if self.is_active.is_none() && role.is_none() {
            return Err(ApiError::validation(
                "Nothing to change: send `isActive` and/or `role`.",
                json!([{ "field": "isActive" }, { "field": "role" }]),
            ));
        }
        Ok(role)
    }
}

/// Refuses to disable or demote `user` when that is `admin` themself or the last active
/// operator: nobody could run the platform afterwards.
async fn keep_an_operator(tx: &mut PgConnection, admin: &User, user: &User) -> ApiResult<()> {
    if user.id == admin.id {
        return Err(ApiError::conflict(
            "CANNOT_CHANGE_SELF",
            "You cannot disable or demote your own account.",
        )
        .suggestion("Ask another operator to do it."));
    }
    if user.role == Role::Admin {
        let (others,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM users WHERE role = 'admin' AND is_active AND id <> $1",
        )
        .bind(user.id)
        .fetch_one(&mut *tx)
        .await?;
        if others == 0 {
            return Err(ApiError::conflict(
                "LAST_ADMIN",
                "This is the last active operator: nobody could run the platform without it.",
            )
            .suggestion("Promote another account to admin first."));
        }
    }
    Ok(())
}

/// The security events a change of (active, role) records.
fn change_actions(before: (bool, Role), after: (bool, Role)) -> Vec<&'static str> {
    let ((active, role), (new_active, new_role)) = (before, after);
    let mut actions = Vec::new();
    if new_active != active {
        actions.push(if new_active {
            "user_enabled"
        } else {
            "user_disabled"
        });
    }
    if new_role != role {
        actions.push(if new_role == Role::Admin {
            "user_promoted"
        } else {
            "user_demoted"
        });
    }
    actions
}

/// `POST /users/{id}/password-reset`: the user's password stops working, every session ends,
/// and the answer carries a one-time link (24 h) for the admin to hand over.
pub async fn force_password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_user_id(&id)?;
    // A password nobody knows: sign-in fails as with any wrong password until the link is used.
    let unknown = auth::hash_password(Uuid::new_v4().to_string()).await?;
    let (token, hash) = new_token();
    let expires_at = Utc::now() + RESET_VALID_FOR;
    let mut tx = state.pool().begin().await?;
    let (user, _) = lock_user(&mut tx, id).await?;
    sqlx::query(
        "UPDATE users SET password_hash = $2, token_version = token_version + 1, updated_at = now() \
         WHERE id = $1",
    )
    .bind(user.id)
    .bind(&unknown)
    .execute(&mut *tx)
    .await?;
    // Only the newest link works.
    sqlx::query(
        "UPDATE one_time_tokens SET used_at = now() \
         WHERE user_id = $1 AND purpose = 'password_reset' AND used_at IS NULL",
    )
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_by, expires_at) \
         VALUES ($1, 'password_reset', $2, $3, $4)",
    )
    .bind(&hash)
    .bind(user.id)
    .bind(admin.id)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Audit::security("password_reset_forced")
        .actor(&admin)
        .ip(&ip)
        .subject(&user.id.to_string())
        .data(json!({ "email": user.email, "expiresAt": expires_at }))
        .record_in(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ResetLink {
            request_id: RequestId::current(),
            reset_path: format!("/reset-password?token={token}"),
            expires_at,
            message: "The password no longer works and every session has ended. Give the user this link (shown once); it works once, for 24 hours.",
        }),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    #[schemars(required, email)]
    email: Option<String>,
    /// `tenant` (the default) or `admin`.
    #[schemars(with = "Option<Role>")]
    role: Option<String>,
}

/// `POST /invites`: a one-time registration link (7 days) for one e-mail address, with the
/// role the account will have. Works whether registration is open or closed.
pub async fn create_invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<InviteBody>,
) -> ApiResult<impl IntoResponse> {
    let email = body
        .email
        .as_deref()
        .map(super::auth_routes::normalize_email)
        .unwrap_or_default();
    if !super::auth_routes::valid_email(&email) {
        return Err(ApiError::validation(
            "`email` must be a valid e-mail address.",
            json!([{ "field": "email", "message": "`email` must be a valid e-mail address." }]),
        ));
    }
    let role = role_named(body.role.as_deref())?.unwrap_or(Role::Tenant);
    let (exists,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)")
        .bind(&email)
        .fetch_one(state.pool())
        .await?;
    if exists {
        return Err(ApiError::conflict(
            "USER_EXISTS",
            "An account with this e-mail already exists.",
        )
        .suggestion("Find it in the user list; reset its password if it is locked out."));
    }
    let mut tx = state.pool().begin().await?;
    let (token, expires_at) = issue_invitation(&mut tx, &email, role, &admin).await?;
    Audit::security("invitation_created")
        .actor(&admin)
        .ip(&ip)
        .data(json!({ "email": email, "role": role, "expiresAt": expires_at }))
        .record_in(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Invitation {
            request_id: RequestId::current(),
            invite_path: format!("/register?invite={token}"),
            email,
            role,
            expires_at,
            message: "Send this link to the person invited (shown once); it works once, for 7 days, for this e-mail address.",
        }),
    ))
}

/// A role by its name in a request (`admin`, `tenant`); none when left out.
fn role_named(name: Option<&str>) -> ApiResult<Option<Role>> {
    match name {
        None => Ok(None),
        Some("admin") => Ok(Some(Role::Admin)),
        Some("tenant") => Ok(Some(Role::Tenant)),
        Some(other) => Err(ApiError::validation(
            format!("`role` must be admin or tenant (got `{other}`)."),
            json!([{ "field": "role" }]),
        )),
    }
}

/// Stores a new invitation of `email` as `role` by `admin`, replacing an open one for the
/// same address: its link token (shown once; only its hash is kept) and when it expires.
async fn issue_invitation(
    tx: &mut PgConnection,
    email: &str,
    role: Role,
    admin: &User,
) -> ApiResult<(String, DateTime<Utc>)> {
    let (token, hash) = new_token();
    let expires_at = Utc::now() + INVITE_VALID_FOR;
    // One open invitation per address: a new one replaces the old.
    sqlx::query(
        "UPDATE one_time_tokens SET used_at = now() \
         WHERE email = $1 AND purpose = 'invite' AND used_at IS NULL",
    )
    .bind(email)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, email, role, created_by, expires_at) \
         VALUES ($1, 'invite', $2, $3, $4, $5)",
    )
    .bind(&hash)
    .bind(email)
    .bind(role)
    .bind(admin.id)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok((token, expires_at))
}

/// `GET /invites`: invitations not used yet and not expired (without their links).
pub async fn list_invites(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> ApiResult<impl IntoResponse> {
    // (e-mail, role, created, expires, invited by)
    type Invite = (String, Role, DateTime<Utc>, DateTime<Utc>, Option<String>);
    let invites: Vec<Invite> = sqlx::query_as(
        "SELECT t.email, t.role, t.created_at, t.expires_at, u.email \
             FROM one_time_tokens t LEFT JOIN users u ON u.id = t.created_by \
             WHERE t.purpose = 'invite' AND t.used_at IS NULL AND t.expires_at > now() \
             ORDER BY t.created_at DESC LIMIT 500",
    )
    .fetch_all(state.pool())
    .await?;
    let invites = invites
        .into_iter()
        .map(
            |(email, role, created_at, expires_at, invited_by)| OpenInvite {
                email,
                role,
                created_at,
                expires_at,
                invited_by,
            },
        )
        .collect();
    Ok(axum::Json(InviteList {
        request_id: RequestId::current(),
        invites,
    }))
}

/// `POST /auth/logout-all`: every token of the caller stops working (this one included).
pub async fn logout_everywhere(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(user): AuthUser,
) -> ApiResult<impl IntoResponse> {
    sqlx::query(
        "UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = $1",
    )
    .bind(user.id)
    .execute(state.pool())
    .await?;
    Audit::security("signed_out_everywhere")
        .actor(&user)
        .ip(&ip)
        .record(state.pool())
        .await;
    Ok(axum::Json(SignedOut {
        request_id: RequestId::current(),
        message: "Signed out everywhere: every token of this account, this one included, no longer works.",
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetBody {
    /// The token of the reset link.
    #[schemars(required, length(min = 1))]
    token: Option<String>,
    #[schemars(required, length(min = 8, max = 128))]
    new_password: Option<String>,
}

/// `POST /auth/password-reset`: sets a new password with a reset link's token; answers a
/// token, as a sign-in does.
pub async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetBody>,
) -> ApiResult<impl IntoResponse> {
    let (token, password) = body.checked()?;
    let config = state.config();
    // Guessing tokens is hopeless (256 bits), but each try costs a hash: limited per network.
    if let Some(retry) = auth::rate_limit(
        state.pool(),
        &format!("reset:{}", auth::client_network(&ip)),
        config.login_rate_max,
        config.login_rate_window,
    )
    .await?
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RESET_RATE_LIMITED",
            "Too many password resets from this address.",
        )
        .suggestion("Wait before trying again.")
        .retry_after(retry));
    }
    let hash = auth::hash_password(password).await?;
    let mut tx = state.pool().begin().await?;
    let (_, user_id, _) = consume_token(&mut tx, &token, Purpose::PasswordReset).await?;
    let (user, active) = set_password(&mut tx, user_id, &hash).await?;
    Audit::security("password_reset_completed")
        .actor(&user)
        .ip(&ip)
        .record_in(&mut tx)
        .await?;
    tx.commit().await?;
    if !active {
        return Ok(axum::Json(PasswordReset {
            request_id: RequestId::current(),
            message: "Password set. The account is disabled: ask an operator to enable it before signing in.",
            user: None,
            token: None,
        }));
    }
    let token = state.tokens().issue(&user)?;
    Ok(axum::Json(PasswordReset {
        request_id: RequestId::current(),
        message: "Password set; you are signed in.",
        user: Some(user),
        token: Some(token),
    }))
}

impl ResetBody {
    /// The link's token and the new password, or what is wrong with them.
    fn checked(&self) -> ApiResult<(String, String)> {
        let token = self.token.clone().unwrap_or_default();
        let password = self.new_password.clone().unwrap_or_default();
        let mut problems = Vec::new();
        if token.trim().is_empty() {
            problems.push(json!({ "field": "token", "message": "`token` is required." }));
        }
        if !(8..=128).contains(&password.chars().count()) {
            problems.push(json!({ "field": "newPassword", "message": "The new password must be 8 to 128 characters." }));
        }
        if !problems.is_empty() {
            return Err(ApiError::validation(
                "The reset needs the link's token and a new password of 8 to 128 characters.",
                json!(problems),
            ));
        }
        Ok((token, password))
    }
}

/// Sets the password of the account a reset link was for and ends its sessions: the
/// account, and whether it is active.
async fn set_password(
    tx: &mut PgConnection,
    user_id: Option<Uuid>,
    hash: &str,
) -> ApiResult<(User, bool)> {
    let user: Option<(User, bool)> = {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: User,
            is_active: bool,
        }
        let row: Option<Row> = sqlx::query_as(
            "UPDATE users SET password_hash = $2, token_version = token_version + 1, \
                    updated_at = now() \
             WHERE id = $1 RETURNING id, email, username, role, created_at, token_version, is_active",
        )
        .bind(user_id)
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        row.map(|r| (r.user, r.is_active))
    };
    user.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_RESET_LINK",
            "This password-reset link belongs to an account that no longer exists.",
        )
    })
}
