//! The helm steps with a fake `helm` that records its argv and the values file, run by the
//! real engine and worker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use storeflow_engine::{
    Definition, Engine, NewRun, RetryPolicy, RunDetail, RunStatus, StepDef, Worker, WorkerOptions,
};
use storeflow_executors::helm::{HelmSettings, InstallChart, UninstallChart};
use tokio_util::sync::CancellationToken;

/// A fake helm: logs each argv line to `argv.log`, keeps a copy of each values file and its
/// mode, answers `status` from the file `status` (absent → not found), and fails `upgrade`
/// with the text of `fail-upgrade` when that file exists.
fn fake_helm(dir: &Path) -> PathBuf {
    let script = format!(
        r#"#!/bin/sh
d='{dir}'
printf '%s\n' "$*" >> "$d/argv.log"
case "$1" in
  status)
    if [ -f "$d/status" ]; then
      last=$(cat "$d/last_deployed" 2>/dev/null || echo 2020-01-01T00:00:00Z)
      printf '{{"info":{{"status":"%s","last_deployed":"%s"}},"version":3}}' "$(cat "$d/status")" "$last"; exit 0
    fi
    echo 'Error: release: not found' >&2; exit 1 ;;
  history)
    printf '[{{"revision":1,"status":"superseded"}},{{"revision":2,"status":"failed"}},{{"revision":3,"status":"pending-upgrade"}}]'; exit 0 ;;
  upgrade)
    if [ -f "$d/fail-upgrade" ]; then cat "$d/fail-upgrade" >&2; exit 1; fi
    while [ $# -gt 0 ]; do
      if [ "$1" = "--values" ]; then cp "$2" "$d/values.json"; stat -c %a "$2" > "$d/values-mode"; echo "$2" > "$d/values-path"; fi
      shift
    done
    echo deployed > "$d/status"
    printf '{{"name":"release","version":4,"info":{{"status":"deployed"}}}}'; exit 0 ;;
  uninstall)
    if [ -f "$d/status" ]; then rm -f "$d/status"; echo 'release uninstalled'; exit 0; fi
    echo 'Error: uninstall: Release not loaded: store: release: not found' >&2; exit 1 ;;
  rollback)
    echo deployed > "$d/status"; echo 'Rollback was a success!'; exit 0 ;;
esac
echo "unexpected helm call: $*" >&2; exit 2
"#,
        dir = dir.display()
    );
    let path = dir.join("helm");
    std::fs::write(&path, script).expect("script");
    let status = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .expect("chmod");
    assert!(status.success());
    path
}

fn chrono_now() -> String {
    let output = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn temp_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("storeflow-helm-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

struct Harness {
    engine: Engine,
    dir: PathBuf,
    stop: CancellationToken,
    worker: tokio::task::JoinHandle<storeflow_engine::Result<()>>,
}

impl Harness {
    async fn start() -> Harness {
        let db = storeflow_testkit::database().await;
        let definitions = vec![
            Definition::new("test-install", 1)
                .step(StepDef::new(
                    "render-values",
                    storeflow_executors_test_values::RenderValues,
                ))
                .step(
                    StepDef::new(
                        "install-chart",
                        InstallChart {
                            values_from: Some("render-values".into()),
                        },
                    )
                    .retry(RetryPolicy {
                        max_attempts: 2,
                        initial_backoff: Duration::from_millis(50),
                        max_backoff: Duration::from_millis(50),
                        multiplier: 1.0,
                        jitter: 0.0,
                    })
                    // Long enough that helm's own 300 s timeout fits in the attempt.
                    .timeout(Duration::from_secs(600)),
                ),
            Definition::new("test-uninstall", 1)
                .step(StepDef::new("uninstall-chart", UninstallChart {})),
        ];
        let engine = Engine::start(db.pool(10).await, definitions)
            .await
            .expect("engine");
        let dir = temp_dir();
        let settings = HelmSettings {
            bin: fake_helm(&dir),
            chart: PathBuf::from("/charts/ecommerce-store"),
            values_files: vec![PathBuf::from("/charts/ecommerce-store/values-local.yaml")],
            timeout: Duration::from_secs(300),
            pending_grace: Duration::from_secs(600),
            in_cluster: None,
            kubeconfig: None,
        };
        let stop = CancellationToken::new();
        let options = WorkerOptions {
            poll_interval: Duration::from_millis(50),
            ..WorkerOptions::default()
        };
        let worker = tokio::spawn(
            Worker::new(engine.clone(), options)
                .with_resource(settings)
                .run(stop.clone()),
        );
        Harness {
            engine,
            dir,
            stop,
            worker,
        }
    }

    async fn run(&self, workflow: &str) -> RunDetail {
        let input = json!({ "store_id": "store-0000abcd", "namespace": "store-0000abcd", "engine": "woocommerce", "tenant": "t" });
        let run = self
            .engine
            .enqueue_now(NewRun::new(workflow, input))
            .await
            .expect("enqueued")
            .run_id;
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let detail = self.engine.get_run(run).await.expect("run");
            if detail.summary.status.is_final() {
                return detail;
            }
            assert!(tokio::time::Instant::now() < until, "{detail:#?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    async fn stop(self) {
        self.stop.cancel();
        self.worker.await.expect("joined").expect("worker");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A step that renders chart values with a marker, to prove values travel only in the 0600
/// values file.
mod storeflow_executors_test_values {
    use serde::{Deserialize, Serialize};
    use serde_json::json;
    use storeflow_engine::{StepContext, StepOutcome};

    #[derive(Debug, Serialize, Deserialize)]
    pub struct RenderValues;

    #[typetag::serde(name = "test-render-values")]
    #[async_trait::async_trait]
    impl storeflow_engine::Step for RenderValues {
        async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
            StepOutcome::Done(
                json!({ "values": { "ingress": { "host": "shop.localhost" }, "probe": "s3cr3t-value" } }),
            )
        }
    }
}

#[tokio::test]
async fn install_passes_values_in_a_private_file_never_in_argv() {
    let h = Harness::start().await;
    let done = h.run("test-install").await;
    assert_eq!(
        done.summary.status,
        RunStatus::Succeeded,
        "{:?}",
        done.summary.error
    );
    assert_eq!(
        done.state["install-chart"],
        json!({ "release": "store-0000abcd", "revision": 4 })
    );
    let argv = h.argv();
    assert_eq!(
        argv[0],
        "status store-0000abcd --namespace store-0000abcd -o json"
    );
    let values_path = std::fs::read_to_string(h.dir.join("values-path"))
        .expect("values path")
        .trim()
        .to_owned();
    assert_eq!(
        argv[1],
        format!(
            "upgrade --install store-0000abcd /charts/ecommerce-store --namespace store-0000abcd \
             --values /charts/ecommerce-store/values-local.yaml --values {values_path} --timeout 300s -o json"
        )
    );
    assert!(
        argv.iter().all(|line| !line.contains("s3cr3t-value")),
        "no secret in argv: {argv:?}"
    );
    assert_eq!(
        std::fs::read_to_string(h.dir.join("values-mode"))
            .expect("mode")
            .trim(),
        "600"
    );
    assert!(
        !Path::new(&values_path).exists(),
        "the values file is removed afterwards"
    );
    let values: Value =
        serde_json::from_str(&std::fs::read_to_string(h.dir.join("values.json")).expect("values"))
            .expect("json");
    assert_eq!(values["storeId"], "store-0000abcd");
    assert_eq!(values["engine"], "woocommerce");
    assert_eq!(values["ingress"]["host"], "shop.localhost");
    h.stop().await;
}

#[tokio::test]
async fn a_release_stuck_pending_is_repaired_before_installing() {
    let h = Harness::start().await;
    std::fs::write(h.dir.join("status"), "pending-install").expect("status");
    let done = h.run("test-install").await;
    assert_eq!(
        done.summary.status,
        RunStatus::Succeeded,
        "{:?}",
        done.summary.error
    );
    let argv = h.argv();
    assert!(
        argv[1].starts_with("uninstall store-0000abcd --namespace store-0000abcd"),
        "{argv:?}"
    );
    assert!(argv[2].starts_with("upgrade --install"), "{argv:?}");

    std::fs::write(h.dir.join("status"), "pending-upgrade").expect("status");
    let done = h.run("test-install").await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert!(
        h.argv()
            .iter()
            .any(|l| l.starts_with("rollback store-0000abcd 1 ")),
        "rolled back to the newest good revision, not the failed one: {:?}",
        h.argv()
    );
    h.stop().await;
}

#[tokio::test]
async fn a_release_that_only_just_went_pending_is_left_to_the_helm_still_working_on_it() {
    let h = Harness::start().await;
    std::fs::write(h.dir.join("status"), "pending-upgrade").expect("status");
    std::fs::write(h.dir.join("last_deployed"), chrono_now()).expect("time");
    let run = h
        .engine
        .enqueue_now(NewRun::new(
            "test-install",
            json!({ "store_id": "store-0000abcd", "namespace": "store-0000abcd", "engine": "woocommerce", "tenant": "t" }),
        ))
        .await
        .expect("enqueued")
        .run_id;
    // The step waits — no attempt spent — for as long as another helm could still be at
    // work (after a worker was killed mid-helm the release stays pending that long, longer
    // than any retry budget).
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    let waiting = loop {
        let detail = h.engine.get_run(run).await.expect("run");
        if detail.steps[1].waiting_for.is_some() {
            break detail;
        }
        assert!(tokio::time::Instant::now() < until, "{detail:#?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(waiting.summary.status, RunStatus::Waiting);
    let step = &waiting.steps[1];
    let why = step.waiting_for.clone().unwrap_or_default();
    assert!(
        why.contains("another helm operation may still be running")
            && why.contains("repaired only after 900 s"),
        "{why}"
    );
    assert!(step.attempts <= 1, "waiting spends no attempts: {step:#?}");
    assert!(
        h.argv()
            .iter()
            .all(|l| !l.starts_with("rollback") && !l.starts_with("uninstall")),
        "the release is left to the helm that may still be working on it"
    );
    h.stop().await;
}

#[tokio::test]
async fn chart_errors_fail_at_once_and_an_unreachable_cluster_is_retried() {
    let h = Harness::start().await;
    std::fs::write(
        h.dir.join("fail-upgrade"),
        "Error: INSTALLATION FAILED: template: ecommerce-store/templates/x.yaml:3: function \"nope\" not defined",
    )
    .expect("fail");
    let failed = h.run("test-install").await;
    assert_eq!(failed.summary.status, RunStatus::Failed);
    let error = failed.summary.error.unwrap_or_default();
    assert!(error.contains("function \"nope\" not defined"), "{error}");
    assert_eq!(
        failed.steps[1].attempts, 1,
        "a template error is not retried"
    );

    std::fs::write(
        h.dir.join("fail-upgrade"),
        "Error: Kubernetes cluster unreachable: dial tcp: connection refused",
    )
    .expect("fail");
    let failed = h.run("test-install").await;
    assert_eq!(failed.summary.status, RunStatus::Failed);
    assert_eq!(
        failed.steps[1].attempts, 2,
        "an unreachable cluster is retried"
    );
    h.stop().await;
}

#[tokio::test]
async fn uninstall_treats_a_missing_release_as_done() {
    let h = Harness::start().await;
    std::fs::write(h.dir.join("status"), "deployed").expect("status");
    let done = h.run("test-uninstall").await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    let again = h.run("test-uninstall").await;
    assert_eq!(again.summary.status, RunStatus::Succeeded);
    assert_eq!(again.state["uninstall-chart"]["already_gone"], true);
    h.stop().await;
}
