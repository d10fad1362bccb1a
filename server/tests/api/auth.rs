//! Registration, login protection, tokens and revocation.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use storeflow::ApiConfig;

use crate::*;

#[tokio::test]
async fn the_first_user_becomes_admin_and_a_role_cannot_be_injected() {
    let api = TestApi::start().await;
    let (first, _) = api.register("Owner@Example.com ", "owner").await;
    assert_eq!(first["role"], "admin");
    assert_eq!(first["email"], "owner@example.com");
    let reply = api
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "email": "t@example.com", "username": "tenant", "password": "12345678", "role": "admin" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["user"]["role"], "tenant");
    assert!(
        reply.body.get("password").is_none() && reply.body["user"].get("passwordHash").is_none()
    );

    let duplicate = api
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "email": "T@example.com", "username": "other", "password": "12345678" })),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.code(), "USER_EXISTS");
    assert_envelope(&duplicate);
    let same_name = api
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "email": "x@example.com", "username": "tenant", "password": "12345678" })),
        )
        .await;
    assert_eq!(same_name.status, StatusCode::CONFLICT);
    assert!(
        same_name.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("username")
    );
}

#[tokio::test]
async fn two_concurrent_first_registrations_make_exactly_one_admin() {
    let api = TestApi::with_config(ApiConfig {
        register_rate_max: 100,
        ..ApiConfig::default()
    })
    .await;
    let mut calls = Vec::new();
    for i in 0..6 {
        let router = api.router.clone();
        calls.push(tokio::spawn(async move {
            call(
                &router,
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({ "email": format!("u{i}@example.com"), "username": format!("user{i}"), "password": "12345678" })),
            )
            .await
        }));
    }
    let mut admins = 0;
    for c in calls {
        let reply = c.await.expect("joined");
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        admins += usize::from(reply.body["user"]["role"] == "admin");
    }
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn registration_input_is_validated_field_by_field() {
    let api = TestApi::start().await;
    let reply = api
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "email": "not-an-email", "username": "a", "password": "short" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "VALIDATION_ERROR");
    let fields: Vec<&str> = reply.body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "username", "password"]);
    let missing = api
        .call(Method::POST, "/api/v1/auth/register", None, Some(json!({})))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let wrong_type = api
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "email": 5 })),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.code(), "VALIDATION_ERROR");
}

#[tokio::test]
async fn login_me_and_password_change_revokes_earlier_tokens() {
    let api = TestApi::start().await;
    let (_, first_token) = api.register("a@example.com", "alice").await;
    let login = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "A@example.com", "password": "correct horse battery" })),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["token"].as_str().expect("token").to_owned();
    let me = api
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["username"], "alice");

    let wrong = api
        .call(
            Method::PATCH,
            "/api/v1/auth/password",
            Some(&token),
            Some(json!({ "currentPassword": "nope", "newPassword": "a brand new secret" })),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "INVALID_PASSWORD");
    let changed = api
        .call(
            Method::PATCH,
            "/api/v1/auth/password",
            Some(&token),
            Some(json!({ "currentPassword": "correct horse battery", "newPassword": "a brand new secret" })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let fresh = changed.body["token"].as_str().expect("token").to_owned();
    for old in [&token, &first_token] {
        let revoked = api
            .call(Method::GET, "/api/v1/auth/me", Some(old), None)
            .await;
        assert_eq!(
            revoked.status,
            StatusCode::UNAUTHORIZED,
            "an earlier token was revoked"
        );
        assert_eq!(revoked.code(), "UNAUTHORIZED");
    }
    assert_eq!(
        api.call(Method::GET, "/api/v1/auth/me", Some(&fresh), None)
            .await
            .status,
        StatusCode::OK
    );
    let relogin = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "a@example.com", "password": "a brand new secret" })),
        )
        .await;
    assert_eq!(relogin.status, StatusCode::OK);
}

#[tokio::test]
async fn tokens_that_are_missing_forged_or_of_another_algorithm_are_refused() {
    let api = TestApi::start().await;
    let (user, _) = api.register("a@example.com", "alice").await;
    let none = api.call(Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_envelope(&none);
    let garbage = api
        .call(Method::GET, "/api/v1/auth/me", Some("not.a.token"), None)
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    let claims = json!({ "sub": user["id"], "ver": 1, "iat": 0, "exp": 4_000_000_000i64 });
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-that-is-also-long-enough"),
    )
    .expect("encode");
    assert_eq!(
        api.call(Method::GET, "/api/v1/auth/me", Some(&forged), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode");
    assert_eq!(
        api.call(Method::GET, "/api/v1/auth/me", Some(&hs512), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "only HS256 is accepted"
    );
    // An unsigned token ("alg": "none").
    use base64_helper::encode as b64;
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims.to_string())
    );
    assert_eq!(
        api.call(Method::GET, "/api/v1/auth/me", Some(&unsigned), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

mod base64_helper {
    /// URL-safe base64 without padding, enough to hand-craft a JWT.
    pub fn encode(text: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[tokio::test]
async fn a_published_deployment_gives_the_first_registration_no_operator_role() {
    let api = TestApi::with_config(ApiConfig {
        first_user_is_admin: false,
        ..ApiConfig::default()
    })
    .await;
    let (first, _) = api.register("early@example.com", "early").await;
    assert_eq!(first["role"], "tenant", "nobody claims a fresh deployment");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_across_replicas() {
    let api = TestApi::start().await;
    api.register("a@example.com", "alice").await;
    let wrong = json!({ "email": "a@example.com", "password": "wrong password" });
    for attempt in 1..=4 {
        let reply = api
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(wrong.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(reply.code(), "INVALID_CREDENTIALS");
    }
    let fifth = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(wrong.clone()),
        )
        .await;
    assert_eq!(fifth.status, StatusCode::LOCKED);
    assert_eq!(fifth.code(), "ACCOUNT_LOCKED");
    assert!(
        fifth.body["error"]["retryAfterSeconds"]
            .as_u64()
            .is_some_and(|s| s > 800)
    );
    assert!(fifth.headers.get("retry-after").is_some());
    // Another replica (same database) sees the lock, even with the right password.
    let replica = api.replica(ApiConfig::default());
    let right = json!({ "email": "a@example.com", "password": "correct horse battery" });
    let locked = call(
        &replica,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(right),
    )
    .await;
    assert_eq!(locked.status, StatusCode::LOCKED);
    // Unknown e-mails fail the same way as wrong passwords.
    let unknown = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "nobody@example.com", "password": "x" })),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn the_login_limiter_answers_429_with_retry_after() {
    let config = ApiConfig {
        login_rate_max: 3,
        login_rate_window: Duration::from_secs(600),
        ..ApiConfig::default()
    };
    let api = TestApi::with_config(config).await;
    api.register("a@example.com", "alice").await;
    let right = json!({ "email": "a@example.com", "password": "correct horse battery" });
    for _ in 0..3 {
        let ok = api
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(right.clone()),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
    }
    let limited = api
        .call(Method::POST, "/api/v1/auth/login", None, Some(right))
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "LOGIN_RATE_LIMITED");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((500..=600).contains(&retry_after), "{retry_after}");
    let audit: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_events WHERE category = 'security' ORDER BY id")
            .fetch_all(&api.pool)
            .await
            .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "registration",
            "login_success",
            "login_success",
            "login_success",
            "login_rate_limited"
        ]
    );
}

#[tokio::test]
async fn a_guesser_locks_only_its_own_address_out_never_the_owner() {
    // Behind the platform's ingress (trusted proxy): the client is the right-most hop.
    let api = TestApi::with_config(ApiConfig {
        trust_proxy: true,
        ..ApiConfig::default()
    })
    .await;
    api.register("a@example.com", "alice").await;
    let login = |from: &'static str, password: &'static str| {
        axum::http::Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", from)
            .body(axum::body::Body::from(
                json!({ "email": "a@example.com", "password": password }).to_string(),
            ))
            .expect("request")
    };
    for _ in 0..4 {
        let reply = send(&api.router, login("198.51.100.9", "guess")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let fifth = send(&api.router, login("198.51.100.9", "guess")).await;
    assert_eq!(
        fifth.status,
        StatusCode::LOCKED,
        "the guesser is locked out"
    );
    let guesser_right = send(&api.router, login("198.51.100.9", "correct horse battery")).await;
    assert_eq!(
        guesser_right.status,
        StatusCode::LOCKED,
        "even the right password, from the locked address"
    );
    // The owner, elsewhere, signs in as usual.
    let owner = send(&api.router, login("203.0.113.20", "correct horse battery")).await;
    assert_eq!(owner.status, StatusCode::OK, "{owner:?}");
    // ...and that does not give the guesser fresh tries.
    let still = send(&api.router, login("198.51.100.9", "guess")).await;
    assert_eq!(still.status, StatusCode::LOCKED);
}

#[tokio::test]
async fn concurrent_failures_cannot_lift_the_lock_they_set() {
    let config = ApiConfig {
        login_rate_max: 100,
        ..ApiConfig::default()
    };
    let api = TestApi::with_config(config).await;
    api.register("a@example.com", "alice").await;
    let mut attempts = Vec::new();
    for _ in 0..8 {
        let router = api.router.clone();
        attempts.push(tokio::spawn(async move {
            call(
                &router,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": "a@example.com", "password": "wrong password" })),
            )
            .await
            .status
        }));
    }
    for attempt in attempts {
        let status = attempt.await.expect("joined");
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::LOCKED,
            "{status}"
        );
    }
    let right = json!({ "email": "a@example.com", "password": "correct horse battery" });
    let after = api
        .call(Method::POST, "/api/v1/auth/login", None, Some(right))
        .await;
    assert_eq!(
        after.status,
        StatusCode::LOCKED,
        "the lock holds after a burst of failures"
    );
    let malformed = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "a\u{0}b", "password": "x" })),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{malformed:?}");
}

/// The cleanup schedule prunes the API's authentication rows through the API's own function:
/// spent rows go, rows that still count stay.
#[tokio::test]
async fn spent_limiter_lockout_and_link_rows_are_pruned_and_live_ones_kept() {
    let api = TestApi::start().await;
    sqlx::query(
        "INSERT INTO rate_limit_windows (key, window_start, hits) VALUES \
           ('login:old', now() - interval '2 days', 3), ('login:now', now(), 1)",
    )
    .execute(&api.pool)
    .await
    .expect("windows");
    sqlx::query(
        "INSERT INTO login_lockouts (email, client_ip, failures, last_failure_at, locked_until) VALUES \
           ('old@example.com', '10.0.0.1', 5, now() - interval '2 days', now() - interval '2 days'), \
           ('locked@example.com', '10.0.0.2', 9, now() - interval '2 days', now() + interval '1 hour'), \
           ('new@example.com', '10.0.0.3', 1, now(), NULL)",
    )
    .execute(&api.pool)
    .await
    .expect("lockouts");
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, email, role, expires_at, used_at) VALUES \
           ('\\x01', 'invite', 'a@example.com', 'tenant', now() - interval '40 days', NULL), \
           ('\\x02', 'invite', 'b@example.com', 'tenant', now() + interval '7 days', now() - interval '31 days'), \
           ('\\x03', 'invite', 'c@example.com', 'tenant', now() + interval '7 days', NULL)",
    )
    .execute(&api.pool)
    .await
    .expect("links");
    let pruned: (i64, i64, i64) = sqlx::query_as("SELECT * FROM storeflow_prune_auth_rows()")
        .fetch_one(&api.pool)
        .await
        .expect("pruned");
    assert_eq!(pruned, (1, 1, 2));
    let (windows, lockouts, links): (Vec<String>, Vec<String>, Vec<String>) = sqlx::query_as(
        "SELECT (SELECT array_agg(key) FROM rate_limit_windows), \
                (SELECT array_agg(email ORDER BY email) FROM login_lockouts), \
                (SELECT array_agg(email) FROM one_time_tokens)",
    )
    .fetch_one(&api.pool)
    .await
    .expect("left");
    assert_eq!(windows, ["login:now"]);
    assert_eq!(lockouts, ["locked@example.com", "new@example.com"]);
    assert_eq!(links, ["c@example.com"]);
}
