//! Step outcomes: success and state, retries with backoff, Fatal, timeouts, durable polling,
//! database-only steps, deadlines, and the operator actions retry-step and cancel.

use std::time::Duration;

use serde_json::json;
use storeflow_engine::{
    Definition, Error, NewRun, RetryPolicy, RunStatus, StepDef, StepRef, StepStatus, selftest,
};

use crate::common::*;

fn quick_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        multiplier: 2.0,
        jitter: 0.0,
    }
}

#[tokio::test]
async fn selftest_run_checkpoints_every_step_and_records_events_in_order() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new(selftest::WORKFLOW, json!({ "steps": 4 })).request_id("req-123"))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;

    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(done.summary.step_count, 4);
    assert_eq!(done.summary.request_id.as_deref(), Some("req-123"));
    assert_eq!(done.progress, 100);
    assert_eq!(done.steps.len(), 4);
    for (i, step) in done.steps.iter().enumerate() {
        assert_eq!(step.name, format!("step-{}", i + 1));
        assert_eq!(step.status, StepStatus::Succeeded);
        assert_eq!(step.attempts, 1);
        assert_eq!(step.history[0].outcome, "succeeded");
        assert_eq!(done.state[&step.name]["step"], json!(i + 1));
    }
    let mut expected = vec!["queued", "started"];
    for _ in 0..4 {
        expected.extend(["step_started", "step_succeeded"]);
    }
    expected.push("finished");
    assert_eq!(event_kinds(&done), expected);
    let ids: Vec<i64> = done.events.iter().map(|e| e.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "event ids increase: {ids:?}"
    );
    assert_eq!(done.events[2].step_name.as_deref(), Some("step-1"));
}

#[tokio::test]
async fn later_steps_read_earlier_outputs() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let definition = Definition::new("state-flow", 1)
        .step(StepDef::new(
            "first",
            Emit {
                key: key.clone(),
                value: json!({ "namespace": "store-abc" }),
            },
        ))
        .step(StepDef::new(
            "second",
            EchoOutputOf {
                step: "first".into(),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("state-flow", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(
        done.state["second"],
        json!({ "echo": { "namespace": "store-abc" } })
    );
}

#[tokio::test]
async fn injected_failures_are_retried_with_backoff_then_succeed() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new(
            selftest::WORKFLOW,
            json!({ "steps": 3, "fail_step": 2, "fail_times": 2 }),
        ))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;

    assert_eq!(done.summary.status, RunStatus::Succeeded);
    let step2 = &done.steps[1];
    assert_eq!(step2.attempts, 3);
    let outcomes: Vec<&str> = step2.history.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["failed", "failed", "succeeded"]);
    assert!(
        step2.history[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("injected failure 1 of 2")
    );
    // selftest backs off 100ms then 200ms, with 10% jitter.
    let gap1 = step2.history[1].started_at - step2.history[0].finished_at;
    let gap2 = step2.history[2].started_at - step2.history[1].finished_at;
    assert!(gap1.num_milliseconds() >= 85, "first backoff {gap1}");
    assert!(gap2.num_milliseconds() >= 175, "second backoff {gap2}");
    assert_eq!(done.steps[0].attempts, 1);
    assert_eq!(done.steps[2].attempts, 1);
    let kinds = event_kinds(&done);
    assert_eq!(kinds.iter().filter(|k| *k == "retry_scheduled").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "step_failed").count(), 2);
}

#[tokio::test]
async fn exhausted_retries_fail_the_run_with_the_last_error() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new(
            selftest::WORKFLOW,
            json!({ "steps": 3, "fail_step": 1, "fail_times": 50 }),
        ))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(30)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    let error = done.summary.error.clone().unwrap_or_default();
    assert!(
        error.contains("step `step-1` failed after 5 attempts"),
        "{error}"
    );
    assert_eq!(done.steps[0].attempts, 5);
    assert_eq!(done.steps[0].status, StepStatus::Failed);
    assert_eq!(done.steps[1].status, StepStatus::Pending);
    assert_eq!(done.steps[1].attempts, 0);
    assert_eq!(
        event_kinds(&done).last().map(String::as_str),
        Some("finished")
    );
}

#[tokio::test]
async fn fatal_stops_the_run_without_retrying_or_running_later_steps() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let later = unique_key();
    let definition = Definition::new("fatal-flow", 1)
        .step(StepDef::new("refuse", AlwaysFatal { key: key.clone() }).retry(quick_retry(5)))
        .step(StepDef::new(
            "never",
            Emit {
                key: later.clone(),
                value: json!(1),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("fatal-flow", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    assert_eq!(count(&key), 1);
    assert_eq!(count(&later), 0);
    assert_eq!(done.steps[0].attempts, 1);
    assert!(
        done.summary
            .error
            .as_deref()
            .unwrap_or("")
            .contains("does not allow this")
    );
}

#[tokio::test]
async fn a_step_over_its_timeout_is_cancelled_and_counts_as_a_failed_attempt() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let definition = Definition::new("slow-flow", 1).step(
        StepDef::new(
            "slow",
            SleepIgnoringCancel {
                key: key.clone(),
                millis: 30_000,
            },
        )
        .timeout(Duration::from_millis(300))
        .retry(quick_retry(2)),
    );
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("slow-flow", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    let outcomes: Vec<&str> = done.steps[0]
        .history
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["timed_out", "timed_out"]);
    assert!(
        done.summary
            .error
            .as_deref()
            .unwrap_or("")
            .contains("timed out after 300ms")
    );
    for attempt in &done.steps[0].history {
        assert!(
            attempt.duration_ms < 5_000,
            "the attempt was cut at its timeout: {attempt:?}"
        );
    }
    assert_eq!(count(&key), 2);
}

#[tokio::test]
async fn pending_repolls_without_consuming_attempts() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let definition = Definition::new("poll-flow", 1).step(
        StepDef::new(
            "wait-ready",
            PollUntil {
                key: key.clone(),
                polls: 4,
                recheck_ms: 50,
            },
        )
        .retry(RetryPolicy::no_retries())
        .timeout(Duration::from_secs(30)),
    );
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("poll-flow", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(count(&key), 5, "four pending polls and the final one");
    assert_eq!(done.steps[0].attempts, 1, "polls consume no attempts");
    let kinds = event_kinds(&done);
    assert_eq!(kinds.iter().filter(|k| *k == "pending").count(), 4);
    let said: Vec<&str> = done
        .events
        .iter()
        .filter(|e| e.kind == "pending")
        .filter_map(|e| e.data.as_ref()?.get("waiting_for")?.as_str())
        .collect();
    assert_eq!(
        said,
        ["poll 1 of 4", "poll 2 of 4", "poll 3 of 4", "poll 4 of 4"]
    );
    // The run was released between polls: each poll was a fresh claim.
    assert_eq!(kinds.iter().filter(|k| *k == "step_started").count(), 1);
}

#[tokio::test]
async fn pending_is_bounded_by_the_step_timeout() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let definition = Definition::new("never-ready", 1).step(
        StepDef::new(
            "wait-ready",
            PollUntil {
                key: key.clone(),
                polls: u32::MAX,
                recheck_ms: 50,
            },
        )
        .retry(RetryPolicy::no_retries())
        .timeout(Duration::from_millis(400)),
    );
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("never-ready", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    let error = done.summary.error.unwrap_or_default();
    assert!(error.contains("still pending after 400ms"), "{error}");
    assert!(count(&key) >= 3, "it polled several times before giving up");
    assert!(
        done.events
            .iter()
            .any(|e| e.kind == "pending"
                && e.data.as_ref().and_then(|d| d.get("waiting_for")).is_some()),
        "pending events say what the step waited for"
    );
}

#[tokio::test]
async fn a_database_step_commits_with_its_checkpoint_exactly_once() {
    let db = storeflow_testkit::database().await;
    let definition = Definition::new("db-step", 1)
        .step(StepDef::new("record", RecordEffect { fail_first: true }).retry(quick_retry(3)));
    let engine = engine(&db, vec![definition]).await;
    sqlx::query("CREATE TABLE test_effects (run_id uuid, attempt int)")
        .execute(engine.pool())
        .await
        .expect("table");
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("db-step", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    let rows: Vec<(i32,)> = sqlx::query_as("SELECT attempt FROM test_effects WHERE run_id = $1")
        .bind(run.run_id)
        .fetch_all(engine.pool())
        .await
        .expect("effects");
    assert_eq!(
        rows,
        vec![(2,)],
        "the failed attempt's write rolled back; the second committed once"
    );
    assert_eq!(done.state["record"], json!({ "recorded": 2 }));
}

#[tokio::test]
async fn a_run_past_its_deadline_fails() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let definition = Definition::new("deadline-flow", 1)
        .deadline(Duration::from_millis(500))
        .step(
            StepDef::new(
                "slow",
                SleepIgnoringCancel {
                    key: key.clone(),
                    millis: 30_000,
                },
            )
            .retry(quick_retry(5)),
        );
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("deadline-flow", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    assert!(done.summary.error.unwrap_or_default().contains("deadline"));
    assert_eq!(count(&key), 1, "a deadline is not retried");
}

#[tokio::test]
async fn retry_step_resumes_a_failed_run_at_its_failed_step() {
    let db = storeflow_testkit::database().await;
    let first = unique_key();
    let broken = unique_key();
    let definition = Definition::new("retryable", 1)
        .step(StepDef::new(
            "prepare",
            Emit {
                key: first.clone(),
                value: json!("ok"),
            },
        ))
        .step(
            StepDef::new(
                "install",
                FailUntilFixed {
                    key: broken.clone(),
                },
            )
            .retry(quick_retry(2)),
        )
        .step(StepDef::new(
            "verify",
            EchoOutputOf {
                step: "prepare".into(),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("retryable", json!({})))
        .await
        .expect("enqueued");
    let failed = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    assert_eq!(failed.summary.status, RunStatus::Failed);
    assert_eq!(count(&broken), 2);

    // Only the failed step can be retried.
    let wrong = engine
        .retry_step(run.run_id, &StepRef::Name("prepare".into()), Some("ops"))
        .await
        .expect_err("prepare did not fail");
    assert!(matches!(wrong, Error::InvalidRunState { .. }), "{wrong}");
    assert!(
        wrong.to_string().contains("the failed step is number 2"),
        "{wrong}"
    );
    let unknown = engine
        .retry_step(run.run_id, &StepRef::Name("nope".into()), Some("ops"))
        .await
        .expect_err("no such step");
    assert!(matches!(unknown, Error::StepNotFound { .. }));

    fix(&broken);
    engine
        .retry_step(run.run_id, &StepRef::Number(2), Some("ops"))
        .await
        .expect("retry accepted");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(
        count(&first),
        1,
        "the step before the failed one did not run again"
    );
    assert_eq!(count(&broken), 3);
    assert_eq!(done.steps[1].attempts, 3);
    assert!(event_kinds(&done).contains(&"step_retry_requested".to_string()));
    let again = engine
        .retry_step(run.run_id, &StepRef::Number(2), None)
        .await
        .expect_err("a succeeded run cannot be retried");
    assert!(
        again.to_string().contains("the run is succeeded"),
        "{again}"
    );
}

#[tokio::test]
async fn cancel_stops_a_running_step_and_a_queued_run() {
    let db = storeflow_testkit::database().await;
    let gate_key = unique_key();
    let after = unique_key();
    let definition = Definition::new("cancellable", 1)
        .step(
            StepDef::new(
                "wait",
                Gate {
                    key: gate_key.clone(),
                },
            )
            .retry(quick_retry(3)),
        )
        .step(StepDef::new(
            "after",
            Emit {
                key: after.clone(),
                value: json!(1),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());

    let run = engine
        .enqueue_now(NewRun::new("cancellable", json!({})))
        .await
        .expect("enqueued");
    wait_status(&engine, run.run_id, Duration::from_secs(10), |s| {
        s == RunStatus::Running
    })
    .await;
    while count(&gate_key) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = engine
        .cancel_run(run.run_id, Some("ops"))
        .await
        .expect("cancel accepted");
    assert_eq!(
        status,
        RunStatus::Running,
        "a running run winds down cooperatively"
    );
    let done = wait_final(&engine, run.run_id, Duration::from_secs(10)).await;
    assert_eq!(done.summary.status, RunStatus::Cancelled);
    assert_eq!(done.steps[0].status, StepStatus::Cancelled);
    assert_eq!(count(&after), 0);
    let kinds = event_kinds(&done);
    assert!(kinds.contains(&"cancel_requested".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"cancelled".to_string()), "{kinds:?}");

    let later = engine
        .enqueue_now(
            NewRun::new("cancellable", json!({}))
                .run_at(chrono::Utc::now() + chrono::Duration::hours(1)),
        )
        .await
        .expect("enqueued");
    let status = engine
        .cancel_run(later.run_id, None)
        .await
        .expect("cancel accepted");
    assert_eq!(status, RunStatus::Cancelled);
    let again = engine
        .cancel_run(later.run_id, None)
        .await
        .expect_err("already cancelled");
    assert!(again.to_string().contains("already finished"), "{again}");
    let missing = engine
        .cancel_run(uuid::Uuid::new_v4(), None)
        .await
        .expect_err("unknown run");
    assert!(matches!(missing, Error::RunNotFound(_)));
    worker.stop().await;
}

#[tokio::test]
async fn a_panicking_step_is_a_failed_attempt_and_the_worker_carries_on() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let definition = Definition::new("buggy", 1)
        .step(StepDef::new("crash", Panics { key: key.clone() }).retry(quick_retry(2)));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("buggy", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    assert_eq!(count(&key), 2, "retried per its policy");
    let error = done.summary.error.unwrap_or_default();
    assert!(
        error.contains("the step panicked: index out of bounds in step code"),
        "{error}"
    );
    let healthy = engine
        .enqueue_now(NewRun::new(selftest::WORKFLOW, json!({ "steps": 2 })))
        .await
        .expect("enqueued");
    let healthy = wait_final(&engine, healthy.run_id, Duration::from_secs(20)).await;
    assert_eq!(healthy.summary.status, RunStatus::Succeeded);
    worker.stop().await;
}

#[tokio::test]
async fn an_output_the_database_cannot_store_fails_only_its_own_run() {
    let db = storeflow_testkit::database().await;
    // PostgreSQL's jsonb cannot hold \u0000.
    let bad = Definition::new("bad-output", 1).step(StepDef::new(
        "emit",
        EmitAfter {
            millis: 200,
            value: json!(null),
            nul: true,
        },
    ));
    let good = Definition::new("good-output", 1).step(StepDef::new(
        "emit",
        EmitAfter {
            millis: 200,
            value: json!({ "ok": true }),
            nul: false,
        },
    ));
    let engine = engine(&db, vec![bad, good]).await;
    let bad_run = engine
        .enqueue_now(NewRun::new("bad-output", json!({})))
        .await
        .expect("enqueued");
    let mut good_runs = Vec::new();
    for _ in 0..10 {
        good_runs.push(
            engine
                .enqueue_now(NewRun::new("good-output", json!({})))
                .await
                .expect("enqueued"),
        );
    }
    // All eleven finish their step together, so their checkpoints share batches.
    let worker = RunningWorker::start(&engine, fast_options());
    let failed = wait_final(&engine, bad_run.run_id, Duration::from_secs(20)).await;
    assert_eq!(failed.summary.status, RunStatus::Failed);
    let error = failed.summary.error.unwrap_or_default();
    assert!(
        error.contains("the database rejected this step's result"),
        "{error}"
    );
    for run in good_runs {
        let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
        assert_eq!(done.summary.status, RunStatus::Succeeded);
        assert_eq!(done.steps[0].attempts, 1);
    }
    worker.stop().await;
}

#[tokio::test]
async fn a_long_recheck_is_cut_short_by_the_step_timeout() {
    let db = storeflow_testkit::database().await;
    let definition = Definition::new("slow-poll", 1).step(
        StepDef::new("wait-ready", PendingForAnHour)
            .retry(RetryPolicy::no_retries())
            .timeout(Duration::from_millis(300)),
    );
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("slow-poll", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(10)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    assert!(
        done.summary
            .error
            .unwrap_or_default()
            .contains("still pending after 300ms")
    );
}

#[tokio::test]
async fn a_run_whose_definition_this_build_cannot_load_is_postponed_not_failed() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    // A newer build stored version 1 of a workflow with a step type this build lacks.
    sqlx::query(
        r#"INSERT INTO workflow_definitions (name, version, content_hash, definition)
           VALUES ('from-the-future', 1, 'x',
                   '{"name": "from-the-future", "version": 1,
                     "steps": [{"name": "s", "action": {"type": "quantum_install"}}]}');
           "#,
    )
    .execute(engine.pool())
    .await
    .expect("definition");
    sqlx::query(
        "INSERT INTO workflow_definition_steps VALUES ('from-the-future', 1, 0, 's', 3, 60000)",
    )
    .execute(engine.pool())
    .await
    .expect("steps");
    let run = engine
        .enqueue_now(NewRun::new("from-the-future", json!({})).version(1))
        .await;
    // This build cannot even validate the input against it: enqueue says so clearly.
    let err = run.expect_err("unloadable");
    assert!(
        err.to_string().contains("cannot be loaded by this build"),
        "{err}"
    );

    // A run enqueued by the newer build is handed back, not failed.
    let run_id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO workflow_runs (id, workflow, version, input, step_count) \
         VALUES ($1, 'from-the-future', 1, '{}', 1)",
    )
    .bind(run_id)
    .execute(engine.pool())
    .await
    .expect("run");
    let worker = RunningWorker::start(&engine, fast_options());
    let waiting = wait_status(&engine, run_id, Duration::from_secs(10), |s| {
        s == RunStatus::Waiting
    })
    .await;
    worker.stop().await;
    assert!(
        event_kinds(&waiting).contains(&"postponed".to_string()),
        "{:?}",
        event_kinds(&waiting)
    );
    assert!(waiting.summary.next_run_at > chrono::Utc::now() + chrono::Duration::seconds(20));
    assert_eq!(waiting.steps[0].attempts, 0, "no attempt was consumed");
}

#[tokio::test]
async fn a_polling_step_shows_what_it_waits_for() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let definition = Definition::new("visible-wait", 1).step(
        StepDef::new(
            "wait-ready",
            PollUntil {
                key: key.clone(),
                polls: 1000,
                recheck_ms: 60_000,
            },
        )
        .retry(RetryPolicy::no_retries())
        .timeout(Duration::from_secs(600)),
    );
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("visible-wait", json!({})))
        .await
        .expect("enqueued");
    let waiting = wait_status(&engine, run.run_id, Duration::from_secs(10), |s| {
        s == RunStatus::Waiting
    })
    .await;
    worker.stop().await;
    assert_eq!(waiting.steps[0].status, StepStatus::Polling);
    assert_eq!(
        waiting.steps[0].waiting_for.as_deref(),
        Some("poll 1 of 1000")
    );
}
