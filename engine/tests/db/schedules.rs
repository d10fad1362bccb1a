//! Cron schedules: exactly one run per tick across racing schedulers; only the latest
//! missed tick after downtime; enable/disable.

use std::time::Duration;

use chrono::{DurationRound, Utc};
use serde_json::json;
use storeflow_engine::{Engine, ScheduleSpec, Scheduler, SchedulerOptions};
use tokio_util::sync::CancellationToken;

use crate::common::*;

fn spec(name: &str, cron: &str) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        cron: cron.into(),
        workflow: "selftest".into(),
        input: json!({ "steps": 1 }),
        enabled: true,
    }
}

async fn runs_of(engine: &Engine, schedule: &str) -> Vec<(String,)> {
    sqlx::query_as(
        "SELECT idempotency_key FROM workflow_runs WHERE subject = $1 ORDER BY idempotency_key",
    )
    .bind(format!("schedule:{schedule}"))
    .fetch_all(engine.pool())
    .await
    .expect("runs")
}

#[tokio::test]
async fn three_racing_schedulers_fire_each_tick_exactly_once() {
    let db = storeflow_testkit::database().await;
    let engines = [
        engine(&db, vec![]).await,
        engine(&db, vec![]).await,
        engine(&db, vec![]).await,
    ];
    engines[0]
        .upsert_schedule(&spec("every-second", "* * * * * *"))
        .await
        .expect("schedule");
    let stop = CancellationToken::new();
    let started = Utc::now();
    let mut handles = Vec::new();
    for engine in &engines {
        let scheduler = Scheduler::new(
            engine.clone(),
            SchedulerOptions {
                reload_interval: Duration::from_millis(50),
            },
        );
        handles.push(tokio::spawn(scheduler.run(stop.clone())));
    }
    tokio::time::sleep(Duration::from_millis(3_300)).await;
    stop.cancel();
    for handle in handles {
        handle.await.expect("joined").expect("scheduler ok");
    }
    let ended = Utc::now();
    let keys = runs_of(&engines[0], "every-second").await;
    let ticks: Vec<chrono::DateTime<Utc>> = keys
        .iter()
        .map(|(k,)| {
            let at = k.rsplit_once("every-second:").expect("key shape").1;
            chrono::DateTime::parse_from_rfc3339(at)
                .expect("rfc3339")
                .with_timezone(&Utc)
        })
        .collect();
    assert!(ticks.len() >= 2, "it fired: {keys:?}");
    let mut unique = ticks.clone();
    unique.dedup();
    assert_eq!(unique.len(), ticks.len(), "no tick fired twice: {keys:?}");
    // Every second tick in the window fired (none skipped while schedulers were running).
    for pair in ticks.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_seconds(),
            1,
            "consecutive ticks: {keys:?}"
        );
    }
    assert!(ticks[0] > started - chrono::Duration::seconds(1));
    assert!(*ticks.last().expect("a tick") <= ended);
}

#[tokio::test]
async fn after_downtime_only_the_latest_missed_tick_fires() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    engine
        .upsert_schedule(&spec("hourly-cleanup", "0 * * * *"))
        .await
        .expect("schedule");
    // The schedulers were down for five hours.
    sqlx::query(
        "UPDATE workflow_schedules SET last_tick_at = now() - interval '5 hours 10 minutes'",
    )
    .execute(engine.pool())
    .await
    .expect("backdate");
    let now = Utc::now();
    let racers: Vec<_> = (0..3)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.fire_due_tick("hourly-cleanup", now).await })
        })
        .collect();
    for racer in racers {
        racer.await.expect("joined").expect("fired or skipped");
    }
    let keys = runs_of(&engine, "hourly-cleanup").await;
    let latest = now
        .duration_trunc(chrono::Duration::hours(1))
        .expect("hour");
    assert_eq!(
        keys,
        vec![(format!("schedule:hourly-cleanup:{}", latest.to_rfc3339()),)]
    );
    assert_eq!(
        engine
            .fire_due_tick("hourly-cleanup", now)
            .await
            .expect("nothing due"),
        None
    );
}

#[tokio::test]
async fn a_disabled_schedule_does_not_fire_and_reenabling_skips_what_it_missed() {
    let db = storeflow_testkit::database().await;
    let engine = engine(&db, vec![]).await;
    engine
        .upsert_schedule(&spec("nightly", "0 3 * * *"))
        .await
        .expect("schedule");
    let disabled = engine
        .set_schedule_enabled("nightly", false)
        .await
        .expect("disable");
    assert!(!disabled.enabled);
    sqlx::query("UPDATE workflow_schedules SET last_tick_at = now() - interval '3 days'")
        .execute(engine.pool())
        .await
        .expect("backdate");
    assert_eq!(
        engine
            .fire_due_tick("nightly", Utc::now())
            .await
            .expect("skip"),
        None
    );
    let enabled = engine
        .set_schedule_enabled("nightly", true)
        .await
        .expect("enable");
    assert!(enabled.enabled);
    assert!(enabled.next_tick_at.is_some());
    assert_eq!(
        engine
            .fire_due_tick("nightly", Utc::now())
            .await
            .expect("nothing due"),
        None
    );
    assert!(runs_of(&engine, "nightly").await.is_empty());

    let missing = engine
        .set_schedule_enabled("nope", true)
        .await
        .expect_err("unknown");
    assert!(missing.to_string().contains("schedule `nope` not found"));
    let bad = engine
        .upsert_schedule(&spec("bad", "61 * * * *"))
        .await
        .expect_err("invalid cron");
    assert!(
        bad.to_string()
            .contains("invalid cron expression `61 * * * *`"),
        "{bad}"
    );
}
