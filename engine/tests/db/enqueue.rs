//! Enqueue: transactional with the caller, idempotent by key, and announced to workers.

use std::time::Duration;

use serde_json::json;
use sqlx::postgres::PgListener;
use storeflow_engine::{NewRun, RunStatus, WORK_CHANNEL, selftest};

use crate::common::*;

#[tokio::test]
async fn enqueue_is_idempotent_by_key_even_when_racing() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    let first = engine
        .enqueue_now(NewRun::new(selftest::WORKFLOW, json!({})).idempotency_key("store-42-create"))
        .await
        .expect("enqueued");
    assert!(first.created);
    let again = engine
        .enqueue_now(
            NewRun::new(selftest::WORKFLOW, json!({ "steps": 9 }))
                .idempotency_key("store-42-create"),
        )
        .await
        .expect("enqueued");
    assert!(!again.created);
    assert_eq!(again.run_id, first.run_id);

    let mut racers = Vec::new();
    for _ in 0..10 {
        let engine = engine.clone();
        racers.push(tokio::spawn(async move {
            engine
                .enqueue_now(NewRun::new(selftest::WORKFLOW, json!({})).idempotency_key("raced"))
                .await
                .expect("enqueued")
        }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for racer in racers {
        let result = racer.await.expect("joined");
        created += usize::from(result.created);
        ids.push(result.run_id);
    }
    assert_eq!(created, 1);
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM workflow_runs")
        .fetch_one(engine.pool())
        .await
        .expect("count");
    assert_eq!(n, 2);
}

#[tokio::test]
async fn enqueue_joins_the_callers_transaction() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    sqlx::query("CREATE TABLE caller_rows (id serial PRIMARY KEY, run_id uuid)")
        .execute(engine.pool())
        .await
        .expect("table");

    let mut tx = engine.pool().begin().await.expect("tx");
    let run = engine
        .enqueue(
            &mut tx,
            NewRun::new(selftest::WORKFLOW, json!({})).subject("store-1"),
        )
        .await
        .expect("enqueued");
    sqlx::query("INSERT INTO caller_rows (run_id) VALUES ($1)")
        .bind(run.run_id)
        .execute(&mut *tx)
        .await
        .expect("store row");
    tx.rollback().await.expect("rollback");
    let gone = engine
        .get_run(run.run_id)
        .await
        .expect_err("rolled back with the caller");
    assert!(matches!(gone, storeflow_engine::Error::RunNotFound(_)));

    let mut listener = PgListener::connect_with(engine.pool())
        .await
        .expect("listener");
    listener.listen(WORK_CHANNEL).await.expect("listen");
    let mut tx = engine.pool().begin().await.expect("tx");
    let run = engine
        .enqueue(&mut tx, NewRun::new(selftest::WORKFLOW, json!({})))
        .await
        .expect("enqueued");
    let early = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await;
    assert!(
        early.is_err(),
        "workers are not woken before the caller commits"
    );
    tx.commit().await.expect("commit");
    let woken = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("woken at commit")
        .expect("notification");
    assert_eq!(woken.channel(), WORK_CHANNEL);
    let stored = engine.get_run(run.run_id).await.expect("committed");
    assert_eq!(stored.summary.status, RunStatus::Queued);
    assert_eq!(event_kinds(&stored), ["queued"]);
}

#[tokio::test]
async fn listing_filters_by_status_workflow_and_subject() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    for i in 0..3 {
        engine
            .enqueue_now(NewRun::new(selftest::WORKFLOW, json!({})).subject(format!("store-{i}")))
            .await
            .expect("enqueued");
    }
    let all = engine.list_runs(&Default::default()).await.expect("list");
    assert_eq!(all.len(), 3);
    let one = engine
        .list_runs(&storeflow_engine::RunFilter {
            subject: Some("store-1".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].current_step_name.as_deref(), Some("step-1"));
    let none = engine
        .list_runs(&storeflow_engine::RunFilter {
            status: Some(RunStatus::Failed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(none.is_empty());
}
