//! The idle-worker query budget. A test binary of its own: it counts sqlx's statements
//! through a thread-local tracing subscriber, and tracing's callsite-interest cache is
//! process-wide, so tests on other threads would skew it.

use std::time::Duration;

use storeflow_engine::{Engine, Worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

/// Counts the statements sqlx executes (it logs each under the `sqlx::query` target).
struct QueryCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QueryCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn an_idle_worker_with_its_scheduler_issues_about_one_query_per_second() {
    use tracing_subscriber::layer::SubscriberExt;

    let db = storeflow_testkit::database().await;
    let engine = Engine::start(db.pool(10).await, vec![])
        .await
        .expect("engine starts");
    let queries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _counting = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(QueryCounter(queries.clone())),
    );
    // Default options: 1 s fallback poll, 30 s lease.
    let stop = CancellationToken::new();
    let worker =
        tokio::spawn(Worker::new(engine.clone(), WorkerOptions::default()).run(stop.clone()));
    let scheduler = tokio::spawn(
        storeflow_engine::Scheduler::new(engine.clone(), Default::default()).run(stop.clone()),
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = queries.load(std::sync::atomic::Ordering::SeqCst);
    assert!(before > 0, "the counter sees the worker's statements");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let idle = queries.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(idle <= 9, "{idle} statements in 6 s of idling");
    stop.cancel();
    scheduler.await.expect("joined").expect("scheduler ok");
    worker.await.expect("joined").expect("worker ok");
}
