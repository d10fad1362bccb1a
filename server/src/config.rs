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
            sqlx::Error::Io(io) => anyhow::anyhow!(
                "cannot reach PostgreSQL at {target} (from DATABASE_URL): {io}; \
                 check that the server is running and that host and port are right"
            ),
            sqlx::Error::Database(db) => anyhow::anyhow!(
                "PostgreSQL at {target} (from DATABASE_URL) refused the connection: {}; \
                 check the user, password and database name",
                db.message()
            ),
            other => anyhow::anyhow!(
                "connecting to PostgreSQL at {target} (from DATABASE_URL) failed: {other}"
            ),
        })?;
    probe.close().await.ok();
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .with_context(|| {
            format!("connecting to PostgreSQL at {target} (from DATABASE_URL) failed")
        })?;
    Ok(pool)
}

fn redact_parse_error(message: &str) -> String {
    // URL parse errors do not include the URL, but be safe: never print anything after '@'.
    message.split('@').next().unwrap_or(message).to_owned()
}

/// Applies the embedded migrations (concurrent callers serialize on an advisory lock).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<usize> {
    storeflow_engine::MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations failed")?;
    Ok(storeflow_engine::MIGRATOR.iter().count())
}

/// Parses a humantime duration flag (`30s`, `10m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|err| format!("invalid duration `{text}`: {err} (use e.g. 500ms, 30s, 10m)"))
}
