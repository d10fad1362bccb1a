//! Bad input gets a clear 4xx in the envelope, never a 500; headers on every answer.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::*;

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_are_client_errors() {
    let api = TestApi::start().await;
    let malformed = send(
        &api.router,
        Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from("{\"email\": "))
            .expect("request"),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.code(), "MALFORMED_JSON");
    assert_envelope(&malformed);

    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(300 * 1024));
    let oversized = send(
        &api.router,
        Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(huge))
            .expect("request"),
    )
    .await;
    assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(oversized.code(), "PAYLOAD_TOO_LARGE");
    assert_envelope(&oversized);

    let text = send(
        &api.router,
        Request::post("/api/v1/auth/login")
            .header("content-type", "text/plain")
            .body(Body::from("email=a"))
            .expect("request"),
    )
    .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(text.code(), "UNSUPPORTED_MEDIA_TYPE");
    assert_envelope(&text);

    let not_object = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!([1, 2])),
        )
        .await;
    assert_eq!(not_object.status, StatusCode::BAD_REQUEST);
    assert_envelope(&not_object);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let api = TestApi::start().await;
    let missing = api.call(Method::GET, "/api/v1/nope", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "NOT_FOUND");
    assert_envelope(&missing);
    let wrong_method = api
        .call(Method::DELETE, "/api/v1/auth/me", None, None)
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&wrong_method);
    let bad_query = {
        let (_, token) = api.register("admin@example.com", "admin").await;
        api.call(Method::GET, "/api/v1/runs?limit=lots", Some(&token), None)
            .await
    };
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_query.code(), "VALIDATION_ERROR");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_security_headers() {
    let api = TestApi::start().await;
    let mine = send(
        &api.router,
        Request::get("/api/v1/health/live")
            .header("x-request-id", "trace-42")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(mine.headers["x-request-id"], "trace-42");
    let generated = api.call(Method::GET, "/api/v1/nope", None, None).await;
    let id = generated.headers["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(id.starts_with("req_") && id.len() == 16, "{id}");
    assert_eq!(
        generated.body["requestId"],
        id.as_str(),
        "the envelope carries the same id"
    );
    let hostile = send(
        &api.router,
        Request::get("/api/v1/health/live")
            .header("x-request-id", "<script>alert(1)</script>")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert!(
        hostile.headers["x-request-id"]
            .to_str()
            .expect("ascii")
            .starts_with("req_"),
        "unsafe ids are replaced"
    );
    for header in [
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
    ] {
        assert!(mine.headers.get(header).is_some(), "{header} missing");
    }
}

#[tokio::test]
async fn a_client_over_the_global_limit_gets_429_but_health_probes_pass() {
    let config = storeflow::ApiConfig {
        rate_limit_max: 3,
        ..storeflow::ApiConfig::default()
    };
    let api = TestApi::with_config(config).await;
    for _ in 0..3 {
        assert_eq!(
            api.call(Method::GET, "/api/v1/openapi.json", None, None)
                .await
                .status,
            StatusCode::OK
        );
    }
    let limited = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "RATE_LIMIT_EXCEEDED");
    assert_envelope(&limited);
    assert!(limited.headers.get("retry-after").is_some());
    assert_eq!(
        api.call(Method::GET, "/api/v1/health/live", None, None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn nul_bytes_in_paths_and_queries_are_refused_not_500() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    for path in [
        "/api/v1/runs?workflow=a%00b",
        "/api/v1/audit?subject=%00",
        "/api/v1/schedules/x%00y",
    ] {
        let method = if path.starts_with("/api/v1/schedules/") {
            Method::PATCH
        } else {
            Method::GET
        };
        let body = (method == Method::PATCH).then(|| json!({ "enabled": true }));
        let reply = api.call(method, path, Some(&admin), body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {reply:?}");
        assert_envelope(&reply);
    }
    let bad_utf8 = api
        .call(
            Method::GET,
            "/api/v1/runs/%FF/events/stream",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(bad_utf8.status, StatusCode::BAD_REQUEST);
    assert_envelope(&bad_utf8);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_forwarded_hop_is_the_client() {
    let config = storeflow::ApiConfig {
        rate_limit_max: 2,
        trust_proxy: true,
        ..storeflow::ApiConfig::default()
    };
    let api = TestApi::with_config(config).await;
    let from = |forwarded: &'static str| {
        Request::get("/api/v1/openapi.json")
            .header("x-forwarded-for", forwarded)
            .body(Body::empty())
            .expect("request")
    };
    // The client controls the left part; the proxy appended 203.0.113.7.
    assert_eq!(
        send(&api.router, from("1.1.1.1, 203.0.113.7")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&api.router, from("2.2.2.2, 203.0.113.7")).await.status,
        StatusCode::OK
    );
    let third = send(&api.router, from("3.3.3.3, 203.0.113.7")).await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "spoofed left hops do not reset the limit"
    );
    assert_eq!(
        send(&api.router, from("198.51.100.9")).await.status,
        StatusCode::OK,
        "another client"
    );
}

#[tokio::test]
async fn ipv6_clients_share_one_budget_per_64() {
    let config = storeflow::ApiConfig {
        rate_limit_max: 2,
        // Windows are aligned on the clock; a day-long one is not crossed by this test.
        rate_limit_window: std::time::Duration::from_secs(86_400),
        trust_proxy: true,
        ..storeflow::ApiConfig::default()
    };
    let api = TestApi::with_config(config).await;
    let from = |address: &'static str| {
        Request::get("/api/v1/openapi.json")
            .header("x-forwarded-for", address)
            .body(Body::empty())
            .expect("request")
    };
    // One host holds the whole 2001:db8:7:7::/64: changing the low bits is not a new client.
    for address in ["2001:db8:7:7::1", "2001:db8:7:7:ffff:1:2:3"] {
        assert_eq!(
            send(&api.router, from(address)).await.status,
            StatusCode::OK
        );
    }
    let third = send(&api.router, from("2001:db8:7:7:abcd::9")).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_envelope(&third);
    assert_eq!(
        send(&api.router, from("2001:db8:7:8::1")).await.status,
        StatusCode::OK,
        "the neighbouring /64 is another client"
    );
}

#[tokio::test]
async fn the_dashboard_is_served_beside_the_api_with_history_fallback() {
    let dir = std::env::temp_dir().join(format!("storeflow-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).expect("dir");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>storeflow</title>",
    )
    .expect("index");
    std::fs::write(dir.join("assets/app-1a2b3c.js"), "console.log('hi')").expect("asset");
    let api = TestApi::with_config(ApiConfig {
        dashboard_dir: Some(dir.clone()),
        ..ApiConfig::default()
    })
    .await;
    for path in ["/", "/stores/store-1a2b3c4d", "/runs?status=failed"] {
        let reply = api.call(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.text.contains("<title>storeflow</title>"), "{path}");
        assert_eq!(reply.headers["cache-control"], "no-cache");
        assert!(
            reply.headers["content-security-policy"]
                .to_str()
                .expect("csp")
                .contains("script-src 'self'")
        );
    }
    let asset = api
        .call(Method::GET, "/assets/app-1a2b3c.js", None, None)
        .await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(
        asset.headers["cache-control"]
            .to_str()
            .expect("cc")
            .contains("immutable")
    );
    assert!(
        asset.headers["content-type"]
            .to_str()
            .expect("ct")
            .contains("javascript")
    );
    // The API keeps its JSON answers; the page never stands in for an API route.
    let missing = api.call(Method::GET, "/api/v1/nope", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_envelope(&missing);
    let post = api.call(Method::POST, "/somewhere", None, None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    let escape = api.call(Method::GET, "/../../etc/passwd", None, None).await;
    assert!(!escape.text.contains("root:"), "{escape:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Sends raw bytes to the API served on a real socket and reads the whole answer.
async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything: ignore write errors.
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn requests_refused_before_routing_still_get_the_envelope_and_a_request_id() {
    let api = TestApi::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("addr");
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(storeflow::api::serve(
        listener,
        api.router.clone(),
        stop.clone(),
    ));

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a 200 KB header",
            format!(
                "GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(200 * 1024)
            )
            .into_bytes(),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "too many header fields",
            format!(
                "GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\n{}\r\n",
                (0..150)
                    .map(|i| format!("X-F{i}: v\r\n"))
                    .collect::<String>()
            )
            .into_bytes(),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "a raw NUL in the request line",
            b"GET /api/v1/health/\0live HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            "a raw NUL in a header value",
            b"GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n".to_vec(),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            "a 20 KB request target",
            format!(
                "GET /api/v1/stores?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(20 * 1024)
            )
            .into_bytes(),
            414,
            "URI_TOO_LONG",
        ),
    ];
    for (what, bytes, status, code) in cases {
        let (got, head, body) = raw_exchange(addr, &bytes).await;
        assert_eq!(got, status, "{what}: {head}\n{body}");
        assert!(
            head.contains("\r\nx-request-id: req_"),
            "{what}: no request id: {head}"
        );
        let body: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|err| panic!("{what}: body is not the envelope ({err}): {body}"));
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(body["error"]["message"].is_string(), "{what}: {body}");
        assert!(body["requestId"].is_string(), "{what}: {body}");
    }

    // Ordinary answers on the same server are untouched.
    let (status, head, body) = raw_exchange(
        addr,
        b"GET /api/v1/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 404, "{head}");
    assert!(body.contains("\"NOT_FOUND\""), "{body}");
    let (status, _, body) = raw_exchange(
        addr,
        b"GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");

    stop.cancel();
    server.await.expect("server task").expect("server stops");
}
