//! The engine's SQL read functions (`migrations/functions/workflow_*.sql`): what callers that
//! join runs to their own rows get, and that PostgreSQL inlines them into those queries.

use std::time::Duration;

use serde_json::{Value, json};
use storeflow_engine::{Definition, NewRun, RunStatus, StepDef};
use uuid::Uuid;

use crate::common::*;

type Summary = (
    String,
    String,
    i32,
    i32,
    i32,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<String>,
    Value,
    bool,
);

async fn summary(pool: &sqlx::PgPool, run: Uuid) -> Option<Summary> {
    sqlx::query_as("SELECT * FROM workflow_run_summary($1)")
        .bind(run)
        .fetch_optional(pool)
        .await
        .expect("summary reads")
}

#[tokio::test]
async fn a_run_summary_says_where_the_run_stands_and_when_it_finished() {
    let db = storeflow_testkit::database().await;
    let gate = unique_key();
    let definition = Definition::new("two-steps", 3)
        .step(StepDef::new(
            "first",
            Emit {
                key: unique_key(),
                value: json!(1),
            },
        ))
        .step(StepDef::new("second", Gate { key: gate.clone() }));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("two-steps", json!({ "store": "s-1" })))
        .await
        .expect("enqueued");
    while count(&gate) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pool = db.pool(2).await;
    let (status, workflow, version, current, steps, name, _, error, input, finished) =
        summary(&pool, run.run_id).await.expect("a known run");
    assert_eq!(
        (status.as_str(), workflow.as_str(), version, current, steps),
        ("running", "two-steps", 3, 1, 2)
    );
    assert_eq!(name.as_deref(), Some("second"));
    assert_eq!(
        (error, input, finished),
        (None, json!({ "store": "s-1" }), false)
    );

    open_gate(&gate, 1);
    let done = wait_final(&engine, run.run_id, Duration::from_secs(10)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    let (status, .., finished) = summary(&pool, run.run_id).await.expect("a known run");
    assert_eq!((status.as_str(), finished), ("succeeded", true));
    assert!(
        summary(&pool, Uuid::new_v4()).await.is_none(),
        "no row for an unknown run"
    );
}

#[tokio::test]
async fn subject_events_are_every_event_of_the_subjects_runs_only() {
    let db = storeflow_testkit::database().await;
    let definition = Definition::new("one-step", 1).step(StepDef::new(
        "only",
        Emit {
            key: unique_key(),
            value: json!(1),
        },
    ));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let mut ours = Vec::new();
    for subject in ["store-a", "store-b", "store-a"] {
        let run = engine
            .enqueue_now(NewRun::new("one-step", json!({})).subject(subject))
            .await
            .expect("enqueued");
        wait_final(&engine, run.run_id, Duration::from_secs(10)).await;
        if subject == "store-a" {
            ours.push(run.run_id);
        }
    }
    worker.stop().await;
    let pool = db.pool(2).await;
    let events: Vec<(i64, Uuid, String, Option<String>, String)> = sqlx::query_as(
        "SELECT id, run_id, kind, step_name, workflow FROM workflow_subject_events($1) ORDER BY id",
    )
    .bind("store-a")
    .fetch_all(&pool)
    .await
    .expect("events read");
    let mut expected = Vec::new();
    for run in &ours {
        for event in engine.run_events(*run, None, 100).await.expect("events") {
            expected.push((event.id, event.run_id, event.kind, event.step_name));
        }
    }
    expected.sort_by_key(|e| e.0);
    let got: Vec<_> = events
        .iter()
        .map(|(id, run, kind, step, _)| (*id, *run, kind.clone(), step.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(events.iter().all(|e| e.4 == "one-step"));
    assert!(
        events.iter().any(|e| e.3.as_deref() == Some("only")),
        "step events carry the step's name: {events:?}"
    );
}

/// Callers filter, order and limit these functions' rows in their own queries; that reaches
/// the indexes only while PostgreSQL inlines them (a function scan would read every row first).
#[tokio::test]
async fn the_read_functions_are_inlined_into_the_callers_query() {
    let db = storeflow_testkit::database().await;
    let pool = db.pool(2).await;
    for query in [
        "EXPLAIN SELECT id FROM workflow_subject_events('store-a') WHERE id > 5 ORDER BY id LIMIT 10",
        "EXPLAIN SELECT id FROM workflow_subject_runs('store-a') ORDER BY created_at DESC LIMIT 50",
        "EXPLAIN SELECT r.status FROM (VALUES ('00000000-0000-0000-0000-000000000000'::uuid)) v(id) \
         LEFT JOIN LATERAL workflow_run_summary(v.id) r ON true",
        "EXPLAIN SELECT p.status FROM (VALUES ('00000000-0000-0000-0000-000000000000'::uuid)) v(id) \
         LEFT JOIN LATERAL workflow_run_position(v.id) p ON true",
    ] {
        let plan: Vec<(String,)> = sqlx::query_as(query)
            .fetch_all(&pool)
            .await
            .expect("explained");
        let plan: Vec<String> = plan.into_iter().map(|(line,)| line).collect();
        assert!(
            !plan.iter().any(|line| line.contains("Function Scan")),
            "{query}:\n{}",
            plan.join("\n")
        );
    }
}
