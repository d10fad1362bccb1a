//! The Kubernetes steps, run by the real engine and worker with the real kube-rs client
//! against the in-process fake API server.

use std::time::Duration;

use serde_json::{Value, json};
use storeflow_engine::{
    Definition, Engine, NewRun, RetryPolicy, RunDetail, RunStatus, StepDef, StepStatus, Worker,
    WorkerOptions,
};
use storeflow_executors::breaker::{Breakers, CircuitBreaker};
use storeflow_executors::kubernetes::{
    DeleteNamespace, EnsureNamespace, WaitNamespaceGone, WaitReady,
};
use storeflow_fakecluster::FakeCluster;
use tokio_util::sync::CancellationToken;

const FAST: Duration = Duration::from_millis(100);

fn definitions() -> Vec<Definition> {
    vec![
        Definition::new("test-provision-frame", 1)
            .step(
                StepDef::new("ensure-namespace", EnsureNamespace { recheck: FAST })
                    .timeout(Duration::from_secs(60)),
            )
            .step(
                StepDef::new("wait-ready", WaitReady { recheck: FAST })
                    .retry(RetryPolicy::no_retries())
                    .timeout(Duration::from_secs(60)),
            ),
        Definition::new("test-store-secret", 1).step(StepDef::new(
            "ensure-store-secret",
            storeflow_executors::secrets::EnsureStoreSecret {
                keys: vec!["db-password".into(), "jwt-secret".into()],
            },
        )),
        Definition::new("test-teardown-frame", 1)
            .step(StepDef::new("delete-namespace", DeleteNamespace {}))
            .step(
                StepDef::new("wait-namespace-gone", WaitNamespaceGone { recheck: FAST })
                    .timeout(Duration::from_secs(60)),
            ),
    ]
}

struct Harness {
    engine: Engine,
    cluster: FakeCluster,
    stop: CancellationToken,
    worker: tokio::task::JoinHandle<storeflow_engine::Result<()>>,
}

impl Harness {
    async fn start() -> Harness {
        let cluster = FakeCluster::start().await;
        let url = cluster.url();
        Self::start_with(cluster, &url, None).await
    }

    /// A harness whose client talks to `url` (which may be unreachable), with breakers.
    async fn start_with(cluster: FakeCluster, url: &str, breakers: Option<Breakers>) -> Harness {
        let db = storeflow_testkit::database().await;
        let engine = Engine::start(db.pool(10).await, definitions())
            .await
            .expect("engine");
        let config = kube::Config::new(url.parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let stop = CancellationToken::new();
        let options = WorkerOptions {
            poll_interval: Duration::from_millis(50),
            ..WorkerOptions::default()
        };
        let mut worker = Worker::new(engine.clone(), options).with_resource(client);
        if let Some(breakers) = breakers {
            worker = worker.with_resource(breakers);
        }
        let worker = tokio::spawn(worker.run(stop.clone()));
        Harness {
            engine,
            cluster,
            stop,
            worker,
        }
    }

    async fn run(&self, workflow: &str, namespace: &str) -> uuid::Uuid {
        let input = json!({ "store_id": namespace, "namespace": namespace, "engine": "medusa", "tenant": "t-1" });
        self.engine
            .enqueue_now(NewRun::new(workflow, input))
            .await
            .expect("enqueued")
            .run_id
    }

    async fn wait(&self, run: uuid::Uuid, done: impl Fn(&RunDetail) -> bool) -> RunDetail {
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let detail = self.engine.get_run(run).await.expect("run");
            if done(&detail) {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "condition not reached: {detail:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.worker.await.expect("joined").expect("worker");
    }
}

/// A Deployment whose one replica runs the current template (`updatedReplicas: 1`), available
/// or not.
fn deployment(name: &str, available: i32) -> Value {
    json!({ "metadata": { "name": name }, "spec": { "replicas": 1 },
            "status": { "updatedReplicas": 1, "availableReplicas": available } })
}

#[tokio::test]
async fn a_store_namespace_is_created_labelled_and_readiness_is_awaited() {
    let h = Harness::start().await;
    h.cluster
        .put("deployments", "store-0000aaaa", deployment("medusa", 0));
    let run = h.run("test-provision-frame", "store-0000aaaa").await;
    let polling = h
        .wait(run, |d| d.steps[1].status == StepStatus::Polling)
        .await;
    assert_eq!(
        polling.steps[1].waiting_for.as_deref(),
        Some("deployment medusa: 0/1 available")
    );
    let namespace = h
        .cluster
        .get("namespaces", "", "store-0000aaaa")
        .expect("namespace created");
    let labels = &namespace["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "storeflow");
    assert_eq!(labels["storeflow.io/store-id"], "store-0000aaaa");
    assert_eq!(labels["storeflow.io/engine"], "medusa");
    assert_eq!(labels["storeflow.io/tenant"], "t-1");

    h.cluster
        .update("deployments", "store-0000aaaa", "medusa", |d| {
            d["status"]["availableReplicas"] = json!(1)
        });
    let done = h.wait(run, |d| d.summary.status.is_final()).await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(
        done.state["wait-ready"]["ready"],
        json!(["deployment/medusa"])
    );

    // Applying again converges: same namespace, labels kept.
    let again = h.run("test-provision-frame", "store-0000aaaa").await;
    let again = h.wait(again, |d| d.summary.status.is_final()).await;
    assert_eq!(again.summary.status, RunStatus::Succeeded);
    h.stop().await;
}

#[tokio::test]
async fn a_terminating_namespace_is_waited_for_not_reused() {
    let h = Harness::start().await;
    h.cluster.hold_namespace_deletion(true);
    h.cluster.put(
        "namespaces",
        "",
        json!({ "metadata": { "name": "store-0000bbbb" } }),
    );
    let client = kube::Client::try_from(kube::Config::new(h.cluster.url().parse().expect("url")))
        .expect("client");
    kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client)
        .delete("store-0000bbbb", &Default::default())
        .await
        .expect("delete accepted");
    h.cluster.put("statefulsets", "store-0000bbbb", json!({ "metadata": { "name": "db" }, "spec": { "replicas": 1 }, "status": { "readyReplicas": 1 } }));
    let run = h.run("test-provision-frame", "store-0000bbbb").await;
    let waiting = h
        .wait(run, |d| d.steps[0].status == StepStatus::Polling)
        .await;
    assert!(
        waiting.steps[0]
            .waiting_for
            .as_deref()
            .unwrap_or("")
            .contains("still terminating")
    );
    h.cluster.finish_namespace_deletion("store-0000bbbb");
    let waiting_ready = h
        .wait(run, |d| d.steps[1].status == StepStatus::Polling)
        .await;
    assert!(
        waiting_ready.steps[1]
            .waiting_for
            .as_deref()
            .unwrap_or("")
            .contains("no deployments or statefulsets")
    );
    let fresh = h
        .cluster
        .get("namespaces", "", "store-0000bbbb")
        .expect("created again");
    assert_eq!(fresh["status"]["phase"], "Active");
    h.stop().await;
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_fails_fast_with_the_reason() {
    let h = Harness::start().await;
    h.cluster.put(
        "deployments",
        "store-0000cccc",
        deployment("woocommerce", 0),
    );
    h.cluster.put(
        "pods",
        "store-0000cccc",
        json!({
            "metadata": { "name": "woocommerce-7d9f" },
            "status": { "containerStatuses": [{
                "name": "wordpress", "image": "wordpress:nope", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "waiting": { "reason": "ImagePullBackOff", "message": "Back-off pulling image \"wordpress:nope\"" } }
            }] }
        }),
    );
    let started = std::time::Instant::now();
    let run = h.run("test-provision-frame", "store-0000cccc").await;
    let failed = h.wait(run, |d| d.summary.status.is_final()).await;
    assert_eq!(failed.summary.status, RunStatus::Failed);
    let error = failed.summary.error.unwrap_or_default();
    assert!(
        error.contains("pod woocommerce-7d9f container wordpress cannot start: ImagePullBackOff"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed fast, not at the 60 s timeout"
    );
    h.stop().await;
}

fn owned_namespace(name: &str) -> Value {
    json!({ "metadata": {
        "name": name,
        "labels": { "app.kubernetes.io/managed-by": "storeflow", "storeflow.io/store-id": name },
        "finalizers": ["example.com/volume-protection"]
    } })
}

#[tokio::test]
async fn teardown_deletes_the_namespace_and_reports_what_holds_it() {
    let h = Harness::start().await;
    h.cluster.hold_namespace_deletion(true);
    h.cluster
        .put("namespaces", "", owned_namespace("store-0000dddd"));
    h.cluster.put(
        "secrets",
        "store-0000dddd",
        json!({ "metadata": { "name": "db" } }),
    );
    let run = h.run("test-teardown-frame", "store-0000dddd").await;
    let waiting = h
        .wait(run, |d| d.steps[1].status == StepStatus::Polling)
        .await;
    assert!(
        waiting.steps[1]
            .waiting_for
            .as_deref()
            .unwrap_or("")
            .contains("finalizers: example.com/volume-protection"),
        "{:?}",
        waiting.steps[1].waiting_for
    );
    // A second teardown while the first waits (a retry, a crash replay): the namespace is
    // already terminating, which counts as deleted.
    let second = h.run("test-teardown-frame", "store-0000dddd").await;
    let second_waiting = h
        .wait(second, |d| d.steps[1].status == StepStatus::Polling)
        .await;
    assert_eq!(
        second_waiting.state["delete-namespace"]["already_terminating"],
        true
    );

    h.cluster.finish_namespace_deletion("store-0000dddd");
    for run in [run, second] {
        let done = h.wait(run, |d| d.summary.status.is_final()).await;
        assert_eq!(done.summary.status, RunStatus::Succeeded);
    }
    assert!(h.cluster.get("secrets", "store-0000dddd", "db").is_none());
    let again = h.run("test-teardown-frame", "store-0000dddd").await;
    let again = h.wait(again, |d| d.summary.status.is_final()).await;
    assert_eq!(again.summary.status, RunStatus::Succeeded);
    assert_eq!(again.state["delete-namespace"]["already_gone"], true);
    h.stop().await;
}

#[tokio::test]
async fn a_namespace_that_is_not_this_stores_is_neither_taken_over_nor_deleted() {
    let h = Harness::start().await;
    h.cluster.put(
        "namespaces",
        "",
        json!({ "metadata": { "name": "store-0000eeee", "labels": { "team": "payments" } } }),
    );
    let provision = h.run("test-provision-frame", "store-0000eeee").await;
    let refused = h.wait(provision, |d| d.summary.status.is_final()).await;
    assert_eq!(refused.summary.status, RunStatus::Failed);
    assert!(
        refused
            .summary
            .error
            .unwrap_or_default()
            .contains("is not this store's")
    );
    let teardown = h.run("test-teardown-frame", "store-0000eeee").await;
    let refused = h.wait(teardown, |d| d.summary.status.is_final()).await;
    assert_eq!(refused.summary.status, RunStatus::Failed);
    let namespace = h
        .cluster
        .get("namespaces", "", "store-0000eeee")
        .expect("still there");
    assert_eq!(
        namespace["metadata"]["labels"]["team"], "payments",
        "untouched"
    );
    assert!(
        namespace["metadata"]["labels"]
            .get("storeflow.io/store-id")
            .is_none()
    );
    h.stop().await;
}

#[tokio::test]
async fn a_rollout_in_progress_or_a_first_crash_is_waited_for_not_failed() {
    let h = Harness::start().await;
    h.cluster.put(
        "deployments",
        "store-0000ffff",
        json!({ "metadata": { "name": "app", "generation": 2 }, "spec": { "replicas": 1 },
                "status": { "observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1 } }),
    );
    h.cluster.put(
        "pods",
        "store-0000ffff",
        json!({ "metadata": { "name": "app-new" }, "status": { "containerStatuses": [{
            "name": "app", "image": "app:2", "imageID": "", "ready": false, "restartCount": 1,
            "state": { "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 10s" } } }] } }),
    );
    let run = h.run("test-provision-frame", "store-0000ffff").await;
    let waiting = h
        .wait(run, |d| d.steps[1].status == StepStatus::Polling)
        .await;
    assert_eq!(
        waiting.steps[1].waiting_for.as_deref(),
        Some("deployment app: 1 old replica(s) still terminating"),
        "one crash is not a crash loop, and an old replica is not the new revision"
    );
    h.cluster
        .update("deployments", "store-0000ffff", "app", |d| {
            d["status"]["replicas"] = json!(1)
        });
    h.cluster.update("pods", "store-0000ffff", "app-new", |p| {
        p["status"]["containerStatuses"][0]["state"] = json!({ "running": {} });
        p["status"]["containerStatuses"][0]["ready"] = json!(true);
    });
    let done = h.wait(run, |d| d.summary.status.is_final()).await;
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    h.stop().await;
}

#[tokio::test]
async fn a_cluster_outage_parks_steps_instead_of_burning_their_retries() {
    let breakers = Breakers {
        kubernetes: CircuitBreaker::new("the Kubernetes API", 2, Duration::from_secs(60)),
        helm: CircuitBreaker::new("helm", 2, Duration::from_secs(60)),
    };
    // Nothing listens on port 1: every call is refused.
    let h = Harness::start_with(
        FakeCluster::start().await,
        "http://127.0.0.1:1",
        Some(breakers),
    )
    .await;
    let runs = [
        h.run("test-provision-frame", "store-00001111").await,
        h.run("test-provision-frame", "store-00002222").await,
        h.run("test-provision-frame", "store-00003333").await,
    ];
    for run in runs {
        let parked = h
            .wait(run, |d| {
                d.steps[0].status == StepStatus::Polling
                    && d.steps[0]
                        .waiting_for
                        .as_deref()
                        .unwrap_or("")
                        .contains("circuit open")
            })
            .await;
        assert_eq!(parked.summary.status, RunStatus::Waiting);
        assert!(
            parked.steps[0].attempts <= 2,
            "the outage used at most the attempts before the breaker opened"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn the_store_secret_keeps_its_values_and_gains_only_missing_keys() {
    let h = Harness::start().await;
    h.cluster.put(
        "namespaces",
        "",
        json!({ "metadata": { "name": "store-0000eeee" } }),
    );
    // A Secret from an earlier version of the engine: one key, in use by a volume.
    h.cluster.put(
        "secrets",
        "store-0000eeee",
        json!({ "metadata": { "name": "store-secrets", "labels": { "keep": "me" } },
                "type": "Opaque", "data": { "db-password": "b2xkLXZhbHVl" } }),
    );
    let run = h.run("test-store-secret", "store-0000eeee").await;
    let done = h.wait(run, |d| d.summary.status.is_final()).await;
    assert_eq!(done.summary.status, RunStatus::Succeeded, "{done:#?}");
    assert_eq!(
        done.state["ensure-store-secret"]["added"],
        json!(["jwt-secret"])
    );
    let secret = h
        .cluster
        .get("secrets", "store-0000eeee", "store-secrets")
        .expect("secret");
    assert_eq!(
        secret["data"]["db-password"], "b2xkLXZhbHVl",
        "an existing value never changes"
    );
    assert!(
        secret["data"]["jwt-secret"]
            .as_str()
            .is_some_and(|v| v.len() >= 40),
        "the missing key was generated: {secret}"
    );
    assert_eq!(secret["metadata"]["labels"]["keep"], "me");

    // Run again: nothing changes.
    let again = h.run("test-store-secret", "store-0000eeee").await;
    let done = h.wait(again, |d| d.summary.status.is_final()).await;
    assert_eq!(done.state["ensure-store-secret"]["created"], json!(false));
    assert_eq!(
        h.cluster.get("secrets", "store-0000eeee", "store-secrets"),
        Some(secret)
    );

    // A write based on a stale read is refused, as the API server does: what makes two
    // racing attempts re-read instead of overwriting each other's keys.
    let client = kube::Client::try_from(kube::Config::new(h.cluster.url().parse().expect("url")))
        .expect("client");
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client, "store-0000eeee");
    let stale = json!({ "metadata": { "resourceVersion": "1" }, "data": { "other": "eA==" } });
    let refused = secrets
        .patch(
            "store-secrets",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&stale),
        )
        .await
        .expect_err("stale resourceVersion");
    assert!(
        matches!(&refused, kube::Error::Api(status) if status.code == 409),
        "{refused:?}"
    );
    h.stop().await;
}
