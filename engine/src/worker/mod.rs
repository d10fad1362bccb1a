//! The worker: claims runs, executes their steps, checkpoints every step.
//!
//! # Guarantees
//! - Claims use `FOR UPDATE SKIP LOCKED`; every claim takes a fresh fencing token, and every
//!   checkpoint is conditioned on it, so a worker whose lease was taken over cannot commit.
//! - Leases are extended by one batched heartbeat per `lease / 3` while steps run, outside
//!   any transaction. A run whose lease expires is rescued (requeued) by any worker and the
//!   rescue is recorded as such, not as a step failure.
//! - Checkpoints of many runs are group-committed in one statement; a run's next step starts
//!   only after its previous checkpoint committed.
//! - On shutdown the worker stops claiming, gives in-flight steps `shutdown_grace`, then
//!   cancels them and releases their leases so another worker takes them at once.
//!
//! # Caveats
//! - A step that ignores cancellation is dropped (its future is not polled again) when it
//!   times out or is cancelled; effects it started outside the future may still complete.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::postgres::PgListener;
use tokio::sync::{Mutex as AsyncMutex, Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};
use uuid::Uuid;

use crate::definition::{Definition, StepDef, humantime_duration};
use crate::engine::Engine;
use crate::error::Result;
use crate::metrics as m;
use crate::runs::RunStatus;
use crate::step::{Resources, StepContext, StepOutcome};
use crate::store::{self, Checkpoint, ClaimedRun, Committed};
use crate::{CANCEL_CHANNEL, WORK_CHANNEL};

mod plan;

use plan::{
    AttemptResult, Moment, Plan, Progress, RunInfo, plan_checkpoint, plan_failure, plan_postpone,
    step_budget,
};

/// Worker settings. Durations are humantime strings when deserialized.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerOptions {
    /// Runs executed at the same time.
    pub concurrency: usize,
    /// Lease length; a worker that stops heartbeating loses its runs this long after.
    #[serde(with = "humantime_duration")]
    pub lease: Duration,
    /// Fallback poll when no `NOTIFY` arrives.
    #[serde(with = "humantime_duration")]
    pub poll_interval: Duration,
    /// How long in-flight steps may finish after shutdown is requested.
    #[serde(with = "humantime_duration")]
    pub shutdown_grace: Duration,
    /// Most checkpoints written in one statement.
    pub checkpoint_batch: usize,
    /// Checkpoint statements in flight at once.
    pub checkpoint_writers: usize,
    /// A step that loses its worker this many times in a row fails its run.
    pub max_rescues: u32,
    /// Where this worker runs (a pod name, a host name): a worker that starts under the
    /// identity of one that died takes over that one's runs at once instead of waiting
    /// for their leases to expire. Identities must differ between workers that run at
    /// the same time (a live holder is detected and then nothing is taken over).
    pub identity: Option<String>,
    /// Caps on unfinished runs of some workflows across all workers (e.g. provisioning: at
    /// most N helm installs in flight per cluster; upgrades: at most M at once). The excess
    /// stays queued, in order, with a position ([`crate::Engine::queue_position`]); it is
    /// not refused. Every worker should be given the same caps; a workflow belongs to at
    /// most one.
    pub admission: Vec<AdmissionLimit>,
}

/// See [`WorkerOptions::admission`].
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdmissionLimit {
    /// The workflows that share the cap (all their versions).
    pub workflows: Vec<String>,
    /// Unfinished admitted runs of them at once, at least 1.
    pub max_in_flight: u32,
}

/// How often a worker looks for runs to admit: a freed slot is refilled within this (plus
/// a claim).
const ADMISSION_INTERVAL: Duration = Duration::from_millis(250);

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 64,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            checkpoint_batch: 1000,
            checkpoint_writers: 2,
            max_rescues: 5,
            identity: None,
            admission: Vec::new(),
        }
    }
}

impl WorkerOptions {
    /// How often expired leases are looked for: a dead worker's runs wait at most the
    /// lease plus this (the sweep is one index range scan).
    fn rescue_interval(&self) -> Duration {
        (self.lease / 6).clamp(Duration::from_millis(200), Duration::from_secs(5))
    }
}

/// A worker process's engine loop. Build with [`Worker::new`], run with [`Worker::run`].
#[derive(Debug)]
pub struct Worker {
    engine: Engine,
    options: WorkerOptions,
    id: Uuid,
    resources: Resources,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    Cancelled,
    LeaseLost,
    Shutdown,
}

struct ActiveRun {
    token: i64,
    cancel: CancellationToken,
    interruption: Arc<OnceLock<Interruption>>,
    /// Whether the current step has begun executing (for the release record).
    step_began: Arc<AtomicBool>,
}

impl ActiveRun {
    fn interrupt(&self, why: Interruption) {
        let _ = self.interruption.set(why);
        self.cancel.cancel();
    }
}

struct PendingCheckpoint {
    checkpoint: Arc<Checkpoint>,
    reply: oneshot::Sender<std::result::Result<Committed, CheckpointFailure>>,
}

/// Why a checkpoint write failed.
#[derive(Debug, Clone)]
struct CheckpointFailure {
    message: String,
    /// The database rejected this checkpoint's content (e.g. an output it cannot store);
    /// writing it again cannot succeed.
    permanent: bool,
}

impl CheckpointFailure {
    fn from_error(err: &crate::Error) -> Self {
        let permanent = match err {
            crate::Error::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
            _ => false,
        };
        CheckpointFailure {
            message: err.to_string(),
            permanent,
        }
    }
}

struct Shared {
    resources: Resources,
    engine: Engine,
    worker_id: Uuid,
    options: WorkerOptions,
    active: Mutex<HashMap<Uuid, ActiveRun>>,
    wake: Notify,
    next_local_wake: Mutex<Option<Instant>>,
    checkpoints: mpsc::Sender<PendingCheckpoint>,
    draining: AtomicBool,
}

impl Shared {
    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, ActiveRun>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_at(&self, at: DateTime<Utc>) {
        let delay = (at - Utc::now()).to_std().unwrap_or_default();
        let when = Instant::now() + delay;
        let mut next = self
            .next_local_wake
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if next.is_none_or(|current| when < current) {
            *next = Some(when);
        }
    }

    /// How long the claim loop may sleep before the next local wake-up is due.
    fn idle_wait(&self, cap: Duration) -> Duration {
        let mut next = self
            .next_local_wake
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match *next {
            Some(when) => {
                let now = Instant::now();
                if when <= now {
                    *next = None;
                    Duration::ZERO
                } else {
                    (when - now).min(cap)
                }
            }
            None => cap,
        }
    }
}

impl Worker {
    /// A worker executing `engine`'s definitions; nothing runs before [`Worker::run`]. Its id
    /// is fresh; with [`WorkerOptions::identity`] it also names the identity, so a successor
    /// started under the same identity after this one died takes over its runs at once.
    pub fn new(engine: Engine, options: WorkerOptions) -> Self {
        let id = match &options.identity {
            Some(identity) => worker_id_for(identity),
            None => Uuid::new_v4(),
        };
        Worker {
            engine,
            options,
            id,
            resources: Resources::default(),
        }
    }

    /// Gives steps a shared client (one per type), read with [`StepContext::resource`].
    pub fn with_resource<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.resources.insert(value);
        self
    }

    /// This worker's id (fresh per process; with an identity, its first 6 bytes name the
    /// identity), recorded on leases and attempts.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Runs until `shutdown` is cancelled, then drains as described in the module docs.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let options = self.options.clone();
        let concurrency = options.concurrency.max(1);
        let (sender, receiver) = mpsc::channel(concurrency * 2);
        let shared = Arc::new(Shared {
            resources: self.resources.clone(),
            engine: self.engine.clone(),
            worker_id: self.id,
            options: options.clone(),
            active: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            next_local_wake: Mutex::new(None),
            checkpoints: sender,
            draining: AtomicBool::new(false),
        });
        info!(worker_id = %self.id, concurrency, lease = ?options.lease, "worker started");

        let background_stop = CancellationToken::new();
        let background = TaskTracker::new();
        let receiver = Arc::new(AsyncMutex::new(receiver));
        for _ in 0..options.checkpoint_writers.max(1) {
            background.spawn(checkpoint_writer(
                self.engine.clone(),
                self.id,
                options.checkpoint_batch.max(1),
                receiver.clone(),
            ));
        }
        background.spawn(listen(shared.clone(), background_stop.clone()));
        background.spawn(heartbeat(shared.clone(), background_stop.clone()));

        // Held for the life of this worker: proof to a successor that we are alive.
        let identity_lock = match &options.identity {
            Some(identity) => take_over_predecessors(&self.engine, self.id, identity).await,
            None => None,
        };

        let runs = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(concurrency));
        claim_loop(&shared, &shutdown, &runs, &slots).await;

        // Drain: no new claims, no new steps; in-flight steps get the grace period.
        shared.draining.store(true, Ordering::SeqCst);
        runs.close();
        let in_flight = shared.active().len();
        if in_flight > 0 {
            info!(in_flight, grace = ?options.shutdown_grace, "shutting down: waiting for in-flight steps");
        }
        if tokio::time::timeout(options.shutdown_grace, runs.wait())
            .await
            .is_err()
        {
            for run in shared.active().values() {
                run.interrupt(Interruption::Shutdown);
            }
            runs.wait().await;
        }
        let leftover: Vec<(Uuid, i64, bool)> = shared
            .active()
            .drain()
            .map(|(id, run)| (id, run.token, run.step_began.load(Ordering::SeqCst)))
            .collect();
        if !leftover.is_empty() {
            match store::release(shared.engine.pool(), self.id, &leftover).await {
                Ok(n) => info!(released = n, "released leases of unfinished runs"),
                Err(err) => {
                    warn!(error = %err, "could not release leases; they will be rescued when they expire")
                }
            }
        }
        background_stop.cancel();
        drop(shared);
        background.close();
        background.wait().await;
        if let Some(connection) = identity_lock {
            let _ = sqlx::Connection::close(connection).await;
        }
        info!(worker_id = %self.id, "worker stopped");
        Ok(())
    }
}

/// A worker id under `identity`: the first 6 bytes are the identity's (SHA-256 prefix),
/// the rest random, so each process still has an id of its own (UUID version 8).
fn worker_id_for(identity: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(identity.as_bytes());
    let mut bytes: [u8; 16] = rand::random();
    bytes[..6].copy_from_slice(&digest[..6]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The part of a worker id that names its identity, as PostgreSQL prints it
/// (`xxxxxxxx-xxxx`).
fn identity_prefix(worker_id: Uuid) -> String {
    worker_id.hyphenated().to_string()[..13].to_owned()
}

fn liveness_key(worker_id: Uuid) -> String {
    format!("storeflow worker {worker_id}")
}

/// A worker restarted in the same place (same pod, same host) has the identity of the one
/// it replaces, and takes that one's runs over at once instead of waiting for their leases
/// to expire.
///
/// Every worker with an identity holds a session advisory lock on its own id for as long
/// as it lives (taken before it claims anything). A worker id of the same identity whose
/// lock can be taken therefore belongs to a process that is gone: its leases are expired,
/// and the rescue sweep that follows requeues its runs (fenced as always: they are claimed
/// with new fencing tokens). Workers of the same identity that are alive keep their runs.
/// Returns the connection holding this worker's own lock.
async fn take_over_predecessors(
    engine: &Engine,
    worker_id: Uuid,
    identity: &str,
) -> Option<sqlx::PgConnection> {
    let give_up = |err: sqlx::Error| {
        warn!(error = %err, identity, "cannot take over the runs of a predecessor; they are rescued when their leases expire");
    };
    let mut connection = match engine.pool().acquire().await {
        Ok(connection) => connection.detach(),
        Err(err) => {
            give_up(err);
            return None;
        }
    };
    let lock = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))";
    if let Err(err) = sqlx::query(lock)
        .bind(liveness_key(worker_id))
        .execute(&mut connection)
        .await
    {
        give_up(err);
        return None;
    }
    let owners: Vec<(Uuid,)> = match sqlx::query_as(
        "SELECT DISTINCT lease_owner FROM workflow_runs \
         WHERE status = 'running' AND lease_expires_at > now() \
           AND left(lease_owner::text, 13) = $1 AND lease_owner <> $2",
    )
    .bind(identity_prefix(worker_id))
    .bind(worker_id)
    .fetch_all(&mut connection)
    .await
    {
        Ok(owners) => owners,
        Err(err) => {
            give_up(err);
            return Some(connection);
        }
    };
    for (owner,) in owners {
        let key = liveness_key(owner);
        let gone: std::result::Result<(bool,), sqlx::Error> = sqlx::query_as(lock)
            .bind(&key)
            .fetch_one(&mut connection)
            .await;
        match gone {
            Ok((true,)) => {
                let taken = sqlx::query(
                    "UPDATE workflow_runs SET lease_expires_at = now() \
                     WHERE status = 'running' AND lease_owner = $1 AND lease_expires_at > now()",
                )
                .bind(owner)
                .execute(&mut connection)
                .await;
                let _ = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
                    .bind(&key)
                    .execute(&mut connection)
                    .await;
                match taken {
                    Ok(done) => info!(
                        identity,
                        predecessor = %owner,
                        runs = done.rows_affected(),
                        "taking over the runs of this identity's previous worker, which is gone"
                    ),
                    Err(err) => give_up(err),
                }
            }
            // Alive (another worker of the same identity): its runs stay its own.
            Ok((false,)) => {}
            Err(err) => give_up(err),
        }
    }
    Some(connection)
}

async fn claim_loop(
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
    runs: &TaskTracker,
    slots: &Arc<Semaphore>,
) {
    let options = &shared.options;
    let pool = shared.engine.pool();
    let rescue_interval = options.rescue_interval();
    let depth_interval = Duration::from_secs(30);
    let mut last_rescue: Option<Instant> = None;
    let mut last_depth: Option<Instant> = None;
    let mut saturated = false;
    let mut last_admission: Option<Instant> = None;
    let admission_required: Vec<String> = options
        .admission
        .iter()
        .flat_map(|admission| admission.workflows.iter().cloned())
        .collect();
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        if last_rescue.is_none_or(|t| t.elapsed() >= rescue_interval) {
            last_rescue = Some(Instant::now());
            match store::rescue_expired(pool, 500, options.max_rescues).await {
                Ok(rescued) => {
                    for run in rescued {
                        warn!(run_id = %run.id, workflow = %run.workflow, status = %run.status,
                              "rescued a run whose worker's lease expired");
                        metrics::counter!(m::RUNS_RESCUED, "workflow" => run.workflow).increment(1);
                    }
                }
                Err(err) => warn!(error = %err, "rescue sweep failed"),
            }
        }
        if last_depth.is_none_or(|t| t.elapsed() >= depth_interval) {
            last_depth = Some(Instant::now());
            if let Ok(depth) = store::runnable_count(pool).await {
                metrics::gauge!(m::RUNNABLE_RUNS).set(depth as f64);
            }
        }

        let first = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let mut permits = vec![first];
        let gather = |permits: &mut Vec<OwnedSemaphorePermit>| {
            while permits.len() < options.concurrency {
                match slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
        };
        gather(&mut permits);
        if saturated && permits.len() < (options.concurrency / 8).max(1) {
            // Busy: let a few more slots free up so claims stay batched.
            tokio::time::sleep(Duration::from_millis(2)).await;
            gather(&mut permits);
        }
        if !options.admission.is_empty()
            && last_admission.is_none_or(|t| t.elapsed() >= ADMISSION_INTERVAL)
        {
            last_admission = Some(Instant::now());
            for admission in &options.admission {
                match store::admit(pool, &admission.workflows, admission.max_in_flight.max(1)).await
                {
                    Ok(0) => {}
                    Ok(admitted) => debug!(admitted, "admitted queued runs into free slots"),
                    Err(err) => warn!(error = %err, "admitting queued runs failed; retrying"),
                }
            }
        }
        let wanted = permits.len();
        let claimed = match store::claim(
            pool,
            shared.worker_id,
            wanted,
            options.lease,
            &admission_required,
        )
        .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                warn!(error = %err, "claiming runs failed; retrying after the poll interval");
                drop(permits);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(options.poll_interval) => {},
                }
                continue;
            }
        };
        let got = claimed.len();
        for (run, permit) in claimed.into_iter().zip(permits.drain(..)) {
            metrics::histogram!(m::CLAIM_LATENCY).record(run.waited_seconds.max(0.0));
            runs.spawn(drive_run(shared.clone(), run, permit));
        }
        drop(permits);
        saturated = got == wanted;
        if saturated {
            continue;
        }
        let cap = options.poll_interval.min(
            rescue_interval.saturating_sub(last_rescue.map(|t| t.elapsed()).unwrap_or_default()),
        );
        let wait = shared.idle_wait(cap);
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = shared.wake.notified() => {},
            _ = tokio::time::sleep(wait) => {},
        }
    }
}

/// Group commit: takes every checkpoint waiting in the queue (up to `max_batch`) and writes
/// them in one statement; while one write is in flight the next batch accumulates.
async fn checkpoint_writer(
    engine: Engine,
    worker_id: Uuid,
    max_batch: usize,
    receiver: Arc<AsyncMutex<mpsc::Receiver<PendingCheckpoint>>>,
) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        let started = Instant::now();
        let checkpoints: Vec<&Checkpoint> = batch.iter().map(|p| p.checkpoint.as_ref()).collect();
        let result = write_batch(&engine, worker_id, &checkpoints).await;
        metrics::histogram!(m::CHECKPOINT_WRITE).record(started.elapsed().as_secs_f64());
        metrics::histogram!(m::CHECKPOINT_BATCH).record(batch.len() as f64);
        match result {
            Ok(written) => reply_all(batch, &written),
            Err(err) if batch.len() == 1 => {
                let failure = CheckpointFailure::from_error(&err);
                for pending in batch {
                    let _ = pending.reply.send(Err(failure.clone()));
                }
            }
            Err(err) => {
                // One bad checkpoint must not fail the others: write them one by one.
                warn!(error = %err, size = batch.len(), "batched checkpoint write failed; writing one by one");
                for pending in batch {
                    let answer = write_batch(&engine, worker_id, &[pending.checkpoint.as_ref()])
                        .await
                        .map(|written| {
                            written
                                .get(&pending.checkpoint.run_id)
                                .copied()
                                .unwrap_or(Committed::Fenced)
                        })
                        .map_err(|err| CheckpointFailure::from_error(&err));
                    let _ = pending.reply.send(answer);
                }
            }
        }
    }
}

async fn write_batch(
    engine: &Engine,
    worker_id: Uuid,
    checkpoints: &[&Checkpoint],
) -> Result<HashMap<Uuid, Committed>> {
    let mut conn = engine.pool().acquire().await?;
    store::write_checkpoints(&mut conn, worker_id, checkpoints).await
}

fn reply_all(batch: Vec<PendingCheckpoint>, written: &HashMap<Uuid, Committed>) {
    for pending in batch {
        let committed = written
            .get(&pending.checkpoint.run_id)
            .copied()
            .unwrap_or(Committed::Fenced);
        let _ = pending.reply.send(Ok(committed));
    }
}

/// `LISTEN`s for new work and cancellations.
async fn listen(shared: Arc<Shared>, stop: CancellationToken) {
    let mut listener: Option<PgListener> = None;
    loop {
        if stop.is_cancelled() {
            return;
        }
        let Some(active_listener) = listener.as_mut() else {
            match PgListener::connect_with(shared.engine.pool()).await {
                Ok(mut l) => match l.listen_all([WORK_CHANNEL, CANCEL_CHANNEL]).await {
                    Ok(()) => {
                        listener = Some(l);
                        // Anything announced while we were not listening is found by a claim.
                        shared.wake.notify_one();
                    }
                    Err(err) => warn!(error = %err, "LISTEN failed; relying on polling"),
                },
                Err(err) => {
                    warn!(error = %err, "cannot open the LISTEN connection; relying on polling")
                }
            }
            if listener.is_none() {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                }
            }
            continue;
        };
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            received = active_listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => match notification.channel() {
                WORK_CHANNEL => shared.wake.notify_one(),
                CANCEL_CHANNEL => {
                    if let Ok(run_id) = notification.payload().parse::<Uuid>()
                        && let Some(run) = shared.active().get(&run_id)
                    {
                        info!(run_id = %run_id, "cancellation requested; cancelling the running step");
                        run.interrupt(Interruption::Cancelled);
                    }
                }
                _ => {}
            },
            // The connection dropped; sqlx reconnects on the next call. Notifications sent
            // meanwhile are lost, so look for work now.
            Ok(None) => shared.wake.notify_one(),
            Err(err) => {
                warn!(error = %err, "LISTEN connection failed; reconnecting");
                listener = None;
            }
        }
    }
}

/// Extends the leases of every run this worker holds, in one statement per interval.
async fn heartbeat(shared: Arc<Shared>, stop: CancellationToken) {
    let interval = (shared.options.lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {},
        }
        let held: Vec<(Uuid, i64)> = shared
            .active()
            .iter()
            .filter(|(_, run)| {
                matches!(run.interruption.get(), None | Some(Interruption::Shutdown))
            })
            .map(|(id, run)| (*id, run.token))
            .collect();
        if held.is_empty() {
            continue;
        }
        match store::heartbeat(shared.engine.pool(), &held, shared.options.lease).await {
            Ok(alive) => {
                let active = shared.active();
                for (id, token) in held {
                    let Some(run) = active.get(&id) else { continue };
                    if run.token != token {
                        continue;
                    }
                    match alive.get(&id) {
                        None => {
                            warn!(run_id = %id, "lease lost (taken over by another worker); abandoning the step");
                            run.interrupt(Interruption::LeaseLost);
                        }
                        Some(true) => run.interrupt(Interruption::Cancelled),
                        Some(false) => {}
                    }
                }
            }
            Err(err) => warn!(error = %err, "heartbeat failed; leases may expire"),
        }
    }
}

enum RunEnd {
    /// Finished, waiting or cancelled: the run is no longer this worker's.
    Handed,
    /// Leave the run in the active map so shutdown releases it.
    LeaveForRelease,
}

async fn drive_run(shared: Arc<Shared>, claimed: ClaimedRun, _permit: OwnedSemaphorePermit) {
    let span = info_span!(
        "run",
        run_id = %claimed.id,
        workflow = %claimed.workflow,
        version = claimed.version,
        request_id = claimed.request_id.as_deref().unwrap_or(""),
    );
    let active = ActiveRun {
        token: claimed.fencing_token,
        cancel: CancellationToken::new(),
        interruption: Arc::new(OnceLock::new()),
        step_began: Arc::new(AtomicBool::new(true)),
    };
    let cancel = active.cancel.clone();
    let interruption = active.interruption.clone();
    let step_began = active.step_began.clone();
    let mut guard = ActiveGuard {
        shared: shared.clone(),
        run_id: claimed.id,
        token: claimed.fencing_token,
        keep_for_release: false,
    };
    // This worker may claim a run it is still driving: its lease ran out (heartbeats failed,
    // or the process stalled) and the claim found it first. The older drive is fenced off by
    // the new token; stop its step now, or it runs on unseen until its timeout — and holds up
    // this worker's shutdown that long.
    if let Some(previous) = shared.active().insert(claimed.id, active) {
        warn!(run_id = %claimed.id, "re-claimed a run this worker was still driving; abandoning the older attempt");
        previous.interrupt(Interruption::LeaseLost);
    }
    let run_id = claimed.id;
    let end = drive_steps(&shared, claimed, cancel, interruption, step_began.clone())
        .instrument(span.clone())
        .await;
    if matches!(end, RunEnd::LeaveForRelease) {
        // Shutting down and nothing in flight for this run: hand it back now, so another
        // worker continues it at once instead of after the whole grace period. If that
        // fails, shutdown releases it with the others.
        let release = [(run_id, guard.token, step_began.load(Ordering::SeqCst))];
        match store::release(shared.engine.pool(), shared.worker_id, &release)
            .instrument(span)
            .await
        {
            Ok(_) => debug!(%run_id, "released the run's lease (shutting down)"),
            Err(err) => {
                debug!(%run_id, error = %err, "releasing the run failed; shutdown retries it");
                guard.keep_for_release = true;
            }
        }
    }
}

/// Removes the run from the active map when its task ends — also if it panics, so a broken
/// run is not heartbeated forever — unless shutdown should release it. Only the entry of
/// this claim (same fencing token) is removed: the run may already be claimed afresh.
struct ActiveGuard {
    shared: Arc<Shared>,
    run_id: Uuid,
    token: i64,
    keep_for_release: bool,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if self.keep_for_release {
            return;
        }
        let mut active = self.shared.active();
        if active
            .get(&self.run_id)
            .is_some_and(|run| run.token == self.token)
        {
            active.remove(&self.run_id);
        }
    }
}

async fn drive_steps(
    shared: &Arc<Shared>,
    claimed: ClaimedRun,
    cancel: CancellationToken,
    interruption: Arc<OnceLock<Interruption>>,
    step_began: Arc<AtomicBool>,
) -> RunEnd {
    if claimed.first_claim {
        metrics::counter!(m::RUNS_STARTED, "workflow" => claimed.workflow.clone()).increment(1);
        info!("run started");
    }
    let run = RunInfo {
        id: claimed.id,
        token: claimed.fencing_token,
        workflow: claimed.workflow,
        version: claimed.version,
        step_count: claimed.step_count,
        input: claimed.input,
        subject: claimed.subject,
        tenant: claimed.tenant,
        request_id: claimed.request_id,
        deadline_at: claimed.deadline_at,
    };
    let mut progress = Progress {
        current_step: claimed.current_step,
        attempt: claimed.attempt,
        budget_from: claimed.budget_from,
        pending_since: claimed.pending_since,
        state: match claimed.state {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    };
    let definition = match shared.engine.definition(&run.workflow, run.version).await {
        Ok(definition) => definition,
        Err(err) => {
            // A database hiccup, or a run of a version this build does not know (a newer
            // build's run during a rolling deploy): hand it back for later, do not fail it.
            warn!(error = %err, "cannot load the run's definition; postponing the run");
            let plan = plan_postpone(
                &run,
                &progress,
                Duration::from_secs(30),
                err.to_string(),
                Utc::now(),
            );
            return commit_plan(shared, &run, plan).await;
        }
    };
    if claimed.cancel_requested {
        let plan = plan_checkpoint(
            &run,
            &definition,
            &progress,
            AttemptResult::Cancelled,
            Utc::now(),
            Moment::current(),
        );
        return commit_plan(shared, &run, plan).await;
    }
    loop {
        let Some(step) = definition.step_at(progress.current_step as usize) else {
            // Only a definition changed under a stored version could do this, which
            // registration refuses; fail the run rather than the worker.
            let message = format!(
                "the run is at step {} but its definition has {} steps",
                progress.current_step + 1,
                definition.all_steps().count()
            );
            let plan = plan_failure(&run, &progress, None, message, "failed", Utc::now());
            return commit_plan(shared, &run, plan).await;
        };
        let started_at = Utc::now();
        let started = Instant::now();
        step_began.store(true, Ordering::SeqCst);
        let span = info_span!("step", step = %step.name, index = progress.current_step, attempt = progress.attempt);
        let result = if step.action.runs_in_checkpoint() {
            match run_in_checkpoint(shared, &run, &definition, step, &progress, &cancel)
                .instrument(span.clone())
                .await
            {
                InCheckpoint::Committed(plan, committed) => {
                    record_attempt_metrics(&run, step, &plan, started);
                    match after_commit(shared, &run, *plan, Ok(committed)) {
                        Some(next) => {
                            progress = next;
                            if shared.draining.load(Ordering::SeqCst) {
                                step_began.store(false, Ordering::SeqCst);
                                return RunEnd::LeaveForRelease;
                            }
                            continue;
                        }
                        None => return RunEnd::Handed,
                    }
                }
                InCheckpoint::NotCommitted(result) => result,
            }
        } else {
            execute(shared, &run, &definition, step, &progress, &cancel)
                .instrument(span.clone())
                .await
        };
        let result = match result {
            AttemptResult::Cancelled => match interruption.get() {
                Some(Interruption::Shutdown) => return RunEnd::LeaveForRelease,
                Some(Interruption::LeaseLost) => return RunEnd::Handed,
                _ => AttemptResult::Cancelled,
            },
            other => other,
        };
        let _entered = span.enter();
        let plan = plan_checkpoint(
            &run,
            &definition,
            &progress,
            result,
            started_at,
            Moment::current(),
        );
        record_attempt_metrics(&run, step, &plan, started);
        drop(_entered);
        let checkpoint = Arc::new(plan.checkpoint.clone());
        let mut committed = submit(shared, checkpoint, &interruption).await;
        let mut plan = plan;
        if let Err(failure) = &committed
            && failure.permanent
        {
            // The database will never take this checkpoint (e.g. an output it cannot
            // store): fail the run with the reason instead of retrying it forever.
            warn!(error = %failure.message, "the database rejected the checkpoint; failing the run");
            plan = plan_failure(
                &run,
                &progress,
                Some(started_at),
                format!(
                    "the database rejected this step's result: {}",
                    failure.message
                ),
                "failed",
                Utc::now(),
            );
            committed = submit(shared, Arc::new(plan.checkpoint.clone()), &interruption).await;
        }
        match after_commit(shared, &run, plan, committed) {
            Some(next) => {
                progress = next;
                if shared.draining.load(Ordering::SeqCst) {
                    // Shutting down: do not start another step; the lease is released.
                    step_began.store(false, Ordering::SeqCst);
                    return RunEnd::LeaveForRelease;
                }
            }
            None => return RunEnd::Handed,
        }
    }
}

async fn commit_plan(shared: &Arc<Shared>, run: &RunInfo, plan: Plan) -> RunEnd {
    let committed = submit(
        shared,
        Arc::new(plan.checkpoint.clone()),
        &Arc::new(OnceLock::new()),
    )
    .await;
    after_commit(shared, run, plan, committed);
    RunEnd::Handed
}

/// Interprets a checkpoint write; returns the next progress when the run continues here.
fn after_commit(
    shared: &Arc<Shared>,
    run: &RunInfo,
    plan: Plan,
    committed: std::result::Result<Committed, CheckpointFailure>,
) -> Option<Progress> {
    match committed {
        Ok(Committed::Written(RunStatus::Running)) => plan.next,
        Ok(Committed::Written(status)) => {
            if status.is_final() {
                metrics::counter!(m::RUNS_FINISHED, "workflow" => run.workflow.clone(), "status" => status.as_str())
                    .increment(1);
                info!(%status, "run finished");
            }
            if status == RunStatus::Waiting
                && let Some(at) = plan.wake_at
            {
                shared.wake_at(at);
            }
            None
        }
        Ok(Committed::Fenced) => {
            warn!(
                "checkpoint refused: this worker's lease was taken over; the new owner continues the run"
            );
            None
        }
        Err(failure) => {
            warn!(error = %failure.message, "could not write the checkpoint; the run is rescued when its lease expires");
            None
        }
    }
}

fn record_attempt_metrics(run: &RunInfo, step: &StepDef, plan: &Plan, started: Instant) {
    metrics::histogram!(m::STEP_DURATION, "workflow" => run.workflow.clone(), "step" => step.name.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(m::STEP_ATTEMPTS, "workflow" => run.workflow.clone(), "step" => step.name.clone(), "outcome" => plan.outcome_label)
        .increment(1);
    if plan.checkpoint.status == RunStatus::Waiting && plan.checkpoint.pending_since.is_none() {
        metrics::counter!(m::STEP_RETRIES, "workflow" => run.workflow.clone(), "step" => step.name.clone())
            .increment(1);
    }
}

/// Queues a checkpoint for the group-commit writers; retries a write that failed for a
/// transient reason (the step's effect already happened) until the lease would have expired.
async fn submit(
    shared: &Arc<Shared>,
    checkpoint: Arc<Checkpoint>,
    interruption: &Arc<OnceLock<Interruption>>,
) -> std::result::Result<Committed, CheckpointFailure> {
    let give_up = Instant::now() + shared.options.lease;
    let mut delay = Duration::from_millis(50);
    loop {
        let (reply, answer) = oneshot::channel();
        let pending = PendingCheckpoint {
            checkpoint: checkpoint.clone(),
            reply,
        };
        let stopped = |what: &str| CheckpointFailure {
            message: what.into(),
            permanent: false,
        };
        if shared.checkpoints.send(pending).await.is_err() {
            return Err(stopped("the worker is stopping"));
        }
        match answer.await {
            Ok(Ok(committed)) => return Ok(committed),
            Ok(Err(failure)) => {
                if failure.permanent
                    || Instant::now() + delay > give_up
                    || interruption.get() == Some(&Interruption::LeaseLost)
                {
                    return Err(failure);
                }
                warn!(error = %failure.message, retry_in = ?delay, "checkpoint write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(_) => return Err(stopped("the checkpoint writer stopped")),
        }
    }
}

fn context<'a>(
    shared: &'a Shared,
    run: &'a RunInfo,
    step: &'a StepDef,
    progress: &'a Progress,
    cancel: &CancellationToken,
    time_left: Duration,
) -> StepContext<'a> {
    StepContext {
        time_left,
        run_id: run.id,
        workflow: &run.workflow,
        version: run.version,
        step_index: progress.current_step as usize,
        step_name: &step.name,
        attempt: progress.attempt,
        attempt_in_budget: progress.attempt - progress.budget_from + 1,
        input: &run.input,
        state: &progress.state,
        subject: run.subject.as_deref(),
        tenant: run.tenant.as_deref(),
        request_id: run.request_id.as_deref(),
        worker_id: shared.worker_id,
        resources: &shared.resources,
        engine: &shared.engine,
        pool: shared.engine.pool(),
        cancel: cancel.clone(),
        transaction: None,
    }
}

async fn execute(
    shared: &Shared,
    run: &RunInfo,
    definition: &Definition,
    step: &StepDef,
    progress: &Progress,
    cancel: &CancellationToken,
) -> AttemptResult {
    let (budget, limited_by_deadline) =
        match step_budget(run, definition, step, progress, Utc::now()) {
            Ok(b) => b,
            Err(result) => return result,
        };
    debug!("step attempt started");
    let mut cx = context(shared, run, step, progress, cancel, budget);
    run_step(step, &mut cx, cancel, budget, limited_by_deadline).await
}

enum InCheckpoint {
    Committed(Box<Plan>, Committed),
    NotCommitted(AttemptResult),
}

/// Runs a database-only step inside the checkpoint transaction: its writes and the
/// checkpoint commit together, or not at all. The run row is not locked while the step
/// runs (heartbeats and operators are not blocked); the fenced checkpoint is the
/// transaction's last statement, and a refused one rolls the step's writes back.
async fn run_in_checkpoint(
    shared: &Shared,
    run: &RunInfo,
    definition: &Definition,
    step: &StepDef,
    progress: &Progress,
    cancel: &CancellationToken,
) -> InCheckpoint {
    let (budget, limited_by_deadline) =
        match step_budget(run, definition, step, progress, Utc::now()) {
            Ok(b) => b,
            Err(result) => return InCheckpoint::NotCommitted(result),
        };
    let started_at = Utc::now();
    let attempt = async {
        let mut tx = shared.engine.pool().begin().await?;
        let outcome = {
            let mut cx = context(shared, run, step, progress, cancel, budget);
            cx.transaction = Some(&mut *tx);
            run_step(step, &mut cx, cancel, budget, limited_by_deadline).await
        };
        if !matches!(outcome, AttemptResult::Outcome(StepOutcome::Done(_))) {
            tx.rollback().await?;
            return Ok::<_, crate::Error>(InCheckpoint::NotCommitted(outcome));
        }
        let plan = plan_checkpoint(
            run,
            definition,
            progress,
            outcome,
            started_at,
            Moment::current(),
        );
        let written =
            store::write_checkpoints(&mut tx, shared.worker_id, &[&plan.checkpoint]).await?;
        let committed = written.get(&run.id).copied().unwrap_or(Committed::Fenced);
        match committed {
            Committed::Written(_) => tx.commit().await?,
            Committed::Fenced => tx.rollback().await?,
        }
        Ok(InCheckpoint::Committed(Box::new(plan), committed))
    };
    match attempt.await {
        Ok(result) => result,
        Err(err) => InCheckpoint::NotCommitted(AttemptResult::Outcome(StepOutcome::retry(
            format!("database error in checkpoint transaction: {err}"),
        ))),
    }
}

/// Runs one attempt with its time budget, cancellable, turning a panic into a retryable
/// failure (a panicking step must not take its run down with the task).
async fn run_step(
    step: &StepDef,
    cx: &mut StepContext<'_>,
    cancel: &CancellationToken,
    budget: Duration,
    limited_by_deadline: bool,
) -> AttemptResult {
    use futures::FutureExt;
    let attempt = std::panic::AssertUnwindSafe(step.action.run(cx)).catch_unwind();
    tokio::select! {
        biased;
        _ = cancel.cancelled() => AttemptResult::Cancelled,
        outcome = tokio::time::timeout(budget, attempt) => match outcome {
            Ok(Ok(outcome)) => AttemptResult::Outcome(outcome),
            Ok(Err(panic)) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic payload".into());
                AttemptResult::Outcome(StepOutcome::retry(format!("the step panicked: {message}")))
            }
            Err(_) if limited_by_deadline => AttemptResult::DeadlineExceeded,
            Err(_) => AttemptResult::TimedOut(step.timeout),
        },
    }
}
