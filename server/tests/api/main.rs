//! In-process HTTP tests of the API against a real PostgreSQL.

mod auth;
mod backups;
mod contract;
mod events;
mod hardening;
mod operations;
mod page_cache;
mod stores;
mod tenancy;
mod users;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use storeflow::{ApiConfig, AppState, app};
use storeflow_engine::Engine;
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-that-is-long-enough-0123456789";

#[derive(Debug)]
pub struct TestApi {
    pub router: Router,
    pub pool: PgPool,
    pub engine: Engine,
}

impl TestApi {
    pub async fn start() -> Self {
        Self::with_config(ApiConfig::default()).await
    }

    pub async fn with_config(config: ApiConfig) -> Self {
        let db = storeflow_testkit::database().await;
        let pool = db.pool(10).await;
        let engine = Engine::start(pool.clone(), storeflow_workflows::registry())
            .await
            .expect("engine starts");
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        let router = app(AppState::new(engine.clone(), SECRET, config, Some(metrics)));
        TestApi {
            router,
            pool,
            engine,
        }
    }

    /// Another API replica on the same database.
    pub fn replica(&self, config: ApiConfig) -> Router {
        app(AppState::new(self.engine.clone(), SECRET, config, None))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        call(&self.router, method, path, token, body).await
    }

    pub async fn register(&self, email: &str, username: &str) -> (Value, String) {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({ "email": email, "username": username, "password": "correct horse battery" })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        let token = reply.body["token"].as_str().expect("token").to_owned();
        (reply.body["user"].clone(), token)
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The error code of an envelope answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    contract::check(&method, &path, status, &headers, &bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub async fn call(
    router: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request");
    send(router, request).await
}

/// Every error answer has the envelope.
pub fn assert_envelope(reply: &Reply) {
    assert!(
        reply.body["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{reply:?}"
    );
    assert!(reply.body["error"]["code"].is_string(), "{reply:?}");
    assert!(reply.body["error"]["message"].is_string(), "{reply:?}");
    assert!(reply.body["error"]["retryable"].is_boolean(), "{reply:?}");
}
