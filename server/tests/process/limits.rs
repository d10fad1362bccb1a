//! Abuse limits that must hold across API replicas: two `storeflow serve` processes on one
//! database give a client one request budget between them, not one each.

use std::time::Duration;

use crate::outages::{request, serve_ready};

fn serve_replica(database_url: &str, budget: u32) -> (crate::outages::Serve, u16) {
    let budget = budget.to_string();
    serve_ready(
        database_url,
        &[
            ("RATE_LIMIT_MAX", budget.as_str()),
            // Windows are aligned on the clock: a day-long one is not crossed by this test.
            ("RATE_LIMIT_WINDOW_MS", "86400000"),
        ],
    )
}

fn statuses(port: u16, count: usize) -> Vec<u16> {
    (0..count)
        .map(|_| request(port, "GET", "/api/v1/openapi.json", None, None).0)
        .collect()
}

/// How many requests the replicas have published to the database so far (all clients).
fn published_hits(database_url: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(database_url).await.expect("database");
        let (hits,): (Option<i64>,) =
            sqlx::query_as("SELECT sum(hits)::bigint FROM api_request_windows")
                .fetch_one(&pool)
                .await
                .expect("hits");
        pool.close().await;
        hits.unwrap_or(0)
    })
}

/// Waits until the replicas have published at least `hits` requests, then for one more
/// exchange (every 500 ms) so that every replica has read them — on a loaded machine the
/// exchange may lag behind its period, which a fixed sleep would mistake for a broken budget.
fn wait_until_shared(database_url: &str, hits: i64) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while published_hits(database_url) < hits {
        assert!(
            std::time::Instant::now() < until,
            "the replicas did not publish {hits} requests within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
}

#[test]
fn two_replicas_share_one_request_budget_per_client() {
    let database = storeflow_testkit::OwnServer::start();
    let budget = 20;
    let (_a, port_a) = serve_replica(&database.url, budget);
    let (_b, port_b) = serve_replica(&database.url, budget);

    let on_a = statuses(port_a, 15);
    assert!(on_a.iter().all(|s| *s == 200), "{on_a:?}");
    // Replicas exchange counts every 500 ms; after that B knows A's 15.
    wait_until_shared(&database.url, 15);
    let on_b = statuses(port_b, 15);
    let admitted = on_b.iter().filter(|s| **s == 200).count();
    let refused = on_b.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (admitted, refused),
        (5, 10),
        "B admits only what is left of the shared budget: {on_b:?}"
    );
    wait_until_shared(&database.url, 20);
    let (status, body) = request(port_a, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 429, "A learns what B counted: {body}");
    assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED", "{body}");
}
