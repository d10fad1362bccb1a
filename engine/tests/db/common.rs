//! Shared helpers for the engine's database tests: test steps, worker handles, waits.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{
    Definition, Engine, RunDetail, RunStatus, Step, StepContext, StepOutcome, Worker, WorkerOptions,
};
use storeflow_testkit::TestDatabase;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub async fn engine(db: &TestDatabase, definitions: Vec<Definition>) -> Engine {
    Engine::start(db.pool(20).await, definitions)
        .await
        .expect("engine starts")
}

pub fn fast_options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 16,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(1),
        ..WorkerOptions::default()
    }
}

/// A worker running in the background of a test.
pub struct RunningWorker {
    pub id: Uuid,
    stop: CancellationToken,
    handle: JoinHandle<storeflow_engine::Result<()>>,
}

impl RunningWorker {
    pub fn start(engine: &Engine, options: WorkerOptions) -> Self {
        let worker = Worker::new(engine.clone(), options);
        let id = worker.id();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(worker.run(stop.clone()));
        RunningWorker { id, stop, handle }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        self.handle
            .await
            .expect("worker task joins")
            .expect("worker stops cleanly");
    }
}

/// Polls until the run reaches a final status (or panics after `within`).
pub async fn wait_final(engine: &Engine, run_id: Uuid, within: Duration) -> RunDetail {
    wait_status(engine, run_id, within, |s| s.is_final()).await
}

pub async fn wait_status(
    engine: &Engine,
    run_id: Uuid,
    within: Duration,
    done: impl Fn(RunStatus) -> bool,
) -> RunDetail {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let run = engine.get_run(run_id).await.expect("run is readable");
        if done(run.summary.status) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {run_id} still {} after {within:?}: {run:#?}",
            run.summary.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn event_kinds(run: &RunDetail) -> Vec<String> {
    run.events.iter().map(|e| e.kind.clone()).collect()
}

// ---- process-wide registries keyed by a per-test key ----

fn gates() -> &'static Mutex<HashMap<String, Arc<Semaphore>>> {
    static GATES: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    GATES.get_or_init(Default::default)
}

fn gate(key: &str) -> Arc<Semaphore> {
    gates()
        .lock()
        .expect("gates lock")
        .entry(key.to_owned())
        .or_insert_with(|| Arc::new(Semaphore::new(0)))
        .clone()
}

/// Lets `n` waiting `Gate` executions with this key through.
pub fn open_gate(key: &str, n: usize) {
    gate(key).add_permits(n);
}

fn counters() -> &'static Mutex<HashMap<String, Arc<AtomicU32>>> {
    static COUNTERS: OnceLock<Mutex<HashMap<String, Arc<AtomicU32>>>> = OnceLock::new();
    COUNTERS.get_or_init(Default::default)
}

pub fn counter(key: &str) -> Arc<AtomicU32> {
    counters()
        .lock()
        .expect("counters lock")
        .entry(key.to_owned())
        .or_default()
        .clone()
}

pub fn count(key: &str) -> u32 {
    counter(key).load(Ordering::SeqCst)
}

pub fn unique_key() -> String {
    Uuid::new_v4().to_string()
}

// ---- test steps ----

/// Counts its executions under `key`, then waits for the gate `key` (or cancellation).
#[derive(Debug, Serialize, Deserialize)]
pub struct Gate {
    pub key: String,
}

#[typetag::serde(name = "test_gate")]
#[async_trait::async_trait]
impl Step for Gate {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        counter(&self.key).fetch_add(1, Ordering::SeqCst);
        let gate = gate(&self.key);
        tokio::select! {
            permit = gate.acquire() => {
                permit.expect("gate open").forget();
                StepOutcome::Done(json!({ "gate": self.key, "attempt": cx.attempt }))
            }
            _ = cx.cancelled() => StepOutcome::retry("cancelled while waiting at the gate"),
        }
    }
}

/// Returns its value; counts executions under `key`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Emit {
    pub key: String,
    pub value: Value,
}

#[typetag::serde(name = "test_emit")]
#[async_trait::async_trait]
impl Step for Emit {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        counter(&self.key).fetch_add(1, Ordering::SeqCst);
        StepOutcome::Done(self.value.clone())
    }
}

/// Returns the output of an earlier step, to show state flows between steps.
#[derive(Debug, Serialize, Deserialize)]
pub struct EchoOutputOf {
    pub step: String,
}

#[typetag::serde(name = "test_echo_output_of")]
#[async_trait::async_trait]
impl Step for EchoOutputOf {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        match cx.output_of(&self.step) {
            Some(value) => StepOutcome::Done(json!({ "echo": value })),
            None => StepOutcome::fatal(format!("no output of {}", self.step)),
        }
    }
}

/// Fails retryably until `fix(key)` is called.
#[derive(Debug, Serialize, Deserialize)]
pub struct FailUntilFixed {
    pub key: String,
}

pub fn fix(key: &str) {
    counter(&format!("{key}:fixed")).store(1, Ordering::SeqCst);
}

#[typetag::serde(name = "test_fail_until_fixed")]
#[async_trait::async_trait]
impl Step for FailUntilFixed {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        counter(&self.key).fetch_add(1, Ordering::SeqCst);
        if count(&format!("{}:fixed", self.key)) == 1 {
            StepOutcome::Done(json!("fixed"))
        } else {
            StepOutcome::retry("the dependency is broken")
        }
    }
}

/// Always fails permanently.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlwaysFatal {
    pub key: String,
}

#[typetag::serde(name = "test_always_fatal")]
#[async_trait::async_trait]
impl Step for AlwaysFatal {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        counter(&self.key).fetch_add(1, Ordering::SeqCst);
        StepOutcome::fatal("the tenant's plan does not allow this")
    }
}

/// Sleeps without looking at cancellation (to exercise timeouts).
#[derive(Debug, Serialize, Deserialize)]
pub struct SleepIgnoringCancel {
    pub key: String,
    pub millis: u64,
}

#[typetag::serde(name = "test_sleep")]
#[async_trait::async_trait]
impl Step for SleepIgnoringCancel {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        counter(&self.key).fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(self.millis)).await;
        StepOutcome::Done(Value::Null)
    }
}

/// Pending (recheck after `recheck_ms`) until it has been polled `polls` times.
#[derive(Debug, Serialize, Deserialize)]
pub struct PollUntil {
    pub key: String,
    pub polls: u32,
    pub recheck_ms: u64,
}

#[typetag::serde(name = "test_poll_until")]
#[async_trait::async_trait]
impl Step for PollUntil {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        let seen = counter(&self.key).fetch_add(1, Ordering::SeqCst) + 1;
        if seen > self.polls {
            StepOutcome::Done(json!({ "polls": seen }))
        } else {
            StepOutcome::pending_on(
                Duration::from_millis(self.recheck_ms),
                format!("poll {seen} of {}", self.polls),
            )
        }
    }
}

/// A database-only step: inserts into `test_effects` inside the checkpoint transaction.
/// With `fail_first`, its first attempt writes and then fails, so the write must roll back.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordEffect {
    pub fail_first: bool,
}

#[typetag::serde(name = "test_record_effect")]
#[async_trait::async_trait]
impl Step for RecordEffect {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let run_id = cx.run_id;
        let attempt = cx.attempt;
        let conn = match cx.transaction() {
            Ok(conn) => conn,
            Err(err) => return StepOutcome::Fatal(err),
        };
        if let Err(err) = sqlx::query("INSERT INTO test_effects (run_id, attempt) VALUES ($1, $2)")
            .bind(run_id)
            .bind(attempt)
            .execute(conn)
            .await
        {
            return StepOutcome::retry(err.to_string());
        }
        if self.fail_first && attempt == 1 {
            return StepOutcome::retry("first attempt fails after writing");
        }
        StepOutcome::Done(json!({ "recorded": attempt }))
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

/// Panics (a bug in step code).
#[derive(Debug, Serialize, Deserialize)]
pub struct Panics {
    pub key: String,
}

#[typetag::serde(name = "test_panics")]
#[async_trait::async_trait]
impl Step for Panics {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        counter(&self.key).fetch_add(1, Ordering::SeqCst);
        panic!("index out of bounds in step code");
    }
}

/// Returns `value` after an optional delay; with `nul`, a string containing NUL instead.
#[derive(Debug, Serialize, Deserialize)]
pub struct EmitAfter {
    pub millis: u64,
    pub value: Value,
    pub nul: bool,
}

#[typetag::serde(name = "test_emit_after")]
#[async_trait::async_trait]
impl Step for EmitAfter {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        tokio::time::sleep(Duration::from_millis(self.millis)).await;
        if self.nul {
            return StepOutcome::Done(json!({ "log": format!("before{}after", '\0') }));
        }
        StepOutcome::Done(self.value.clone())
    }
}

/// Pending with a recheck far beyond its timeout.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingForAnHour;

#[typetag::serde(name = "test_pending_for_an_hour")]
#[async_trait::async_trait]
impl Step for PendingForAnHour {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::pending(Duration::from_secs(3600))
    }
}

/// A compensation step: returns the failure it compensates for (counts under `key`).
#[derive(Debug, Serialize, Deserialize)]
pub struct EchoFailure {
    pub key: String,
}

#[typetag::serde(name = "test_echo_failure")]
#[async_trait::async_trait]
impl Step for EchoFailure {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        counter(&self.key).fetch_add(1, Ordering::SeqCst);
        match cx.failure() {
            Some(failure) => StepOutcome::Done(json!({
                "step": failure.step, "index": failure.index, "error": failure.error
            })),
            None => StepOutcome::fatal("not compensating"),
        }
    }
}

/// A database-only step that starts one child run per entry of `workflows` (subject
/// `child-<i>`). With `fail_first`, its first attempt starts them and then fails, so they
/// must roll back with it.
#[derive(Debug, Serialize, Deserialize)]
pub struct StartChildren {
    pub workflows: Vec<String>,
    pub fail_first: bool,
}

#[typetag::serde(name = "test_start_children")]
#[async_trait::async_trait]
impl Step for StartChildren {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let mut ids = Vec::new();
        for (i, workflow) in self.workflows.iter().enumerate() {
            let run = storeflow_engine::NewRun::new(workflow.clone(), json!({}))
                .subject(format!("child-{i}"));
            match cx.start_child(run).await {
                Ok(id) => ids.push(id),
                Err(err) => return StepOutcome::Retry(err),
            }
        }
        if self.fail_first && cx.attempt == 1 {
            return StepOutcome::retry("the first attempt fails after starting its children");
        }
        StepOutcome::Done(json!({ "started": ids }))
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

impl RunningWorker {
    /// What another worker sees when this one dies: its leases run out, so its runs are
    /// rescued and claimed afresh (this worker's late checkpoints are then fenced off).
    pub async fn lose_leases(&self, pool: &sqlx::PgPool) -> u64 {
        sqlx::query(
            "UPDATE workflow_runs SET lease_expires_at = now() - interval '1 second' \
             WHERE lease_owner = $1",
        )
        .bind(self.id)
        .execute(pool)
        .await
        .expect("expire leases")
        .rows_affected()
    }
}
