//! The fake Kubernetes API server against the real one: one scripted sequence of API calls
//! (server-side apply, get, create, patch with and without a resourceVersion precondition,
//! 404/409, watches, a terminating namespace, exec into a missing pod) runs against
//! `storeflow-fakecluster` and against the real control plane, and the status codes and the
//! bodies' key fields must agree. The fast tests are only as good as the fake: where it
//! differs, the fake is fixed, and this comparison keeps it so.

use std::time::{Duration, Instant};

use axum::http::{Method, Request};
use serde_json::{Value, json};
use storeflow_fakecluster::FakeCluster;

/// What one call answered, reduced to what must agree.
#[derive(Debug, PartialEq)]
struct Answer {
    call: &'static str,
    status: u16,
    fields: Value,
}

const NAMESPACE: &str = "store-0c0ffee1";

async fn send(
    client: &kube::Client,
    method: Method,
    path: &str,
    content_type: &str,
    body: Option<Value>,
) -> (u16, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
        .expect("request");
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("the API server answers");
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A `Status` body's reason and kind of object (the messages differ in wording only where
/// the fake says so).
fn status_fields(body: &Value) -> Value {
    json!({ "kind": body["kind"], "reason": body["reason"], "details.kind": body["details"]["kind"] })
}

/// The scripted sequence.
async fn script(client: &kube::Client) -> Vec<Answer> {
    let mut answers = Vec::new();
    let mut record = |call, status, fields| {
        answers.push(Answer {
            call,
            status,
            fields,
        })
    };
    let ns_path = format!("/api/v1/namespaces/{NAMESPACE}");
    let apply = "application/apply-patch+yaml";
    let merge = "application/merge-patch+json";
    let json = "application/json";
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NAMESPACE,
        "labels": { "app.kubernetes.io/managed-by": "storeflow", "storeflow.io/store-id": NAMESPACE } } });

    let (status, body) = send(
        client,
        Method::PATCH,
        &format!("{ns_path}?fieldManager=storeflow&force=true"),
        apply,
        Some(namespace.clone()),
    )
    .await;
    let body = json_of(&body);
    record(
        "apply a new namespace",
        status,
        json!({ "labels": body["metadata"]["labels"], "phase": body["status"]["phase"] }),
    );
    let (status, body) = send(
        client,
        Method::PATCH,
        &format!("{ns_path}?fieldManager=storeflow&force=true"),
        apply,
        Some(namespace),
    )
    .await;
    record(
        "apply it again",
        status,
        json!({ "phase": json_of(&body)["status"]["phase"] }),
    );
    let (status, body) = send(client, Method::GET, &ns_path, json, None).await;
    let body = json_of(&body);
    record(
        "get it",
        status,
        json!({ "kind": body["kind"], "finalizers": body["spec"]["finalizers"] }),
    );
    let (status, body) = send(
        client,
        Method::GET,
        "/api/v1/namespaces/store-00000404",
        json,
        None,
    )
    .await;
    record(
        "get a missing namespace",
        status,
        status_fields(&json_of(&body)),
    );

    let configmap = |name: &str| {
        json!({ "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": name, "labels": { "compare": "yes" } }, "data": { "a": "1" } })
    };
    let cms = format!("{ns_path}/configmaps");
    let (status, body) = send(client, Method::POST, &cms, json, Some(configmap("one"))).await;
    let created = json_of(&body);
    record(
        "create a configmap",
        status,
        json!({ "kind": created["kind"], "data": created["data"] }),
    );
    let (status, body) = send(client, Method::POST, &cms, json, Some(configmap("one"))).await;
    record("create it again", status, status_fields(&json_of(&body)));
    let (status, body) = send(
        client,
        Method::POST,
        "/api/v1/namespaces/store-00000404/configmaps",
        json,
        Some(configmap("one")),
    )
    .await;
    record(
        "create in a missing namespace",
        status,
        status_fields(&json_of(&body)),
    );
    let (status, body) = send(
        client,
        Method::GET,
        &format!("{cms}?labelSelector=compare%3Dyes"),
        json,
        None,
    )
    .await;
    let list = json_of(&body);
    let listed_at = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let names: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["metadata"]["name"].clone())
        .collect();
    record(
        "list by label",
        status,
        json!({ "kind": list["kind"], "names": names }),
    );

    let one = format!("{cms}/one");
    let (status, body) = send(
        client,
        Method::PATCH,
        &one,
        merge,
        Some(json!({ "metadata": { "resourceVersion": "1" }, "data": { "b": "2" } })),
    )
    .await;
    record(
        "patch with a stale resourceVersion",
        status,
        status_fields(&json_of(&body)),
    );
    let current = created["metadata"]["resourceVersion"].clone();
    let (status, body) = send(
        client,
        Method::PATCH,
        &one,
        merge,
        Some(json!({ "metadata": { "resourceVersion": current }, "data": { "b": "2" } })),
    )
    .await;
    record(
        "patch with the current resourceVersion",
        status,
        json!({ "data": json_of(&body)["data"] }),
    );
    let (status, body) = send(
        client,
        Method::PATCH,
        &one,
        merge,
        Some(json!({ "data": { "a": null, "c": "3" } })),
    )
    .await;
    record(
        "patch without one (null removes)",
        status,
        json!({ "data": json_of(&body)["data"] }),
    );
    let (status, body) = send(
        client,
        Method::PATCH,
        &format!("{cms}/missing"),
        merge,
        Some(json!({ "data": { "b": "2" } })),
    )
    .await;
    record(
        "patch a missing configmap",
        status,
        status_fields(&json_of(&body)),
    );
    let (status, body) = send(client, Method::POST, &cms, json, Some(configmap("two"))).await;
    record(
        "create another",
        status,
        json!({ "name": json_of(&body)["metadata"]["name"] }),
    );

    // A watch from the list's resourceVersion sees what happened since, in order.
    let (status, body) = send(
        client,
        Method::GET,
        &format!(
            "{cms}?watch=1&labelSelector=compare%3Dyes&resourceVersion={listed_at}&timeoutSeconds=1"
        ),
        json,
        None,
    )
    .await;
    let events: Vec<Value> = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let event = json_of(l);
            json!([
                event["type"],
                event["object"]["metadata"]["name"],
                event["object"]["data"]
            ])
        })
        .collect();
    record("watch since the list", status, json!(events));
    let (status, body) = send(
        client,
        Method::GET,
        &format!("{cms}?watch=1&resourceVersion=1&timeoutSeconds=1"),
        json,
        None,
    )
    .await;
    let first = json_of(body.lines().next().unwrap_or_default());
    let expired = if status == 200 {
        &first["object"]
    } else {
        &first
    };
    record(
        "watch from resourceVersion 1 (replayed, not 410)",
        status,
        json!({ "type": first["type"], "code": expired["code"], "reason": expired["reason"] }),
    );

    // Exec where nothing answers. The service proxy's error paths are left out: the real API
    // server here answers a proxy request to a missing service, or to one without endpoints,
    // only after about five minutes (503); its working path is proven by the Medusa tests.
    let (status, body) = send(
        client,
        Method::POST,
        &format!("{ns_path}/pods/nopod/exec?command=true&stdout=true"),
        json,
        None,
    )
    .await;
    record(
        "exec into a missing pod",
        status,
        status_fields(&json_of(&body)),
    );
    let service = json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "lonely" },
        "spec": { "selector": { "app": "nothing-here" }, "ports": [{ "port": 80 }] } });
    let (status, _) = send(
        client,
        Method::POST,
        &format!("{ns_path}/services"),
        json,
        Some(service),
    )
    .await;
    record("create a service without pods", status, json!({}));

    // Deleting the namespace: Terminating until the namespace controller has emptied it.
    let (status, body) = send(client, Method::DELETE, &ns_path, json, None).await;
    let body = json_of(&body);
    record(
        "delete the namespace",
        status,
        json!({ "phase": body["status"]["phase"], "deleting": body["metadata"]["deletionTimestamp"].is_string() }),
    );
    let (status, body) = send(client, Method::POST, &cms, json, Some(configmap("three"))).await;
    record(
        "create in the terminating namespace",
        status,
        status_fields(&json_of(&body)),
    );
    let (status, body) = send(
        client,
        Method::PATCH,
        &one,
        merge,
        Some(json!({ "data": { "d": "4" } })),
    )
    .await;
    record(
        "patch an object in it",
        status,
        json!({ "data": json_of(&body)["data"] }),
    );
    let (status, body) = send(client, Method::DELETE, &ns_path, json, None).await;
    record("delete it again", status, status_fields(&json_of(&body)));
    let started = Instant::now();
    let gone = loop {
        let (status, _) = send(client, Method::GET, &ns_path, json, None).await;
        if status == 404 || started.elapsed() > Duration::from_secs(60) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    record("the namespace is gone in the end", gone, json!({}));
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fake_api_server_answers_a_scripted_sequence_as_the_real_one_does() {
    let real_client = crate::real_cluster::world()
        .cluster()
        .client()
        .await
        .expect("real client");
    let real = script(&real_client).await;
    let fake_cluster = FakeCluster::start().await;
    let dir = std::env::temp_dir().join(format!(
        "storeflow-compare-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let fake_client = crate::real_cluster::client_for(&fake_cluster.write_kubeconfig(&dir)).await;
    let fake = script(&fake_client).await;
    let _ = std::fs::remove_dir_all(&dir);
    let mut differences = Vec::new();
    for (real, fake) in real.iter().zip(&fake) {
        if real != fake {
            differences.push(format!(
                "{}:\n  real {} {}\n  fake {} {}",
                real.call, real.status, real.fields, fake.status, fake.fields
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the fake differs from the real API server:\n{}",
        differences.join("\n")
    );
}
