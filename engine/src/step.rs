//! What a step is: a typetag-serialized action that returns its outcome as a value.
//!
//! # Guarantees
//! - A step's `run` is called at least once per attempt the engine records; after a worker
//!   crash the in-flight attempt may run again (at-least-once). Steps must be idempotent and
//!   can use [`StepContext::idempotency_key`] to deduplicate external effects.
//! - A step whose [`Step::runs_in_checkpoint`] is true runs inside the checkpoint transaction:
//!   its database writes commit together with the checkpoint, exactly once.
//!
//! # Caveats
//! - No other step runs inside an open transaction; an external step must not hold one open.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A step's action. Implementations carry their parameters and are serialized with typetag,
/// so the stored definition names the action by its `type` tag.
#[typetag::serde(tag = "type")]
#[async_trait::async_trait]
pub trait Step: Send + Sync + fmt::Debug {
    /// Execute one attempt of the step.
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome;

    /// True for database-only steps that must run inside the checkpoint transaction
    /// (their effect and the checkpoint commit together). Such a step reads the
    /// transaction with [`StepContext::transaction`].
    fn runs_in_checkpoint(&self) -> bool {
        false
    }
}

/// Shared clients handed to steps (one value per type), set up once per worker.
#[derive(Default, Clone)]
pub struct Resources {
    values: std::collections::HashMap<
        std::any::TypeId,
        std::sync::Arc<dyn std::any::Any + Send + Sync>,
    >,
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resources")
            .field("count", &self.values.len())
            .finish()
    }
}

impl Resources {
    /// Stores `value` as the one value of its type, replacing an earlier one.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.values
            .insert(std::any::TypeId::of::<T>(), std::sync::Arc::new(value));
    }

    /// The value of type `T`, if one was inserted.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values
            .get(&std::any::TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }
}

/// The result of one attempt, as a value; the engine decides what happens next.
#[derive(Debug)]
pub enum StepOutcome {
    /// The step finished; its output is stored in the run's state under the step's name.
    Done(Value),
    /// Not finished yet (e.g. waiting for pods): release the run and look again after
    /// `recheck_after`. Consumes no attempt; bounded by the step's timeout. `waiting_for`
    /// tells operators what is awaited ("deployment app: 0/1 available").
    Pending {
        /// When to run the step again, at the earliest; the run holds no worker meanwhile.
        recheck_after: Duration,
        /// What the step waits for, for operators (shown in events and the step view).
        waiting_for: Option<String>,
    },
    /// A transient failure: counts an attempt and retries after backoff while attempts remain.
    Retry(StepError),
    /// A permanent failure: the run fails now.
    Fatal(StepError),
}

impl StepOutcome {
    /// `Retry` with a message.
    pub fn retry(message: impl Into<String>) -> Self {
        StepOutcome::Retry(StepError::new(message))
    }

    /// `Fatal` with a message.
    pub fn fatal(message: impl Into<String>) -> Self {
        StepOutcome::Fatal(StepError::new(message))
    }

    /// `Pending` rechecking after `recheck_after`.
    pub fn pending(recheck_after: Duration) -> Self {
        StepOutcome::Pending {
            recheck_after,
            waiting_for: None,
        }
    }

    /// `Pending`, saying what is awaited (shown in the run's events and step view).
    pub fn pending_on(recheck_after: Duration, waiting_for: impl Into<String>) -> Self {
        StepOutcome::Pending {
            recheck_after,
            waiting_for: Some(waiting_for.into()),
        }
    }

    /// The outcome of a step body written with `?`: its output is `Done`, and whatever ended
    /// it early (retry, fatal, pending) is that outcome.
    pub fn of(result: StepResult) -> Self {
        StepOutcome::from_result(result, StepOutcome::Done)
    }

    /// [`StepOutcome::of`] for a body whose value still decides the outcome (`done` may
    /// answer `Pending` for a value that is not there yet).
    pub fn from_result<T>(result: StepResult<T>, done: impl FnOnce(T) -> StepOutcome) -> Self {
        match result {
            Ok(value) => done(value),
            Err(outcome) => outcome,
        }
    }
}

/// What a step body returns so that `?` works in it: `Ok` carries the output (or a value the
/// step turns into one), `Err` the outcome that ends the attempt early — a retry, a fatal
/// failure, or pending. Turn it into the attempt's outcome with [`StepOutcome::of`];
/// [`OrOutcome`] gives foreign errors their outcome and context.
pub type StepResult<T = Value> = Result<T, StepOutcome>;

impl From<StepResult> for StepOutcome {
    fn from(result: StepResult) -> Self {
        StepOutcome::of(result)
    }
}

/// A body that decides its own outcome when it succeeds (`Pending` while something is not
/// there yet, `Done` once it is) and uses `?` for failures.
impl From<StepResult<StepOutcome>> for StepOutcome {
    fn from(result: StepResult<StepOutcome>) -> Self {
        result.unwrap_or_else(|outcome| outcome)
    }
}

/// Gives an error its outcome, with what was being done: `query.await.or_retry("listing
/// failed stores")?` retries the attempt with "listing failed stores: <error>".
pub trait OrOutcome<T> {
    /// A transient failure: the attempt is retried after backoff.
    fn or_retry(self, doing: &str) -> StepResult<T>;
    /// A permanent failure: the run fails.
    fn or_fatal(self, doing: &str) -> StepResult<T>;
}

impl<T, E: std::fmt::Display> OrOutcome<T> for Result<T, E> {
    fn or_retry(self, doing: &str) -> StepResult<T> {
        self.map_err(|err| StepOutcome::retry(format!("{doing}: {err}")))
    }

    fn or_fatal(self, doing: &str) -> StepResult<T> {
        self.map_err(|err| StepOutcome::fatal(format!("{doing}: {err}")))
    }
}

/// Why a step attempt failed. The message is shown to operators and stored in events, so it
/// must never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// What went wrong; shown to operators and stored, so no secrets.
    pub message: String,
}

impl StepError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The key of the run's state under which the engine records the failure that started
/// compensation (step names cannot start with `$`).
pub(crate) const FAILURE_KEY: &str = "$failure";

/// The failure that made a run compensate: see [`StepContext::failure`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunFailure {
    /// The name of the main step that failed.
    pub step: String,
    /// Its index.
    pub index: i32,
    /// The error the run would have failed with.
    pub error: String,
}

/// Everything a step may read about the run it belongs to.
pub struct StepContext<'a> {
    /// The run's id.
    pub run_id: Uuid,
    /// The run's workflow.
    pub workflow: &'a str,
    /// The workflow version the run is pinned to.
    pub version: i32,
    /// This step's 0-based index (compensation steps follow the main steps).
    pub step_index: usize,
    /// This step's name, unique in the definition.
    pub step_name: &'a str,
    /// Attempt number of this step, monotonic across retries, rescues and operator retries.
    pub attempt: i32,
    /// 1 for the first attempt counted against the retry budget, 2 for the next, ...
    pub attempt_in_budget: i32,
    /// The run's input, a JSON object.
    pub input: &'a Value,
    /// Outputs of the steps finished so far, keyed by step name.
    pub state: &'a Map<String, Value>,
    /// What the run is about (e.g. a store id), as given at enqueue.
    pub subject: Option<&'a str>,
    /// Who the run works for, as given at enqueue.
    pub tenant: Option<&'a str>,
    /// The request that caused the run, for correlating logs.
    pub request_id: Option<&'a str>,
    /// The worker executing this attempt (see [`crate::Worker::id`]).
    pub worker_id: Uuid,
    /// How long this attempt may still take (the step timeout, shortened by the run's
    /// deadline). Steps that call tools with their own timeouts pass them less than this.
    pub time_left: Duration,
    pub(crate) resources: &'a Resources,
    pub(crate) engine: &'a crate::Engine,
    pub(crate) pool: &'a PgPool,
    pub(crate) cancel: CancellationToken,
    pub(crate) transaction: Option<&'a mut PgConnection>,
}

impl fmt::Debug for StepContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepContext")
            .field("run_id", &self.run_id)
            .field("workflow", &self.workflow)
            .field("version", &self.version)
            .field("step_name", &self.step_name)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl StepContext<'_> {
    /// A key that is the same for every execution of this attempt and differs between
    /// attempts: `(run id, step index, attempt)`. Executors pass it to external systems to
    /// deduplicate effects of an attempt that ran twice after a crash.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}:{}", self.run_id, self.step_index, self.attempt)
    }

    /// Why the run is compensating, in a compensation step ([`crate::Definition::on_failure`]):
    /// the main step that failed for good and its error. `None` in a main step.
    pub fn failure(&self) -> Option<RunFailure> {
        serde_json::from_value(self.state.get(FAILURE_KEY)?.clone()).ok()
    }

    /// In a database-only step ([`Step::runs_in_checkpoint`]): enqueues `run` as a child of
    /// this run, started by this step, inside the checkpoint transaction — the children exist
    /// exactly when the step's completion commits, so an attempt that ran twice after a crash
    /// leaves one set. A later step waits for them with [`crate::children::AwaitChildren`]
    /// and reads their outcomes with [`StepContext::children`].
    pub async fn start_child(&mut self, mut run: crate::NewRun) -> Result<Uuid, StepError> {
        run.parent = Some((self.run_id, self.step_index as i32));
        let engine = self.engine;
        let conn = self.transaction()?;
        engine
            .enqueue(conn, run)
            .await
            .map(|enqueued| enqueued.run_id)
            .map_err(|err| StepError::new(format!("starting a child run: {err}")))
    }

    /// The children the step `started_by` of this run started, oldest first, with their
    /// status, error and outputs.
    pub async fn children(
        &self,
        started_by: &str,
    ) -> Result<Vec<crate::children::ChildRun>, StepError> {
        let definition = self
            .engine
            .definition(self.workflow, self.version)
            .await
            .map_err(|err| StepError::new(err.to_string()))?;
        let Some(index) = definition.all_steps().position(|s| s.name == started_by) else {
            return Err(StepError::new(format!(
                "step `{}` reads the children of `{started_by}`, which is not a step of {} v{}",
                self.step_name, self.workflow, self.version
            )));
        };
        crate::children::of(self.pool, self.run_id, index as i32)
            .await
            .map_err(|err| StepError::new(format!("reading child runs: {err}")))
    }

    /// The output of an earlier step, if it has finished.
    pub fn output_of(&self, step_name: &str) -> Option<&Value> {
        self.state.get(step_name)
    }

    /// Resolves when the run is cancelled by an operator, its lease is lost, or the worker
    /// shuts down. Long steps should `select!` on it and return promptly.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// True once [`StepContext::cancelled`] would resolve; for steps that check between
    /// units of work instead of `select!`ing.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// A shared client the worker was given with [`crate::Worker::with_resource`] (e.g. the
    /// Kubernetes client), or an error naming what is missing.
    pub fn resource<T: Send + Sync + 'static>(&self) -> Result<&T, StepError> {
        self.resources.get::<T>().ok_or_else(|| {
            StepError::new(format!(
                "step `{}` needs a {} but this worker was started without one",
                self.step_name,
                std::any::type_name::<T>()
            ))
        })
    }

    /// The connection pool, for steps that keep their own records outside the checkpoint.
    pub fn pool(&self) -> &PgPool {
        self.pool
    }

    /// The checkpoint transaction, for steps whose [`Step::runs_in_checkpoint`] is true.
    pub fn transaction(&mut self) -> Result<&mut PgConnection, StepError> {
        match self.transaction.as_deref_mut() {
            Some(conn) => Ok(conn),
            None => Err(StepError::new(format!(
                "step `{}` asked for the checkpoint transaction but does not declare runs_in_checkpoint()",
                self.step_name
            ))),
        }
    }

    /// The checkpoint transaction with this run's row locked first. A step that goes on to
    /// lock rows a trigger on the run also locks (a store, through its lifecycle trigger)
    /// then takes its locks in the order the checkpoint and a concurrent rescue of the run
    /// take them — the run, then the rest — so they cannot deadlock. A step without the
    /// checkpoint transaction fails its run; a database error is retried.
    pub async fn transaction_locking_run(&mut self) -> StepResult<&mut PgConnection> {
        let run_id = self.run_id;
        let conn = self.transaction().map_err(StepOutcome::Fatal)?;
        sqlx::query("SELECT 1 FROM workflow_runs WHERE id = $1 FOR UPDATE")
            .bind(run_id)
            .execute(&mut *conn)
            .await
            .map_err(|err| StepOutcome::retry(format!("locking run {run_id}: {err}")))?;
        Ok(conn)
    }
}
