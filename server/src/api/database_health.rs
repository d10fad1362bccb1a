//! Whether PostgreSQL answers, known without waiting for it.
//!
//! # Guarantees
//! - A monitor task holds one connection of its own (outside the pool, so a busy pool never
//!   looks like a dead database) and checks it every [`CHECK_EVERY`]; a check or a reconnect
//!   that takes longer than [`CHECK_TIMEOUT`] counts as down.
//! - While the database is down, requests that need it are answered 503 at once, and a
//!   request already waiting for it is answered 503 as soon as the monitor notices, instead
//!   of after the pool's acquire timeout: a readiness probe with a 1 s timeout sees "not
//!   ready", not a timeout. The abandoned request is dropped like one whose client went
//!   away (see the module docs of `api` on cancellation).
//! - Until the first check has run the database counts as up.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;

/// How often the monitor checks the database.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How long a check (or a reconnect) may take before the database counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(400);

/// The monitor's verdict, shared by all requests of a process.
#[derive(Debug, Clone)]
pub struct DatabaseHealth {
    up: watch::Receiver<bool>,
}

impl DatabaseHealth {
    /// Starts the monitor (a task that lives as long as anyone holds the result).
    pub fn start(options: Arc<PgConnectOptions>) -> DatabaseHealth {
        let (sender, up) = watch::channel(true);
        tokio::spawn(monitor(options, sender));
        DatabaseHealth { up }
    }

    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Resolves when the database is (or goes) down.
    pub async fn down(&self) {
        let mut up = self.up.clone();
        // An error means the monitor is gone (process shutting down): never resolve.
        if up.wait_for(|up| !*up).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn monitor(options: Arc<PgConnectOptions>, verdict: watch::Sender<bool>) {
    let options = options.as_ref().clone().disable_statement_logging();
    let mut connection: Option<PgConnection> = None;
    loop {
        if verdict.is_closed() {
            return;
        }
        let healthy = match connection.as_mut() {
            Some(conn) => matches!(
                tokio::time::timeout(CHECK_TIMEOUT, conn.ping()).await,
                Ok(Ok(()))
            ),
            None => match tokio::time::timeout(CHECK_TIMEOUT, options.connect()).await {
                Ok(Ok(conn)) => {
                    connection = Some(conn);
                    true
                }
                _ => false,
            },
        };
        if !healthy {
            // Whatever it was (dead socket, half-done ping): start over with a new one.
            connection = None;
        }
        verdict.send_if_modified(|up| {
            if *up != healthy {
                if healthy {
                    tracing::info!("the database answers again");
                } else {
                    tracing::warn!(
                        "the database does not answer; requests that need it get 503 until it does"
                    );
                }
                *up = healthy;
                true
            } else {
                false
            }
        });
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
