//! Store pages and list pages are answered from their last rendering while nothing they show
//! has changed — and never once something has: every answer below follows a change made
//! directly in the database (as a worker or another replica would), right after a rendering
//! was made.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use storeflow::{ApiConfig, api::StoreSettings};

use crate::*;

fn config() -> ApiConfig {
    ApiConfig {
        stores: StoreSettings {
            creation_cooldown: Duration::ZERO,
            ..StoreSettings::default()
        },
        ..ApiConfig::default()
    }
}

async fn get(api: &TestApi, path: &str, token: &str) -> Reply {
    let reply = api.call(Method::GET, path, Some(token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    reply
}

async fn create(api: &TestApi, token: &str, name: &str) -> (String, String) {
    let reply = api
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(token),
            Some(json!({ "name": name, "engine": "woocommerce", "password": "a-password-of-the-owner-1" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    (
        reply.body["store"]["id"].as_str().expect("id").to_owned(),
        reply.body["run"]["id"].as_str().expect("run").to_owned(),
    )
}

/// Polls `path` until `done` holds (the list learns of run changes by notification, which
/// arrives a moment after the commit).
async fn eventually(
    api: &TestApi,
    path: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = get(api, path, token).await;
        if done(&reply.body) {
            return reply.body;
        }
        assert!(
            Instant::now() < until,
            "{path} never changed: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_store_page_changes_the_moment_its_store_or_run_does() {
    let api = TestApi::with_config(config()).await;
    let (_, admin) = api.register("ops@example.com", "ops").await;
    let (_, owner) = api.register("owner@example.com", "owner").await;
    let (store, run) = create(&api, &owner, "cached-shop").await;
    let path = format!("/api/v1/stores/{store}");

    let first = get(&api, &path, &owner).await;
    let again = get(&api, &path, &owner).await;
    assert_eq!(
        first.body["store"], again.body["store"],
        "unchanged: the same page"
    );
    assert_ne!(
        first.body["requestId"], again.body["requestId"],
        "each answer has its own id"
    );
    assert_eq!(first.body["store"]["status"], "requested");

    // The store row changes (a step of the workflow, another replica).
    sqlx::query("UPDATE stores SET status = 'provisioning' WHERE id = $1")
        .bind(&store)
        .execute(&api.pool)
        .await
        .expect("store update");
    assert_eq!(
        get(&api, &path, &owner).await.body["store"]["status"],
        "provisioning"
    );

    // Its run moves on (a worker's checkpoint) without touching the store row.
    sqlx::query(
        "UPDATE workflow_runs SET status = 'running', current_step = 2 WHERE id = $1::uuid",
    )
    .bind(&run)
    .execute(&api.pool)
    .await
    .expect("run update");
    let running = get(&api, &path, &owner).await.body;
    assert_eq!(
        running["store"]["progress"]["status"], "running",
        "{running}"
    );
    assert_eq!(running["store"]["currentRun"]["stepNumber"], 3);

    // A new run of the store (a retry, a teardown) joins its runs at once.
    let runs_before = running["store"]["runs"].as_array().map(Vec::len);
    api.engine
        .enqueue_now(
            storeflow_engine::NewRun::new("selftest", json!({ "steps": 1 })).subject(&store),
        )
        .await
        .expect("enqueue");
    let after = get(&api, &path, &owner).await.body;
    assert_eq!(
        after["store"]["runs"].as_array().map(Vec::len),
        runs_before.map(|n| n + 1)
    );

    // Credentials are the viewer's own, however the page was rendered before: the owner
    // sees the password, an operator reading the same unchanged store sees it masked.
    let mine = get(&api, &path, &owner).await.body;
    assert_eq!(
        mine["store"]["adminCredentials"]["password"],
        "a-password-of-the-owner-1"
    );
    let theirs = get(&api, &path, &admin).await.body;
    assert_eq!(theirs["store"]["adminCredentials"]["password"], "••••••••");
    assert!(theirs["store"]["ownerUsername"].is_string(), "{theirs}");
    let mine_again = get(&api, &path, &owner).await.body;
    assert_eq!(
        mine_again["store"]["adminCredentials"]["password"],
        "a-password-of-the-owner-1"
    );
    assert!(mine_again["store"].get("ownerUsername").is_none());

    // A revoked token gets nothing, cached page or not.
    let changed = api
        .call(
            Method::PATCH,
            "/api/v1/auth/password",
            Some(&owner),
            Some(json!({ "currentPassword": "correct horse battery", "newPassword": "another horse battery" })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let refused = api.call(Method::GET, &path, Some(&owner), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn next_attempt_at_disappears_when_its_moment_has_passed() {
    let api = TestApi::with_config(config()).await;
    let (_, owner) = api.register("owner@example.com", "owner").await;
    let (store, run) = create(&api, &owner, "waiting-shop").await;
    sqlx::query(
        "UPDATE workflow_runs SET status = 'waiting', next_run_at = now() + interval '700 milliseconds' WHERE id = $1::uuid",
    )
    .bind(&run)
    .execute(&api.pool)
    .await
    .expect("run update");
    let path = format!("/api/v1/stores/{store}");
    let waiting = get(&api, &path, &owner).await.body;
    assert!(
        waiting["store"]["progress"]["nextAttemptAt"].is_string(),
        "{waiting}"
    );
    assert!(
        waiting["store"]["currentRun"]["nextAttemptAt"].is_string(),
        "{waiting}"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    let due = get(&api, &path, &owner).await.body;
    assert!(due["store"]["progress"]["nextAttemptAt"].is_null(), "{due}");
    assert!(
        due["store"]["currentRun"]["nextAttemptAt"].is_null(),
        "{due}"
    );
}

#[tokio::test]
async fn a_list_page_follows_its_stores_and_their_runs() {
    let api = TestApi::with_config(config()).await;
    let (_, _admin) = api.register("ops@example.com", "ops").await;
    let (_, alice) = api.register("alice@example.com", "alice").await;
    let (_, bob) = api.register("bob@example.com", "bob").await;
    let (first, _) = create(&api, &alice, "alice-one").await;
    let (_, second_run) = create(&api, &alice, "alice-two").await;
    let list = "/api/v1/stores?limit=50";

    let page = get(&api, list, &alice).await.body;
    assert_eq!(page["total"], 2);
    // Another tenant's list is its own, even when the same query was answered before.
    let (bobs, _) = create(&api, &bob, "bob-one").await;
    let page_of_bob = get(&api, list, &bob).await.body;
    assert_eq!(page_of_bob["total"], 1);
    assert_eq!(page_of_bob["stores"][0]["id"], bobs.as_str());
    assert_eq!(get(&api, list, &alice).await.body["total"], 2);

    // A store row changes: at once.
    sqlx::query("UPDATE stores SET status = 'provisioning' WHERE id = $1")
        .bind(&first)
        .execute(&api.pool)
        .await
        .expect("store update");
    let changed = get(&api, list, &alice).await.body;
    let status_of = |page: &Value, id: &str| {
        page["stores"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == id))
            .map(|s| s["status"].clone())
    };
    assert_eq!(status_of(&changed, &first), Some(json!("provisioning")));

    // A run moves on with its event, as every checkpoint writes it, without touching the
    // store row: the list learns of it by the event's notification.
    let mut tx = api.pool.begin().await.expect("begin");
    sqlx::query(
        "UPDATE workflow_runs SET status = 'running', current_step = 1 WHERE id = $1::uuid",
    )
    .bind(&second_run)
    .execute(&mut *tx)
    .await
    .expect("run update");
    sqlx::query("INSERT INTO workflow_run_events (run_id, kind, step_index) VALUES ($1::uuid, 'started', 1)")
        .bind(&second_run)
        .execute(&mut *tx)
        .await
        .expect("event");
    tx.commit().await.expect("commit");
    eventually(&api, list, &alice, |page| {
        page["stores"].as_array().is_some_and(|stores| {
            stores.iter().any(|s| {
                s["currentRun"]["status"] == "running" && s["currentRun"]["stepNumber"] == 2
            })
        })
    })
    .await;

    // A new store of the tenant: at once (the total is part of the stamp).
    create(&api, &alice, "alice-three").await;
    assert_eq!(get(&api, list, &alice).await.body["total"], 3);
}
