//! Compensation (`Definition::on_failure`): after a main step fails for good, the run goes
//! on with its on-failure steps, which know why, then ends failed with the original error.

use std::time::Duration;

use serde_json::json;
use storeflow_engine::{
    Definition, NewRun, RetryPolicy, RunDetail, RunStatus, StepDef, StepRef, StepStatus,
};

use crate::common::*;

fn quick_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        multiplier: 2.0,
        jitter: 0.0,
    }
}

fn statuses(run: &RunDetail) -> Vec<(String, StepStatus)> {
    run.steps
        .iter()
        .map(|s| (s.name.clone(), s.status))
        .collect()
}

fn named(pairs: &[(&str, StepStatus)]) -> Vec<(String, StepStatus)> {
    pairs.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
}

struct Keys {
    prepare: String,
    broken: String,
    never: String,
    undo: String,
    undo_more: String,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            prepare: unique_key(),
            broken: unique_key(),
            never: unique_key(),
            undo: unique_key(),
            undo_more: unique_key(),
        }
    }
}

/// prepare → break (fatal) → never; on failure: undo (echoes the failure) → undo-more.
fn upgrade_like(name: &str, keys: &Keys, breaks: bool) -> Definition {
    let middle = if breaks {
        StepDef::new(
            "break",
            AlwaysFatal {
                key: keys.broken.clone(),
            },
        )
    } else {
        StepDef::new(
            "break",
            Emit {
                key: keys.broken.clone(),
                value: json!("fine"),
            },
        )
    };
    Definition::new(name, 1)
        .step(StepDef::new(
            "prepare",
            Emit {
                key: keys.prepare.clone(),
                value: json!("revision 3"),
            },
        ))
        .step(middle)
        .step(StepDef::new(
            "never",
            Emit {
                key: keys.never.clone(),
                value: json!(1),
            },
        ))
        .on_failure(StepDef::new(
            "undo",
            EchoFailure {
                key: keys.undo.clone(),
            },
        ))
        .on_failure(StepDef::new(
            "undo-more",
            Emit {
                key: keys.undo_more.clone(),
                value: json!("rolled back"),
            },
        ))
}

#[tokio::test]
async fn a_failed_step_runs_the_on_failure_steps_which_know_why_then_the_run_fails() {
    let db = storeflow_testkit::database().await;
    let keys = Keys::new();
    let engine = engine(&db, vec![upgrade_like("compensated", &keys, true)]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("compensated", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;

    assert_eq!(done.summary.status, RunStatus::Failed);
    let error = done.summary.error.clone().unwrap_or_default();
    assert!(error.contains("step `break` failed"), "{error}");
    assert!(error.contains("does not allow this"), "{error}");
    assert!(
        error.contains("the on-failure steps ran: undo, undo-more"),
        "{error}"
    );
    assert_eq!(
        (
            count(&keys.prepare),
            count(&keys.broken),
            count(&keys.never),
            count(&keys.undo),
            count(&keys.undo_more)
        ),
        (1, 1, 0, 1, 1)
    );
    // The compensation step read which step failed and why.
    assert_eq!(done.state["undo"]["step"], "break");
    assert_eq!(done.state["undo"]["index"], 1);
    assert!(
        done.state["undo"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not allow this")),
        "{}",
        done.state
    );
    assert_eq!(
        statuses(&done),
        named(&[
            ("prepare", StepStatus::Succeeded),
            ("break", StepStatus::Failed),
            ("never", StepStatus::Skipped),
            ("undo", StepStatus::Succeeded),
            ("undo-more", StepStatus::Succeeded),
        ])
    );
    let kinds = event_kinds(&done);
    let at = |kind: &str| kinds.iter().position(|k| k == kind);
    assert!(
        at("compensating") < at("compensated") && at("compensated") < at("finished"),
        "{kinds:?}"
    );

    // A compensated run cannot be resumed: its failure was already handled.
    let refused = engine
        .retry_step(run.run_id, &StepRef::Name("break".into()), Some("ops"))
        .await
        .expect_err("a compensated run cannot be retried");
    assert!(refused.to_string().contains("compensated"), "{refused}");
}

#[tokio::test]
async fn a_run_that_succeeds_skips_its_on_failure_steps() {
    let db = storeflow_testkit::database().await;
    let keys = Keys::new();
    let engine = engine(&db, vec![upgrade_like("uneventful", &keys, false)]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("uneventful", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!((count(&keys.undo), count(&keys.undo_more)), (0, 0));
    assert_eq!(done.progress, 100);
    assert_eq!(
        statuses(&done),
        named(&[
            ("prepare", StepStatus::Succeeded),
            ("break", StepStatus::Succeeded),
            ("never", StepStatus::Succeeded),
            ("undo", StepStatus::Skipped),
            ("undo-more", StepStatus::Skipped),
        ])
    );
}

#[tokio::test]
async fn a_failing_on_failure_step_fails_the_run_and_a_retry_resumes_the_compensation() {
    let db = storeflow_testkit::database().await;
    let keys = Keys::new();
    let definition = Definition::new("rollback-breaks", 1)
        .step(StepDef::new(
            "prepare",
            Emit {
                key: keys.prepare.clone(),
                value: json!(1),
            },
        ))
        .step(StepDef::new(
            "break",
            AlwaysFatal {
                key: keys.broken.clone(),
            },
        ))
        .on_failure(
            StepDef::new(
                "undo",
                FailUntilFixed {
                    key: keys.undo.clone(),
                },
            )
            .retry(quick_retry(2)),
        )
        .on_failure(StepDef::new(
            "undo-more",
            EchoFailure {
                key: keys.undo_more.clone(),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("rollback-breaks", json!({})))
        .await
        .expect("enqueued");
    let failed = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    assert_eq!(failed.summary.status, RunStatus::Failed);
    let error = failed.summary.error.clone().unwrap_or_default();
    assert!(
        error.contains("step `undo` failed after 2 attempts"),
        "{error}"
    );
    assert!(
        error.contains("while compensating for an earlier failure: step `break` failed"),
        "{error}"
    );
    assert_eq!(failed.steps[2].status, StepStatus::Failed);
    assert_eq!(failed.steps[3].status, StepStatus::Pending);

    // The operator fixes what the rollback needs and retries that step: the compensation
    // goes on where it stopped, still knowing the original failure.
    fix(&keys.undo);
    engine
        .retry_step(run.run_id, &StepRef::Name("undo".into()), Some("ops"))
        .await
        .expect("retry accepted");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    assert!(
        done.summary
            .error
            .as_deref()
            .is_some_and(|e| e.contains("the on-failure steps ran")),
        "{:?}",
        done.summary.error
    );
    assert_eq!(done.state["undo-more"]["step"], "break");
    assert_eq!(
        (count(&keys.prepare), count(&keys.broken), count(&keys.undo)),
        (1, 1, 3)
    );
}

#[tokio::test]
async fn a_compensation_interrupted_by_a_worker_stop_goes_on_in_another_worker() {
    let db = storeflow_testkit::database().await;
    let keys = Keys::new();
    let gate = unique_key();
    let definition = Definition::new("rollback-moves", 1)
        .step(StepDef::new(
            "break",
            AlwaysFatal {
                key: keys.broken.clone(),
            },
        ))
        .on_failure(StepDef::new("undo", Gate { key: gate.clone() }))
        .on_failure(StepDef::new(
            "undo-more",
            EchoFailure {
                key: keys.undo_more.clone(),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let first = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("rollback-moves", json!({})))
        .await
        .expect("enqueued");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&gate) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "undo never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first worker goes away mid-compensation; its run is handed back.
    first.stop().await;
    let second = RunningWorker::start(&engine, fast_options());
    open_gate(&gate, 1);
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    second.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    assert_eq!(count(&gate), 2, "undo ran again in the second worker");
    assert_eq!(count(&keys.broken), 1, "the failed step did not run again");
    assert_eq!(done.state["undo-more"]["step"], "break");
}

#[tokio::test]
async fn on_failure_steps_run_even_when_the_run_deadline_made_it_fail() {
    let db = storeflow_testkit::database().await;
    let keys = Keys::new();
    let slow = unique_key();
    let definition = Definition::new("too-slow", 1)
        .deadline(Duration::from_millis(300))
        .step(StepDef::new(
            "slow",
            SleepIgnoringCancel {
                key: slow.clone(),
                millis: 2_000,
            },
        ))
        .on_failure(StepDef::new(
            "undo",
            EchoFailure {
                key: keys.undo.clone(),
            },
        ));
    let engine = engine(&db, vec![definition]).await;
    let worker = RunningWorker::start(&engine, fast_options());
    let run = engine
        .enqueue_now(NewRun::new("too-slow", json!({})))
        .await
        .expect("enqueued");
    let done = wait_final(&engine, run.run_id, Duration::from_secs(20)).await;
    worker.stop().await;
    assert_eq!(done.summary.status, RunStatus::Failed);
    assert_eq!(count(&keys.undo), 1);
    assert!(
        done.state["undo"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("deadline")),
        "{}",
        done.state
    );
}

#[test]
fn definitions_keep_their_hash_without_on_failure_steps_and_refuse_bad_ones() {
    let keys = Keys::new();
    let plain = Definition::new("plain", 1).step(StepDef::new(
        "only",
        Emit {
            key: keys.prepare.clone(),
            value: json!(1),
        },
    ));
    let json = plain.to_json().expect("serializes");
    assert!(json.get("on_failure").is_none(), "{json}");

    let twice = upgrade_like("twice", &keys, true).on_failure(StepDef::new(
        "prepare",
        Emit {
            key: keys.prepare.clone(),
            value: json!(1),
        },
    ));
    let err = twice.validate().expect_err("a name used twice");
    assert!(err.to_string().contains("`prepare` is used twice"), "{err}");

    let reserved = Definition::new("reserved", 1).step(StepDef::new(
        "$failure",
        Emit {
            key: keys.prepare.clone(),
            value: json!(1),
        },
    ));
    let err = reserved.validate().expect_err("reserved name");
    assert!(err.to_string().contains("starts with `$`"), "{err}");

    let prefix = upgrade_like("prefix", &keys, true).length_from_input("steps", 1);
    let err = prefix.validate().expect_err("cannot combine");
    assert!(err.to_string().contains("cannot be combined"), "{err}");
}
