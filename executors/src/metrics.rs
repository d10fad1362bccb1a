//! Metrics about stores, recorded by the workers (and the API process of `storeflow up`).

use sqlx::PgPool;

/// Gauge, labels `status`, `engine`: stores that are not deleted.
pub const STORES: &str = "storeflow_stores";
/// Histogram (seconds), label `engine`: from a store's creation to `ready`.
pub const PROVISIONING_DURATION: &str = "storeflow_store_provisioning_seconds";
/// Histogram (seconds), label `engine`: from a store's creation to its first (verification)
/// order.
pub const TIME_TO_FIRST_ORDER: &str = "storeflow_store_first_order_seconds";

/// Gauge, label `dependency`: 1 while this worker's circuit breaker for it is open.
pub const CIRCUIT_OPEN: &str = "storeflow_circuit_open";

/// Every metric recorded about stores and their dependencies.
pub const ALL: &[&str] = &[
    STORES,
    PROVISIONING_DURATION,
    TIME_TO_FIRST_ORDER,
    CIRCUIT_OPEN,
];

/// The statuses [`STORES`] reports: every one but `deleted`, which only grows.
fn live_statuses() -> impl Iterator<Item = &'static str> {
    crate::store::STORE_STATUSES
        .iter()
        .copied()
        .filter(|status| *status != "deleted")
}

/// Registers descriptions and units.
pub fn describe() {
    use metrics::{Unit, describe_gauge, describe_histogram};
    describe_gauge!(STORES, "Stores that are not deleted, by status and engine");
    describe_gauge!(
        CIRCUIT_OPEN,
        "1 while this worker's circuit breaker for a dependency is open"
    );
    describe_histogram!(
        PROVISIONING_DURATION,
        Unit::Seconds,
        "Time from a store's creation to ready, by engine"
    );
    describe_histogram!(
        TIME_TO_FIRST_ORDER,
        Unit::Seconds,
        "Time from a store's creation to its first order, by engine"
    );
}

/// Sets [`STORES`] from the database: every (status, engine) pair, zero where none.
pub async fn refresh_store_gauges(pool: &PgPool) -> sqlx::Result<()> {
    let counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT status::text, engine::text, count(*) FROM stores \
         WHERE status <> 'deleted' GROUP BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    for engine in crate::engines::registry() {
        for status in live_statuses() {
            let count = counts
                .iter()
                .find(|(s, e, _)| s == status && e == engine.name())
                .map_or(0, |(_, _, n)| *n);
            metrics::gauge!(STORES, "status" => status, "engine" => engine.name())
                .set(count as f64);
        }
    }
    Ok(())
}
