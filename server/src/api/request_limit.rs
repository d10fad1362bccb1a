//! The global request limit per client network, one budget shared by every API replica.
//!
//! # Guarantees
//! - Clients are counted by network: an IPv4 address, or the /64 of an IPv6 address (one
//!   host usually holds a whole /64, so counting full addresses would give it 2^64 budgets).
//! - Windows are fixed and aligned on the wall clock (`RATE_LIMIT_WINDOW_MS`), so every
//!   replica counts the same window.
//! - No database round trip per request: each replica counts in memory and, every
//!   [`SYNC_EVERY`], publishes its own counts of the current window to
//!   `api_request_windows` (one statement over arrays) and reads the other replicas' counts
//!   for the clients it is serving. A request is judged on its replica's count plus the
//!   others' last published counts.
//! - What that costs in precision, and no more: between two syncs the others' counts are
//!   stale, so a client spreading a burst over R replicas can get at most what the other
//!   R-1 replicas admitted in one [`SYNC_EVERY`] beyond the budget. A client pinned to one
//!   replica (one keep-alive connection) gets the whole budget, not a 1/R share.
//! - If PostgreSQL is unreachable the limit keeps working per replica (it fails open to the
//!   local count, never closed): an outage of the database is not an outage of the API.
//! - Memory is bounded: past [`MAX_CLIENTS`] live clients in a window the window's counts
//!   start over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// How often a replica publishes its counts and reads the others'.
pub const SYNC_EVERY: Duration = Duration::from_millis(500);
/// Live clients per window kept in memory before the window's counts start over.
pub const MAX_CLIENTS: usize = 100_000;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// Requests this replica counted in the current window.
    own: u32,
    /// `own` as last published.
    published: u32,
    /// The other replicas' counts as last read.
    others: u32,
}

#[derive(Debug, Default)]
struct Window {
    index: u64,
    clients: HashMap<String, Counts>,
}

/// One replica's side of the shared limit. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct RequestLimiter {
    replica: Uuid,
    max: u32,
    window: Duration,
    current: Mutex<Window>,
    sync_started: std::sync::Once,
}

impl RequestLimiter {
    pub fn new(max: u32, window: Duration) -> Arc<RequestLimiter> {
        Arc::new(RequestLimiter {
            replica: Uuid::now_v7(),
            max,
            window: window.max(Duration::from_millis(1)),
            current: Mutex::new(Window::default()),
            sync_started: std::sync::Once::new(),
        })
    }

    fn window_ms(&self) -> u64 {
        self.window.as_millis().max(1) as u64
    }

    /// Counts a request of `client_network`; `Some(seconds)` until the window resets when
    /// the request is over the budget.
    pub fn check(&self, client_network: &str) -> Option<u64> {
        let now_ms = unix_millis();
        let index = now_ms / self.window_ms();
        let mut window = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if window.index != index || window.clients.len() >= MAX_CLIENTS {
            window.index = index;
            window.clients.clear();
        }
        let counts = window.clients.entry(client_network.to_owned()).or_default();
        counts.own = counts.own.saturating_add(1);
        (counts.own.saturating_add(counts.others) > self.max).then(|| {
            let resets_at = (index + 1) * self.window_ms();
            (resets_at - now_ms).div_ceil(1000).max(1)
        })
    }

    /// Starts publishing and reading counts through `pool` (once; the task ends when the
    /// limiter is dropped).
    pub fn start_sync(self: &Arc<Self>, pool: &PgPool) {
        self.sync_started.call_once(|| {
            tokio::spawn(sync_loop(Arc::downgrade(self), pool.clone()));
        });
    }

    /// One exchange with the other replicas: publish what changed, read what they counted.
    pub async fn sync(&self, pool: &PgPool) -> sqlx::Result<()> {
        let (index, changed, known) = {
            let window = self.current.lock().unwrap_or_else(|p| p.into_inner());
            let changed: Vec<(String, i32)> = window
                .clients
                .iter()
                .filter(|(_, c)| c.own != c.published)
                .map(|(client, c)| (client.clone(), c.own.min(i32::MAX as u32) as i32))
                .collect();
            let known: Vec<String> = window.clients.keys().cloned().collect();
            (window.index, changed, known)
        };
        if known.is_empty() {
            return Ok(());
        }
        let window_start = self.window_start(index);
        if !changed.is_empty() {
            let (clients, hits): (Vec<String>, Vec<i32>) = changed.iter().cloned().unzip();
            sqlx::query(
                "INSERT INTO api_request_windows (client, window_start, replica, hits) \
                 SELECT client, $2, $3, hits FROM unnest($1::text[], $4::int4[]) AS t(client, hits) \
                 ON CONFLICT (client, window_start, replica) \
                 DO UPDATE SET hits = greatest(api_request_windows.hits, EXCLUDED.hits)",
            )
            .bind(&clients)
            .bind(window_start)
            .bind(self.replica)
            .bind(&hits)
            .execute(pool)
            .await?;
        }
        let others: Vec<(String, i64)> = sqlx::query_as(
            "SELECT client, sum(hits)::int8 FROM api_request_windows \
             WHERE window_start = $1 AND replica <> $2 AND client = ANY($3) GROUP BY client",
        )
        .bind(window_start)
        .bind(self.replica)
        .bind(&known)
        .fetch_all(pool)
        .await?;
        let others: HashMap<String, i64> = others.into_iter().collect();
        let mut window = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if window.index != index {
            // The window turned while we talked to the database: what we read is history.
            return Ok(());
        }
        let published: HashMap<&str, u32> = changed
            .iter()
            .map(|(client, hits)| (client.as_str(), *hits as u32))
            .collect();
        for (client, counts) in window.clients.iter_mut() {
            if let Some(hits) = published.get(client.as_str()) {
                counts.published = counts.published.max(*hits);
            }
            counts.others = others
                .get(client)
                .map_or(0, |hits| (*hits).clamp(0, u32::MAX as i64) as u32);
        }
        Ok(())
    }

    fn window_start(&self, index: u64) -> DateTime<Utc> {
        DateTime::<Utc>::from(UNIX_EPOCH + Duration::from_millis(index * self.window_ms()))
    }

    /// Deletes windows that ended more than one window ago (any replica may).
    async fn prune(&self, pool: &PgPool) -> sqlx::Result<()> {
        let index = unix_millis() / self.window_ms();
        sqlx::query("DELETE FROM api_request_windows WHERE window_start < $1")
            .bind(self.window_start(index.saturating_sub(1)))
            .execute(pool)
            .await?;
        Ok(())
    }
}

async fn sync_loop(limiter: Weak<RequestLimiter>, pool: PgPool) {
    let mut ticks = tokio::time::interval(SYNC_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut until_prune = 0u32;
    loop {
        ticks.tick().await;
        let Some(limiter) = limiter.upgrade() else {
            return;
        };
        if pool.is_closed() {
            return;
        }
        let mut result = limiter.sync(&pool).await;
        if result.is_ok() {
            if until_prune == 0 {
                until_prune = 120; // about a minute
                result = limiter.prune(&pool).await;
            }
            until_prune -= 1;
        }
        match result {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("request limit: sharing counts with the other replicas again");
            }
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(
                    error = %err,
                    "request limit: cannot share counts through PostgreSQL; counting per replica until it answers"
                );
            }
            _ => {}
        }
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_budget_is_told_when_the_window_resets() {
        let limiter = RequestLimiter::new(3, Duration::from_secs(60));
        assert_eq!(limiter.check("192.0.2.1"), None);
        assert_eq!(limiter.check("192.0.2.1"), None);
        assert_eq!(limiter.check("192.0.2.1"), None);
        let retry = limiter.check("192.0.2.1").expect("fourth request refused");
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(
            limiter.check("192.0.2.2"),
            None,
            "other clients keep theirs"
        );
    }

    #[test]
    fn other_replicas_counts_take_from_the_budget() {
        let limiter = RequestLimiter::new(5, Duration::from_secs(60));
        assert_eq!(limiter.check("192.0.2.1"), None);
        {
            let mut window = limiter.current.lock().unwrap();
            window.clients.get_mut("192.0.2.1").unwrap().others = 4;
        }
        assert!(limiter.check("192.0.2.1").is_some(), "1 + 1 + 4 others > 5");
    }
}
