//! Tenant scope for database work: a transaction that runs as `storeflow_tenant` with the
//! caller's identity set, so PostgreSQL's row-level security — not only the query's
//! filter — decides which stores, runs, events and audit rows it can see.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Whose rows a transaction may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only this user's rows.
    Tenant(Uuid),
    /// Every row (admin views): runs as the table owner, which policies do not restrict.
    All,
}

/// Begins a transaction in `scope`. Every tenant-facing read or write of stores goes
/// through one of these. A tenant scope costs no extra round trip: `BEGIN`, the role switch
/// and the identity go to the server as one simple-query batch.
pub async fn begin(pool: &PgPool, scope: Scope) -> sqlx::Result<Transaction<'static, Postgres>> {
    match scope {
        Scope::Tenant(user) => {
            // A `Uuid` formats as 36 hex digits and hyphens: nothing to escape.
            // Generic plans: a custom plan per execution would re-plan the row-level
            // security subqueries every time, and the user id is the only thing that varies.
            let statement = format!(
                "BEGIN; SET LOCAL ROLE storeflow_tenant; SET LOCAL plan_cache_mode = force_generic_plan; \
                 SELECT set_config('storeflow.user_id', '{}', true)",
                user.hyphenated()
            );
            pool.begin_with(sqlx::AssertSqlSafe(statement)).await
        }
        Scope::All => pool.begin().await,
    }
}
