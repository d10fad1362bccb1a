//! Users, passwords, tokens, login protection and security audit.
//!
//! # Guarantees
//! - Passwords are stored as Argon2id hashes; hashing runs off the async threads with
//!   bounded, reused memory (`passwords`).
//! - Tokens are HS256 JWTs verified with an explicit algorithm allow-list; each carries the
//!   user's token version, so changing the password revokes every earlier token.
//! - The login limiter and the lockout live in PostgreSQL: they hold across replicas and
//!   restarts.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use storeflow_executors::store::audit::Actor;
use uuid::Uuid;

use crate::api::AppState;
use crate::error::{ApiError, ApiResult};

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub token_version: i32,
}

/// `admin` (an operator: every store, runs, users) or `tenant` (their own stores).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema,
)]
#[sqlx(type_name = "user_role", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Tenant,
}

pub use crate::passwords::{hash_password, verify_password};

/// A hash of a random password, verified against when the e-mail is unknown, so a login
/// takes as long for an unknown e-mail as for a wrong password.
pub async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            hash_password(Uuid::new_v4().to_string())
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    ver: i32,
    iat: i64,
    exp: i64,
}

/// Signs and verifies tokens with the configured secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &str, ttl: Duration) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            ttl,
        }
    }

    pub fn issue(&self, user: &User) -> ApiResult<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.id,
            ver: user.token_version,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// The authenticated caller. Extracting it answers 401 for a missing, malformed, expired or
/// revoked token, or a deactivated user.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

/// The caller if a valid token came with the request, else `None` (never rejects).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(
            AuthUser::from_request_parts(parts, state)
                .await
                .ok()
                .map(|AuthUser(u)| u),
        ))
    }
}

/// An authenticated admin; 403 for other roles.
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

const USER_COLUMNS: &str = "id, email, username, role, created_at, token_version";

/// A signed, unexpired token's claims, checked without the database: who it names and the
/// token version it carries. Routes that read in one statement check the version there
/// (the store reads); everything else uses [`AuthUser`].
#[derive(Debug, Clone, Copy)]
pub struct Bearer {
    pub user: Uuid,
    pub token_version: i32,
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(token) = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Err(ApiError::unauthorized(
                "Authentication required. Send a valid Bearer token.",
            ));
        };
        let claims = state.tokens().verify(token).ok_or_else(invalid_token)?;
        Ok(Bearer {
            user: claims.sub,
            token_version: claims.ver,
        })
    }
}

/// The answer for a token that is malformed, expired, revoked or names an inactive user.
pub fn invalid_token() -> ApiError {
    ApiError::unauthorized("Invalid or expired token.")
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = Bearer::from_request_parts(parts, state).await?;
        let user: Option<(User, bool)> = sqlx::query_as::<_, UserWithActive>(sqlx::AssertSqlSafe(
            format!("SELECT {USER_COLUMNS}, is_active FROM users WHERE id = $1"),
        ))
        .bind(bearer.user)
        .fetch_optional(state.pool())
        .await?
        .map(|row| (row.user, row.is_active));
        match user {
            Some((user, true)) if user.token_version == bearer.token_version => Ok(AuthUser(user)),
            _ => Err(invalid_token()),
        }
    }
}

#[derive(sqlx::FromRow)]
struct UserWithActive {
    #[sqlx(flatten)]
    user: User,
    is_active: bool,
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::forbidden("Access denied. Required role: admin."));
        }
        Ok(AdminUser(user))
    }
}

pub async fn user_by_email(
    pool: &PgPool,
    email: &str,
) -> sqlx::Result<Option<(User, String, bool)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: User,
        password_hash: String,
        is_active: bool,
    }
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash, is_active FROM users WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.user, r.password_hash, r.is_active)))
}

/// Counts a hit in the fixed window of `key`; returns the seconds until the window resets
/// when the hit is over `max`.
pub async fn rate_limit(
    pool: &PgPool,
    key: &str,
    max: u32,
    window: Duration,
) -> sqlx::Result<Option<u64>> {
    let (hits, resets_in): (i32, f64) = sqlx::query_as(
        r#"INSERT INTO rate_limit_windows AS w (key, window_start, hits) VALUES ($1, now(), 1)
           ON CONFLICT (key) DO UPDATE SET
               window_start = CASE WHEN w.window_start + make_interval(secs => $2) <= now()
                                   THEN now() ELSE w.window_start END,
               hits = CASE WHEN w.window_start + make_interval(secs => $2) <= now()
                           THEN 1 ELSE w.hits + 1 END
           RETURNING hits,
                     extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8"#,
    )
    .bind(key)
    .bind(window.as_secs_f64())
    .fetch_one(pool)
    .await?;
    Ok((hits as u32 > max).then(|| resets_in.ceil().max(1.0) as u64))
}

/// The client network login limits and locks count by: the IPv4 address, or the /64 of an
/// IPv6 address (one host usually holds a whole /64); anything unparsable as it is.
pub fn client_network(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Seconds the account stays locked for logins from `client_ip`, if it is. Locks are per
/// (e-mail, address), so nobody can lock an owner out from somewhere else.
pub async fn locked_for(pool: &PgPool, email: &str, client_ip: &str) -> sqlx::Result<Option<u64>> {
    let row: Option<(f64,)> = sqlx::query_as(
        "SELECT extract(epoch FROM locked_until - now())::float8 FROM login_lockouts \
         WHERE email = $1 AND client_ip = $2 AND locked_until > now()",
    )
    .bind(email)
    .bind(client_ip)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(s,)| s.ceil().max(1.0) as u64))
}

/// Records a failed login; returns the lock length when the account is (now) locked.
/// Failures older than `duration` no longer count. One statement, so concurrent failures
/// can neither lose a count nor lift a lock another one just set.
pub async fn record_failure(
    pool: &PgPool,
    email: &str,
    client_ip: &str,
    max_attempts: u32,
    duration: Duration,
) -> sqlx::Result<Option<u64>> {
    let (locked_for,): (Option<f64>,) = sqlx::query_as(
        r#"WITH counted AS (
               INSERT INTO login_lockouts AS l (email, client_ip, failures, last_failure_at, locked_until)
               VALUES ($1, $4, 1, now(), CASE WHEN 1 >= $2 THEN now() + make_interval(secs => $3) END)
               ON CONFLICT (email, client_ip) DO UPDATE SET
                   failures = CASE
                       WHEN l.locked_until > now() THEN l.failures
                       WHEN l.last_failure_at + make_interval(secs => $3) <= now()
                         OR l.locked_until IS NOT NULL THEN 1
                       ELSE l.failures + 1 END,
                   locked_until = CASE
                       WHEN l.locked_until > now() THEN l.locked_until
                       WHEN (CASE WHEN l.last_failure_at + make_interval(secs => $3) <= now()
                                    OR l.locked_until IS NOT NULL THEN 1
                                  ELSE l.failures + 1 END) >= $2
                         THEN now() + make_interval(secs => $3)
                       ELSE NULL END,
                   last_failure_at = now()
               RETURNING locked_until)
           SELECT extract(epoch FROM locked_until - now())::float8 FROM counted"#,
    )
    .bind(email)
    .bind(max_attempts as i32)
    .bind(duration.as_secs_f64())
    .bind(client_ip)
    .fetch_one(pool)
    .await?;
    Ok(locked_for.filter(|s| *s > 0.0).map(|s| s.ceil() as u64))
}

/// After a successful login from `client_ip`: that address starts counting afresh (other
/// addresses keep their counts — the owner's success must not give a guesser new tries).
pub async fn clear_failures(pool: &PgPool, email: &str, client_ip: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_lockouts WHERE email = $1 AND client_ip = $2")
        .bind(email)
        .bind(client_ip)
        .execute(pool)
        .await?;
    Ok(())
}

pub use storeflow_executors::store::Audit;

impl<'a> From<&'a User> for Actor<'a> {
    fn from(user: &'a User) -> Self {
        Actor {
            id: user.id,
            email: &user.email,
        }
    }
}

/// How the API writes its audit rows: with the id of the request that did it, counting
/// security events as they are written.
#[allow(async_fn_in_trait)] // Used on the concrete `Audit` only; never boxed.
pub trait RecordAudit {
    /// Writes the event inside the caller's transaction (it commits or rolls back with it).
    async fn record_in(self, conn: &mut sqlx::PgConnection) -> sqlx::Result<()>;
    /// Writes the event on its own; a failure is logged, never fatal to the request.
    async fn record(self, pool: &PgPool);
}

impl RecordAudit for Audit<'_> {
    async fn record_in(self, conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {
        let event = self.request_id(crate::api::current_request_id());
        event.write_in(conn).await?;
        if event.category() == "security" {
            // Actions are this crate's constants, never client input: a bounded label set.
            metrics::counter!(crate::metric_names::SECURITY_EVENTS, "kind" => event.action().to_owned())
                .increment(1);
        }
        Ok(())
    }

    async fn record(self, pool: &PgPool) {
        let action = self.action();
        let result = match pool.acquire().await {
            Ok(mut conn) => self.record_in(&mut conn).await,
            Err(err) => Err(err),
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, action, "writing an audit event failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::client_network;

    #[test]
    fn login_limits_count_ipv6_clients_by_their_64() {
        assert_eq!(client_network("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            client_network("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            client_network("2001:db8:1:2::9")
        );
        assert_ne!(
            client_network("2001:db8:1:3::1"),
            client_network("2001:db8:1:2::1")
        );
        assert_eq!(client_network("::ffff:198.51.100.9"), "198.51.100.9");
        assert_eq!(client_network("198.51.100.9"), "198.51.100.9");
        assert_eq!(client_network("unknown"), "unknown");
    }
}
