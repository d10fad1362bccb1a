//! Backup routes against a real PostgreSQL: refusals without a bucket, starting a backup
//! (one at a time, ready stores only), who sees which backup, the schedule form's validation,
//! the `scheduled-backups` workflow starting due backups on a real worker, retention pruning
//! objects and rows, and restore requests checked before a store is created. The backups'
//! data path (exec, sealing, the bucket) is tested on the real control plane
//! (`tests/process/backups.rs`).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use object_store::ObjectStoreExt;
use serde_json::json;
use storeflow::{ApiConfig, api::StoreSettings};
use storeflow_engine::{NewRun, Worker, WorkerOptions};
use storeflow_executors::backup::{BackupBucket, prune};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::*;

fn with_bucket() -> ApiConfig {
    ApiConfig {
        stores: StoreSettings {
            creation_cooldown: Duration::ZERO,
            backups_configured: true,
            ..StoreSettings::default()
        },
        ..ApiConfig::default()
    }
}

async fn ready_store(api: &TestApi, token: &str, name: &str, engine: &str) -> String {
    let reply = api
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(token),
            Some(json!({ "name": name, "engine": engine })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let id = reply.body["store"]["id"].as_str().expect("id").to_owned();
    // Ready without its provisioning: the run is cancelled first (so a worker a test starts
    // never picks it up — it would fail without a cluster, and the store with it), then the
    // store is marked ready; it keeps the run's input, which its backups use.
    let run: uuid::Uuid = reply.body["run"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("run id");
    api.engine.cancel_run(run, None).await.expect("cancelled");
    sqlx::query("UPDATE stores SET status = 'ready', ready_at = now() WHERE id = $1")
        .bind(&id)
        .execute(&api.pool)
        .await
        .expect("ready");
    id
}

#[tokio::test]
async fn without_a_bucket_backups_are_refused_with_what_to_do() {
    let api = TestApi::start().await;
    let (_, token) = api.register("owner@example.com", "owner").await;
    let id = ready_store(&api, &token, "no-bucket", "woocommerce").await;
    for (method, path, body) in [
        (Method::POST, format!("/api/v1/stores/{id}/backups"), None),
        (
            Method::PUT,
            format!("/api/v1/stores/{id}/backup-policy"),
            Some(json!({ "schedule": "0 3 * * *" })),
        ),
    ] {
        let reply = api.call(method, &path, Some(&token), body).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert_eq!(reply.code(), "BACKUPS_NOT_CONFIGURED");
        assert!(
            reply.body["error"]["suggestion"]
                .as_str()
                .unwrap_or("")
                .contains("backups.bucket")
        );
        assert_envelope(&reply);
    }
    // Turning a schedule off needs no bucket.
    let off = api
        .call(
            Method::PUT,
            &format!("/api/v1/stores/{id}/backup-policy"),
            Some(&token),
            Some(json!({ "schedule": null })),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
}

#[tokio::test]
async fn backups_start_once_per_store_and_each_tenant_sees_only_their_own() {
    let api = TestApi::with_config(with_bucket()).await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (_, owner) = api.register("owner@example.com", "owner").await;
    let (_, other) = api.register("other@example.com", "other").await;
    let id = ready_store(&api, &owner, "backed-up", "woocommerce").await;

    let started = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/backups"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
    let backup = started.body["backup"].clone();
    assert_eq!(backup["status"], "running");
    assert_eq!(backup["trigger"], "manual");
    assert_eq!(backup["storeId"], id.as_str());
    let backup_id = backup["id"].as_str().expect("id").to_owned();
    let run: (String, Option<String>, serde_json::Value) =
        sqlx::query_as("SELECT workflow, subject, input FROM workflow_runs WHERE id = $1::uuid")
            .bind(backup["runId"].as_str().expect("run"))
            .fetch_one(&api.pool)
            .await
            .expect("run");
    assert_eq!(run.0, "backup-woocommerce");
    assert_eq!(
        run.1.as_deref(),
        Some(backup_id.as_str()),
        "the run's subject is the backup"
    );
    assert_eq!(run.2["backup_id"], backup_id.as_str());
    assert_eq!(run.2["store_id"], id.as_str());
    let status: (String,) = sqlx::query_as("SELECT status::text FROM stores WHERE id = $1")
        .bind(&id)
        .fetch_one(&api.pool)
        .await
        .expect("store");
    assert_eq!(status.0, "ready", "a backup leaves the store ready");

    let again = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/backups"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "BACKUP_IN_PROGRESS");
    assert_eq!(
        again.body["error"]["details"]["backupId"],
        backup_id.as_str()
    );

    // Visibility: the owner and operators; another tenant gets 404s and an empty list.
    for token in [&owner, &admin] {
        let one = api
            .call(
                Method::GET,
                &format!("/api/v1/backups/{backup_id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(one.status, StatusCode::OK, "{one:?}");
        let list = api
            .call(
                Method::GET,
                &format!("/api/v1/backups?storeId={id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(
            list.body["backups"].as_array().map(Vec::len),
            Some(1),
            "{list:?}"
        );
    }
    let foreign = api
        .call(
            Method::GET,
            &format!("/api/v1/backups/{backup_id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.code(), "BACKUP_NOT_FOUND");
    let none = api
        .call(Method::GET, "/api/v1/backups", Some(&other), None)
        .await;
    assert_eq!(none.body["backups"], json!([]));
    let foreign_store = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/backups"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(foreign_store.status, StatusCode::NOT_FOUND);

    // A running backup is not restorable; bad ids and filters are 400s.
    let restore = api
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(&owner),
            Some(json!({ "name": "too-early", "restoreFrom": backup_id })),
        )
        .await;
    assert_eq!(restore.status, StatusCode::CONFLICT, "{restore:?}");
    assert_eq!(restore.code(), "BACKUP_NOT_RESTORABLE");
    let foreign_restore = api
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(&other),
            Some(json!({ "name": "not-mine", "restoreFrom": backup_id })),
        )
        .await;
    assert_eq!(foreign_restore.status, StatusCode::NOT_FOUND);
    for path in [
        "/api/v1/backups/not-a-uuid".to_owned(),
        "/api/v1/backups?status=lost".to_owned(),
        "/api/v1/backups?limit=0".to_owned(),
        "/api/v1/backups?storeId=nope".to_owned(),
    ] {
        let reply = api.call(Method::GET, &path, Some(&owner), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {reply:?}");
        assert_envelope(&reply);
    }
    let not_uuid = api
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(&owner),
            Some(json!({ "name": "bad-ref", "restoreFrom": 42 })),
        )
        .await;
    assert_eq!(not_uuid.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_uuid.body["error"]["details"][0]["field"], "restoreFrom");

    // A backup whose run was cancelled is failed — for its owner too — and filtering by
    // status happens before the limit.
    let run_id: Uuid = backup["runId"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    api.engine
        .cancel_run(run_id, Some("test"))
        .await
        .expect("cancelled");
    let failed = api
        .call(
            Method::GET,
            &format!("/api/v1/backups/{backup_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(failed.body["backup"]["status"], "failed", "{failed:?}");
    assert!(failed.body["backup"]["error"].as_str().is_some());
    let listed = api
        .call(
            Method::GET,
            "/api/v1/backups?status=failed&limit=1",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        listed.body["backups"][0]["id"],
        backup_id.as_str(),
        "{listed:?}"
    );
    let running = api
        .call(
            Method::GET,
            "/api/v1/backups?status=running",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(running.body["backups"], json!([]));
    let next = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/backups"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        next.status,
        StatusCode::ACCEPTED,
        "a cancelled backup does not block the next"
    );
    let next_id = next.body["backup"]["id"].as_str().expect("id").to_owned();
    let seen = api
        .call(
            Method::GET,
            &format!("/api/v1/backups/{next_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        seen.body["backup"]["step"], "dump-database",
        "the owner sees the current step"
    );
    assert_eq!(seen.body["backup"]["waitingFor"], json!(null));
    // A worker without a bucket: the step waits, and the backup says what for.
    let stop = CancellationToken::new();
    let worker = Worker::new(
        api.engine.clone(),
        WorkerOptions {
            poll_interval: Duration::from_millis(50),
            ..WorkerOptions::default()
        },
    );
    let worker = tokio::spawn(worker.run(stop.clone()));
    let mut waiting = json!(null);
    for _ in 0..100 {
        let seen = api
            .call(
                Method::GET,
                &format!("/api/v1/backups/{next_id}"),
                Some(&owner),
                None,
            )
            .await;
        waiting = seen.body["backup"]["waitingFor"].clone();
        if !waiting.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let _ = worker.await;
    assert!(
        waiting.as_str().unwrap_or("").contains("BACKUP_S3_BUCKET"),
        "the owner sees why the backup waits: {waiting}"
    );

    // A Medusa store's backup is its own engine's workflow; a store not ready cannot be
    // backed up.
    let medusa = ready_store(&api, &owner, "medusa-shop", "medusa").await;
    let medusa_backup = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{medusa}/backups"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        medusa_backup.status,
        StatusCode::ACCEPTED,
        "{medusa_backup:?}"
    );
    let (workflow,): (String,) =
        sqlx::query_as("SELECT workflow FROM workflow_runs WHERE id = $1::uuid")
            .bind(medusa_backup.body["backup"]["runId"].as_str().expect("run"))
            .fetch_one(&api.pool)
            .await
            .expect("run");
    assert_eq!(workflow, "backup-medusa");
    let woo = ready_store(&api, &owner, "busy-shop", "woocommerce").await;
    sqlx::query("UPDATE stores SET status = 'upgrading' WHERE id = $1")
        .bind(&woo)
        .execute(&api.pool)
        .await
        .expect("upgrading");
    let busy = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{woo}/backups"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert_eq!(busy.code(), "INVALID_STORE_STATE");
}

#[tokio::test]
async fn a_schedule_starts_due_backups_and_moves_on_by_its_cron() {
    let api = TestApi::with_config(with_bucket()).await;
    let (_, owner) = api.register("owner@example.com", "owner").await;
    let id = ready_store(&api, &owner, "nightly", "woocommerce").await;
    for (body, field) in [
        (json!({ "schedule": "every night" }), "schedule"),
        (json!({ "schedule": "0 3 * *" }), "schedule"),
        (json!({ "schedule": "0 25 * * *" }), "schedule"),
        (
            json!({ "schedule": "0 3 * * *", "keepDaily": 400 }),
            "keepDaily",
        ),
        (
            json!({ "schedule": "0 3 * * *", "keepDaily": 0, "keepWeekly": 0 }),
            "keepDaily",
        ),
    ] {
        let reply = api
            .call(
                Method::PUT,
                &format!("/api/v1/stores/{id}/backup-policy"),
                Some(&owner),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {reply:?}");
        assert_eq!(reply.body["error"]["details"][0]["field"], field, "{body}");
    }
    let set = api
        .call(
            Method::PUT,
            &format!("/api/v1/stores/{id}/backup-policy"),
            Some(&owner),
            Some(json!({ "schedule": "0 3 * * *", "keepDaily": 3, "keepWeekly": 2 })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(set.body["policy"]["nextAt"].clone()).expect("nextAt");
    assert!(next > chrono::Utc::now() && next.format("%H:%M").to_string() == "03:00");
    let read = api
        .call(
            Method::GET,
            &format!("/api/v1/stores/{id}/backup-policy"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(read.body["policy"]["keepDaily"], 3);
    let moved = api
        .call(
            Method::PUT,
            &format!("/api/v1/stores/{id}/backup-policy"),
            Some(&owner),
            Some(json!({ "schedule": "0 3 * * *" })),
        )
        .await;
    assert_eq!(
        moved.body["policy"]["keepDaily"], 3,
        "omitted numbers are kept: {moved:?}"
    );
    assert_eq!(moved.body["policy"]["keepWeekly"], 2);

    // Due now: the schedule's workflow, on a real worker, starts one scheduled backup and
    // moves the store's next time to tomorrow 03:00.
    sqlx::query("UPDATE stores SET backup_next_at = now() - interval '1 minute' WHERE id = $1")
        .bind(&id)
        .execute(&api.pool)
        .await
        .expect("due");
    let bucket = BackupBucket::over(Arc::new(object_store::memory::InMemory::new()), "test");
    let stop = CancellationToken::new();
    let worker = Worker::new(
        api.engine.clone(),
        WorkerOptions {
            poll_interval: Duration::from_millis(50),
            ..WorkerOptions::default()
        },
    )
    .with_resource(api.engine.clone())
    .with_resource(bucket);
    let worker = tokio::spawn(worker.run(stop.clone()));
    let run = api
        .engine
        .enqueue_now(NewRun::new("scheduled-backups", json!({})))
        .await
        .expect("enqueued");
    let mut status = String::new();
    for _ in 0..200 {
        let (s,): (String,) =
            sqlx::query_as("SELECT status::text FROM workflow_runs WHERE id = $1")
                .bind(run.run_id)
                .fetch_one(&api.pool)
                .await
                .expect("run");
        status = s;
        if status == "succeeded" || status == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let _ = worker.await;
    assert_eq!(status, "succeeded");
    let scheduled = api
        .call(
            Method::GET,
            &format!("/api/v1/backups?storeId={id}"),
            Some(&owner),
            None,
        )
        .await;
    let backups = scheduled.body["backups"].as_array().expect("backups");
    assert_eq!(backups.len(), 1, "{scheduled:?}");
    assert_eq!(backups[0]["trigger"], "scheduled");
    let (next_at,): (chrono::DateTime<chrono::Utc>,) =
        sqlx::query_as("SELECT backup_next_at FROM stores WHERE id = $1")
            .bind(&id)
            .fetch_one(&api.pool)
            .await
            .expect("next");
    assert_eq!(next_at, next, "the next backup is the cron's next time");
}

#[tokio::test]
async fn pruning_keeps_what_the_retention_says_and_deletes_objects_before_rows() {
    let api = TestApi::with_config(with_bucket()).await;
    let (user, owner) = api.register("owner@example.com", "owner").await;
    let id = ready_store(&api, &owner, "retained", "woocommerce").await;
    sqlx::query("UPDATE stores SET backup_keep_daily = 2, backup_keep_weekly = 1 WHERE id = $1")
        .bind(&id)
        .execute(&api.pool)
        .await
        .expect("policy");
    let memory = Arc::new(object_store::memory::InMemory::new());
    let bucket = BackupBucket::over(memory.clone(), "test");
    let owner_id: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");
    // Four scheduled backups on four days, one manual, one failed two days ago.
    let mut ids = Vec::new();
    for (days_ago, trigger, status) in [
        (0, "scheduled", "complete"),
        (1, "scheduled", "complete"),
        (2, "scheduled", "complete"),
        (3, "scheduled", "complete"),
        (9, "manual", "complete"),
        (2, "scheduled", "failed"),
    ] {
        let backup = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO store_backups (id, store_id, owner_id, store_name, engine, status, trigger, \
                                        created_at, completed_at) \
             VALUES ($1, $2, $3, 'retained', 'woocommerce', $4, $5, \
                     now() - make_interval(days => $6), now() - make_interval(days => $6))",
        )
        .bind(backup)
        .bind(&id)
        .bind(owner_id)
        .bind(status)
        .bind(trigger)
        .bind(days_ago)
        .execute(&api.pool)
        .await
        .expect("backup row");
        let path = object_store::path::Path::from(format!(
            "{}/database.sfbk",
            bucket.backup_prefix(&id, backup)
        ));
        memory
            .put(&path, vec![1u8, 2, 3].into())
            .await
            .expect("object");
        ids.push(backup);
    }
    let pruned = prune(&api.pool, &bucket, Some(&id)).await.expect("pruned");
    // Kept: the newest two days (0, 1) and the newest of the ISO week — already kept, or
    // day 2/3 when the week turned; the manual backup always; the failed one is gone.
    let left: Vec<Uuid> = sqlx::query_as::<_, (Uuid,)>("SELECT id FROM store_backups")
        .fetch_all(&api.pool)
        .await
        .expect("rows")
        .into_iter()
        .map(|(id,)| id)
        .collect();
    assert!(left.contains(&ids[0]) && left.contains(&ids[1]) && left.contains(&ids[4]));
    assert!(
        !left.contains(&ids[5]),
        "a failed backup older than a day is removed"
    );
    assert!(
        !left.contains(&ids[3]) || !left.contains(&ids[2]),
        "not every day is kept"
    );
    assert_eq!(pruned.backups.len() + left.len(), 6);
    for backup in &pruned.backups {
        assert!(
            bucket
                .list_backup(&id, *backup)
                .await
                .expect("list")
                .is_empty(),
            "a pruned backup's objects are gone"
        );
    }
    for backup in &left {
        assert_eq!(
            bucket.list_backup(&id, *backup).await.expect("list").len(),
            1
        );
    }
    let again = prune(&api.pool, &bucket, Some(&id))
        .await
        .expect("pruned again");
    assert!(
        again.backups.is_empty(),
        "pruning twice removes nothing more"
    );
}

/// A complete backup row of `store` (what a finished backup run leaves), for restore requests.
async fn complete_backup(api: &TestApi, store: &str, engine: &str, status: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO store_backups (id, store_id, owner_id, store_name, engine, status, trigger, \
                                    manifest, size_bytes, completed_at) \
         SELECT $1, s.id, s.owner_id, s.name, $2::store_engine, $3, 'manual', '{}'::jsonb, 1024, now() \
         FROM stores s WHERE s.id = $4",
    )
    .bind(id)
    .bind(engine)
    .bind(status)
    .bind(store)
    .execute(&api.pool)
    .await
    .expect("backup row");
    id
}

#[tokio::test]
async fn restoring_in_place_needs_the_store_name_and_a_complete_backup_of_the_same_owner() {
    let api = TestApi::with_config(with_bucket()).await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (_, owner) = api.register("owner@example.com", "owner").await;
    let (_, other) = api.register("other@example.com", "other").await;
    let id = ready_store(&api, &owner, "shop", "woocommerce").await;
    let medusa = ready_store(&api, &owner, "headless", "medusa").await;
    let foreign = ready_store(&api, &other, "elsewhere", "woocommerce").await;
    let backup = complete_backup(&api, &id, "woocommerce", "complete").await;
    let failed = complete_backup(&api, &id, "woocommerce", "failed").await;
    let medusa_backup = complete_backup(&api, &medusa, "medusa", "complete").await;
    let foreign_backup = complete_backup(&api, &foreign, "woocommerce", "complete").await;
    let path = format!("/api/v1/stores/{id}/restore");
    let restore = |token: &str, body: serde_json::Value| {
        let (api, path, token) = (&api, path.clone(), token.to_owned());
        async move {
            api.call(Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };

    // Both fields are required, and each says what it wants.
    let empty = restore(&owner, json!({})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{empty:?}");
    assert_envelope(&empty);
    let fields: Vec<&str> = empty.body["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(fields, ["backupId", "confirm"], "{empty:?}");
    // The confirmation is the store's name, exactly.
    let wrong = restore(&owner, json!({ "backupId": backup, "confirm": "Shop" })).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{wrong:?}");
    assert!(
        wrong.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("'shop'"),
        "{wrong:?}"
    );
    // Only complete backups, of this owner, of this engine.
    let not_complete = restore(&owner, json!({ "backupId": failed, "confirm": "shop" })).await;
    assert_eq!(not_complete.status, StatusCode::CONFLICT);
    assert_eq!(not_complete.code(), "BACKUP_NOT_RESTORABLE");
    let theirs = restore(
        &owner,
        json!({ "backupId": foreign_backup, "confirm": "shop" }),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{theirs:?}");
    assert_eq!(theirs.code(), "BACKUP_NOT_FOUND");
    let by_operator = restore(
        &admin,
        json!({ "backupId": foreign_backup, "confirm": "shop" }),
    )
    .await;
    assert_eq!(by_operator.status, StatusCode::CONFLICT, "{by_operator:?}");
    assert_eq!(by_operator.code(), "BACKUP_OF_ANOTHER_OWNER");
    let other_engine = restore(
        &owner,
        json!({ "backupId": medusa_backup, "confirm": "shop" }),
    )
    .await;
    assert_eq!(
        other_engine.status,
        StatusCode::BAD_REQUEST,
        "{other_engine:?}"
    );
    let into_medusa = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{medusa}/restore"),
            Some(&owner),
            Some(json!({ "backupId": backup, "confirm": "headless" })),
        )
        .await;
    assert_eq!(
        into_medusa.status,
        StatusCode::BAD_REQUEST,
        "{into_medusa:?}"
    );
    // Another tenant cannot even learn that the store exists.
    let stranger = api
        .call(
            Method::POST,
            &path,
            Some(&other),
            Some(json!({ "backupId": foreign_backup, "confirm": "shop" })),
        )
        .await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    let status: (String,) = sqlx::query_as("SELECT status::text FROM stores WHERE id = $1")
        .bind(&id)
        .fetch_one(&api.pool)
        .await
        .expect("store");
    assert_eq!(status.0, "ready", "a refused restore changes nothing");

    // Accepted: the store is restoring, its run restores that backup, the store says so.
    let accepted = restore(&owner, json!({ "backupId": backup, "confirm": "shop" })).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{accepted:?}");
    assert_eq!(accepted.body["store"]["status"], "restoring");
    assert_eq!(
        accepted.body["store"]["restoredFrom"],
        json!({ "backupId": backup, "restoredAt": null })
    );
    assert_eq!(
        accepted.body["run"]["workflow"],
        "restore-in-place-woocommerce"
    );
    let run: Uuid = accepted.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    let (input,): (serde_json::Value,) =
        sqlx::query_as("SELECT input FROM workflow_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&api.pool)
            .await
            .expect("run");
    assert_eq!(input["restore_backup_id"], backup.to_string());
    assert_eq!(input["store_id"], id.as_str());
    // While it restores: no second restore, no backup, no delete.
    let twice = restore(&owner, json!({ "backupId": backup, "confirm": "shop" })).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(
        twice.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already being restored"),
        "{twice:?}"
    );
    for (method, path) in [
        (Method::POST, format!("/api/v1/stores/{id}/backups")),
        (Method::DELETE, format!("/api/v1/stores/{id}")),
    ] {
        let refused = api.call(method, &path, Some(&owner), None).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
        assert_eq!(refused.code(), "INVALID_STORE_STATE");
    }

    // A restore that fails leaves the store failed at its step; a retry resumes the restore
    // (not a provisioning), and the store is restoring again.
    sqlx::query(
        "UPDATE workflow_runs SET status = 'failed', current_step = 1, error = 'the pod went away', \
         finished_at = now() WHERE id = $1",
    )
    .bind(run)
    .execute(&api.pool)
    .await
    .expect("fail the run");
    let failed_store = api
        .call(
            Method::GET,
            &format!("/api/v1/stores/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        failed_store.body["store"]["status"], "failed",
        "{failed_store:?}"
    );
    assert_eq!(failed_store.body["store"]["failedStep"], "restore-database");
    let retried = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/retry"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{retried:?}");
    assert_eq!(retried.body["store"]["status"], "restoring");
    assert_eq!(
        retried.body["run"]["workflow"],
        "restore-in-place-woocommerce"
    );
    assert!(
        retried.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("restore resumes"),
        "{retried:?}"
    );

    // Cancelled instead: a retry starts the restore again, with the same backup.
    sqlx::query("UPDATE workflow_runs SET status = 'cancelled', finished_at = now() WHERE id = $1")
        .bind(run)
        .execute(&api.pool)
        .await
        .expect("cancel the run");
    let restarted = api
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/retry"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(restarted.status, StatusCode::ACCEPTED, "{restarted:?}");
    let new_run: Uuid = restarted.body["run"]["id"]
        .as_str()
        .expect("run")
        .parse()
        .expect("uuid");
    assert_ne!(new_run, run);
    let (workflow, input): (String, serde_json::Value) =
        sqlx::query_as("SELECT workflow, input FROM workflow_runs WHERE id = $1")
            .bind(new_run)
            .fetch_one(&api.pool)
            .await
            .expect("run");
    assert_eq!(workflow, "restore-in-place-woocommerce");
    assert_eq!(input["restore_backup_id"], backup.to_string());
}
