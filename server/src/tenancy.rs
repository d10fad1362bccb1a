//! Tenant scope for database work: a transaction that runs as `storeflow_tenant` with the
//! caller's identity set, so PostgreSQL's row-level security — not only the query's
//! filter — decides which stores it can see.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Whose rows a transaction may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only this user's rows.
    Tenant(Uuid),
    /// Every row (admin views).
    All,
}

/// Begins a transaction in `scope`. Every tenant-facing read or write of stores goes
/// through one of these.
pub async fn begin(pool: &PgPool, scope: Scope) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL ROLE storeflow_tenant")
        .execute(&mut *tx)
        .await?;
    match scope {
        Scope::Tenant(user) => {
            sqlx::query("SELECT set_config('storeflow.user_id', $1, true), set_config('storeflow.scope', '', true)")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Scope::All => {
            sqlx::query("SELECT set_config('storeflow.scope', 'all', true), set_config('storeflow.user_id', '', true)")
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(tx)
}
