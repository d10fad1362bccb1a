//! Store routes: creation with its guardrails (validation, cap, cooldown, idempotency, name
//! reuse), reading with progress, deletion and retry with conditional transitions, the
//! timeline, live progress, credentials, and the tenant-isolation matrix.
//!
//! No worker runs here: what a worker would do to a run is done with the engine's own
//! operator calls (cancel) or by writing the run's status as a worker's checkpoint would,
//! so the database trigger that makes a store follow its run is exercised for real.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use storeflow::{ApiConfig, api::StoreSettings};
use tower::ServiceExt;
use uuid::Uuid;

use crate::*;

fn relaxed() -> ApiConfig {
    ApiConfig {
        register_rate_max: 1000,
        stores: StoreSettings {
            creation_cooldown: Duration::ZERO,
            ..StoreSettings::default()
        },
        ..ApiConfig::default()
    }
}

async fn create(api: &TestApi, token: &str, body: Value, key: Option<&str>) -> Reply {
    let mut request = Request::post("/api/v1/stores")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    send(
        &api.router,
        request.body(Body::from(body.to_string())).expect("request"),
    )
    .await
}

async fn create_ok(api: &TestApi, token: &str, name: &str, engine: &str) -> (String, Uuid) {
    let reply = create(api, token, json!({ "name": name, "engine": engine }), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    (
        reply.body["store"]["id"].as_str().expect("id").to_owned(),
        reply.body["run"]["id"]
            .as_str()
            .expect("run id")
            .parse()
            .expect("uuid"),
    )
}

/// What a worker's checkpoint does when a run fails at `step` (0-based).
async fn fail_run(api: &TestApi, run: Uuid, step: i32, error: &str) {
    sqlx::query(
        "UPDATE workflow_runs SET status = 'failed', current_step = $2, error = $3, \
         finished_at = now() WHERE id = $1",
    )
    .bind(run)
    .bind(step)
    .bind(error)
    .execute(&api.pool)
    .await
    .expect("run failed");
}

/// What the workflow's own steps do on success (mark-ready, mark-deleted).
async fn finish_run(api: &TestApi, run: Uuid, store: &str, status: &str) {
    sqlx::query(
        "UPDATE workflow_runs SET status = 'succeeded', current_step = step_count, finished_at = now() WHERE id = $1",
    )
    .bind(run)
    .execute(&api.pool)
    .await
    .expect("run succeeded");
    sqlx::query("UPDATE stores SET status = $2::store_status, ready_at = now() WHERE id = $1")
        .bind(store)
        .bind(status)
        .execute(&api.pool)
        .await
        .expect("store status");
}

async fn status_of(api: &TestApi, store: &str) -> String {
    let (status,): (String,) = sqlx::query_as("SELECT status::text FROM stores WHERE id = $1")
        .bind(store)
        .fetch_one(&api.pool)
        .await
        .expect("store");
    status
}

#[tokio::test]
async fn creating_a_store_writes_store_run_and_audit_in_one_go_and_seals_the_password() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (alice, alice_token) = api.register("alice@example.com", "alice").await;
    let reply = create(
        &api,
        &alice_token,
        json!({ "name": "alice-shop", "engine": "woocommerce", "password": "tenant-chosen-pass", "ownerId": "x", "role": "admin" }),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let store = &reply.body["store"];
    let id = store["id"].as_str().expect("id");
    assert!(id.starts_with("store-"));
    assert_eq!(store["status"], "requested");
    assert_eq!(
        store["theme"], "storefront",
        "WooCommerce defaults to storefront"
    );
    assert_eq!(
        store["ownerId"], alice["id"],
        "ownerId in the body is ignored"
    );
    assert_eq!(store["adminCredentials"]["password"], "tenant-chosen-pass");
    assert_eq!(reply.body["run"]["workflow"], "provision-woocommerce");
    let run_id: Uuid = reply.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");

    // The run, its input (no secret in it) and the audit row exist.
    let (workflow, subject, input, request_id): (String, String, Value, Option<String>) =
        sqlx::query_as(
            "SELECT workflow, subject, input, request_id FROM workflow_runs WHERE id = $1",
        )
        .bind(run_id)
        .fetch_one(&api.pool)
        .await
        .expect("run row");
    assert_eq!(workflow, "provision-woocommerce");
    assert_eq!(subject, id);
    assert_eq!(request_id.as_deref(), reply.body["requestId"].as_str());
    assert!(!input.to_string().contains("tenant-chosen-pass"), "{input}");
    assert_eq!(input["host"], format!("{id}.localhost"));
    assert_eq!(
        input["urls"]["admin"],
        format!("http://{id}.localhost/wp-admin/")
    );
    let (audits,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_events WHERE subject = $1 AND action = 'store_created'",
    )
    .bind(id)
    .fetch_one(&api.pool)
    .await
    .expect("audit");
    assert_eq!(audits, 1);
    let (sealed,): (Vec<u8>,) = sqlx::query_as("SELECT credentials FROM stores WHERE id = $1")
        .bind(id)
        .fetch_one(&api.pool)
        .await
        .expect("sealed");
    assert!(
        !sealed
            .windows(b"tenant-chosen-pass".len())
            .any(|w| w == b"tenant-chosen-pass"),
        "credentials are encrypted at rest"
    );

    // The owner sees the credentials; the admin sees them masked.
    let path = format!("/api/v1/stores/{id}");
    let mine = api.call(Method::GET, &path, Some(&alice_token), None).await;
    assert_eq!(
        mine.body["store"]["adminCredentials"]["password"],
        "tenant-chosen-pass"
    );
    assert_eq!(mine.body["store"]["isCredentialOwner"], true);
    let theirs = api.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(theirs.status, StatusCode::OK);
    let masked = &theirs.body["store"]["adminCredentials"];
    assert_eq!(masked["password"], "••••••••");
    assert_eq!(masked["email"], "al****@example.com");
    assert_eq!(theirs.body["store"]["isCredentialOwner"], false);
    assert!(!theirs.text.contains("tenant-chosen-pass"));

    // Progress of the current run, step by step.
    let progress = &mine.body["store"]["progress"];
    assert_eq!(progress["runId"], run_id.to_string());
    assert_eq!(progress["status"], "queued");
    assert_eq!(progress["percent"], 0);
    let steps = progress["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["name"], "mark-provisioning");
    assert_eq!(steps[0]["status"], "queued");
    assert!(steps[1]["maxAttempts"].as_i64().expect("max") > 1);

    // A generated password when none is given; Medusa has no theme.
    let reply = create(
        &api,
        &alice_token,
        json!({ "name": "alice-medusa", "engine": "medusa" }),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert!(reply.body["store"]["theme"].is_null());
    let password = reply.body["store"]["adminCredentials"]["password"]
        .as_str()
        .expect("generated");
    assert_eq!(password.len(), 20);
    assert_eq!(reply.body["run"]["workflow"], "provision-medusa");
}

#[tokio::test]
async fn invalid_store_requests_are_refused_with_every_problem_named() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    for (body, field, fragment) in [
        (json!({ "engine": "medusa" }), "name", "required"),
        (
            json!({ "name": "ab", "engine": "medusa" }),
            "name",
            "at least 3",
        ),
        (
            json!({ "name": "a".repeat(64), "engine": "medusa" }),
            "name",
            "at most 63",
        ),
        (
            json!({ "name": "My-Shop", "engine": "medusa" }),
            "name",
            "lowercase",
        ),
        (
            json!({ "name": "-shop", "engine": "medusa" }),
            "name",
            "hyphen",
        ),
        (
            json!({ "name": "my--shop", "engine": "medusa" }),
            "name",
            "hyphen",
        ),
        (
            json!({ "name": "admin", "engine": "medusa" }),
            "name",
            "reserved",
        ),
        (
            json!({ "name": "bestpornshop", "engine": "medusa" }),
            "name",
            "inappropriate",
        ),
        (
            json!({ "name": "shop", "engine": "magento" }),
            "engine",
            "woocommerce, medusa",
        ),
        (json!({ "name": "shop" }), "engine", "required"),
        (
            json!({ "name": "shop", "engine": "medusa", "theme": "astra" }),
            "theme",
            "only applicable",
        ),
        (
            json!({ "name": "shop", "engine": "woocommerce", "theme": "divi" }),
            "theme",
            "storefront, astra",
        ),
        (
            json!({ "name": "shop", "engine": "medusa", "password": "short" }),
            "password",
            "8 to 128",
        ),
        (json!({ "name": 42, "engine": "medusa" }), "name", "string"),
    ] {
        let reply = create(&api, &token, body.clone(), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {reply:?}");
        assert_envelope(&reply);
        assert_eq!(reply.code(), "VALIDATION_ERROR");
        let details = reply.body["error"]["details"].as_array().expect("details");
        assert!(
            details.iter().any(|d| d["field"] == field
                && d["message"].as_str().is_some_and(|m| m.contains(fragment))),
            "{body}: {details:?}"
        );
    }
    // Several problems at once are all reported.
    let reply = create(
        &api,
        &token,
        json!({ "name": "x", "engine": "nope", "password": "1" }),
        None,
    )
    .await;
    let fields: Vec<&str> = reply.body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    for field in ["name", "engine", "password"] {
        assert!(fields.contains(&field), "{fields:?}");
    }
    let (stores,): (i64,) = sqlx::query_as("SELECT count(*) FROM stores")
        .fetch_one(&api.pool)
        .await
        .expect("count");
    assert_eq!(stores, 0, "nothing was written");
    // Malformed JSON and a missing token are refused before validation.
    let reply = api
        .call(Method::POST, "/api/v1/stores", None, Some(json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_store_and_run() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    let body = json!({ "name": "alice-shop", "engine": "medusa" });
    let first = create(&api, &token, body.clone(), Some("3f1c2d9e-key")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let again = create(&api, &token, body.clone(), Some("3f1c2d9e-key")).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{again:?}");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["store"]["id"], first.body["store"]["id"]);
    assert_eq!(again.body["run"]["id"], first.body["run"]["id"]);
    let (runs,): (i64,) = sqlx::query_as("SELECT count(*) FROM workflow_runs")
        .fetch_one(&api.pool)
        .await
        .expect("count");
    assert_eq!(runs, 1);

    // Concurrent repeats of one key create one store.
    let racing: Vec<Reply> = futures::future::join_all((0..8).map(|_| {
        create(
            &api,
            &token,
            json!({ "name": "racing-shop", "engine": "medusa" }),
            Some("race-key"),
        )
    }))
    .await;
    let ids: std::collections::HashSet<String> = racing
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
            r.body["store"]["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);

    // The same key for a different request is refused.
    let other = create(
        &api,
        &token,
        json!({ "name": "other-shop", "engine": "medusa" }),
        Some("3f1c2d9e-key"),
    )
    .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{other:?}");
    assert_eq!(other.code(), "IDEMPOTENCY_KEY_REUSED");
    let bad = create(&api, &token, body, Some(&"k".repeat(300))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn fifty_parallel_creates_never_exceed_the_cap() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, _admin) = api.register("admin@example.com", "admin").await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    let replies: Vec<Reply> = futures::future::join_all((0..50).map(|i| {
        let token = token.clone();
        let api = &api;
        async move {
            create(
                api,
                &token,
                json!({ "name": format!("shop-{i}"), "engine": "medusa" }),
                None,
            )
            .await
        }
    }))
    .await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .count();
    let limited: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(created, 5, "exactly the cap");
    assert_eq!(limited.len(), 45);
    assert!(limited.iter().all(|r| r.code() == "STORE_LIMIT_EXCEEDED"));
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM stores")
        .fetch_one(&api.pool)
        .await
        .expect("count");
    assert_eq!(rows, 5);

    // A failed store still counts (it holds cluster resources until deleted); a deleted one
    // does not.
    let (id,): (String,) = sqlx::query_as("SELECT id FROM stores LIMIT 1")
        .fetch_one(&api.pool)
        .await
        .expect("a store");
    let (run,): (Uuid,) = sqlx::query_as("SELECT current_run_id FROM stores WHERE id = $1")
        .bind(&id)
        .fetch_one(&api.pool)
        .await
        .expect("run");
    fail_run(&api, run, 1, "namespace refused").await;
    assert_eq!(status_of(&api, &id).await, "failed");
    let reply = create(
        &api,
        &token,
        json!({ "name": "one-more", "engine": "medusa" }),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{reply:?}");
    sqlx::query("UPDATE stores SET status = 'deleted' WHERE id = $1")
        .bind(&id)
        .execute(&api.pool)
        .await
        .expect("deleted");
    let reply = create(
        &api,
        &token,
        json!({ "name": "one-more", "engine": "medusa" }),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
}

#[tokio::test]
async fn parallel_creates_during_a_cooldown_create_exactly_one_store() {
    let api = TestApi::with_config(ApiConfig {
        register_rate_max: 1000,
        stores: StoreSettings {
            creation_cooldown: Duration::from_secs(60),
            ..StoreSettings::default()
        },
        ..ApiConfig::default()
    })
    .await;
    let (_, _admin) = api.register("admin@example.com", "admin").await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    let replies: Vec<Reply> = futures::future::join_all((0..20).map(|i| {
        let token = token.clone();
        let api = &api;
        async move {
            create(
                api,
                &token,
                json!({ "name": format!("shop-{i}"), "engine": "medusa" }),
                None,
            )
            .await
        }
    }))
    .await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(created, 1, "{replies:?}");
    assert!(
        replies
            .iter()
            .filter(|r| r.status != StatusCode::ACCEPTED)
            .all(|r| r.code() == "CREATION_COOLDOWN" && r.headers.contains_key("retry-after"))
    );
}

#[tokio::test]
async fn the_cooldown_holds_across_replicas_and_admins_are_exempt() {
    let config = ApiConfig {
        register_rate_max: 1000,
        stores: StoreSettings {
            creation_cooldown: Duration::from_secs(120),
            ..StoreSettings::default()
        },
        ..ApiConfig::default()
    };
    let api = TestApi::with_config(config.clone()).await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    create_ok(&api, &token, "first-shop", "medusa").await;
    // Another replica, same database: the cooldown is in PostgreSQL.
    let replica = api.replica(config);
    let request = Request::post("/api/v1/stores")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "name": "second-shop", "engine": "medusa" }).to_string(),
        ))
        .expect("request");
    let reply = send(&replica, request).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{reply:?}");
    assert_eq!(reply.code(), "CREATION_COOLDOWN");
    let retry_after: u64 = reply.headers["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((110..=120).contains(&retry_after), "{retry_after}");
    assert_eq!(reply.body["error"]["retryable"], true);

    create_ok(&api, &admin, "admin-one", "medusa").await;
    create_ok(&api, &admin, "admin-two", "medusa").await;
}

#[tokio::test]
async fn a_name_is_taken_while_its_store_lives_and_free_once_it_is_deleted() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, _admin) = api.register("admin@example.com", "admin").await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    let (_, bob) = api.register("bob@example.com", "bob").await;
    let (id, run) = create_ok(&api, &token, "my-shop", "woocommerce").await;
    let reply = create(
        &api,
        &token,
        json!({ "name": "my-shop", "engine": "medusa" }),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "STORE_NAME_TAKEN");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("requested")
    );
    // Another tenant may use the same name.
    create_ok(&api, &bob, "my-shop", "medusa").await;

    finish_run(&api, run, &id, "ready").await;
    let path = format!("/api/v1/stores/{id}");
    let reply = api.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["store"]["status"], "deleting");
    assert_eq!(reply.body["run"]["workflow"], "teardown-store");
    let teardown: Uuid = reply.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    finish_run(&api, teardown, &id, "deleted").await;
    create_ok(&api, &token, "my-shop", "medusa").await;
    // Deleted stores are listed only when asked for.
    let list = api
        .call(Method::GET, "/api/v1/stores", Some(&token), None)
        .await;
    assert_eq!(list.body["total"], 1, "{list:?}");
    let deleted = api
        .call(
            Method::GET,
            "/api/v1/stores?status=deleted",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.body["stores"][0]["id"], id);
}

#[tokio::test]
async fn delete_and_retry_only_from_the_states_that_allow_them() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    let (id, run) = create_ok(&api, &token, "my-shop", "medusa").await;
    let path = format!("/api/v1/stores/{id}");

    // Provisioning: neither delete nor retry.
    let reply = api.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "INVALID_STORE_STATE");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("provisioning")
    );
    let retry = format!("{path}/retry");
    let reply = api.call(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("Only failed stores")
    );

    // The run fails at its third step: the store follows, naming the step and the error.
    fail_run(&api, run, 2, "helm: chart not found; set HELM_CHART_PATH").await;
    let store = api.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(store.body["store"]["status"], "failed");
    assert_eq!(store.body["store"]["failedStep"], "ensure-store-secret");
    assert!(
        store.body["store"]["failureReason"]
            .as_str()
            .expect("reason")
            .contains("HELM_CHART_PATH")
    );

    // Retry resumes the same run at the failed step; the store is provisioning again.
    let reply = api.call(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["run"]["id"], run.to_string());
    assert_eq!(reply.body["store"]["status"], "provisioning");
    assert_eq!(reply.body["store"]["retryCount"], 1);
    let (status, current, attempt_events): (String, i32, i64) = sqlx::query_as(
        "SELECT status::text, current_step, (SELECT count(*) FROM workflow_run_events \
          WHERE run_id = $1 AND kind = 'step_retry_requested') FROM workflow_runs WHERE id = $1",
    )
    .bind(run)
    .fetch_one(&api.pool)
    .await
    .expect("run");
    assert_eq!((status.as_str(), current, attempt_events), ("queued", 2, 1));
    // A second retry while provisioning is refused, not doubled.
    let reply = api.call(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);

    // An operator cancels the run: the store fails; retry starts the operation afresh.
    api.engine
        .cancel_run(run, Some("ops@example.com"))
        .await
        .expect("cancelled");
    assert_eq!(status_of(&api, &id).await, "failed");
    let reply = api.call(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_ne!(reply.body["run"]["id"], run.to_string(), "a new run");
    assert_eq!(reply.body["store"]["status"], "provisioning");

    // A failed teardown is retried as a teardown, never as a provisioning.
    let new_run: Uuid = reply.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    fail_run(&api, new_run, 3, "wait-ready timed out").await;
    let reply = api.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "delete a failed store: {reply:?}"
    );
    let teardown: Uuid = reply.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    fail_run(
        &api,
        teardown,
        2,
        "namespace stuck: finalizer example.com/protect",
    )
    .await;
    assert_eq!(status_of(&api, &id).await, "failed");
    let reply = api.call(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["run"]["id"], teardown.to_string());
    assert_eq!(reply.body["run"]["workflow"], "teardown-store");
    assert_eq!(reply.body["store"]["status"], "deleting");

    // The retry limit.
    fail_run(&api, teardown, 2, "still stuck").await;
    let reply = api.call(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{reply:?}");
    assert_eq!(reply.code(), "RETRY_LIMIT_REACHED");

    // Every automatic status change is in the audit trail.
    let (changes,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_events WHERE subject = $1 AND action = 'status_changed'",
    )
    .bind(&id)
    .fetch_one(&api.pool)
    .await
    .expect("audit");
    assert!(changes >= 5, "{changes}");
}

#[tokio::test]
async fn lists_filter_paginate_and_search_and_tenants_see_only_their_own() {
    let api = TestApi::with_config(ApiConfig {
        stores: StoreSettings {
            max_per_user: 100,
            creation_cooldown: Duration::ZERO,
            ..StoreSettings::default()
        },
        ..relaxed()
    })
    .await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (alice, alice_token) = api.register("alice@example.com", "alice").await;
    let (_, bob_token) = api.register("bob@example.com", "bob").await;
    for i in 0..12 {
        let engine = if i % 3 == 0 { "woocommerce" } else { "medusa" };
        create_ok(&api, &alice_token, &format!("alice-{i:02}"), engine).await;
    }
    create_ok(&api, &bob_token, "bob-shop", "medusa").await;

    let page = api
        .call(
            Method::GET,
            "/api/v1/stores?limit=5&offset=10",
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["total"], 12);
    assert_eq!(page.body["stores"].as_array().expect("stores").len(), 2);
    let beyond = api
        .call(
            Method::GET,
            "/api/v1/stores?limit=5&offset=40",
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(beyond.body["total"], 12);
    let woo = api
        .call(
            Method::GET,
            "/api/v1/stores?engine=woocommerce",
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(woo.body["total"], 4);
    let search = api
        .call(Method::GET, "/api/v1/stores?q=-1", Some(&alice_token), None)
        .await;
    assert_eq!(search.body["total"], 2, "alice-10, alice-11");
    let percent = api
        .call(
            Method::GET,
            "/api/v1/stores?q=%25",
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(percent.body["total"], 0, "LIKE wildcards are literal");
    // A tenant asking for someone else's stores still gets only their own.
    let sneaky = api
        .call(
            Method::GET,
            &format!(
                "/api/v1/stores?ownerId={}",
                alice["id"].as_str().expect("id")
            ),
            Some(&bob_token),
            None,
        )
        .await;
    assert_eq!(sneaky.body["total"], 1);
    assert_eq!(sneaky.body["stores"][0]["name"], "bob-shop");
    let all = api
        .call(Method::GET, "/api/v1/stores", Some(&admin), None)
        .await;
    assert_eq!(all.body["total"], 13);
    let hers = api
        .call(
            Method::GET,
            &format!(
                "/api/v1/stores?ownerId={}&limit=100",
                alice["id"].as_str().expect("id")
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(hers.body["total"], 12);
    assert_eq!(hers.body["stores"][0]["ownerUsername"], "alice");
    for bad in [
        "status=gone",
        "engine=shopify",
        "limit=0",
        "limit=101",
        "offset=-1",
        "ownerId=x",
        "colour=red",
    ] {
        let reply = api
            .call(
                Method::GET,
                &format!("/api/v1/stores?{bad}"),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {reply:?}");
        assert_envelope(&reply);
    }
}

/// (id, event) pairs of an SSE body read for `within`.
async fn read_sse(
    api: &TestApi,
    path: &str,
    token: &str,
    last: Option<i64>,
    within: Duration,
) -> Vec<(i64, String)> {
    let mut request = Request::get(path).header("authorization", format!("Bearer {token}"));
    if let Some(id) = last {
        request = request.header("last-event-id", id.to_string());
    }
    let response = api
        .router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    let _ = tokio::time::timeout(within, async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
        }
    })
    .await;
    text.split("\n\n")
        .filter_map(|block| {
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id: "))?
                .parse()
                .ok()?;
            let kind = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            Some((id, kind.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn the_timeline_and_the_live_stream_follow_every_run_of_the_store() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, token) = api.register("alice@example.com", "alice").await;
    let (id, run) = create_ok(&api, &token, "my-shop", "medusa").await;
    fail_run(&api, run, 1, "cluster unreachable").await;
    sqlx::query("INSERT INTO workflow_run_events (run_id, kind, step_index, data) VALUES ($1, 'step_failed', 1, '{\"error\": \"cluster unreachable\", \"password\": \"hunter2\"}')")
        .bind(run)
        .execute(&api.pool)
        .await
        .expect("event");
    let reply = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/retry"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);

    let timeline = api
        .call(
            Method::GET,
            &format!("/api/v1/stores/{id}/events"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(timeline.status, StatusCode::OK);
    let events = timeline.body["events"].as_array().expect("events");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in [
        "store_created",
        "queued",
        "status_changed",
        "step_failed",
        "store_retry_requested",
        "step_retry_requested",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(!timeline.text.contains("hunter2"), "secrets are redacted");
    let failed = events
        .iter()
        .find(|e| e["kind"] == "step_failed")
        .expect("failed");
    assert_eq!(failed["step"], "ensure-namespace");

    // The stream replays the store's run events in order, then resumes after Last-Event-ID.
    let path = format!("/api/v1/stores/{id}/events/stream");
    let all = read_sse(&api, &path, &token, None, Duration::from_millis(700)).await;
    assert!(all.len() >= 3, "{all:?}");
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "in order: {all:?}");
    let resumed = read_sse(
        &api,
        &path,
        &token,
        Some(all[0].0),
        Duration::from_millis(700),
    )
    .await;
    assert_eq!(resumed, all[1..].to_vec());
    // New events arrive live.
    let later = tokio::spawn({
        let pool = api.pool.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            sqlx::query("INSERT INTO workflow_run_events (run_id, kind, step_index) VALUES ($1, 'step_started', 1)")
                .bind(run)
                .execute(&pool)
                .await
                .expect("event");
        }
    });
    let live = read_sse(
        &api,
        &path,
        &token,
        all.last().map(|e| e.0),
        Duration::from_millis(2500),
    )
    .await;
    later.await.expect("writer");
    assert_eq!(
        live.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        vec!["step_started"]
    );
}

#[tokio::test]
async fn tenant_isolation_matrix_for_store_and_run_routes() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (_, owner) = api.register("alice@example.com", "alice").await;
    let (_, other) = api.register("bob@example.com", "bob").await;
    let (id, run) = create_ok(&api, &owner, "alice-shop", "medusa").await;
    let missing = "store-00000000";

    // (method, path, expected for owner, other tenant, admin, anonymous)
    let store = format!("/api/v1/stores/{id}");
    let routes: Vec<(Method, String, [StatusCode; 4])> = vec![
        (
            Method::GET,
            store.clone(),
            [
                StatusCode::OK,
                StatusCode::NOT_FOUND,
                StatusCode::OK,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::GET,
            format!("{store}/events"),
            [
                StatusCode::OK,
                StatusCode::NOT_FOUND,
                StatusCode::OK,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        // Provisioning: the owner and the admin reach the state check (409); others do not learn it exists.
        (
            Method::DELETE,
            store.clone(),
            [
                StatusCode::CONFLICT,
                StatusCode::NOT_FOUND,
                StatusCode::CONFLICT,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::POST,
            format!("{store}/retry"),
            [
                StatusCode::CONFLICT,
                StatusCode::NOT_FOUND,
                StatusCode::CONFLICT,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        // Upgrades: tenants may not (TENANT_UPGRADES is off) but learn nothing about other
        // tenants' stores; this server was given no store chart, so it cannot say what to
        // upgrade to.
        (
            Method::POST,
            format!("{store}/upgrade"),
            [
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::GET,
            format!("/api/v1/stores/{missing}"),
            [
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::GET,
            "/api/v1/stores/not-a-store".into(),
            [
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        // Rollouts are the operators': tenants are refused, an unknown one is a 404.
        (
            Method::GET,
            "/api/v1/rollouts/01a24147-0000-7000-8000-000000000000".into(),
            [
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::GET,
            "/api/v1/runs".into(),
            [
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::OK,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::GET,
            format!("/api/v1/runs/{run}"),
            [
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::OK,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::POST,
            format!("/api/v1/runs/{run}/steps/1/retry"),
            [
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::CONFLICT,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::GET,
            "/api/v1/workflows".into(),
            [
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::OK,
                StatusCode::UNAUTHORIZED,
            ],
        ),
        (
            Method::GET,
            "/api/v1/schedules".into(),
            [
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::OK,
                StatusCode::UNAUTHORIZED,
            ],
        ),
    ];
    for (method, path, expected) in &routes {
        for (who, token, status) in [
            ("owner", Some(owner.as_str()), expected[0]),
            ("other tenant", Some(other.as_str()), expected[1]),
            ("admin", Some(admin.as_str()), expected[2]),
            ("anonymous", None, expected[3]),
        ] {
            let reply = api.call(method.clone(), path, token, None).await;
            assert_eq!(reply.status, status, "{method} {path} as {who}: {reply:?}");
            if !status.is_success() {
                assert_envelope(&reply);
            }
            if who == "other tenant" {
                assert!(!reply.text.contains("alice-shop"), "{reply:?}");
            }
        }
    }
    // The live stream: owner and admin get a stream; the other tenant a 404.
    for (token, status) in [
        (&owner, StatusCode::OK),
        (&admin, StatusCode::OK),
        (&other, StatusCode::NOT_FOUND),
    ] {
        let request = Request::get(format!("{store}/events/stream"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let response = api
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), status);
    }
    // Lists and the audit log are scoped too.
    let list = api
        .call(Method::GET, "/api/v1/stores", Some(&other), None)
        .await;
    assert_eq!(list.body["total"], 0);
    let audit = api
        .call(Method::GET, "/api/v1/audit", Some(&other), None)
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(!audit.text.contains(&id), "{audit:?}");
    assert!(
        !audit.text.contains("\"security\""),
        "tenants never see security events"
    );
    let audit = api
        .call(Method::GET, "/api/v1/audit", Some(&owner), None)
        .await;
    assert!(audit.text.contains("store_created"));
    assert!(!audit.text.contains("\"registration\""), "{audit:?}");
    let audit = api
        .call(
            Method::GET,
            "/api/v1/audit?category=security",
            Some(&admin),
            None,
        )
        .await;
    assert!(audit.body["total"].as_i64().expect("total") >= 3);
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_runs_events_and_audit_rows() {
    use storeflow::tenancy::{self, Scope};
    let api = TestApi::with_config(relaxed()).await;
    let (_, _admin) = api.register("admin@example.com", "admin").await;
    let (alice, alice_token) = api.register("alice@example.com", "alice").await;
    let (_, bob_token) = api.register("bob@example.com", "bob").await;
    create_ok(&api, &alice_token, "alice-shop", "medusa").await;
    let (bob_store, bob_run) = create_ok(&api, &bob_token, "bob-shop", "medusa").await;
    let alice: Uuid = alice["id"].as_str().expect("id").parse().expect("uuid");

    // Queries without any tenant filter, as Alice.
    let mut tx = tenancy::begin(&api.pool, Scope::Tenant(alice))
        .await
        .expect("scoped");
    let runs: Vec<(String,)> = sqlx::query_as("SELECT subject FROM workflow_runs")
        .fetch_all(&mut *tx)
        .await
        .expect("runs");
    assert_eq!(runs.len(), 1);
    assert_ne!(runs[0].0, bob_store);
    let (bob_events,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM workflow_run_events WHERE run_id = $1")
            .bind(bob_run)
            .fetch_one(&mut *tx)
            .await
            .expect("events");
    assert_eq!(bob_events, 0);
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM workflow_run_events")
        .fetch_one(&mut *tx)
        .await
        .expect("events");
    assert_eq!(events, 1, "only the queued event of Alice's run");
    let audit: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT category, subject FROM audit_events")
            .fetch_all(&mut *tx)
            .await
            .expect("audit");
    assert!(!audit.is_empty());
    assert!(
        audit
            .iter()
            .all(|(category, subject)| category != "security"
                && subject.as_deref() != Some(bob_store.as_str())),
        "{audit:?}"
    );
    // Tenants cannot write engine tables at all.
    let write = sqlx::query("UPDATE workflow_runs SET status = 'cancelled'")
        .execute(&mut *tx)
        .await;
    assert!(write.is_err());
    tx.rollback().await.expect("rollback");

    let mut tx = tenancy::begin(&api.pool, Scope::All).await.expect("scoped");
    let (runs,): (i64,) = sqlx::query_as("SELECT count(*) FROM workflow_runs")
        .fetch_one(&mut *tx)
        .await
        .expect("runs");
    assert_eq!(runs, 2);
    tx.rollback().await.expect("rollback");
}

#[tokio::test]
async fn every_store_route_is_in_the_openapi_document() {
    let api = TestApi::start().await;
    let doc = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    for (path, method) in [
        ("/api/v1/stores", "post"),
        ("/api/v1/stores", "get"),
        ("/api/v1/stores/{id}", "get"),
        ("/api/v1/stores/{id}", "delete"),
        ("/api/v1/stores/{id}/retry", "post"),
        ("/api/v1/stores/{id}/events", "get"),
        ("/api/v1/stores/{id}/events/stream", "get"),
    ] {
        assert!(
            doc.body["paths"][path][method].is_object(),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn credentials_rotate_on_ready_stores_and_roll_back_when_the_rotation_fails() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (_, owner) = api.register("alice@example.com", "alice").await;
    let (_, other) = api.register("bob@example.com", "bob").await;
    let reply = create(
        &api,
        &owner,
        json!({ "name": "alice-shop", "engine": "woocommerce", "password": "first-password-1" }),
        None,
    )
    .await;
    let id = reply.body["store"]["id"].as_str().expect("id").to_owned();
    let run: Uuid = reply.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    let rotate = format!("/api/v1/stores/{id}/rotate-credentials");

    // Only ready stores; only their owner or an admin.
    let early = api.call(Method::POST, &rotate, Some(&owner), None).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{early:?}");
    finish_run(&api, run, &id, "ready").await;
    let foreign = api.call(Method::POST, &rotate, Some(&other), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let short = api
        .call(
            Method::POST,
            &rotate,
            Some(&owner),
            Some(json!({ "password": "short" })),
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    // An operator sees the credentials masked, so may not choose the new password either.
    let chosen_by_admin = api
        .call(
            Method::POST,
            &rotate,
            Some(&admin),
            Some(json!({ "password": "operator-knows-it" })),
        )
        .await;
    assert_eq!(
        chosen_by_admin.status,
        StatusCode::FORBIDDEN,
        "{chosen_by_admin:?}"
    );
    assert_eq!(chosen_by_admin.code(), "OWNER_CHOOSES_PASSWORD");
    assert!(
        chosen_by_admin.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Only the store's owner"),
        "{chosen_by_admin:?}"
    );

    let reply = api
        .call(
            Method::POST,
            &rotate,
            Some(&owner),
            Some(json!({ "password": "second-password-2" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["run"]["workflow"], "rotate-credentials");
    assert_eq!(
        reply.body["store"]["adminCredentials"]["password"],
        "second-password-2"
    );
    assert_eq!(reply.body["store"]["rotation"]["status"], "queued");
    let rotation: Uuid = reply.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    let (input,): (Value,) = sqlx::query_as("SELECT input FROM workflow_runs WHERE id = $1")
        .bind(rotation)
        .fetch_one(&api.pool)
        .await
        .expect("run");
    assert!(
        !input.to_string().contains("second-password-2"),
        "no secret in the run input"
    );
    let again = api.call(Method::POST, &rotate, Some(&owner), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "ROTATION_IN_PROGRESS");

    // The rotation fails: the password the apps still accept is shown again.
    api.engine
        .cancel_run(rotation, Some("ops@example.com"))
        .await
        .expect("cancelled");
    let store = api
        .call(
            Method::GET,
            &format!("/api/v1/stores/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        store.body["store"]["adminCredentials"]["password"],
        "first-password-1"
    );
    assert!(store.body["store"].get("rotation").is_none());
    assert_eq!(
        store.body["store"]["status"], "ready",
        "a failed rotation does not fail the store"
    );
    // A rotation that fails after its set-admin-password step succeeded already changed the
    // password in the store: the new one stays.
    let reply = api
        .call(
            Method::POST,
            &rotate,
            Some(&owner),
            Some(json!({ "password": "third-password-3" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let applied: Uuid = reply.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    sqlx::query(
        "INSERT INTO workflow_step_attempts (run_id, step_index, attempt, outcome, started_at, finished_at) \
         VALUES ($1, 0, 1, 'succeeded', now(), now())",
    )
    .bind(applied)
    .execute(&api.pool)
    .await
    .expect("attempt");
    api.engine
        .cancel_run(applied, Some("ops@example.com"))
        .await
        .expect("cancelled");
    let store = api
        .call(
            Method::GET,
            &format!("/api/v1/stores/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        store.body["store"]["adminCredentials"]["password"],
        "third-password-3"
    );

    // A generated password when none is given.
    let reply = api.call(Method::POST, &rotate, Some(&owner), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let generated = reply.body["store"]["adminCredentials"]["password"]
        .as_str()
        .expect("password");
    assert_eq!(generated.len(), 20);
    assert_ne!(generated, "first-password-1");
    assert_ne!(generated, "third-password-3");
}

#[tokio::test]
async fn a_store_waiting_for_a_provisioning_slot_shows_its_place_in_line() {
    let api = TestApi::with_config(relaxed()).await;
    let (_, tenant) = api.register("t@example.com", "tenant").await;
    let (first, first_run) = create_ok(&api, &tenant, "first-shop", "woocommerce").await;
    let (second, _) = create_ok(&api, &tenant, "second-shop", "medusa").await;
    let place = |reply: &Reply| reply.body["store"]["queuePosition"].clone();
    let read = |id: String| {
        let api = &api;
        let tenant = tenant.clone();
        async move {
            api.call(
                Method::GET,
                &format!("/api/v1/stores/{id}"),
                Some(&tenant),
                None,
            )
            .await
        }
    };
    assert_eq!(place(&read(first.clone()).await), json!(1));
    let second_before = read(second.clone()).await;
    assert_eq!(place(&second_before), json!(2), "{second_before:?}");
    // The first one gets a slot (a worker admits and claims it): it leaves the line, and the
    // second moves up although nothing of its own changed (no stale cached rendering).
    sqlx::query("UPDATE workflow_runs SET admitted_at = now(), status = 'running' WHERE id = $1")
        .bind(first_run)
        .execute(&api.pool)
        .await
        .expect("admitted");
    let first_after = read(first).await;
    assert_eq!(first_after.status, StatusCode::OK);
    assert!(
        first_after.body["store"].get("queuePosition").is_none(),
        "{first_after:?}"
    );
    assert_eq!(place(&read(second).await), json!(1));
}

#[tokio::test]
async fn the_platform_wide_store_cap_refuses_clearly_and_counts_every_tenant() {
    let mut config = relaxed();
    config.stores.max_total = 2;
    let api = TestApi::with_config(config).await;
    let (_, first) = api.register("a@example.com", "tenant-a").await;
    let (_, second) = api.register("b@example.com", "tenant-b").await;
    create_ok(&api, &first, "shop-one", "woocommerce").await;
    create_ok(&api, &second, "shop-two", "woocommerce").await;
    let refused = create(
        &api,
        &first,
        json!({ "name": "shop-three", "engine": "woocommerce" }),
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(refused.code(), "PLATFORM_FULL");
    assert_envelope(&refused);
    assert!(
        refused.body["error"]["suggestion"]
            .as_str()
            .is_some_and(|s| s.contains("MAX_STORES")),
        "{refused:?}"
    );
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM stores")
        .fetch_one(&api.pool)
        .await
        .expect("count");
    assert_eq!(count, 2, "a refused creation leaves nothing behind");
}

#[tokio::test]
async fn a_medusa_store_gets_its_admin_url_only_where_the_admin_can_sign_in() {
    async fn admin_url_of_medusa_store(config: ApiConfig) -> Value {
        let api = TestApi::with_config(config).await;
        let (_, tenant) = api.register("t@example.com", "tenant").await;
        let (_, run) = create_ok(&api, &tenant, "tea-house", "medusa").await;
        let (input,): (Value,) = sqlx::query_as("SELECT input FROM workflow_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&api.pool)
            .await
            .expect("run input");
        input["urls"]["admin"].clone()
    }
    // Medusa's admin signs in only over HTTPS (its session cookie is Secure).
    assert_eq!(admin_url_of_medusa_store(relaxed()).await, Value::Null);
    let mut tls = relaxed();
    tls.stores.tls_secret = Some("wildcard-tls".into());
    let admin = admin_url_of_medusa_store(tls).await;
    let admin = admin.as_str().expect("an admin URL over HTTPS");
    assert!(
        admin.starts_with("https://store-") && admin.ends_with(".localhost/app"),
        "{admin}"
    );
}

#[tokio::test]
async fn the_engines_route_and_store_validation_follow_the_engine_registry() {
    let api = TestApi::start().await;
    let (_, token) = api.register("owner@example.com", "owner").await;
    let anonymous = api.call(Method::GET, "/api/v1/engines", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let listed = api
        .call(Method::GET, "/api/v1/engines", Some(&token), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    let engines = listed.body["engines"].as_array().expect("engines").clone();
    let names: Vec<&str> = engines.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, storeflow_executors::engines::names());
    let woo = &engines[0];
    assert_eq!(woo["label"], "WooCommerce");
    assert_eq!(woo["themes"], json!(["storefront", "astra"]));
    assert_eq!(woo["defaultTheme"], "storefront");
    let medusa = &engines[1];
    assert_eq!(medusa["themes"], json!([]));
    assert!(medusa["defaultTheme"].is_null());
    for engine in &engines {
        for offer in [
            "upgrades",
            "backups",
            "restoreIntoNewStore",
            "restoreInPlace",
        ] {
            assert_eq!(engine[offer], true, "{engine}");
        }
    }

    // Creation names the registry's engines and themes.
    let unknown = create(
        &api,
        &token,
        json!({ "name": "shop", "engine": "shopify" }),
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.body["error"]["details"][0]["message"],
        "Engine must be one of: woocommerce, medusa."
    );
    let themed = create(
        &api,
        &token,
        json!({ "name": "shop", "engine": "medusa", "theme": "astra" }),
        None,
    )
    .await;
    assert_eq!(themed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        themed.body["error"]["details"][0]["message"],
        "Theme is only applicable to WooCommerce stores."
    );
    let bad_theme = create(
        &api,
        &token,
        json!({ "name": "shop", "engine": "woocommerce", "theme": "twentytwenty" }),
        None,
    )
    .await;
    assert_eq!(
        bad_theme.body["error"]["details"][0]["message"],
        "Theme must be one of: storefront, astra."
    );
    let filtered = api
        .call(
            Method::GET,
            "/api/v1/stores?engine=shopify",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(filtered.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        filtered.body["error"]["details"][0]["message"],
        "must be woocommerce or medusa"
    );
}

/// The Rust status type and the database's enum name the same statuses, in the same order
/// (a status added to one only would fail to decode, or never be shown).
#[tokio::test]
async fn store_statuses_are_the_databases() {
    let api = TestApi::start().await;
    let (in_database,): (Vec<String>,) =
        sqlx::query_as("SELECT enum_range(NULL::store_status)::text[]")
            .fetch_one(&api.pool)
            .await
            .expect("enum");
    let in_rust: Vec<String> = storeflow_executors::store::StoreStatus::ALL
        .iter()
        .map(|status| status.to_string())
        .collect();
    assert_eq!(in_database, in_rust);
    // Decoded from the enum and from its text alike; bound as the enum.
    let (as_enum, as_text, round_trip): (
        storeflow_executors::store::StoreStatus,
        storeflow_executors::store::StoreStatus,
        bool,
    ) = sqlx::query_as(
        "SELECT 'restoring'::store_status, 'upgrading'::text, $1 = 'ready'::store_status",
    )
    .bind(storeflow_executors::store::StoreStatus::Ready)
    .fetch_one(&api.pool)
    .await
    .expect("statuses");
    assert_eq!(as_enum, storeflow_executors::store::StoreStatus::Restoring);
    assert_eq!(as_text, storeflow_executors::store::StoreStatus::Upgrading);
    assert!(round_trip);
}

/// An engine added to the registry needs no migration of its own: the server's migrate adds
/// its name to the database's `store_engine` enum, so stores and backups of it can be written.
#[tokio::test]
async fn the_database_follows_the_engine_registry() {
    use storeflow_executors::engines::{RegisterError, names, register_in_database};
    let api = TestApi::start().await;
    let engines = || async {
        let (labels,): (Vec<String>,) =
            sqlx::query_as("SELECT enum_range(NULL::store_engine)::text[]")
                .fetch_one(&api.pool)
                .await
                .expect("enum");
        labels
    };
    storeflow::config::migrate(&api.pool)
        .await
        .expect("migrate");
    let known = engines().await;
    assert!(
        names().iter().all(|name| known.iter().any(|k| k == name)),
        "{known:?}"
    );

    let mut registry = names();
    registry.push("static-site");
    let added = register_in_database(&api.pool, &registry)
        .await
        .expect("register");
    assert_eq!(added, vec!["static-site".to_owned()]);
    let (engine,): (String,) = sqlx::query_as("SELECT 'static-site'::store_engine::text")
        .fetch_one(&api.pool)
        .await
        .expect("the new engine is a store_engine");
    assert_eq!(engine, "static-site");
    // Once there, nothing more is added; a name that could smuggle SQL is refused untouched.
    assert!(
        register_in_database(&api.pool, &registry)
            .await
            .expect("again")
            .is_empty()
    );
    let before = engines().await;
    let refused = register_in_database(&api.pool, &["x'); DROP TABLE stores; --"]).await;
    assert!(
        matches!(refused, Err(RegisterError::BadName(_))),
        "{refused:?}"
    );
    assert_eq!(engines().await, before);
}

/// The canonical SQL functions (`migrations/functions/`) are what the database runs after a
/// migrate, and the lifecycle trigger calls the canonical body.
#[tokio::test]
async fn the_database_runs_the_canonical_lifecycle_trigger() {
    let api = TestApi::start().await;
    // An installed body that drifted is put back by the next migrate, also when processes
    // migrate at once (a worker and a CLI command starting together).
    sqlx::raw_sql(
        "CREATE OR REPLACE FUNCTION storeflow_prune_auth_rows( \
             OUT rate_limit_windows bigint, OUT login_lockouts bigint, OUT one_time_links bigint \
         ) LANGUAGE plpgsql AS $$ BEGIN rate_limit_windows := 0; login_lockouts := 0; \
         one_time_links := 0; END $$",
    )
    .execute(&api.pool)
    .await
    .expect("drifted");
    let (a, b, c, d) = tokio::join!(
        storeflow_engine::migrate(&api.pool),
        storeflow_engine::migrate(&api.pool),
        storeflow_engine::migrate(&api.pool),
        storeflow_engine::migrate(&api.pool),
    );
    for result in [a, b, c, d] {
        result.expect("concurrent migrates succeed");
    }
    for (name, sql) in storeflow_engine::FUNCTIONS {
        let (installed,): (String,) =
            sqlx::query_as("SELECT prosrc FROM pg_proc WHERE proname = $1")
                .bind(name)
                .fetch_one(&api.pool)
                .await
                .expect("installed");
        let canonical = sql.split("$$").nth(1).expect("a $$-quoted body");
        assert_eq!(
            installed, canonical,
            "{name} in the database is not migrations/functions/{name}.sql"
        );
    }
    let (triggers,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_trigger WHERE tgfoid = 'stores_follow_lifecycle_run'::regproc",
    )
    .fetch_one(&api.pool)
    .await
    .expect("triggers");
    assert!(
        triggers >= 1,
        "no trigger calls stores_follow_lifecycle_run"
    );
    // Migrations after the canonical file came leave the function to it: a restatement there
    // would be overwritten by the next migrate.
    for migration in storeflow_engine::MIGRATOR.iter() {
        for (name, _) in storeflow_engine::FUNCTIONS {
            assert!(
                migration.version <= 20261207000021
                    || !migration
                        .sql
                        .as_str()
                        .contains(&format!("FUNCTION {name}(")),
                "migration {} restates {name}: change migrations/functions/{name}.sql instead",
                migration.version
            );
        }
    }
}
