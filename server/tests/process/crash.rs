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

fn worker_with(url: &str, identity: &str, lease: &str, grace: &str) -> Child {
    storeflow(url)
        .args(["worker", "--lease", lease, "--poll-interval", "200ms"])
        .args(["--shutdown-grace", grace, "--identity", identity])
        .env("STOREFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts")
}

fn start_selftest(url: &str, input: &str) -> Uuid {
    run_ok(storeflow(url).args(["runs", "start", "selftest", "--input", input]))
        .trim()
        .parse()
        .expect("run id printed")
}

async fn status_of(pool: &PgPool, run: Uuid) -> (String, Option<Uuid>) {
    sqlx::query_as("SELECT status::text, lease_owner FROM workflow_runs WHERE id = $1")
        .bind(run)
        .fetch_one(pool)
        .await
        .expect("run")
}

async fn wait_for(
    pool: &PgPool,
    run: Uuid,
    within: Duration,
    want: impl Fn(&str) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, _) = status_of(pool, run).await;
        if want(&status) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "run {run} is still {status} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_restarted_under_its_identity_takes_its_runs_over_at_once() {
    let db = storeflow_testkit::database().await;
    let pool = db.pool(3).await;
    // Long leases: anything recovered within seconds was taken over, not rescued by expiry.
    let runs: Vec<Uuid> = (0..3)
        .map(|_| start_selftest(&db.url, r#"{"steps": 3, "delay_ms": 1500}"#))
        .collect();
    let mut first = worker_with(&db.url, "pod-a", "60s", "2s");
    for run in &runs {
        wait_for(&pool, *run, Duration::from_secs(30), |s| s == "running").await;
    }
    let (_, dead_owner) = status_of(&pool, runs[0]).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");

    // A worker elsewhere (another identity) leaves them alone until their leases expire.
    let mut elsewhere = worker_with(&db.url, "pod-b", "60s", "2s");
    tokio::time::sleep(Duration::from_secs(3)).await;
    for run in &runs {
        let (status, owner) = status_of(&pool, *run).await;
        assert_eq!(
            (status.as_str(), owner),
            ("running", dead_owner),
            "run {run} was touched before its lease expired"
        );
    }

    // The same place again: its predecessor's runs are requeued at once and finish.
    let restarted = Instant::now();
    let mut again = worker_with(&db.url, "pod-a", "60s", "2s");
    for run in &runs {
        wait_for(&pool, *run, Duration::from_secs(30), |s| s == "succeeded").await;
    }
    let took = restarted.elapsed();
    // 3 steps of 1.5 s at most, plus the takeover: far below the 60 s lease.
    assert!(took < Duration::from_secs(15), "took over after {took:?}");
    let (rescued,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM workflow_step_attempts WHERE outcome = 'rescued' AND run_id = ANY($1)",
    )
    .bind(&runs)
    .fetch_one(&pool)
    .await
    .expect("attempts");
    assert_eq!(
        rescued, 3,
        "each in-flight step is recorded as rescued, not failed"
    );

    // A live twin (same identity, started while the other works) takes nothing over.
    let busy = start_selftest(&db.url, r#"{"steps": 2, "delay_ms": 4000}"#);
    wait_for(&pool, busy, Duration::from_secs(30), |s| s == "running").await;
    let (_, busy_owner) = status_of(&pool, busy).await;
    let mut twin = worker_with(&db.url, "pod-a", "60s", "2s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, owner) = status_of(&pool, busy).await;
    assert_eq!(status, "running");
    assert_eq!(
        owner, busy_owner,
        "a live worker of the same identity kept its run"
    );
    for child in [&mut elsewhere, &mut again, &mut twin] {
        child.kill().expect("stop");
        child.wait().expect("reaped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_a_run_between_steps_is_handed_over_at_once_not_after_the_grace_period() {
    let db = storeflow_testkit::database().await;
    let pool = db.pool(3).await;
    let slow = start_selftest(&db.url, r#"{"steps": 2, "delay_ms": 15000}"#);
    let quick = start_selftest(&db.url, r#"{"steps": 30, "delay_ms": 200}"#);
    let mut draining = worker_with(&db.url, "draining", "60s", "30s");
    wait_for(&pool, slow, Duration::from_secs(30), |s| s == "running").await;
    wait_for(&pool, quick, Duration::from_secs(30), |s| s == "running").await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &draining.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let mut successor = worker_with(&db.url, "successor", "60s", "2s");
    // The quick run's step ends within 200 ms; it is released then and continued by the
    // successor, while the draining worker still waits (15 s) for the slow step.
    let took = wait_for(&pool, quick, Duration::from_secs(20), |s| s == "succeeded").await;
    assert!(
        took < Duration::from_secs(12),
        "the run between steps waited {took:?} for the draining worker"
    );
    assert!(
        draining.try_wait().expect("wait").is_none(),
        "the draining worker is still finishing the slow step"
    );
    // The slow step finishes within the grace period; its run is handed over too.
    wait_for(&pool, slow, Duration::from_secs(40), |s| s == "succeeded").await;
    let exit = draining.wait().expect("reaped");
    assert!(exit.success(), "the draining worker exited with {exit}");
    successor.kill().expect("stop");
    successor.wait().expect("reaped");
}
