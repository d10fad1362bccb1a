//! Configuration from flags and environment, validated with messages that say what to set.

use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Where PostgreSQL is, described without credentials (for messages and logs).
pub fn describe_database(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    )
}

/// Parses `DATABASE_URL` (or `--database-url`) and connects, with a clear error when it is
/// missing, malformed or unreachable. The URL itself is never echoed (it may hold a password).
pub async fn connect(database_url: Option<&str>, max_connections: u32) -> anyhow::Result<PgPool> {
    let Some(url) = database_url.filter(|u| !u.trim().is_empty()) else {
        bail!(
            "DATABASE_URL is not set: set it (or pass --database-url) to your PostgreSQL server, \
             e.g. DATABASE_URL=postgres://storeflow:PASSWORD@localhost:5432/storeflow"
        );
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!(
            "DATABASE_URL is not a valid PostgreSQL URL (it must start with postgres:// or postgresql://); \
             expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        );
    }
    let options: PgConnectOptions = url.parse().map_err(|err: sqlx::Error| {
        anyhow::anyhow!(
            "DATABASE_URL is not a valid PostgreSQL URL ({}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            redact_parse_error(&err.to_string())
        )
    })?;
    let target = describe_database(&options);
    // One direct connection first: a pool retries until its timeout and then reports only
    // that it timed out, while this fails fast with the actual cause.
    let probe = tokio::time::timeout(Duration::from_secs(10), options.connect())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "cannot reach PostgreSQL at {target} (from DATABASE_URL): no answer within 10 s; \
                 check that the server is running and that host and port are right"
            )
        })?
        .map_err(|err| match &err {
            // rustls reports a refused certificate as an I/O error of the handshake.
            // sqlx reads sslrootcert / sslcert / sslkey files before connecting.
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => anyhow::anyhow!(
                "connecting to PostgreSQL at {target} (from DATABASE_URL) failed: a file named by \
                 sslrootcert, sslcert or sslkey (or PGSSLROOTCERT, PGSSLCERT, PGSSLKEY) cannot be \
                 read: {io}; check the path"
            ),
            sqlx::Error::Io(io) if io.to_string().contains("certificate") => {
                tls_failure(&target, &storeflow_executors::error_chain(io))
            }
            sqlx::Error::Io(io) => anyhow::anyhow!(
                "cannot reach PostgreSQL at {target} (from DATABASE_URL): {io}; \
                 check that the server is running and that host and port are right"
            ),
            sqlx::Error::Database(db) if db.message().contains("no encryption") => anyhow::anyhow!(
                "PostgreSQL at {target} (from DATABASE_URL) refused the connection: {}; \
                 the server accepts only TLS: add sslmode=verify-full (with sslrootcert=PATH \
                 when its CA is not a public one) or sslmode=require to DATABASE_URL",
                db.message()
            ),
            sqlx::Error::Database(db) => anyhow::anyhow!(
                "PostgreSQL at {target} (from DATABASE_URL) refused the connection: {}; \
                 check the user, password and database name",
                db.message()
            ),
            sqlx::Error::Tls(tls) => {
                tls_failure(&target, &storeflow_executors::error_chain(tls.as_ref()))
            }
            other => anyhow::anyhow!(
                "connecting to PostgreSQL at {target} (from DATABASE_URL) failed: {other}"
            ),
        })?;
    probe.close().await.ok();
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // A connection is checked (a round trip) before use only when it has been idle for a
        // while — after an outage those are the dead ones. Checking every time cost a round
        // trip per request; each release already waits for the connection to be ready.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(1) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        // A connection still inside a transaction must never serve the next borrower (its
        // statements would run in that transaction, in its role, with its identity): such a
        // connection is closed instead of pooled. Free to check (the driver tracks it).
        .after_release(|conn, _| {
            Box::pin(async move {
                let dirty = sqlx::Connection::is_in_transaction(conn);
                if dirty {
                    tracing::warn!(
                        "a database connection came back inside a transaction; closing it"
                    );
                }
                Ok(!dirty)
            })
        })
        .connect_with(options)
        .await
        .with_context(|| {
            format!("connecting to PostgreSQL at {target} (from DATABASE_URL) failed")
        })?;
    Ok(pool)
}

fn tls_failure(target: &str, cause: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "TLS with PostgreSQL at {target} (from DATABASE_URL) failed: {cause}; with \
         sslmode=verify-full or verify-ca, sslrootcert must name a file holding the CA that \
         signed the server's certificate; a server without TLS needs sslmode=disable or prefer"
    )
}

fn redact_parse_error(message: &str) -> String {
    // URL parse errors do not include the URL, but be safe: never print anything after '@'.
    message.split('@').next().unwrap_or(message).to_owned()
}

/// Applies the embedded migrations (concurrent callers serialize on an advisory lock), then
/// makes the database know every engine of this build's registry.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<usize> {
    storeflow_engine::migrate(pool)
        .await
        .context("applying database migrations failed")?;
    let engines = storeflow_executors::engines::names();
    let added = storeflow_executors::engines::register_in_database(pool, &engines).await?;
    if !added.is_empty() {
        tracing::info!(engines = ?added, "store engines added to the database");
    }
    Ok(storeflow_engine::MIGRATOR.iter().count())
}

/// Parses a humantime duration flag (`30s`, `10m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|err| format!("invalid duration `{text}`: {err} (use e.g. 500ms, 30s, 10m)"))
}

/// Reads a duration given in milliseconds from `name` (the old platform's convention).
fn env_millis(name: &str, default: Duration) -> anyhow::Result<Duration> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| anyhow::anyhow!("{name} must be a number of milliseconds (got `{text}`)")),
        _ => Ok(default),
    }
}

fn env_number(
    name: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> anyhow::Result<u32> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => match text.trim().parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => bail!(
                "{name} must be a whole number from {} to {} (got `{text}`)",
                range.start(),
                range.end()
            ),
        },
        _ => Ok(default),
    }
}

/// Secrets that appear in examples and must never guard a real deployment.
const KNOWN_DEFAULT_SECRETS: &[&str] = &[
    "dev-jwt-secret-change-in-production",
    "change-me",
    "changeme",
    "secret",
    "your-secret-key",
    "jwt-secret",
];

/// Whether this is a development installation (`STOREFLOW_ENV=development`).
pub fn development() -> bool {
    std::env::var("STOREFLOW_ENV").is_ok_and(|v| v == "development")
}

/// The token-signing secret from `JWT_SECRET`: at least 32 characters and not a known
/// example value. In development an unset secret is replaced by a random one per process
/// (tokens then do not survive a restart).
pub fn jwt_secret() -> anyhow::Result<String> {
    let secret = std::env::var("JWT_SECRET").unwrap_or_default();
    if secret.is_empty() {
        if development() {
            tracing::warn!(
                "JWT_SECRET is not set; using a random secret (tokens end with this process)"
            );
            let bytes: [u8; 32] = rand::random();
            return Ok(bytes.iter().map(|b| format!("{b:02x}")).collect());
        }
        bail!(
            "JWT_SECRET is not set: set it to a random string of at least 32 characters \
             (e.g. `openssl rand -hex 32`), or set STOREFLOW_ENV=development to use a throwaway one"
        );
    }
    if KNOWN_DEFAULT_SECRETS.contains(&secret.as_str()) {
        bail!(
            "JWT_SECRET is a well-known example value; set it to a random string of at least 32 characters"
        );
    }
    if secret.chars().count() < 32 {
        bail!(
            "JWT_SECRET is too short ({} characters): use at least 32",
            secret.chars().count()
        );
    }
    Ok(secret)
}

/// API settings from the environment, validated.
pub fn api_config() -> anyhow::Result<crate::api::ApiConfig> {
    let defaults = crate::api::ApiConfig::default();
    let token_ttl = match std::env::var("JWT_EXPIRES_IN") {
        Ok(text) if !text.trim().is_empty() => {
            parse_duration(text.trim()).map_err(|err| anyhow::anyhow!("JWT_EXPIRES_IN: {err}"))?
        }
        _ => defaults.token_ttl,
    };
    let cors_origins = std::env::var("CORS_ORIGIN")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(crate::api::ApiConfig {
        token_ttl,
        login_rate_max: env_number("LOGIN_RATE_LIMIT_MAX", defaults.login_rate_max, 1..=10_000)?,
        login_rate_window: env_millis("LOGIN_RATE_LIMIT_WINDOW_MS", defaults.login_rate_window)?,
        register_rate_max: env_number(
            "REGISTER_RATE_LIMIT_MAX",
            defaults.register_rate_max,
            1..=10_000,
        )?,
        register_rate_window: env_millis(
            "REGISTER_RATE_LIMIT_WINDOW_MS",
            defaults.register_rate_window,
        )?,
        lockout_max_attempts: env_number(
            "ACCOUNT_LOCKOUT_MAX_ATTEMPTS",
            defaults.lockout_max_attempts,
            1..=1000,
        )?,
        lockout_duration: env_millis("ACCOUNT_LOCKOUT_DURATION_MS", defaults.lockout_duration)?,
        request_timeout: env_millis("REQUEST_TIMEOUT_MS", defaults.request_timeout)?,
        body_limit: defaults.body_limit,
        cors_origins,
        trust_proxy: std::env::var("TRUST_PROXY").is_ok_and(|v| v == "true" || v == "1"),
        first_user_is_admin: match env_text("FIRST_USER_IS_ADMIN").as_deref() {
            None | Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => bail!("FIRST_USER_IS_ADMIN must be true or false (got `{other}`)"),
        },
        registration_open: match env_text("REGISTRATION").as_deref() {
            None | Some("open") => true,
            Some("closed") => false,
            Some(other) => bail!(
                "REGISTRATION must be open or closed (got `{other}`); closed admits only people \
                 an operator invites"
            ),
        },
        rate_limit_max: env_number("RATE_LIMIT_MAX", defaults.rate_limit_max, 1..=10_000_000)?,
        rate_limit_window: env_millis("RATE_LIMIT_WINDOW_MS", defaults.rate_limit_window)?,
        stores: store_settings()?,
        sealer: defaults.sealer,
        dashboard_dir: dashboard_dir()?,
        page_cache_entries: env_number(
            "API_PAGE_CACHE_ENTRIES",
            defaults.page_cache_entries as u32,
            0..=1_000_000,
        )? as usize,
        simulated_cluster: None,
    })
}

/// The dashboard's built files: `STOREFLOW_DASHBOARD_DIR`, else `dashboard/dist` under the
/// working directory if it has been built; `None` serves the API alone.
pub fn dashboard_dir() -> anyhow::Result<Option<std::path::PathBuf>> {
    use crate::api::dashboard::is_built;
    match env_text("STOREFLOW_DASHBOARD_DIR") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            if !is_built(&dir) {
                bail!(
                    "STOREFLOW_DASHBOARD_DIR is {} but it has no index.html; build the dashboard \
                     (cd dashboard && npm ci && npm run build) and point it at dashboard/dist",
                    dir.display()
                );
            }
            Ok(Some(dir))
        }
        None => {
            let dir = std::path::PathBuf::from("dashboard/dist");
            Ok(is_built(&dir).then_some(dir))
        }
    }
}

fn env_text(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Store guardrails and addressing from the environment, validated.
pub fn store_settings() -> anyhow::Result<crate::api::StoreSettings> {
    let defaults = crate::api::StoreSettings::default();
    let domain_suffix = env_text("STORE_DOMAIN_SUFFIX").unwrap_or(defaults.domain_suffix);
    let labels_ok = domain_suffix.len() <= 200
        && domain_suffix.starts_with('.')
        && domain_suffix[1..].split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !labels_ok {
        bail!(
            "STORE_DOMAIN_SUFFIX must be a DNS suffix starting with a dot, in lowercase,              e.g. `.localhost` or `.shops.example.com` (got `{domain_suffix}`)"
        );
    }
    let ingress_port = match env_text("INGRESS_PORT") {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(80 | 443) => None,
            Ok(port) if port > 0 => Some(port),
            _ => bail!("INGRESS_PORT must be a port number (got `{text}`)"),
        },
    };
    let ingress_controller =
        env_text("STORE_INGRESS_CONTROLLER").unwrap_or(defaults.ingress_controller);
    if !matches!(ingress_controller.as_str(), "nginx" | "traefik") {
        bail!("STORE_INGRESS_CONTROLLER must be `nginx` or `traefik` (got `{ingress_controller}`)");
    }
    let ingress_class =
        env_text("STORE_INGRESS_CLASS").unwrap_or_else(|| ingress_controller.clone());
    let name_ok = |v: &str| {
        !v.is_empty()
            && v.len() <= 253
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    if !name_ok(&ingress_class) {
        bail!("STORE_INGRESS_CLASS must be a Kubernetes name (got `{ingress_class}`)");
    }
    let tls_secret = env_text("STORE_TLS_SECRET");
    if let Some(secret) = &tls_secret
        && !name_ok(secret)
    {
        bail!("STORE_TLS_SECRET must name a Kubernetes Secret (got `{secret}`)");
    }
    Ok(crate::api::StoreSettings {
        max_per_user: env_number("MAX_STORES_PER_USER", defaults.max_per_user, 1..=100)?,
        max_total: env_number("MAX_STORES", defaults.max_total, 0..=1_000_000)?,
        creation_cooldown: env_millis("STORE_CREATION_COOLDOWN_MS", defaults.creation_cooldown)?,
        max_retries: env_number("PROVISIONING_MAX_RETRIES", defaults.max_retries, 0..=10)?,
        domain_suffix,
        ingress_port,
        ingress_class,
        ingress_controller,
        tls_secret,
        release: store_chart_release(),
        tenant_upgrades: match env_text("TENANT_UPGRADES").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => bail!("TENANT_UPGRADES must be `true` or `false` (got `{other}`)"),
        },
        backups_configured: env_text("BACKUP_S3_BUCKET").is_some(),
    })
}

/// The versions of the store chart at `HELM_CHART_PATH` (default `charts/ecommerce-store`):
/// what upgrades bring stores to. Unreadable, the API still serves; upgrades answer that the
/// chart is unknown and `storeflow doctor` says why.
fn store_chart_release() -> Option<storeflow_executors::chart::ChartRelease> {
    let chart = env_text("HELM_CHART_PATH").unwrap_or_else(|| "charts/ecommerce-store".into());
    match storeflow_executors::chart::ChartRelease::read(std::path::Path::new(&chart)) {
        Ok(release) => Some(release),
        Err(err) => {
            tracing::warn!(error = %err, "the store chart's versions are unknown; stores cannot be upgraded");
            None
        }
    }
}

/// The key that seals store credentials, from `STOREFLOW_ENCRYPTION_KEY` (64 hex digits).
/// In development an unset key is replaced by a random one per process (credentials sealed
/// by an earlier process then cannot be shown).
pub fn encryption_key() -> anyhow::Result<storeflow_executors::store::sealing::Sealer> {
    match env_text("STOREFLOW_ENCRYPTION_KEY") {
        Some(key) => storeflow_executors::store::sealing::Sealer::from_hex(&key)
            .map_err(|err| anyhow::anyhow!("{err}")),
        None if development() => {
            tracing::warn!(
                "STOREFLOW_ENCRYPTION_KEY is not set; using a random key (store credentials sealed now cannot be read after a restart)"
            );
            Ok(storeflow_executors::store::sealing::Sealer::random())
        }
        None => bail!(
            "STOREFLOW_ENCRYPTION_KEY is not set: set it to 64 hex digits (e.g. `openssl rand -hex 32`); \
             it encrypts store credentials at rest, so keep it as safe as the database backups \
             (or set STOREFLOW_ENV=development to use a throwaway one)"
        ),
    }
}
