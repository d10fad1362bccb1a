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

use crate::store::StoreStatus;

/// An operation on a store and the statuses it moves the store through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Creating the store in the cluster; requested together with the store row itself.
    Provision,
    /// Removing the store from the cluster (from ready, or from failed to clean up).
    Teardown,
    /// Moving a ready store to new chart and app versions.
    Upgrade,
    /// Replacing a ready store's data from one of its backups.
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
        /// The store's id.
        store: String,
        /// The operation's `current_operation` spelling (`teardown`).
        operation: &'static str,
        /// The store's status when the move was refused (`deleted` if its row is gone).
        actual: String,
        /// The statuses the operation starts from, `ready or failed`.
        allowed: String,
    },
    /// A run of the same kind still works on the store (a rotation): nothing was changed.
    #[error("store {store} has a {operation} that is still {status} (run {run_id})")]
    InProgress {
        /// The store's id.
        store: String,
        /// What is in progress (`rotation`).
        operation: &'static str,
        /// The run doing it.
        run_id: uuid::Uuid,
        /// That run's status.
        status: String,
    },
    /// The run could not be enqueued; the store was not touched.
    #[error(transparent)]
    Engine(#[from] storeflow_engine::Error),
    /// The store row could not be read or moved. The run may already be enqueued in the
    /// caller's transaction: roll it back.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl std::str::FromStr for Operation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Operation::Provision,
            Operation::Teardown,
            Operation::Upgrade,
            Operation::Restore,
        ]
        .into_iter()
        .find(|operation| operation.as_str() == text)
        .ok_or_else(|| format!("`{text}` is not a store operation"))
    }
}

/// Why `operation` (its `current_operation` spelling) was not made on a store that is `actual`
/// but had to be one of `allowed`.
fn refused(
    store: &str,
    operation: &'static str,
    actual: StoreStatus,
    allowed: &[StoreStatus],
) -> TransitionError {
    TransitionError::Refused {
        store: store.to_owned(),
        operation,
        actual: actual.to_string(),
        allowed: allowed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// The store's status now (deleted when the row is gone), to say why a move was refused.
async fn actual_status(conn: &mut PgConnection, store: &str) -> Result<StoreStatus, sqlx::Error> {
    let actual: Option<(StoreStatus,)> = sqlx::query_as("SELECT status FROM stores WHERE id = $1")
        .bind(store)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(actual.map_or(StoreStatus::Deleted, |(status,)| status))
}

/// A conditional move that changed no row was refused (the store moved meanwhile, or is
/// gone): says so with the store's status now.
async fn moved_or_refused(
    conn: &mut PgConnection,
    moved: sqlx::postgres::PgQueryResult,
    store: &str,
    operation: &'static str,
    allowed: &[StoreStatus],
) -> Result<(), TransitionError> {
    if moved.rows_affected() == 1 {
        return Ok(());
    }
    let actual = actual_status(conn, store).await?;
    Err(refused(store, operation, actual, allowed))
}

/// Requests `operation` on a store that is `from` (which the operation must allow): enqueues
/// `run` and moves the store to the operation's running status with it ([`move_to_run`]), in
/// `conn`'s transaction.
pub async fn request(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    operation: Operation,
    from: StoreStatus,
    run: NewRun,
) -> Result<Enqueued, TransitionError> {
    let allowed = operation.allowed_from();
    if !allowed.contains(&from) {
        return Err(refused(store, operation.as_str(), from, allowed));
    }
    let enqueued = engine.enqueue(&mut *conn, run).await?;
    move_to_run(conn, store, operation, from, enqueued.run_id).await?;
    Ok(enqueued)
}

/// Requests a restore of `backup` into a store that is `from` (ready) with `run`: [`request`]
/// for [`Operation::Restore`]; until the restore is done the store says which backup it is
/// being restored from.
pub async fn request_restore(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    from: StoreStatus,
    backup: uuid::Uuid,
    run: NewRun,
) -> Result<Enqueued, TransitionError> {
    let enqueued = request(conn, engine, store, Operation::Restore, from, run).await?;
    sqlx::query("UPDATE stores SET restore_backup_id = $2, restored_at = NULL WHERE id = $1")
        .bind(store)
        .bind(backup)
        .execute(&mut *conn)
        .await?;
    Ok(enqueued)
}

/// Moves a store that is `from` (which `operation` must allow) to the operation's running
/// status under `run_id`, a run the caller enqueued in `conn`'s transaction — [`request`]'s
/// second half, for a caller that starts the run itself (a fleet rollout starts its upgrades
/// as child runs). Clears the failure the store may show; a new upgrade or restore starts its
/// own retry count, a teardown keeps the count of the failure it ends.
pub async fn move_to_run(
    conn: &mut PgConnection,
    store: &str,
    operation: Operation,
    from: StoreStatus,
    run_id: uuid::Uuid,
) -> Result<(), TransitionError> {
    let allowed = operation.allowed_from();
    if !allowed.contains(&from) {
        return Err(refused(store, operation.as_str(), from, allowed));
    }
    let moved = sqlx::query(
        "UPDATE stores SET status = $4, current_run_id = $2, current_operation = $5, \
                failure_reason = NULL, failed_step = NULL, \
                retry_count = CASE WHEN $6 THEN 0 ELSE retry_count END, updated_at = now() \
         WHERE id = $1 AND status = $3",
    )
    .bind(store)
    .bind(run_id)
    .bind(from)
    .bind(operation.running_status())
    .bind(operation.as_str())
    .bind(matches!(operation, Operation::Upgrade | Operation::Restore))
    .execute(&mut *conn)
    .await?;
    moved_or_refused(conn, moved, store, operation.as_str(), allowed).await
}

/// Requests the provisioning of a store whose row the caller has just inserted (`requested`)
/// in `conn`'s transaction: enqueues `run` (a provisioning, or a restore into the new store)
/// and makes it the store's current and provisioning run.
pub async fn request_provision(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    run: NewRun,
) -> Result<Enqueued, TransitionError> {
    let enqueued = engine.enqueue(&mut *conn, run).await?;
    let moved = sqlx::query(
        "UPDATE stores SET current_run_id = $2, provision_run_id = $2 \
         WHERE id = $1 AND status = 'requested' AND current_run_id IS NULL",
    )
    .bind(store)
    .bind(enqueued.run_id)
    .execute(&mut *conn)
    .await?;
    moved_or_refused(
        conn,
        moved,
        store,
        Operation::Provision.as_str(),
        &[StoreStatus::Requested],
    )
    .await?;
    Ok(enqueued)
}

/// Requests the store's teardown from `from` (ready or failed) with `run`, a
/// `teardown-store` run: [`request`] for [`Operation::Teardown`].
pub async fn request_teardown(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    from: StoreStatus,
    run: NewRun,
) -> Result<Enqueued, TransitionError> {
    request(conn, engine, store, Operation::Teardown, from, run).await
}

/// Starts a failed store's `operation` again with a new `run` (its earlier run was cancelled
/// or is gone, so it cannot resume): the store moves from `failed` back to the operation's
/// running status and its retry count grows.
pub async fn request_restart(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    operation: Operation,
    run: NewRun,
) -> Result<Enqueued, TransitionError> {
    let enqueued = engine.enqueue(&mut *conn, run).await?;
    let moved = sqlx::query(
        "UPDATE stores SET status = $3, current_run_id = $2, retry_count = retry_count + 1, \
                failure_reason = NULL, failed_step = NULL, updated_at = now() \
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(store)
    .bind(enqueued.run_id)
    .bind(operation.running_status())
    .execute(&mut *conn)
    .await?;
    moved_or_refused(
        conn,
        moved,
        store,
        operation.as_str(),
        &[StoreStatus::Failed],
    )
    .await?;
    Ok(enqueued)
}

/// Requests a credential rotation of a `ready` store (`from`, the status the caller saw):
/// unless a rotation is still running, enqueues `run` (a `rotate-credentials` run) and, in
/// `conn`'s transaction, stores the new credentials (`sealed`) while keeping the ones the
/// store's apps accept now as its previous credentials, until the run has applied the new
/// ones. The store's status does not change: it stays ready and serving.
pub async fn request_rotation(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    from: StoreStatus,
    sealed: Vec<u8>,
    run: NewRun,
) -> Result<Enqueued, TransitionError> {
    const ROTATION: &str = "rotation";
    if from != StoreStatus::Ready {
        return Err(refused(store, ROTATION, from, &[StoreStatus::Ready]));
    }
    let running: Option<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT s.rotation_run_id, r.status FROM stores s \
         JOIN LATERAL workflow_run_summary(s.rotation_run_id) r ON NOT r.finished \
         WHERE s.id = $1",
    )
    .bind(store)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((run_id, status)) = running {
        return Err(TransitionError::InProgress {
            store: store.to_owned(),
            operation: ROTATION,
            run_id,
            status,
        });
    }
    let enqueued = engine.enqueue(&mut *conn, run).await?;
    let moved = sqlx::query(
        "UPDATE stores SET previous_credentials = credentials, credentials = $2, \
                           rotation_run_id = $3, updated_at = now() \
         WHERE id = $1 AND status = 'ready'",
    )
    .bind(store)
    .bind(sealed)
    .bind(enqueued.run_id)
    .execute(&mut *conn)
    .await?;
    moved_or_refused(conn, moved, store, ROTATION, &[StoreStatus::Ready]).await?;
    Ok(enqueued)
}

/// The run a failed store's operation ended with, as the caller read it with the store.
#[derive(Debug, Clone, Copy)]
pub struct FailedRun {
    /// The run's id.
    pub id: uuid::Uuid,
    /// Whether it failed (it resumes) rather than being cancelled (it cannot).
    pub failed: bool,
    /// The 0-based index of the step it stopped at.
    pub step_index: usize,
}

/// How a retry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    /// The failed run resumes at its failed step: finished steps never run again.
    Resumed(uuid::Uuid),
    /// The operation starts again with a new run (its run was cancelled or is gone); every
    /// step is idempotent, so work already done is recognised, not repeated.
    Restarted(uuid::Uuid),
}

impl Retried {
    /// The run that carries the retry.
    pub fn run_id(self) -> uuid::Uuid {
        match self {
            Retried::Resumed(id) | Retried::Restarted(id) => id,
        }
    }
}

/// Retries a failed store's `operation`, in `conn`'s transaction (which holds the store, so
/// no delete slips in between): a run that failed resumes at its failed step — the lifecycle
/// trigger moves the store back to the operation's running status as the run is requeued —
/// and `actor` is recorded on it; otherwise `restart` starts the operation again
/// ([`request_restart`]). Either way the store's retry count grows.
pub async fn request_retry(
    conn: &mut PgConnection,
    engine: &Engine,
    store: &str,
    operation: Operation,
    last_run: Option<FailedRun>,
    actor: &str,
    restart: NewRun,
) -> Result<Retried, TransitionError> {
    let Some(run) = last_run.filter(|run| run.failed) else {
        let run = request_restart(conn, engine, store, operation, restart).await?;
        return Ok(Retried::Restarted(run.run_id));
    };
    let step = storeflow_engine::StepRef::Number(run.step_index + 1);
    match engine
        .retry_step_in(&mut *conn, run.id, &step, Some(actor))
        .await
    {
        Ok(()) => {}
        // The run left `failed` meanwhile (another retry won): nothing was changed.
        Err(storeflow_engine::Error::InvalidRunState { .. }) => {
            let actual = actual_status(conn, store).await?;
            return Err(refused(
                store,
                operation.as_str(),
                actual,
                &[StoreStatus::Failed],
            ));
        }
        Err(err) => return Err(err.into()),
    }
    sqlx::query("UPDATE stores SET retry_count = retry_count + 1 WHERE id = $1")
        .bind(store)
        .execute(&mut *conn)
        .await?;
    Ok(Retried::Resumed(run.id))
}
