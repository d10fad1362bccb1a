//! The cleanup workflows the scheduler runs, and their default schedules.

use std::time::Duration;

use serde_json::json;
use storeflow_engine::{Definition, RetryPolicy, ScheduleSpec, StepDef};
use storeflow_executors::backup::{PruneBackups, StartDueBackups};
use storeflow_executors::cleanup::{PruneHistory, ReapFailedStores, ReapOrphans};

pub const REAP_FAILED_STORES: &str = "reap-failed-stores";
pub const REAP_ORPHANS: &str = "reap-orphans";
pub const PRUNE_HISTORY: &str = "prune-history";
pub const SCHEDULED_BACKUPS: &str = "scheduled-backups";

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_secs(5),
        max_backoff: Duration::from_secs(60),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

/// Stores failed for longer than the schedule's `older_than` (default 7 days) are torn down.
pub fn reap_failed_stores_v1() -> Definition {
    Definition::new(REAP_FAILED_STORES, 1).step(
        StepDef::new("reap-failed-stores", ReapFailedStores::default())
            .retry(retry())
            .timeout(Duration::from_secs(5 * 60)),
    )
}

/// Namespaces labelled as storeflow's that no live store owns are removed.
pub fn reap_orphans_v1() -> Definition {
    Definition::new(REAP_ORPHANS, 1).step(
        StepDef::new("reap-orphans", ReapOrphans::default())
            .retry(retry())
            .timeout(Duration::from_secs(5 * 60)),
    )
}

/// Finished runs, audit rows and expired limiter rows older than the retention are deleted.
pub fn prune_history_v1() -> Definition {
    Definition::new(PRUNE_HISTORY, 1).step(
        StepDef::new("prune-history", PruneHistory::default())
            .retry(retry())
            .timeout(Duration::from_secs(30 * 60)),
    )
}

/// Starts the store backups that are due by their schedules, then prunes backups by their
/// retention (and failed ones after a day).
pub fn scheduled_backups_v1() -> Definition {
    Definition::new(SCHEDULED_BACKUPS, 1)
        .step(
            StepDef::new("start-due-backups", StartDueBackups { limit: 200 })
                .retry(retry())
                .timeout(Duration::from_secs(5 * 60)),
        )
        .step(
            StepDef::new("prune-backups", PruneBackups { all: true })
                .retry(retry())
                .timeout(Duration::from_secs(30 * 60)),
        )
}

/// The schedules every installation starts with (created once; operators may change or
/// disable them and those changes are kept).
pub fn default_schedules() -> Vec<ScheduleSpec> {
    vec![
        ScheduleSpec {
            name: REAP_FAILED_STORES.into(),
            cron: "17 * * * *".into(),
            workflow: REAP_FAILED_STORES.into(),
            input: json!({ "older_than": "7d" }),
            enabled: true,
        },
        ScheduleSpec {
            name: REAP_ORPHANS.into(),
            cron: "*/15 * * * *".into(),
            workflow: REAP_ORPHANS.into(),
            input: json!({}),
            enabled: true,
        },
        ScheduleSpec {
            name: SCHEDULED_BACKUPS.into(),
            cron: "*/5 * * * *".into(),
            workflow: SCHEDULED_BACKUPS.into(),
            input: json!({}),
            enabled: true,
        },
        ScheduleSpec {
            name: PRUNE_HISTORY.into(),
            cron: "40 3 * * *".into(),
            workflow: PRUNE_HISTORY.into(),
            input: json!({ "retention": "30d" }),
            enabled: true,
        },
    ]
}
