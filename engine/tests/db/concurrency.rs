//! Leases, fencing, several workers, graceful shutdown.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use storeflow_engine::{
    AdmissionLimit, Definition, NewRun, RetryPolicy, RunStatus, StepDef, WorkerOptions, selftest,
};
use uuid::Uuid;

use crate::common::*;

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_cannot_write_its_checkpoint() {
    let db = storeflow_testkit::database().await;
    let gate_key = unique_key();
    let definition = Definition::new("fenced", 1)
        .step(
            StepDef::new(
                "wait",
                Gate {
                    key: gate_key.clone(),
                },
            )
            .retry(RetryPolicy::no_retries()),
        )
        .step(StepDef::new(
            "after",
            Emit {
                key: unique_key(),
                value: json!(1),
            },
        ));
    let engine = engine(&db, vec![definition]).await;

    // Worker A heartbeats rarely (every 20 s), so it does not notice the takeover, and has
    // one slot, so only B can claim the rescued run.
    let a = RunningWorker::start(
        &engine,
        WorkerOptions {
            lease: Duration::from_secs(60),
            concurrency: 1,
            ..fast_options()
        },
    );
    let run = engine
        .enqueue_now(NewRun::new("fenced", json!({})))
        .await
        .expect("enqueued");
    while count(&gate_key) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A is inside the step. Its lease expires (as if it had stopped heartbeating).
    sqlx::query(
        "UPDATE workflow_runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(run.run_id)
    .execute(engine.pool())
    .await
    .expect("expire lease");
    let b = RunningWorker::start(
        &engine,
        WorkerOptions {
            lease: Duration::from_secs(2),
            ..fast_options()
        },
    );
    // B rescues the run and enters the step too.
    while count(&gate_key) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let owner: (Option<Uuid>,) =
        sqlx::query_as("SELECT lease_owner FROM workflow_runs WHERE id = $1")
            .bind(run.run_id)
            .fetch_one(engine.pool())
            .await
            .expect("owner");
    assert_eq!(owner.0, Some(b.id));

    // The gate lets A (first in line) finish its step: its checkpoint must be refused.
    open_gate(&gate_key, 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mid = engine.get_run(run.run_id).await.expect("run");
    assert_eq!(mid.summary.status, RunStatus::Running);
    assert_eq!(
        mid.summary.current_step, 0,
        "A's checkpoint did not advance the run"
    );
    assert!(mid.state.get("wait").is_none(), "A's output was not stored");
    assert!(
        mid.steps[0]
            .history
            .iter()
            .all(|a| a.outcome != "succeeded"),
        "no success recorded for A: {:?}",
        mid.steps[0].history
    );
    let rescued = &mid.steps[0].history[0];
    assert_eq!(rescued.outcome, "rescued");
    assert_eq!(rescued.worker_id, Some(a.id));

    open_gate(&gate_key, 1);
    let done = wait_final(&engine, run.run_id, Duration::from_secs(10)).await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    let history: Vec<(&str, Option<Uuid>)> = done.steps[0]
        .history
        .iter()
        .map(|a| (a.outcome.as_str(), a.worker_id))
        .collect();
    assert_eq!(
        history,
        [("rescued", Some(a.id)), ("succeeded", Some(b.id))]
    );
    assert_eq!(done.state["wait"]["attempt"], json!(2));
    assert!(event_kinds(&done).contains(&"rescued".to_string()));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn two_workers_never_run_the_same_step_and_finish_every_run_once() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    let options = WorkerOptions {
        concurrency: 8,
        ..fast_options()
    };
    let mut ids = Vec::new();
    for _ in 0..120 {
        let run = engine
            .enqueue_now(NewRun::new(
                selftest::WORKFLOW,
                json!({ "steps": 5, "delay_ms": 3, "journal": true }),
            ))
            .await
            .expect("enqueued");
        ids.push(run.run_id);
    }
    let a = RunningWorker::start(&engine, options.clone());
    let b = RunningWorker::start(&engine, options);
    for id in &ids {
        let done = wait_final(&engine, *id, Duration::from_secs(60)).await;
        assert_eq!(done.summary.status, RunStatus::Succeeded);
    }
    a.stop().await;
    b.stop().await;

    let journal: Vec<(Uuid, i32, String, i64)> = sqlx::query_as(
        "SELECT run_id, step_index, phase, count(*) FROM workflow_selftest_journal \
         GROUP BY run_id, step_index, phase",
    )
    .fetch_all(engine.pool())
    .await
    .expect("journal");
    assert_eq!(journal.len(), 120 * 5 * 2);
    assert!(
        journal.iter().all(|(_, _, _, n)| *n == 1),
        "every step began and ended exactly once"
    );

    let per_run: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "SELECT r.id, \
           (SELECT count(*) FROM workflow_step_attempts a WHERE a.run_id = r.id AND a.outcome = 'succeeded'), \
           (SELECT count(*) FROM workflow_run_events e WHERE e.run_id = r.id AND e.kind = 'finished') \
         FROM workflow_runs r",
    )
    .fetch_all(engine.pool())
    .await
    .expect("per run");
    assert!(
        per_run
            .iter()
            .all(|(_, steps, finished)| *steps == 5 && *finished == 1),
        "{per_run:?}"
    );
    let workers: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT worker_id, count(*) FROM workflow_step_attempts GROUP BY worker_id")
            .fetch_all(engine.pool())
            .await
            .expect("workers");
    let by_worker: HashMap<Uuid, i64> = workers.into_iter().collect();
    assert_eq!(by_worker.len(), 2, "both workers took part: {by_worker:?}");
}

#[tokio::test]
async fn shutdown_releases_a_step_that_outlives_the_grace_period() {
    let db = storeflow_testkit::database().await;
    let gate_key = unique_key();
    let definition = Definition::new("long-step", 1).step(
        StepDef::new(
            "wait",
            Gate {
                key: gate_key.clone(),
            },
        )
        .retry(RetryPolicy::no_retries()),
    );
    let engine = engine(&db, vec![definition]).await;
    let a = RunningWorker::start(
        &engine,
        WorkerOptions {
            shutdown_grace: Duration::from_millis(300),
            lease: Duration::from_secs(30),
            ..fast_options()
        },
    );
    let run = engine
        .enqueue_now(NewRun::new("long-step", json!({})))
        .await
        .expect("enqueued");
    while count(&gate_key) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let a_id = a.id;
    a.stop().await;
    let released = engine.get_run(run.run_id).await.expect("run");
    assert_eq!(released.summary.status, RunStatus::Queued);
    assert!(
        released.lease_owner.is_none(),
        "the lease was released, not left to expire"
    );
    assert_eq!(released.steps[0].history[0].outcome, "released");
    assert_eq!(released.steps[0].history[0].worker_id, Some(a_id));
    assert!(event_kinds(&released).contains(&"released".to_string()));

    // Another worker takes it at once (well before the 30 s lease would have expired)
    // and a released attempt does not use up the retry budget (max_attempts = 1).
    open_gate(&gate_key, 1);
    let b = RunningWorker::start(&engine, fast_options());
    let done = wait_final(&engine, run.run_id, Duration::from_secs(5)).await;
    b.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    let outcomes: Vec<&str> = done.steps[0]
        .history
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["released", "succeeded"]);
}

#[tokio::test]
async fn a_worker_that_reclaims_its_own_expired_run_abandons_the_older_attempt() {
    let db = storeflow_testkit::database().await;
    let gate_key = unique_key();
    let definition = Definition::new("stalled", 1).step(StepDef::new(
        "wait",
        Gate {
            key: gate_key.clone(),
        },
    ));
    let engine = engine(&db, vec![definition]).await;
    // A lease long enough that no heartbeat notices the loss first: the worker's own claim
    // finds the expired run.
    let worker = RunningWorker::start(
        &engine,
        WorkerOptions {
            lease: Duration::from_secs(60),
            ..fast_options()
        },
    );
    let run = engine
        .enqueue_now(NewRun::new("stalled", json!({})))
        .await
        .expect("enqueued");
    wait_count(&gate_key, 1).await;
    let pool = db.pool(2).await;
    assert_eq!(worker.lose_leases(&pool).await, 1, "the run was leased");
    wait_count(&gate_key, 2).await;
    // The first attempt no longer waits at the gate: one permit lets exactly the current
    // attempt finish, and stopping the worker does not wait for the older one's timeout.
    open_gate(&gate_key, 1);
    let done = wait_final(&engine, run.run_id, Duration::from_secs(10)).await;
    assert_eq!(done.summary.status, RunStatus::Succeeded, "{done:#?}");
    tokio::time::timeout(Duration::from_secs(10), worker.stop())
        .await
        .expect("the worker stops without waiting for an abandoned step's timeout");
    assert_eq!(count(&gate_key), 2, "no third attempt");
}

async fn wait_count(key: &str, at_least: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(key) < at_least {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{key} counted {} of {at_least}",
            count(key)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_step_finish_within_the_grace_period() {
    let db = storeflow_testkit::database().await;
    let gate_key = unique_key();
    let second = unique_key();
    let definition = Definition::new("graceful", 1)
        .step(StepDef::new(
            "wait",
            Gate {
                key: gate_key.clone(),
            },
        ))
        .step(StepDef::new(
            "next",
            Emit {
                key: second.clone(),
                value: json!(2),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let a = RunningWorker::start(
        &engine,
        WorkerOptions {
            shutdown_grace: Duration::from_secs(5),
            ..fast_options()
        },
    );
    let run = engine
        .enqueue_now(NewRun::new("graceful", json!({})))
        .await
        .expect("enqueued");
    while count(&gate_key) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let opener = {
        let key = gate_key.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            open_gate(&key, 1);
        })
    };
    a.stop().await;
    opener.await.expect("opener");
    let after = engine.get_run(run.run_id).await.expect("run");
    assert_eq!(after.steps[0].history.len(), 1);
    assert_eq!(
        after.steps[0].history[0].outcome, "succeeded",
        "the step finished in the grace period"
    );
    assert_eq!(after.summary.current_step, 1);
    assert_eq!(
        after.summary.status,
        RunStatus::Queued,
        "the next step was not started; the run was handed back"
    );
    assert_eq!(count(&second), 0);

    let b = RunningWorker::start(&engine, fast_options());
    let done = wait_final(&engine, run.run_id, Duration::from_secs(5)).await;
    b.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(count(&second), 1);
    assert_eq!(
        done.steps[1].history.len(),
        1,
        "no released attempt for a step that never began"
    );
}

async fn statuses(engine: &storeflow_engine::Engine, runs: &[Uuid]) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs {
        let (status,): (String,) =
            sqlx::query_as("SELECT status::text FROM workflow_runs WHERE id = $1")
                .bind(run)
                .fetch_one(engine.pool())
                .await
                .expect("status");
        out.push(status);
    }
    out
}

#[tokio::test]
async fn an_admission_cap_holds_across_workers_and_the_excess_waits_in_order() {
    let db = storeflow_testkit::database().await;
    let gate_key = unique_key();
    let definition = Definition::new("capped", 1).step(
        StepDef::new(
            "wait",
            Gate {
                key: gate_key.clone(),
            },
        )
        .retry(RetryPolicy::no_retries()),
    );
    let engine = engine(&db, vec![definition]).await;
    let capped = vec!["capped".to_owned()];
    let mut runs = Vec::new();
    for n in 0..6 {
        let run = engine
            .enqueue_now(NewRun::new("capped", json!({ "n": n })))
            .await
            .expect("enqueued");
        runs.push(run.run_id);
    }
    for (index, run) in runs.iter().enumerate() {
        assert_eq!(
            engine
                .queue_position(*run, &capped)
                .await
                .expect("position"),
            Some(index as i64 + 1)
        );
    }

    // Two workers with 16 slots each, one cap of 2 between them.
    let admission = AdmissionLimit {
        workflows: capped.clone(),
        max_in_flight: 2,
    };
    let a = RunningWorker::start(
        &engine,
        WorkerOptions {
            admission: vec![admission.clone()],
            ..fast_options()
        },
    );
    let b = RunningWorker::start(
        &engine,
        WorkerOptions {
            admission: vec![admission],
            ..fast_options()
        },
    );
    while count(&gate_key) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Other workflows are not held back by the cap.
    let free = engine
        .enqueue_now(NewRun::new(selftest::WORKFLOW, json!({ "steps": 1 })))
        .await
        .expect("enqueued");
    let free = wait_final(&engine, free.run_id, Duration::from_secs(20)).await;
    assert_eq!(free.summary.status, RunStatus::Succeeded);
    assert_eq!(count(&gate_key), 2, "the cap holds with 32 free slots");
    assert_eq!(
        statuses(&engine, &runs).await,
        ["running", "running", "queued", "queued", "queued", "queued"]
    );
    for (index, run) in runs[2..].iter().enumerate() {
        assert_eq!(
            engine
                .queue_position(*run, &capped)
                .await
                .expect("position"),
            Some(index as i64 + 1),
            "the line moved up"
        );
    }
    assert_eq!(
        engine
            .queue_position(runs[0], &capped)
            .await
            .expect("position"),
        None
    );

    // Each run that finishes lets exactly the next one in line start.
    for entered in 3..=6 {
        open_gate(&gate_key, 1);
        while count(&gate_key) < entered {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(count(&gate_key), entered, "one finished, one started");
        let now = statuses(&engine, &runs).await;
        let started = now.iter().filter(|s| *s != "queued").count();
        assert_eq!(started, entered as usize, "{now:?}");
        assert!(
            now[..entered as usize].iter().all(|s| s != "queued"),
            "started in creation order: {now:?}"
        );
    }
    open_gate(&gate_key, 2);
    for run in &runs {
        let done = wait_final(&engine, *run, Duration::from_secs(20)).await;
        assert_eq!(done.summary.status, RunStatus::Succeeded);
        assert!(event_kinds(&done).contains(&"admitted".to_owned()));
    }
    a.stop().await;
    b.stop().await;
}
