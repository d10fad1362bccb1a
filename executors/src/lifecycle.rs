//! The store lifecycle's requested transitions, in one place for every caller: the HTTP
//! routes (a tenant deleting a store) and the cleanup workflows (the reaper tearing a failed
//! store down) move a store the same way.
//!
//! A transition is requested inside the caller's transaction: the run that carries it out is
//! enqueued and the store row moved to the run's status, conditional on the status the
//! caller saw — so two requests racing cannot both win, and a caller that rolls back leaves
//! neither a run nor a moved store. What happens when the run ends (ready, failed, deleted) is
//! the `stores_follow_lifecycle_run` trigger's part (see ARCHITECTURE.md).

use sqlx::PgConnection;
use storeflow_engine::{Engine, Enqueued, NewRun};

use crate::store_state::StoreStatus;

/// An operation on a store and the statuses it moves the store through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Provision,
    Teardown,
    Upgrade,
    Restore,
}

impl Operation {
    /// The statuses a store may be in when the operation is requested.
    pub const fn allowed_from(self) -> &'static [StoreStatus] {
        match self {
            // Created with its run: no earlier status.
            Operation::Provision => &[],
            Operation::Teardown => &[StoreStatus::Ready, StoreStatus::Failed],
            Operation::Upgrade | Operation::Restore => &[StoreStatus::Ready],
        }
    }

    /// The store's status while the operation's run works.
    pub const fn running_status(self) -> StoreStatus {
        match self {
            Operation::Provision => StoreStatus::Provisioning,
            Operation::Teardown => StoreStatus::Deleting,
            Operation::Upgrade => StoreStatus::Upgrading,
            Operation::Restore => StoreStatus::Restoring,
        }
    }

    /// `current_operation` of the store row while it runs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Provision => "provision",
            Operation::Teardown => "teardown",
            Operation::Upgrade => "upgrade",
            Operation::Restore => "restore",
        }
    }
}

/// Why a transition was not made.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The store is not in a status the operation may start from (the caller's view was
    /// stale, or another request won): nothing was changed.
    #[error("store {store} is {actual}; {operation} needs it {allowed}")]
    Refused {
        store: String,
        operation: &'static str,
        actual: String,
        allowed: String,
    },
    #[error(transparent)]
    Engine(#[from] storeflow_engine::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Requests the store's teardown from `from` (which must be allowed): enqueues `run` (a
/// `teardown-store` run) and moves the store to `deleting` with it, clearing the failure it
/// may show, in `conn`'s transaction.
pub async fn request_teardown(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    from: StoreStatus,
    run: NewRun,
) -> Result<Enqueued, TransitionError> {
    let operation = Operation::Teardown;
    let refused = |actual: StoreStatus| TransitionError::Refused {
        store: store.to_owned(),
        operation: operation.as_str(),
        actual: actual.to_string(),
        allowed: operation
            .allowed_from()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
    };
    if !operation.allowed_from().contains(&from) {
        return Err(refused(from));
    }
    let enqueued = engine.enqueue(&mut *conn, run).await?;
    let moved = sqlx::query(
        "UPDATE stores SET status = $4, current_run_id = $2, current_operation = $5, \
                failure_reason = NULL, failed_step = NULL, updated_at = now() \
         WHERE id = $1 AND status = $3",
    )
    .bind(store)
    .bind(enqueued.run_id)
    .bind(from)
    .bind(operation.running_status())
    .bind(operation.as_str())
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        let actual: Option<(StoreStatus,)> =
            sqlx::query_as("SELECT status FROM stores WHERE id = $1")
                .bind(store)
                .fetch_optional(&mut *conn)
                .await?;
        return Err(refused(actual.map_or(StoreStatus::Deleted, |(s,)| s)));
    }
    Ok(enqueued)
}
