//! Metric names the engine records through the `metrics` facade. The binary installs the
//! Prometheus exporter; without a recorder these calls cost next to nothing.

/// Counter, labels `workflow`.
pub const RUNS_STARTED: &str = "storeflow_runs_started_total";
/// Counter, labels `workflow`, `status` (succeeded, failed, cancelled).
pub const RUNS_FINISHED: &str = "storeflow_runs_finished_total";
/// Histogram (seconds), labels `workflow`, `step`.
pub const STEP_DURATION: &str = "storeflow_step_duration_seconds";
/// Counter, labels `workflow`, `step`, `outcome`.
pub const STEP_ATTEMPTS: &str = "storeflow_step_attempts_total";
/// Counter, labels `workflow`, `step`.
pub const STEP_RETRIES: &str = "storeflow_step_retries_total";
/// Counter, labels `workflow`.
pub const RUNS_RESCUED: &str = "storeflow_runs_rescued_total";
/// Gauge: runs that are runnable now and not claimed.
pub const RUNNABLE_RUNS: &str = "storeflow_runnable_runs";
/// Histogram (seconds): how long a runnable run waited before a worker claimed it.
pub const CLAIM_LATENCY: &str = "storeflow_claim_latency_seconds";
/// Histogram (seconds): duration of one batched checkpoint write.
pub const CHECKPOINT_WRITE: &str = "storeflow_checkpoint_write_seconds";
/// Histogram: checkpoints per batched write.
pub const CHECKPOINT_BATCH: &str = "storeflow_checkpoint_batch_size";

/// Every metric the engine records.
pub const ALL: &[&str] = &[
    RUNS_STARTED,
    RUNS_FINISHED,
    STEP_DURATION,
    STEP_ATTEMPTS,
    STEP_RETRIES,
    RUNS_RESCUED,
    RUNNABLE_RUNS,
    CLAIM_LATENCY,
    CHECKPOINT_WRITE,
    CHECKPOINT_BATCH,
];

/// Registers descriptions and units, for exporters that show them.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(RUNS_STARTED, "Workflow runs claimed for the first time");
    describe_counter!(RUNS_FINISHED, "Workflow runs that reached a final status");
    describe_histogram!(STEP_DURATION, Unit::Seconds, "Duration of step attempts");
    describe_counter!(STEP_ATTEMPTS, "Step attempts by outcome");
    describe_counter!(
        STEP_RETRIES,
        "Step retries scheduled after a failed attempt"
    );
    describe_counter!(
        RUNS_RESCUED,
        "Runs taken over after their worker's lease expired"
    );
    describe_gauge!(RUNNABLE_RUNS, "Runs runnable now and waiting for a worker");
    describe_histogram!(
        CLAIM_LATENCY,
        Unit::Seconds,
        "Time from runnable to claimed"
    );
    describe_histogram!(
        CHECKPOINT_WRITE,
        Unit::Seconds,
        "Duration of one batched checkpoint write"
    );
    describe_histogram!(
        CHECKPOINT_BATCH,
        Unit::Count,
        "Checkpoints per batched write"
    );
}
