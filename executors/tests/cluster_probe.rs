//! The cluster probe with the real kube client: against a fake API server on loopback
//! (it answers `/version` like a real one), and with no configuration at all.

use std::time::Duration;

use axum::Json;
use axum::routing::get;
use serde_json::json;
use storeflow_executors::cluster::{ConfigSource, probe};

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
