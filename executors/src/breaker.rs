//! Circuit breakers per dependency (the Kubernetes API, helm), so a cluster outage parks
//! steps as waiting instead of burning their retry budgets.
//!
//! # Guarantees
//! - Only failures *of the dependency* count: a step body reports them with [`unavailable`]
//!   (the API server or helm unreachable, overloaded, timing out). A store app's own failure —
//!   a WP-CLI command that exits non-zero, Medusa answering 500 through the service proxy —
//!   is an answer of a working API server: it closes the breaker and keeps its `Retry`, so the
//!   step spends its attempts and fails with its real error.
//! - After `threshold` consecutive dependency failures the breaker opens: steps that need the
//!   dependency return `Pending` (no attempt consumed) until `reset_after` has passed.
//! - Then one call is let through (half-open) while the others keep waiting: its success
//!   closes the breaker, its failure opens it again for another `reset_after`. A probe whose
//!   step is cut off (timeout, shutdown) opens it again when its future is dropped, however
//!   long the call took — a slow `helm upgrade` is never joined by a second probe.
//!
//! # Caveats
//! - State is per worker process; each worker learns of an outage by itself.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use storeflow_engine::StepOutcome;

#[derive(Debug, Clone, Copy)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; the others wait for its answer.
    HalfOpen,
}

tokio::task_local! {
    /// Set while a guarded body runs; [`unavailable`] marks it.
    static DEPENDENCY_FAILED: std::cell::Cell<bool>;
}

/// A transient failure of the dependency itself (unreachable, overloaded, no answer): a
/// `Retry` that counts towards opening the breaker guarding this step.
pub fn unavailable(message: impl Into<String>) -> StepOutcome {
    let _ = DEPENDENCY_FAILED.try_with(|failed| failed.set(true));
    StepOutcome::retry(message)
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
    /// A closed breaker. `name` is how waiting steps and errors name the dependency ("the
    /// Kubernetes API"); it opens after `threshold` consecutive dependency failures (at least
    /// 1) and lets a probe through `reset_after` later.
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
        metrics::gauge!(crate::metrics::CIRCUIT_OPEN, "dependency" => self.name).set(if open {
            1.0
        } else {
            0.0
        });
    }

    /// Before calling the dependency: `None` to go ahead, or the `Pending` to return while
    /// the breaker is open or its probe is out.
    pub fn admit(&self) -> Option<StepOutcome> {
        self.admission().err()
    }

    /// `Ok(true)`: go ahead as the half-open probe; `Ok(false)`: go ahead; `Err`: wait.
    fn admission(&self) -> Result<bool, StepOutcome> {
        let mut state = self.state();
        match *state {
            State::Open { until } if Instant::now() < until => Err(StepOutcome::pending_on(
                until - Instant::now(),
                format!(
                    "{} is unavailable (circuit open after repeated failures); waiting",
                    self.name
                ),
            )),
            State::Open { .. } => {
                *state = State::HalfOpen;
                Ok(true)
            }
            State::HalfOpen => Err(StepOutcome::pending_on(
                // Spread out: every parked step of the worker lands here at once.
                self.reset_after / 6 + jitter(self.reset_after / 6),
                format!(
                    "{} is unavailable (circuit half-open: one call is checking whether it is back); waiting",
                    self.name
                ),
            )),
            State::Closed { .. } => Ok(false),
        }
    }

    /// A probe that ended without an answer (its future was dropped): open again.
    fn probe_lost(&self) {
        let mut state = self.state();
        if matches!(*state, State::HalfOpen) {
            *state = State::Open {
                until: Instant::now() + self.reset_after,
            };
        }
    }

    /// Records an answer from the dependency: closes the breaker and clears the failure count.
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

    /// Open and still refusing calls; `false` once `reset_after` has passed, even before a
    /// probe has gone out.
    pub fn is_open(&self) -> bool {
        matches!(*self.state(), State::Open { until } if Instant::now() < until)
    }
}

/// The breakers a worker shares between its steps (give with `Worker::with_resource`).
#[derive(Debug, Clone)]
pub struct Breakers {
    /// Guards the steps that talk to the API server (namespaces, Secrets, readiness, exec,
    /// the service proxy, backups, cleanup).
    pub kubernetes: CircuitBreaker,
    /// Guards the steps that run the `helm` binary.
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

/// Up to `max`, from the clock's nanoseconds (no RNG needed for spreading rechecks).
fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    max.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

/// Reopens the breaker if the probe's future is dropped before it reported.
struct ProbeGuard<'a> {
    breaker: &'a CircuitBreaker,
    reported: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.probe_lost();
        }
    }
}

/// Runs a step body behind `breaker` (if the worker has breakers): refuses while open, and
/// turns transient failures into `Pending` once the breaker opens.
pub(crate) async fn guarded<F>(breaker: Option<&CircuitBreaker>, body: F) -> StepOutcome
where
    F: std::future::Future,
    F::Output: Into<StepOutcome>,
{
    let Some(breaker) = breaker else {
        return body.await.into();
    };
    let probe = match breaker.admission() {
        Ok(probe) => probe,
        Err(pending) => return pending,
    };
    let mut guard = probe.then_some(ProbeGuard {
        breaker,
        reported: false,
    });
    let (outcome, dependency_failed) = DEPENDENCY_FAILED
        .scope(std::cell::Cell::new(false), async {
            let outcome: StepOutcome = body.await.into();
            (outcome, DEPENDENCY_FAILED.with(std::cell::Cell::get))
        })
        .await;
    if let Some(guard) = guard.as_mut() {
        guard.reported = true;
    }
    match outcome {
        retry @ StepOutcome::Retry(_) if dependency_failed => breaker.failed(retry),
        other => {
            // Anything else is an answer (a refusal, the app's own failure): the dependency
            // is up.
            breaker.succeeded();
            other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_failures_of_the_dependency_open_the_breaker() {
        let breaker = CircuitBreaker::new("dep", 2, Duration::from_secs(60));
        // The app failing (a command exiting 1) twice: the API server answered both times.
        for _ in 0..3 {
            let outcome = guarded(Some(&breaker), async {
                StepOutcome::retry("`wp plugin install` exited with 1")
            })
            .await;
            assert!(matches!(outcome, StepOutcome::Retry(_)), "{outcome:?}");
        }
        assert!(!breaker.is_open(), "app failures do not open the breaker");
        // The dependency failing: the second failure opens it and parks the step.
        let first = guarded(Some(&breaker), async { unavailable("connection refused") }).await;
        assert!(matches!(first, StepOutcome::Retry(_)), "{first:?}");
        let second = guarded(Some(&breaker), async { unavailable("connection refused") }).await;
        assert!(matches!(second, StepOutcome::Pending { .. }), "{second:?}");
        assert!(breaker.is_open());
        // Outside a guarded body, `unavailable` is a plain retry.
        assert!(matches!(unavailable("x"), StepOutcome::Retry(_)));
    }

    #[tokio::test]
    async fn half_open_lets_one_probe_through_and_a_dropped_probe_reopens() {
        let breaker = CircuitBreaker::new("dep", 1, Duration::from_millis(50));
        let _ = breaker.failed(StepOutcome::retry("down"));
        std::thread::sleep(Duration::from_millis(60));
        // A slow probe: the others wait for it however long it takes.
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let probing = {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                guarded(Some(&breaker), async {
                    let _ = released.await;
                    StepOutcome::Done(serde_json::Value::Null)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(
            matches!(breaker.admit(), Some(StepOutcome::Pending { .. })),
            "no second probe while the first is out, even after reset_after"
        );
        let _ = release.send(());
        assert!(matches!(probing.await, Ok(StepOutcome::Done(_))));
        assert!(breaker.admit().is_none(), "the probe's success closed it");

        // A probe cut off (its future dropped) opens the breaker again.
        let _ = breaker.failed(StepOutcome::retry("down"));
        std::thread::sleep(Duration::from_millis(60));
        let cut_off = tokio::time::timeout(
            Duration::from_millis(10),
            guarded(Some(&breaker), std::future::pending::<StepOutcome>()),
        )
        .await;
        assert!(cut_off.is_err());
        assert!(breaker.is_open(), "a lost probe reopens the breaker");
    }

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
