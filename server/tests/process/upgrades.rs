//! Day-2 upgrades end to end on the fake cluster: a ready store is upgraded to the chart a
//! new build ships (real `storeflow worker` processes, the fake helm keeping revisions as
//! helm does, WP-CLI data migrations, a real test order), then a bad release — its image
//! crash-loops — is rolled back by the run itself and the store verified again on its old
//! versions.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use storeflow_fakecluster::Options;

use crate::provisioning::{Platform, store_chart, tail};

/// A copy of the store chart under `dir/<version>` with its `version` and `appVersion` set to
/// `version` and image tags replaced (`(old tag, new tag)`), as a later build would ship it.
pub fn chart_variant(dir: &Path, version: &str, tags: &[(&str, &str)]) -> PathBuf {
    let target = dir.join(format!("chart-{version}"));
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(store_chart())
        .arg(&target)
        .status()
        .expect("cp");
    assert!(status.success(), "copying the chart");
    let chart_yaml = target.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).expect("Chart.yaml");
    let text: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with("version:") {
                format!("version: {version}")
            } else if line.starts_with("appVersion:") {
                format!("appVersion: \"{version}\"")
            } else {
                line.to_owned()
            }
        })
        .collect();
    std::fs::write(&chart_yaml, text.join("\n") + "\n").expect("write Chart.yaml");
    let values_yaml = target.join("values.yaml");
    let mut values = std::fs::read_to_string(&values_yaml).expect("values.yaml");
    for (old, new) in tags {
        let from = format!("tag: {old}\n");
        assert!(values.contains(&from), "values.yaml has no `{from}`");
        values = values.replacen(&from, &format!("tag: {new}\n"), 1);
    }
    std::fs::write(&values_yaml, values).expect("write values.yaml");
    target
}

/// Polls the store until `done` holds for it.
pub async fn wait_store<C>(
    platform: &Platform<C>,
    token: &str,
    id: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let store = platform.store(token, id).await;
        if done(&store) {
            return store;
        }
        if Instant::now() > deadline {
            panic!(
                "store {id}: {what} did not happen within {within:?}: {}\nworker log tail:\n{}",
                serde_json::to_string_pretty(&store).unwrap_or_default(),
                tail(&platform.worker_logs(), 60)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts an upgrade as `token`; returns the answer.
pub async fn upgrade<C>(
    platform: &Platform<C>,
    token: &str,
    id: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    platform
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/upgrade"),
            Some(token),
            body,
        )
        .await
}

/// The run's steps as `(name, status)`.
pub async fn run_steps<C>(platform: &Platform<C>, admin: &str, run: &str) -> Vec<(String, String)> {
    let (status, body) = platform
        .call(
            Method::GET,
            &format!("/api/v1/runs/{run}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["run"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_owned(),
                s["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// From the end of the failed health check (the failing step's last attempt) to the end of
/// `mark-rolled-back`, i.e. until the old version was verified again by an order.
pub async fn recovery_time(pool: &sqlx::PgPool, run: &str, failed_step: &str) -> Duration {
    let (ms,): (f64,) = sqlx::query_as(
        "WITH ends AS (
             SELECT d.step_name, max(a.finished_at) AS at
             FROM workflow_step_attempts a
             JOIN workflow_runs r ON r.id = a.run_id
             JOIN workflow_definition_steps d ON d.workflow = r.workflow
              AND d.version = r.version AND d.step_index = a.step_index
             WHERE a.run_id = $1::uuid
             GROUP BY d.step_name)
         SELECT (extract(epoch FROM
                    (SELECT at FROM ends WHERE step_name = 'mark-rolled-back')
                  - (SELECT at FROM ends WHERE step_name = $2)) * 1000)::float8",
    )
    .bind(run)
    .bind(failed_step)
    .fetch_one(pool)
    .await
    .expect("attempt times");
    Duration::from_millis(ms.max(0.0) as u64)
}

fn image_of(platform: &Platform, namespace: &str, deployment: &str) -> String {
    platform
        .cluster
        .get("deployments", namespace, deployment)
        .map(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_is_upgraded_and_a_bad_release_is_rolled_back_and_verified_again() {
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(200)),
        ..Options::default()
    })
    .await;
    let admin = platform.register("ops@example.com", "ops").await;
    let tenant = platform.register("alice@example.com", "alice").await;
    let id = platform
        .create_store(
            &tenant,
            json!({ "name": "alice-shop", "engine": "woocommerce", "theme": "storefront" }),
        )
        .await;
    platform.start_worker();
    let store = platform
        .wait_status(&tenant, &id, "ready", Duration::from_secs(90))
        .await;
    let shipped = storeflow_executors::chart::ChartRelease::read(&store_chart()).expect("chart");
    assert_eq!(
        store["versions"],
        json!({ "chart": shipped.chart_version, "app": shipped.app_version }),
        "provisioning records the versions it installed"
    );
    assert_eq!(store["availableUpgrade"], Value::Null, "{store}");
    let (status, body) = upgrade(&platform, &admin, &id, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "UP_TO_DATE", "{body}");

    // A new build ships chart 2.2.0 with a newer WordPress image.
    let good = chart_variant(
        &platform.dir,
        "2.2.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache")],
    );
    platform.ship_chart(&good).await;
    platform.start_worker();
    let store = platform.store(&tenant, &id).await;
    assert_eq!(
        store["availableUpgrade"],
        json!({ "chart": "2.2.0", "app": "2.2.0" })
    );
    // Tenants may not upgrade unless the platform allows it; bad bodies are refused.
    let (status, body) = upgrade(&platform, &tenant, &id, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "UPGRADE_NOT_ALLOWED", "{body}");
    let (status, body) = upgrade(&platform, &admin, &id, Some(json!({ "force": "yes" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let orders_before = platform.cluster.site(&id).expect("site").orders.len();

    let (status, body) = upgrade(&platform, &admin, &id, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["store"]["status"], "upgrading", "{body}");
    assert_eq!(body["to"], json!({ "chart": "2.2.0", "app": "2.2.0" }));
    let (status, again) = upgrade(&platform, &admin, &id, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let upgraded = wait_store(
        &platform,
        &tenant,
        &id,
        Duration::from_secs(90),
        "the upgrade",
        |s| s["status"] == "ready" && s["lastUpgrade"]["status"] == "succeeded",
    )
    .await;
    assert_eq!(
        upgraded["versions"],
        json!({ "chart": "2.2.0", "app": "2.2.0" })
    );
    assert_eq!(
        upgraded["lastUpgrade"]["from"],
        json!({ "chart": shipped.chart_version, "app": shipped.app_version })
    );
    assert_eq!(upgraded["availableUpgrade"], Value::Null);
    assert_eq!(
        image_of(&platform, &id, "wordpress"),
        "wordpress:6.8-php8.2-apache"
    );
    let site = platform.cluster.site(&id).expect("site");
    assert_eq!(site.db_updates, 2, "wp core update-db and wp wc update ran");
    assert_eq!(
        site.orders.len(),
        orders_before + 1,
        "a real test order verified the upgraded store"
    );
    let exec: Vec<String> = platform
        .cluster
        .exec_log()
        .iter()
        .map(|e| e.command.join(" "))
        .collect();
    for command in [
        "wp core update-db --path=/var/www/html",
        "wp wc update --path=/var/www/html",
    ] {
        assert!(
            exec.iter().any(|c| c == command),
            "{command} not in {exec:?}"
        );
    }
    // The upgrade kept the store's secrets where they were: nothing secret in values.
    let secrets = platform.store_secret_values(&id);
    let texts = platform.public_texts().await;
    for secret in &secrets {
        assert!(!texts.contains(secret.as_str()), "a secret leaked");
    }

    // The next build's release is bad: its WordPress image crash-loops.
    let bad = chart_variant(
        &platform.dir,
        "2.3.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache-crashloop")],
    );
    platform.ship_chart(&bad).await;
    platform.start_worker();
    let (status, body) = upgrade(&platform, &admin, &id, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = body["run"]["id"].as_str().expect("run").to_owned();
    let rolled_back = wait_store(
        &platform,
        &tenant,
        &id,
        Duration::from_secs(120),
        "the rollback",
        |s| s["status"] == "ready" && s["lastUpgrade"]["status"] == "rolled_back",
    )
    .await;
    let last = &rolled_back["lastUpgrade"];
    assert_eq!(
        rolled_back["versions"],
        json!({ "chart": "2.2.0", "app": "2.2.0" }),
        "the store keeps the versions it works on"
    );
    assert_eq!(last["failedStep"], "wait-upgraded", "{last}");
    assert!(
        last["error"]
            .as_str()
            .is_some_and(|e| e.contains("CrashLoopBackOff")),
        "{last}"
    );
    assert_eq!(last["to"]["chart"], "2.3.0", "{last}");
    assert_eq!(
        rolled_back["availableUpgrade"],
        json!({ "chart": "2.3.0", "app": "2.3.0" })
    );
    assert_eq!(
        image_of(&platform, &id, "wordpress"),
        "wordpress:6.8-php8.2-apache"
    );
    assert_eq!(
        platform.cluster.site(&id).expect("site").orders.len(),
        orders_before + 2,
        "the rolled-back store was verified again by a real order"
    );
    let helm_log = std::fs::read_to_string(&platform.helm_log).expect("helm log");
    let rollback: Vec<Value> = helm_log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|argv| argv[0] == "rollback")
        .collect();
    assert_eq!(rollback.len(), 1, "{helm_log}");
    assert_eq!(rollback[0][1], id.as_str());
    assert_eq!(
        rollback[0][2], "3",
        "back to the revision the upgrade started from"
    );
    let steps = run_steps(&platform, &admin, &run).await;
    let status_of = |name: &str| {
        steps
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
            .unwrap_or("absent")
    };
    assert_eq!(status_of("wait-upgraded"), "failed", "{steps:?}");
    assert_eq!(status_of("wp-core-update-db"), "skipped", "{steps:?}");
    assert_eq!(status_of("mark-upgraded"), "skipped", "{steps:?}");
    assert_eq!(status_of("rollback-chart"), "succeeded", "{steps:?}");
    assert_eq!(
        status_of("verify-storefront-after-rollback"),
        "succeeded",
        "{steps:?}"
    );
    eprintln!(
        "failed upgrade on the fake cluster: {:?} from the failed health check to the old \
         version verified again by an order",
        recovery_time(&platform.pool, &run, "wait-upgraded").await
    );
}

/// The rollout as the API shows it.
async fn rollout(platform: &Platform, admin: &str, id: &str) -> Value {
    let (status, body) = platform
        .call(
            Method::GET,
            &format!("/api/v1/rollouts/{id}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["rollout"].clone()
}

async fn wait_rollout(
    platform: &Platform,
    admin: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let current = rollout(platform, admin, id).await;
        if done(&current) {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "rollout {id}: {what} did not happen: {}\n{}",
            serde_json::to_string_pretty(&current).unwrap_or_default(),
            tail(&platform.worker_logs(), 60)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn wave_stores(rollout: &Value, wave: usize) -> Vec<String> {
    rollout["waves"][wave]["stores"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["storeId"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_rollout_upgrades_in_waves_and_a_bad_release_halts_it_before_later_waves() {
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(200)),
        ..Options::default()
    })
    .await;
    let admin = platform.register("ops@example.com", "ops").await;
    let mut tenants = Vec::new();
    let mut stores = Vec::new();
    for (tenant, count) in [("alice", 4), ("bob", 3)] {
        let token = platform
            .register(&format!("{tenant}@example.com"), tenant)
            .await;
        for n in 0..count {
            stores.push((
                token.clone(),
                platform
                    .create_store(
                        &token,
                        json!({ "name": format!("{tenant}-shop-{n}"), "engine": "woocommerce" }),
                    )
                    .await,
            ));
        }
        tenants.push(token);
    }
    platform.start_worker();
    for (token, id) in &stores {
        platform
            .wait_status(token, id, "ready", Duration::from_secs(120))
            .await;
    }

    // A build with chart 2.2.0 rolls out in waves of 1, 2 and the rest, two upgrades at once.
    let good = chart_variant(
        &platform.dir,
        "2.2.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache")],
    );
    platform.ship_chart(&good).await;
    let kubeconfig = platform.kubeconfig.clone();
    platform.start_worker_as(&kubeconfig, &[("UPGRADE_CONCURRENCY", "2")]);
    let (status, body) = platform
        .call(
            Method::POST,
            "/api/v1/rollouts",
            Some(&tenants[0]),
            Some(json!({ "waves": [1, 2] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "tenants cannot: {body}");
    let (status, body) = platform
        .call(
            Method::POST,
            "/api/v1/rollouts",
            Some(&admin),
            Some(json!({ "waves": [1, 0], "maxFailureShare": 2 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = platform
        .call(
            Method::POST,
            "/api/v1/rollouts",
            Some(&admin),
            Some(json!({ "waves": [1, 2] })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["rollout"]["id"].as_str().expect("id").to_owned();
    let sizes: Vec<usize> = body["rollout"]["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .map(|w| w["stores"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [1, 2, 4], "{body}");
    let (status, again) = platform
        .call(
            Method::POST,
            "/api/v1/rollouts",
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "one rollout at a time: {again}"
    );
    assert_eq!(again["error"]["code"], "ROLLOUT_IN_PROGRESS");
    let done = wait_rollout(&platform, &admin, &id, "the rollout", |r| {
        r["status"] == "succeeded"
    })
    .await;
    assert_eq!(done["totals"]["upgraded"], 7, "{done}");
    for wave in done["waves"].as_array().expect("waves") {
        assert_eq!(wave["status"], "succeeded", "{done}");
    }
    for (token, store) in &stores {
        let store = platform.store(token, store).await;
        assert_eq!(store["versions"]["chart"], "2.2.0", "{store}");
    }
    // Never more than two upgrades admitted at once.
    let spans: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as(
            "SELECT admitted_at, finished_at FROM workflow_runs \
             WHERE parent_run_id = $1::uuid AND admitted_at IS NOT NULL",
        )
        .bind(&id)
        .fetch_all(&platform.pool)
        .await
        .expect("spans");
    assert_eq!(spans.len(), 7);
    let most = spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, f)| s <= start && f > start)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(most <= 2, "{most} upgrades ran at once");

    // The next build's release is bad: the canary wave fails, the rollout halts, and no store
    // of a later wave is touched.
    let bad = chart_variant(
        &platform.dir,
        "2.3.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache-crashloop")],
    );
    platform.ship_chart(&bad).await;
    platform.start_worker_as(&kubeconfig, &[("UPGRADE_CONCURRENCY", "2")]);
    let (status, body) = platform
        .call(
            Method::POST,
            "/api/v1/rollouts",
            Some(&admin),
            Some(json!({ "waves": [1, 2] })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["rollout"]["id"].as_str().expect("id").to_owned();
    let halted = wait_rollout(&platform, &admin, &id, "the halt", |r| {
        r["status"] == "halted"
    })
    .await;
    assert_eq!(halted["waves"][0]["status"], "halted", "{halted}");
    assert_eq!(halted["waves"][0]["stores"][0]["outcome"], "failed");
    assert_eq!(halted["waves"][1]["status"], "pending", "{halted}");
    assert!(
        halted["error"]
            .as_str()
            .is_some_and(|e| e.contains("wave 1 halted the rollout")),
        "{halted}"
    );
    let later: Vec<String> = wave_stores(&halted, 1)
        .into_iter()
        .chain(wave_stores(&halted, 2))
        .collect();
    let (children,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM workflow_runs WHERE parent_run_id = $1::uuid")
            .bind(&id)
            .fetch_one(&platform.pool)
            .await
            .expect("children");
    assert_eq!(children, 1, "only the canary was upgraded");
    let (touched,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM stores WHERE id = ANY($1) \
         AND (status <> 'ready' OR chart_version <> '2.2.0' OR last_upgrade->>'status' <> 'succeeded')",
    )
    .bind(&later)
    .fetch_one(&platform.pool)
    .await
    .expect("stores");
    assert_eq!(touched, 0, "stores of later waves were not touched");
    let canary = wave_stores(&halted, 0).remove(0);
    let (canary_status, canary_upgrade): (String, Value) =
        sqlx::query_as("SELECT status::text, last_upgrade FROM stores WHERE id = $1")
            .bind(&canary)
            .fetch_one(&platform.pool)
            .await
            .expect("canary");
    assert_eq!(canary_status, "ready");
    assert_eq!(canary_upgrade["status"], "rolled_back", "{canary_upgrade}");

    // Resuming accepts the canary's failure and starts wave 2, which fails as well; then the
    // operator cancels the rollout and wave 3 never starts.
    let (status, body) = platform
        .call(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/resume"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let halted = wait_rollout(&platform, &admin, &id, "the second halt", |r| {
        r["status"] == "halted" && r["waves"][1]["status"] == "halted"
    })
    .await;
    assert_eq!(halted["waves"][0]["status"], "accepted", "{halted}");
    let (status, body) = platform
        .call(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/cancel"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a halted rollout has finished: {body}"
    );
    let (status, body) = platform
        .call(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/resume"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = platform
        .call(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/cancel"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cancelled = wait_rollout(&platform, &admin, &id, "the cancel", |r| {
        r["status"] == "cancelled"
            && r["waves"][2]["stores"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|s| s["outcome"] != "upgrading")
    })
    .await;
    // Wave 3's upgrades were cancelled before they touched a release (at most two run at
    // once), or had not been started at all: every one of its stores is ready on 2.2.0.
    for store in wave_stores(&cancelled, 2) {
        let (status, chart, upgrade): (String, String, Value) = sqlx::query_as(
            "SELECT status::text, chart_version, last_upgrade FROM stores WHERE id = $1",
        )
        .bind(&store)
        .fetch_one(&platform.pool)
        .await
        .expect("store");
        assert_eq!(chart, "2.2.0", "{store}: {upgrade}");
        assert!(
            status == "ready" || status == "failed",
            "{store} is {status}: {upgrade}"
        );
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Figures and robustness of rollouts at scale on the fake cluster:
/// `STOREFLOW_ROLLOUT_STORES` stores (default 24; the closing figures used 500) are rolled
/// out to in waves of 1, 5, 25 and the rest while a worker (and the helm it runs) is
/// SIGKILLed `STOREFLOW_ROLLOUT_KILLS` times (default 4; 20 for the figures). Every store
/// ends upgraded and no helm release is left pending; then a bad release halts at its canary
/// with no store of a later wave touched. Prints the times.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_rollout_at_scale_survives_killed_workers_and_a_bad_release_halts_at_the_canary() {
    let count = env_number("STOREFLOW_ROLLOUT_STORES", 24);
    let kills = env_number("STOREFLOW_ROLLOUT_KILLS", 4);
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(100)),
        ..Options::default()
    })
    .await;
    let admin = platform.register("ops@example.com", "ops").await;
    let tenant = platform.register("fleet@example.com", "fleet").await;
    for n in 0..count {
        platform
            .create_store(
                &tenant,
                json!({ "name": format!("fleet-{n}"), "engine": "woocommerce" }),
            )
            .await;
    }
    let kubeconfig = platform.kubeconfig.clone();
    // Killed helms leave releases pending; they are repaired after the grace (shortened
    // here from its 10 minutes) plus helm's timeout.
    let worker_env = [
        ("PROVISIONING_CONCURRENCY", "64"),
        ("UPGRADE_CONCURRENCY", "25"),
        ("HELM_PENDING_GRACE", "5s"),
        ("HELM_TIMEOUT", "10s"),
    ];
    platform.start_worker_as(&kubeconfig, &worker_env);
    platform.start_worker_as(&kubeconfig, &worker_env);
    let provisioning = Instant::now();
    let pool = platform.pool.clone();
    let stores_in = |status: &'static str| {
        let pool = pool.clone();
        async move {
            let (n,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM stores WHERE status::text = $1")
                    .bind(status)
                    .fetch_one(&pool)
                    .await
                    .expect("count");
            n as usize
        }
    };
    let deadline = Instant::now() + Duration::from_secs(1800);
    while stores_in("ready").await < count {
        assert_eq!(
            stores_in("failed").await,
            0,
            "{}",
            tail(&platform.worker_logs(), 40)
        );
        assert!(Instant::now() < deadline, "stores not ready in time");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let provisioned_in = provisioning.elapsed();

    let good = chart_variant(
        &platform.dir,
        "2.2.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache")],
    );
    platform.ship_chart(&good).await;
    let mut live = vec![
        platform.start_worker_as(&kubeconfig, &worker_env),
        platform.start_worker_as(&kubeconfig, &worker_env),
    ];
    let (status, body) = platform
        .call(
            Method::POST,
            "/api/v1/rollouts",
            Some(&admin),
            Some(json!({ "waves": [1, 5, 25] })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["rollout"]["id"].as_str().expect("id").to_owned();
    let started = Instant::now();
    // Kill a worker (and its helm) every 1.5 s while the rollout runs, starting another.
    let mut killed = 0;
    let finished = loop {
        let current = rollout(&platform, &admin, &id).await;
        if current["status"] != "running"
            && current["status"] != "queued"
            && current["status"] != "waiting"
        {
            break current;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the rollout did not finish: {current}"
        );
        if killed < kills {
            let victim = live.remove(killed % live.len());
            platform.kill_worker(victim);
            live.push(platform.start_worker_as(&kubeconfig, &worker_env));
            killed += 1;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    };
    let rolled_out_in = started.elapsed();
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(
        finished["totals"]["upgraded"], count,
        "{}",
        finished["totals"]
    );
    assert_eq!(stores_in("ready").await, count);
    let (behind,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM stores WHERE chart_version IS DISTINCT FROM '2.2.0'")
            .fetch_one(&platform.pool)
            .await
            .expect("versions");
    assert_eq!(behind, 0);
    let pending: Vec<String> = platform
        .cluster
        .list("secrets")
        .into_iter()
        .filter(|(_, s)| {
            s["metadata"]["labels"]["owner"] == "helm"
                && s["metadata"]["labels"]["status"]
                    .as_str()
                    .is_some_and(|status| status.starts_with("pending"))
        })
        .map(|(namespace, s)| format!("{namespace}: {}", s["metadata"]["name"]))
        .collect();
    assert!(pending.is_empty(), "releases left pending: {pending:?}");

    // A bad release: the canary fails and the rollout halts before touching anyone else.
    let bad = chart_variant(
        &platform.dir,
        "2.3.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache-crashloop")],
    );
    platform.ship_chart(&bad).await;
    platform.start_worker_as(&kubeconfig, &worker_env);
    let (status, body) = platform
        .call(
            Method::POST,
            "/api/v1/rollouts",
            Some(&admin),
            Some(json!({ "waves": [1, 5, 25] })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let bad_id = body["rollout"]["id"].as_str().expect("id").to_owned();
    let halting = Instant::now();
    let halted = wait_rollout(&platform, &admin, &bad_id, "the halt", |r| {
        r["status"] == "halted"
    })
    .await;
    let halted_in = halting.elapsed();
    let canary = wave_stores(&halted, 0);
    let (touched,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM stores WHERE NOT (id = ANY($1)) \
         AND (status <> 'ready' OR chart_version <> '2.2.0' OR last_upgrade->>'runId' \
              IN (SELECT id::text FROM workflow_runs WHERE parent_run_id = $2::uuid))",
    )
    .bind(&canary)
    .bind(&bad_id)
    .fetch_one(&platform.pool)
    .await
    .expect("touched");
    assert_eq!(touched, 0, "stores of later waves were touched");
    eprintln!(
        "fleet rollout on the fake cluster: {count} stores provisioned in {:.1} s; rolled out to \
         chart 2.2.0 in waves 1/5/25/rest with up to 25 upgrades at once in {:.1} s while {killed} \
         workers were SIGKILLed (no release left pending); a bad release halted at its canary in \
         {:.1} s with 0 stores of later waves touched",
        provisioned_in.as_secs_f64(),
        rolled_out_in.as_secs_f64(),
        halted_in.as_secs_f64()
    );
}
