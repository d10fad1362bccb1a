//! A real worker process is SIGKILLed mid-step; a new one finishes every run.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{run_ok, storeflow};

const LEASE_SECS: u64 = 3;

fn start_worker(url: &str) -> Child {
    storeflow(url)
        .args([
            "worker",
            "--lease",
            "3s",
            "--concurrency",
            "64",
            "--poll-interval",
            "200ms",
        ])
        .args(["--shutdown-grace", "2s"])
        .env("STOREFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts")
}

async fn succeeded_steps(pool: &PgPool) -> HashSet<(Uuid, i32)> {
    let rows: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT run_id, step_index FROM workflow_step_attempts WHERE outcome = 'succeeded'",
    )
    .fetch_all(pool)
    .await
    .expect("attempts");
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_replaced_and_no_completed_step_runs_again() {
    let db = storeflow_testkit::database().await;
    let pool = db.pool(5).await;
    let mut run_ids = Vec::new();
    for _ in 0..24 {
        let id = run_ok(storeflow(&db.url).args([
            "runs",
            "start",
            "selftest",
            "--input",
            r#"{"steps": 5, "delay_ms": 300, "journal": true}"#,
        ]));
        run_ids.push(id.trim().parse::<Uuid>().expect("run id printed"));
    }

    // Only this test's runs count: the workers also run the default cleanup schedules, and a
    // run fired at a quarter past the hour waits for a cluster this test has none of.
    let mut first = start_worker(&db.url);
    // Wait until the worker is mid-run: some steps checkpointed, none of the runs done.
    let wait_until = Instant::now() + Duration::from_secs(30);
    loop {
        let done = succeeded_steps(&pool).await.len();
        if done >= 24 * 2 {
            break;
        }
        assert!(
            Instant::now() < wait_until,
            "the first worker made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("SIGKILL"); // std's kill() sends SIGKILL
    first.wait().expect("reaped");
    let completed_before_kill = succeeded_steps(&pool).await;
    let (unfinished,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM workflow_runs WHERE workflow = 'selftest' AND finished_at IS NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert!(unfinished > 0, "the kill happened mid-run");
    let in_flight: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT j.run_id, j.step_index FROM workflow_selftest_journal j WHERE j.phase = 'begin' \
         AND NOT EXISTS (SELECT 1 FROM workflow_step_attempts a WHERE a.run_id = j.run_id \
                         AND a.step_index = j.step_index AND a.outcome = 'succeeded')",
    )
    .fetch_all(&pool)
    .await
    .expect("in flight");
    assert!(
        !in_flight.is_empty(),
        "steps were in flight when the worker died"
    );

    let restarted = Instant::now();
    let mut second = start_worker(&db.url);
    let finish_by = restarted + Duration::from_secs(LEASE_SECS + 10);
    loop {
        let (open,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM workflow_runs WHERE workflow = 'selftest' AND finished_at IS NULL")
                .fetch_one(&pool)
                .await
                .expect("count");
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < finish_by,
            "{open} runs unfinished {LEASE_SECS}s+10s after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = restarted.elapsed();
    // Rescue needs the lease to expire; the remaining steps then take at most 4 x 300 ms.
    assert!(
        took <= Duration::from_secs(LEASE_SECS + 5),
        "runs finished {took:?} after the restart (lease {LEASE_SECS}s)"
    );

    let statuses: Vec<(String,)> =
        sqlx::query_as("SELECT status::text FROM workflow_runs WHERE workflow = 'selftest'")
            .fetch_all(&pool)
            .await
            .expect("statuses");
    assert!(statuses.iter().all(|(s,)| s == "succeeded"), "{statuses:?}");

    let executions: Vec<(Uuid, i32, i64)> = sqlx::query_as(
        "SELECT run_id, step_index, count(*) FROM workflow_selftest_journal WHERE phase = 'begin' \
         GROUP BY run_id, step_index",
    )
    .fetch_all(&pool)
    .await
    .expect("journal");
    let executions: HashMap<(Uuid, i32), i64> = executions
        .into_iter()
        .map(|(r, s, n)| ((r, s), n))
        .collect();
    assert_eq!(executions.len(), 24 * 5, "every step executed");
    for step in &completed_before_kill {
        assert_eq!(executions[step], 1, "completed step {step:?} ran again");
    }
    for (step, n) in &executions {
        assert!(*n <= 2, "step {step:?} ran {n} times");
    }
    for step in &in_flight {
        assert_eq!(
            executions[step], 2,
            "the in-flight step {step:?} ran again exactly once"
        );
    }

    // The operator view shows the rescue as such, not as a failure.
    let (run, step) = in_flight[0];
    let shown = run_ok(storeflow(&db.url).args(["runs", "show", &run.to_string(), "--json"]));
    let shown: Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["status"], "succeeded");
    let steps = shown["steps"].as_array().expect("steps array");
    assert_eq!(steps.len(), 5);
    let rescued = &steps[step as usize];
    assert_eq!(rescued["status"], "succeeded");
    assert_eq!(rescued["attempts"], 2);
    assert_eq!(rescued["history"][0]["outcome"], "rescued");
    assert_eq!(rescued["history"][1]["outcome"], "succeeded");
    assert!(run_ids.contains(&run));

    // SIGTERM: the worker drains and exits cleanly.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let stop_by = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = second.try_wait().expect("wait") {
            assert!(exit.success(), "worker exited with {exit}");
            break;
        }
        assert!(Instant::now() < stop_by, "worker did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
