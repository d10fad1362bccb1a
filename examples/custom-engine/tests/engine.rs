//! The example engine's workflow is a valid definition built by the shared builder, and its
//! new step kind runs through the real engine and worker against the fake Kubernetes API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use storeflow_engine::{Definition, Engine, NewRun, StepDef, Worker, WorkerOptions};
use storeflow_example_engine::{StaticSite, WRITE_PAGE, WriteWelcomePage};
use storeflow_fakecluster::FakeCluster;
use storeflow_fakecluster::wpcli::Output;
use tokio_util::sync::CancellationToken;

#[test]
fn the_provisioning_workflow_is_built_from_the_engine() {
    let definition = storeflow_workflows::store::provision_v1(&StaticSite);
    definition.validate().expect("a valid definition");
    let json = definition.to_json().expect("serializes");
    let names: Vec<&str> = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(json["name"], "provision-static-site");
    let setup = names
        .iter()
        .position(|n| *n == "write-welcome-page")
        .expect("setup step");
    assert!(
        names[..setup].contains(&"wait-ready"),
        "setup runs once the pods are ready: {names:?}"
    );
    assert!(
        names[setup..].contains(&"publish-chart"),
        "and before publication: {names:?}"
    );
    assert_eq!(names.last(), Some(&"mark-ready"));
    assert!(
        json.to_string().contains("write-welcome-page"),
        "the step kind is stored by its tag"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_step_kind_writes_the_page_through_the_exec_api() {
    let db = storeflow_testkit::database().await;
    let pool = db.pool(4).await;
    let definition = Definition::new("write-page-demo", 1).step(StepDef::new(
        "write-welcome-page",
        WriteWelcomePage {
            heading: "Welcome to {name}".into(),
        },
    ));
    let engine = Engine::start(pool, vec![definition]).await.expect("engine");

    // A fake cluster with the site's pod; the exec handler stands in for the container.
    let cluster = FakeCluster::start().await;
    cluster.put(
        "namespaces",
        "",
        json!({ "metadata": { "name": "store-0a1b2c3d" } }),
    );
    cluster.put("pods", "store-0a1b2c3d", json!({
        "metadata": { "name": "site-0", "labels": { "app.kubernetes.io/name": "site", "app.kubernetes.io/instance": "store-0a1b2c3d" } },
        "spec": { "containers": [{ "name": "nginx", "image": "nginx:1.27" }] },
        "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": "True" }] }
    }));
    let written = Arc::new(Mutex::new(Vec::new()));
    {
        let written = written.clone();
        cluster.set_exec_handler(Arc::new(move |request| {
            written
                .lock()
                .expect("lock")
                .push((request.command.clone(), request.stdin.clone()));
            Some(Output::default())
        }));
    }
    let client = kube::Client::try_from(kube::Config::new(cluster.url().parse().expect("url")))
        .expect("client");

    let run = engine
        .enqueue_now(NewRun::new(
            "write-page-demo",
            // A store run's input, as the API writes it (`StoreRunInput`).
            json!({ "store_id": "store-0a1b2c3d", "namespace": "store-0a1b2c3d", "name": "Tea & <Cake>" }),
        ))
        .await
        .expect("enqueued");
    let stop = CancellationToken::new();
    let worker = Worker::new(
        engine.clone(),
        WorkerOptions {
            poll_interval: Duration::from_millis(50),
            ..WorkerOptions::default()
        },
    )
    .with_resource(client);
    let handle = tokio::spawn(worker.run(stop.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let detail = engine.get_run(run.run_id).await.expect("run");
        if detail.summary.status.is_final() {
            assert_eq!(
                detail.summary.status.as_str(),
                "succeeded",
                "{:?}",
                detail.summary.error
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    handle.await.expect("worker").expect("worker ran");

    let written = written.lock().expect("lock");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].0, ["sh", "-c", WRITE_PAGE]);
    assert_eq!(
        String::from_utf8_lossy(&written[0].1),
        "<!doctype html><title>Tea &amp; &lt;Cake&gt;</title><h1>Welcome to Tea &amp; &lt;Cake&gt;</h1>\n"
    );
}
