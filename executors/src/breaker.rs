//! Circuit breakers per dependency (the Kubernetes API, helm), so a cluster outage parks
//! steps as waiting instead of burning their retry budgets.
//!
//! # Guarantees
//! - After `threshold` consecutive transient failures the breaker opens: steps that need the
//!   dependency return `Pending` (no attempt consumed) until `reset_after` has passed.
//! - Then one call is let through (half-open): success closes the breaker, failure opens it
//!   again for another `reset_after`.
//!
//! # Caveats
//! - State is per worker process; each worker learns of an outage by itself.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use storeflow_engine::StepOutcome;

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// One dependency's breaker.
/// Clones share one state (a worker's steps and its health reporter see the same breaker).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    name: &'static str,
    threshold: u32,
    reset_after: Duration,
    state: std::sync::Arc<Mutex<State>>,
}

impl CircuitBreaker {
    pub fn new(name: &'static str, threshold: u32, reset_after: Duration) -> Self {
        CircuitBreaker {
            name,
            threshold: threshold.max(1),
            reset_after,
            state: std::sync::Arc::new(Mutex::new(State::Closed { failures: 0 })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, open: bool) {
        metrics::gauge!("storeflow_circuit_open", "dependency" => self.name).set(if open {
            1.0
        } else {
            0.0
        });
    }

    /// Before calling the dependency: `None` to go ahead, or the `Pending` to return while
    /// the breaker is open.
    pub fn admit(&self) -> Option<StepOutcome> {
        let mut state = self.state();
        match *state {
            State::Open { until } if Instant::now() < until => Some(StepOutcome::pending_on(
                until - Instant::now(),
                format!(
                    "{} is unavailable (circuit open after repeated failures); waiting",
                    self.name
                ),
            )),
            State::Open { .. } => {
                *state = State::HalfOpen;
                None
            }
            _ => None,
        }
    }

    pub fn succeeded(&self) {
        *self.state() = State::Closed { failures: 0 };
        self.publish(false);
    }

    /// Records a transient failure; returns the outcome for the step: `Retry` while the
    /// breaker stays closed, `Pending` once it opens.
    pub fn failed(&self, retry: StepOutcome) -> StepOutcome {
        let mut state = self.state();
        let open = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            _ => {
                *state = State::Open {
                    until: Instant::now() + self.reset_after,
                };
                true
            }
        };
        drop(state);
        self.publish(open);
        if !open {
            return retry;
        }
        let reason = match &retry {
            StepOutcome::Retry(error) => error.message.clone(),
            _ => String::new(),
        };
        StepOutcome::pending_on(
            self.reset_after,
            format!("{} is unavailable (circuit open): {reason}", self.name),
        )
    }

    pub fn is_open(&self) -> bool {
        matches!(*self.state(), State::Open { until } if Instant::now() < until)
    }
}

/// The breakers a worker shares between its steps (give with `Worker::with_resource`).
#[derive(Debug, Clone)]
pub struct Breakers {
    pub kubernetes: CircuitBreaker,
    pub helm: CircuitBreaker,
}

impl Default for Breakers {
    fn default() -> Self {
        Breakers {
            kubernetes: CircuitBreaker::new("the Kubernetes API", 5, Duration::from_secs(30)),
            helm: CircuitBreaker::new("helm", 5, Duration::from_secs(30)),
        }
    }
}

/// Runs a step body behind `breaker` (if the worker has breakers): refuses while open, and
/// turns transient failures into `Pending` once the breaker opens.
impl Breakers {
    /// (dependency key, open) of every breaker, as health reports them.
    pub fn states(&self) -> [(&'static str, bool); 2] {
        [
            ("kubernetes", self.kubernetes.is_open()),
            ("helm", self.helm.is_open()),
        ]
    }

    /// Records this worker's breaker states in PostgreSQL, where the API's health reads them
    /// (workers are other processes); rows of workers silent for a day are dropped.
    pub async fn report(&self, pool: &sqlx::PgPool, worker: uuid::Uuid) -> sqlx::Result<()> {
        let states = self.states();
        let keys: Vec<&str> = states.iter().map(|(key, _)| *key).collect();
        let open: Vec<bool> = states.iter().map(|(_, open)| *open).collect();
        sqlx::query(
            "INSERT INTO worker_dependencies (worker_id, dependency, open, reported_at) \
             SELECT $1, d, o, now() FROM unnest($2::text[], $3::bool[]) AS t(d, o) \
             ON CONFLICT (worker_id, dependency) DO UPDATE \
             SET open = EXCLUDED.open, reported_at = EXCLUDED.reported_at",
        )
        .bind(worker)
        .bind(&keys)
        .bind(&open)
        .execute(pool)
        .await?;
        sqlx::query("DELETE FROM worker_dependencies WHERE reported_at < now() - interval '1 day'")
            .execute(pool)
            .await?;
        Ok(())
    }
}

pub(crate) async fn guarded<F>(breaker: Option<&CircuitBreaker>, body: F) -> StepOutcome
where
    F: std::future::Future<Output = StepOutcome>,
{
    let Some(breaker) = breaker else {
        return body.await;
    };
    if let Some(pending) = breaker.admit() {
        return pending;
    }
    match body.await {
        retry @ StepOutcome::Retry(_) => breaker.failed(retry),
        other => {
            // A refusal is an answer: the dependency is up.
            breaker.succeeded();
            other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_parks_then_half_opens() {
        let breaker = CircuitBreaker::new("dep", 2, Duration::from_millis(50));
        assert!(matches!(
            breaker.failed(StepOutcome::retry("down")),
            StepOutcome::Retry(_)
        ));
        let parked = breaker.failed(StepOutcome::retry("down"));
        assert!(matches!(parked, StepOutcome::Pending { .. }), "{parked:?}");
        assert!(breaker.is_open());
        assert!(matches!(breaker.admit(), Some(StepOutcome::Pending { .. })));
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.admit().is_none(), "one probe is let through");
        breaker.succeeded();
        assert!(!breaker.is_open());
        assert!(matches!(
            breaker.failed(StepOutcome::retry("down")),
            StepOutcome::Retry(_)
        ));
    }
}
