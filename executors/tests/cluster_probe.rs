//! The cluster probe and configuration loading with the real kube client: against a fake
//! API server on loopback (it answers `/version` like a real one), with no configuration at
//! all, and in-cluster — HTTPS with the service account's CA and bearer token, as in a pod —
//! against the fake Kubernetes API server serving TLS and refusing other tokens.

use std::time::Duration;

use axum::Json;
use axum::routing::get;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use serde_json::json;
use storeflow_executors::cluster::{ConfigSource, InClusterEnv, load, probe};
use storeflow_fakecluster::{FakeCluster, Options};

fn kubeconfig(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: {server}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
             users:\n- name: fake\n  user:\n    token: not-a-real-token\n"
        ),
    )
    .expect("kubeconfig written");
    path
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "storeflow-kube-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn a_reachable_api_server_reports_its_version_and_context() {
    let app = axum::Router::new().route(
        "/version",
        get(|| async {
            Json(json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.2", "gitCommit": "abc",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = temp_dir();
    let config = kubeconfig(&dir, &format!("http://{addr}"));
    let status = probe(ConfigSource::File(&config), Duration::from_secs(5)).await;
    assert!(status.reachable, "{status:?}");
    assert_eq!(status.version.as_deref(), Some("v1.33.2"));
    assert_eq!(status.context.as_deref(), Some("fake"));
    assert!(
        status
            .server
            .as_deref()
            .unwrap_or("")
            .contains(&addr.port().to_string())
    );
}

#[tokio::test]
async fn an_unreachable_server_and_a_missing_configuration_say_so() {
    let dir = temp_dir();
    let config = kubeconfig(&dir, "http://127.0.0.1:1");
    let refused = probe(ConfigSource::File(&config), Duration::from_secs(5)).await;
    assert!(!refused.reachable);
    assert!(refused.message.contains("did not answer"), "{refused:?}");
    let missing = probe(
        ConfigSource::File(&dir.join("does-not-exist")),
        Duration::from_secs(5),
    )
    .await;
    assert!(!missing.reachable);
    assert!(missing.message.contains("KUBECONFIG"), "{missing:?}");
}

const TOKEN: &str = "service-account-token-of-storeflow";

async fn secure_cluster() -> FakeCluster {
    FakeCluster::start_with(Options {
        service_account_token: Some(TOKEN.to_owned()),
        ..Options::default()
    })
    .await
}

/// The pod environment of a fake started with a service-account token.
fn pod(cluster: &FakeCluster, dir: &std::path::Path) -> InClusterEnv {
    cluster.write_service_account(dir, "storeflow-system");
    InClusterEnv {
        host: Some("127.0.0.1".to_owned()),
        port: Some(cluster.port().to_string()),
        service_account_dir: dir.to_path_buf(),
    }
}

#[tokio::test]
async fn in_cluster_the_service_account_reaches_the_api_server_over_tls() {
    let cluster = secure_cluster().await;
    let dir = temp_dir();
    let env = pod(&cluster, &dir);
    let status = probe(ConfigSource::InCluster(&env), Duration::from_secs(5)).await;
    assert!(status.reachable, "{status:?}");
    assert_eq!(status.version.as_deref(), Some("v1.33.0-fake"));
    assert_eq!(
        status.source.as_deref(),
        Some("in-cluster service account (namespace storeflow-system)")
    );
    assert_eq!(
        status.server.as_deref(),
        Some(format!("https://127.0.0.1:{}/", cluster.port()).as_str())
    );

    // The client the workers get does real work with it.
    let loaded = load(ConfigSource::InCluster(&env)).await.expect("loads");
    let credentials = loaded.in_cluster.clone().expect("in-cluster credentials");
    assert_eq!(credentials.token_file, dir.join("token"));
    assert_eq!(credentials.ca_file, dir.join("ca.crt"));
    assert_eq!(loaded.config.default_namespace, "storeflow-system");
    let client = kube::Client::try_from(loaded.config).expect("client");
    let namespaces: Api<Namespace> = Api::all(client);
    let namespace: Namespace = serde_json::from_value(json!({
        "metadata": { "name": "store-over-tls" }
    }))
    .expect("namespace");
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("created through the service account");
    assert!(cluster.namespaces().contains(&"store-over-tls".to_owned()));
}

#[tokio::test]
async fn in_cluster_a_refused_token_an_unknown_ca_and_missing_files_say_what_to_fix() {
    let cluster = secure_cluster().await;

    // A token the API server does not accept.
    let dir = temp_dir();
    let env = pod(&cluster, &dir);
    std::fs::write(dir.join("token"), "expired-token").expect("token");
    let refused = probe(ConfigSource::InCluster(&env), Duration::from_secs(5)).await;
    assert!(!refused.reachable);
    assert!(
        refused
            .message
            .contains("refused storeflow's credentials (401"),
        "{refused:?}"
    );
    assert!(
        refused.message.contains("service-account token"),
        "{refused:?}"
    );
    assert!(
        !refused.message.contains("expired-token"),
        "the token is never shown"
    );

    // A CA that did not sign the server's certificate: TLS fails, and says why.
    let other = secure_cluster().await;
    let dir = temp_dir();
    let env = pod(&cluster, &dir);
    std::fs::write(dir.join("ca.crt"), other.ca_pem().expect("ca")).expect("ca");
    let untrusted = probe(ConfigSource::InCluster(&env), Duration::from_secs(5)).await;
    assert!(!untrusted.reachable);
    assert!(
        untrusted.message.contains("TLS certificate is not trusted")
            && untrusted.message.contains("ca.crt"),
        "{untrusted:?}"
    );

    // No token mounted.
    let empty = temp_dir();
    let env = InClusterEnv {
        host: Some("127.0.0.1".to_owned()),
        port: Some(cluster.port().to_string()),
        service_account_dir: empty.clone(),
    };
    let unmounted = probe(ConfigSource::InCluster(&env), Duration::from_secs(5)).await;
    assert!(!unmounted.reachable);
    assert!(
        unmounted
            .message
            .contains(&empty.join("token").display().to_string()),
        "{unmounted:?}"
    );
    assert!(
        unmounted.message.contains("automountServiceAccountToken"),
        "{unmounted:?}"
    );

    // A CA file that is not PEM.
    let dir = temp_dir();
    let env = pod(&cluster, &dir);
    std::fs::write(dir.join("ca.crt"), "not a certificate").expect("ca");
    let garbled = load(ConfigSource::InCluster(&env))
        .await
        .expect_err("no certificate");
    assert!(
        garbled.contains("ca.crt") && garbled.contains("no PEM certificate"),
        "{garbled}"
    );

    // A pod environment without its port.
    let env = InClusterEnv { port: None, ..env };
    let no_port = load(ConfigSource::InCluster(&env))
        .await
        .expect_err("no port");
    assert!(no_port.contains("KUBERNETES_SERVICE_PORT"), "{no_port}");
}
