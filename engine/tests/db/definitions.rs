//! Versioned definitions: pinning and the content-hash refusal.

use std::time::Duration;

use serde_json::json;
use storeflow_engine::{Definition, Engine, Error, NewRun, RunStatus, StepDef, WorkerOptions};

use crate::common::*;

fn v1(gate: &str, key: &str) -> Definition {
    Definition::new("provision", 1)
        .step(StepDef::new(
            "v1-install",
            Gate {
                key: gate.to_owned(),
            },
        ))
        .step(StepDef::new(
            "v1-verify",
            Emit {
                key: key.to_owned(),
                value: json!("v1"),
            },
        ))
}

fn v2(key: &str) -> Definition {
    Definition::new("provision", 2)
        .step(StepDef::new(
            "v2-install",
            Emit {
                key: key.to_owned(),
                value: json!("v2"),
            },
        ))
        .step(StepDef::new(
            "v2-configure",
            Emit {
                key: key.to_owned(),
                value: json!("v2"),
            },
        ))
        .step(StepDef::new(
            "v2-verify",
            Emit {
                key: key.to_owned(),
                value: json!("v2"),
            },
        ))
}

#[tokio::test]
async fn a_run_in_flight_finishes_on_its_version_after_v2_is_deployed() {
    let db = storeflow_testkit::database().await;
    let gate_key = unique_key();
    let v1_key = unique_key();
    let v2_key = unique_key();
    let old = engine(&db, vec![v1(&gate_key, &v1_key)]).await;
    let old_worker = RunningWorker::start(
        &old,
        WorkerOptions {
            shutdown_grace: Duration::from_millis(100),
            ..fast_options()
        },
    );
    let pinned = old
        .enqueue_now(NewRun::new("provision", json!({})))
        .await
        .expect("enqueued");
    assert_eq!(pinned.version, 1);
    while count(&gate_key) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Deploy: the old worker stops mid-step; the new build registers only v2.
    old_worker.stop().await;
    let new = engine(&db, vec![v2(&v2_key)]).await;
    let fresh = new
        .enqueue_now(NewRun::new("provision", json!({})))
        .await
        .expect("enqueued");
    assert_eq!(fresh.version, 2, "new runs get the latest version");
    let named = new
        .enqueue_now(NewRun::new("provision", json!({})).version(1))
        .await
        .expect("a stored older version can be named");
    assert_eq!(named.version, 1);

    open_gate(&gate_key, 2);
    let worker = RunningWorker::start(&new, fast_options());
    let old_run = wait_final(&new, pinned.run_id, Duration::from_secs(20)).await;
    let new_run = wait_final(&new, fresh.run_id, Duration::from_secs(20)).await;
    wait_final(&new, named.run_id, Duration::from_secs(20)).await;
    worker.stop().await;

    assert_eq!(old_run.summary.status, RunStatus::Succeeded);
    assert_eq!(old_run.summary.version, 1);
    let names: Vec<&str> = old_run.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["v1-install", "v1-verify"]);
    assert_eq!(old_run.state["v1-verify"], json!("v1"));
    assert_eq!(new_run.summary.version, 2);
    assert_eq!(new_run.steps.len(), 3);
    assert_eq!(new_run.state["v2-verify"], json!("v2"));
}

#[tokio::test]
async fn registering_different_content_under_a_stored_version_is_refused() {
    let db = storeflow_testkit::database().await;
    let key = unique_key();
    let pool = db.pool(5).await;
    Engine::start(pool.clone(), vec![v2(&key)])
        .await
        .expect("first registration");
    // Same content again: fine (every process registers at start-up).
    Engine::start(pool.clone(), vec![v2(&key)])
        .await
        .expect("identical re-registration");
    let changed = Definition::new("provision", 2).step(StepDef::new(
        "v2-install",
        Emit {
            key: key.clone(),
            value: json!("changed"),
        },
    ));
    let err = Engine::start(pool, vec![changed])
        .await
        .expect_err("must refuse");
    assert!(
        matches!(err, Error::DefinitionConflict { ref name, version: 2, .. } if name == "provision")
    );
    let message = err.to_string();
    assert!(
        message.contains("workflow `provision` version 2"),
        "{message}"
    );
    assert!(
        message.contains("register the change as version 3"),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_definitions_and_unknown_workflows_are_clear_errors() {
    let db = storeflow_testkit::database().await;
    let pool = db.pool(5).await;
    let key = unique_key();
    let duplicate = Definition::new("dup", 1)
        .step(StepDef::new(
            "a",
            Emit {
                key: key.clone(),
                value: json!(1),
            },
        ))
        .step(StepDef::new(
            "a",
            Emit {
                key: key.clone(),
                value: json!(2),
            },
        ));
    let err = Engine::start(pool.clone(), vec![duplicate])
        .await
        .expect_err("invalid");
    assert!(
        err.to_string().contains("step name `a` is used twice"),
        "{err}"
    );

    let engine = Engine::start(pool, vec![]).await.expect("engine");
    let err = engine
        .enqueue_now(NewRun::new("nope", json!({})))
        .await
        .expect_err("unknown");
    assert!(
        err.to_string()
            .contains("workflow `nope` is not registered; known workflows: selftest (v1)"),
        "{err}"
    );
    let err = engine
        .enqueue_now(NewRun::new("selftest", json!({ "steps": 0 })))
        .await
        .expect_err("bad input");
    assert!(
        err.to_string()
            .contains("`steps` must be an integer between 1 and 1000"),
        "{err}"
    );
    let err = engine
        .enqueue_now(NewRun::new("selftest", json!([1, 2])))
        .await
        .expect_err("not an object");
    assert!(err.to_string().contains("must be a JSON object"), "{err}");
}
