//! Child runs: a step starts runs in its checkpoint transaction; `await-children` waits for
//! them without holding a worker and hands their outcomes to the next steps; cancelling the
//! parent cancels them.

use std::time::Duration;

use serde_json::json;
use storeflow_engine::children::AwaitChildren;
use storeflow_engine::{Definition, NewRun, RetryPolicy, RunStatus, StepDef};
use uuid::Uuid;

use crate::common::*;

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        multiplier: 2.0,
        jitter: 0.0,
    }
}

fn parent(name: &str, workflows: &[&str], fail_first: bool) -> Definition {
    Definition::new(name, 1)
        .step(
            StepDef::new(
                "start",
                StartChildren {
                    workflows: workflows.iter().map(|w| (*w).to_owned()).collect(),
                    fail_first,
                },
            )
            .retry(quick_retry()),
        )
        .step(StepDef::new("await", {
            let mut wait = AwaitChildren::new("start");
            wait.recheck = Duration::from_millis(100);
            wait
        }))
        .step(StepDef::new(
            "report",
            EchoOutputOf {
                step: "await".into(),
            },
        ))
}

async fn children_of(db_pool: &sqlx::PgPool, parent: Uuid) -> Vec<(Uuid, String, String)> {
    sqlx::query_as(
        "SELECT id, workflow, status::text FROM workflow_runs WHERE parent_run_id = $1 ORDER BY created_at, id",
    )
    .bind(parent)
    .fetch_all(db_pool)
    .await
    .expect("children")
}

#[tokio::test]
async fn children_run_once_and_the_parent_reads_their_outcomes() {
    let db = storeflow_testkit::database().await;
    let ok = unique_key();
    let refused = unique_key();
    let definitions = vec![
        Definition::new("child-ok", 1).step(StepDef::new(
            "work",
            Emit {
                key: ok.clone(),
                value: json!("done"),
            },
        )),
        Definition::new("child-refused", 1).step(StepDef::new(
            "work",
            AlwaysFatal {
                key: refused.clone(),
            },
        )),
        // The first attempt starts the children and then fails: they must not survive it.
        parent("fan-out", &["child-ok", "child-ok", "child-refused"], true),
    ];
    let engine = engine(&db, definitions).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("fan-out", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(30)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded, "{done:#?}");
    let pool = db.pool(2).await;
    let children = children_of(&pool, run.run_id).await;
    assert_eq!(children.len(), 3, "one set of children: {children:?}");
    assert_eq!((count(&ok), count(&refused)), (2, 1));
    let outcome = &done.state["await"];
    assert_eq!(
        (
            &outcome["succeeded"],
            &outcome["failed"],
            &outcome["cancelled"]
        ),
        (&json!(2), &json!(1), &json!(0)),
        "{outcome}"
    );
    let listed = outcome["children"].as_array().expect("children");
    assert_eq!(listed[0]["subject"], "child-0");
    assert_eq!(listed[2]["status"], "failed");
    assert!(
        listed[2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not allow this")),
        "{outcome}"
    );
    // The step after the wait reads the outcomes.
    assert_eq!(done.state["report"]["echo"], *outcome);
}

#[tokio::test]
async fn a_waiting_parent_holds_no_worker_slot() {
    let db = storeflow_testkit::database().await;
    let gate = unique_key();
    let definitions = vec![
        Definition::new("child-gated", 1).step(StepDef::new("work", Gate { key: gate.clone() })),
        parent("one-slot", &["child-gated"], false),
    ];
    let engine = engine(&db, definitions).await;
    // One run at a time: if the waiting parent kept its slot, the child could never run.
    let worker = RunningWorker::start(
        &engine,
        storeflow_engine::WorkerOptions {
            concurrency: 1,
            ..fast_options()
        },
    );
    let run = engine
        .enqueue_now(NewRun::new("one-slot", json!({})))
        .await
        .expect("enqueued");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&gate) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the child never ran while its parent waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waiting = engine.get_run(run.run_id).await.expect("run");
    assert_eq!(waiting.summary.status, RunStatus::Waiting);
    assert!(
        waiting.steps[1]
            .waiting_for
            .as_deref()
            .is_some_and(|w| w.contains("0 of 1 child runs finished")),
        "{:?}",
        waiting.steps[1]
    );
    open_gate(&gate, 1);
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(done.state["await"]["succeeded"], 1);
}

#[tokio::test]
async fn a_parent_whose_worker_crashed_is_rescued_and_still_waits_for_its_children() {
    let db = storeflow_testkit::database().await;
    let gate = unique_key();
    let definitions = vec![
        Definition::new("child-gated", 1).step(StepDef::new("work", Gate { key: gate.clone() })),
        parent("survives", &["child-gated", "child-gated"], false),
    ];
    let engine = engine(&db, definitions).await;
    let first = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("survives", json!({})))
        .await
        .expect("enqueued");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&gate) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "children not running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The worker dies with the children mid-step and the parent polling: its leases run out
    // and another worker takes over.
    let pool = db.pool(2).await;
    assert!(
        first.lose_leases(&pool).await >= 2,
        "the children were leased"
    );
    let second = RunningWorker::start(&engine, fast_options());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&gate) < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the children were not rescued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.stop().await;
    open_gate(&gate, 4);
    let done = wait_final(&engine, run.run_id, Duration::from_secs(40)).await;
    second.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded, "{done:#?}");
    let children = children_of(&pool, run.run_id).await;
    assert_eq!(children.len(), 2, "no child started twice: {children:?}");
    assert!(
        children.iter().all(|(_, _, s)| s == "succeeded"),
        "{children:?}"
    );
    assert_eq!(done.state["await"]["succeeded"], 2);
}

#[tokio::test]
async fn cancelling_the_parent_cancels_its_unfinished_children() {
    let db = storeflow_testkit::database().await;
    let gate = unique_key();
    let quick = unique_key();
    let definitions = vec![
        Definition::new("child-gated", 1).step(StepDef::new("work", Gate { key: gate.clone() })),
        Definition::new("child-quick", 1).step(StepDef::new(
            "work",
            Emit {
                key: quick.clone(),
                value: json!(1),
            },
        )),
        parent(
            "abandoned",
            &["child-quick", "child-gated", "child-gated"],
            false,
        ),
    ];
    let engine = engine(&db, definitions).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("abandoned", json!({})))
        .await
        .expect("enqueued");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&gate) < 2 || count(&quick) < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "children not running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine
        .cancel_run(run.run_id, Some("ops"))
        .await
        .expect("cancel accepted");
    let parent = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    assert_eq!(parent.summary.status, RunStatus::Cancelled);
    let pool = db.pool(2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let children = children_of(&pool, run.run_id).await;
        let statuses: Vec<&str> = children.iter().map(|(_, _, s)| s.as_str()).collect();
        if statuses == ["succeeded", "cancelled", "cancelled"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "children after the parent's cancel: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.stop().await;
    let child = children_of(&pool, run.run_id).await[1].0;
    let detail = engine.get_run(child).await.expect("child");
    assert!(
        detail.events.iter().any(|e| e.kind == "cancel_requested"
            && e.data.as_ref().is_some_and(|d| d["by"]
                .as_str()
                .is_some_and(|by| by.contains(&run.run_id.to_string())))),
        "the child's cancel names its parent: {:?}",
        detail.events
    );
}
