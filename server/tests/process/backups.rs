//! Backups and restores on the **real** control plane (see `real_cluster.rs`) into a **real**
//! S3-compatible server (moto's server mode, `storeflow_testkit::s3`): worker processes back a
//! WooCommerce store up (its simulated MariaDB through a `mariadb-dump` the pod's exec runs,
//! its uploads as a real `tar` of the wp-cli container's document root), a worker killed in
//! the middle of the upload leaves no half backup, the backup restores into a new store that
//! passes its storefront verification with a real order, and a damaged object is refused.
//!
//! `STOREFLOW_BACKUP_UPLOADS_MB` sets the size of the store's uploads (default 48); with
//! 1024 and a release build this is the restore figure of README.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use storeflow_testkit::s3::S3Server;

use crate::provisioning::{Platform, tail};
use crate::real_cluster::world;

/// Writes `megabytes` of incompressible files under the store's `wp-content/uploads`.
fn fill_uploads(docroot: &Path, megabytes: usize) -> Vec<(String, u64)> {
    use std::io::Write;
    let dir = docroot.join("wp-content/uploads/2026/12");
    std::fs::create_dir_all(&dir).expect("uploads dir");
    let mut files = Vec::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let per_file = 16usize.min(megabytes.max(1));
    let count = megabytes.div_ceil(per_file).max(1);
    for n in 0..count {
        let name = format!("product-{n:03}.jpg");
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(dir.join(&name)).expect("file"));
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..per_file {
            for chunk in block.chunks_mut(8) {
                // xorshift: incompressible, so nothing is smaller in the bucket than it is here.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
            }
            file.write_all(&block).expect("write");
        }
        file.flush().expect("flush");
        files.push((name, (per_file << 20) as u64));
    }
    files
}

fn same_files(a: &Path, b: &Path) -> bool {
    let read = |root: &Path| -> Vec<(String, Vec<u8>)> {
        let dir = root.join("wp-content/uploads/2026/12");
        let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            std::fs::read(e.path()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        entries
    };
    let (left, right) = (read(a), read(b));
    !left.is_empty() && left == right
}

/// `step attempt: seconds (outcome)` of a run, in order: where the time of a backup or a
/// restore went.
async fn step_times<C>(platform: &Platform<C>, run: &str) -> String {
    let rows: Vec<(String, i32, String, f64)> = sqlx::query_as(
        "SELECT d.step_name, a.attempt, a.outcome, extract(epoch FROM a.finished_at - a.started_at)::float8 \
         FROM workflow_step_attempts a JOIN workflow_runs r ON r.id = a.run_id \
         JOIN workflow_definition_steps d ON d.workflow = r.workflow AND d.version = r.version AND d.step_index = a.step_index \
         WHERE a.run_id = $1::uuid ORDER BY a.started_at",
    )
    .bind(run)
    .fetch_all(&platform.pool)
    .await
    .expect("step attempts");
    rows.iter()
        .map(|(step, attempt, outcome, secs)| format!("{step}#{attempt} {secs:.1}s {outcome}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn backup<C>(platform: &Platform<C>, token: &str, id: &str) -> Value {
    let (status, body) = platform
        .call(
            Method::GET,
            &format!("/api/v1/backups/{id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["backup"].clone()
}

async fn wait_backup<C>(platform: &Platform<C>, token: &str, id: &str, within: Duration) -> Value {
    let until = Instant::now() + within;
    loop {
        let backup = backup(platform, token, id).await;
        if backup["status"] != "running" {
            return backup;
        }
        assert!(
            Instant::now() < until,
            "backup {id} still running after {within:?}: {backup}\n{}",
            tail(&platform.worker_logs(), 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_is_backed_up_through_a_worker_kill_restored_verified_and_a_damaged_backup_refused()
{
    let megabytes: usize = std::env::var("STOREFLOW_BACKUP_UPLOADS_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let s3 = tokio::task::block_in_place(|| S3Server::start("storeflow-backups")).expect("moto");
    let spool = std::env::temp_dir().join(format!(
        "storeflow-spool-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&spool).expect("spool dir");
    let mut env: Vec<(String, String)> = s3.worker_env();
    env.push(("BACKUP_SPOOL_DIR".into(), spool.display().to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut platform = Platform::start_real().await;
    let kubeconfig = platform.kubeconfig.clone();
    let first = platform.start_worker_as(&kubeconfig, &env);
    let email = "backups@example.com";
    let token = platform.register(email, "backups").await;
    let id = platform
        .create_store(
            &token,
            json!({ "name": "backed-up", "engine": "woocommerce", "password": "Tenant-Pass-2024" }),
        )
        .await;
    platform
        .wait_status(&token, &id, "ready", Duration::from_secs(240))
        .await;
    let world = world();
    let files = fill_uploads(&world.docroot(&id), megabytes);
    let original = world.site(&id).expect("site");

    // Backup, with the worker SIGKILLed while the uploads stream into the bucket.
    let started = Instant::now();
    let (status, body) = platform
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/backups"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let backup_id = body["backup"]["id"].as_str().expect("backup id").to_owned();
    assert_eq!(body["backup"]["status"], "running");
    let (status, again) = platform
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/backups"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "BACKUP_IN_PROGRESS");
    let prefix = format!("storeflow/stores/{id}/{backup_id}/");
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let keys = s3.keys(&prefix).expect("keys");
        let uploading = s3.incomplete_uploads().expect("uploads") > 0;
        if keys.iter().any(|k| k.ends_with("database.sfbk")) && uploading {
            break;
        }
        assert!(
            !keys.iter().any(|k| k.ends_with("uploads.sfbk")),
            "the uploads finished before the kill; raise STOREFLOW_BACKUP_UPLOADS_MB"
        );
        assert!(
            Instant::now() < until,
            "the uploads never started: {keys:?}\n{}",
            tail(&platform.worker_logs(), 40)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    platform.kill_worker(first);
    let keys = s3.keys(&prefix).expect("keys");
    assert!(
        !keys
            .iter()
            .any(|k| k.ends_with("uploads.sfbk") || k.ends_with("manifest.sfbk")),
        "a killed upload is no object: {keys:?}"
    );
    let (_, listed) = platform
        .call(
            Method::GET,
            "/api/v1/backups?status=complete",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        listed["backups"].as_array().map(Vec::len),
        Some(0),
        "nothing restorable is listed while the backup is unfinished: {listed}"
    );
    platform.start_worker_as(&kubeconfig, &env);
    let done = wait_backup(&platform, &token, &backup_id, Duration::from_secs(600)).await;
    let backup_took = started.elapsed();
    assert_eq!(
        done["status"],
        "complete",
        "{done}\n{}",
        tail(&platform.worker_logs(), 40)
    );
    let uploads_size: u64 = files.iter().map(|(_, size)| size).sum();
    assert_eq!(
        std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0),
        0,
        "no spool file is left, not even the killed worker's"
    );
    let parts = done["parts"].as_array().expect("parts");
    assert_eq!(
        parts
            .iter()
            .map(|p| p["name"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["database", "uploads"]
    );
    assert!(
        parts[1]["size"].as_u64().unwrap_or(0) > uploads_size,
        "the uploads' tar holds the files: {done}"
    );
    assert_eq!(done["trigger"], "manual");
    let keys = s3.keys(&prefix).expect("keys");
    assert_eq!(
        keys,
        [
            format!("{prefix}database.sfbk"),
            format!("{prefix}manifest.sfbk"),
            format!("{prefix}uploads.sfbk"),
        ]
    );
    // Encrypted at rest: neither the catalogue nor the admin's e-mail is readable.
    let stored_database = s3.get(&keys[0]).expect("database object");
    let text = String::from_utf8_lossy(&stored_database);
    assert!(
        !text.contains("TSHIRT-001") && !text.contains(email),
        "the dump is sealed"
    );
    let manifest = s3.get(&keys[1]).expect("manifest object");
    assert!(
        !String::from_utf8_lossy(&manifest).contains(&id),
        "the manifest is sealed"
    );

    // Restore into a new store: provisioned, restored, made this store's, verified by an order.
    let restoring = Instant::now();
    let (status, created) = platform
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(&token),
            Some(json!({ "name": "restored", "restoreFrom": backup_id, "password": "Restored-Pass-99" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(
        created["store"]["engine"], "woocommerce",
        "the backup's engine"
    );
    assert_eq!(created["run"]["workflow"], "restore-woocommerce");
    let restored_id = created["store"]["id"].as_str().expect("id").to_owned();
    let restored = platform
        .wait_status(&token, &restored_id, "ready", Duration::from_secs(600))
        .await;
    let restore_took = restoring.elapsed();
    let site = world.site(&restored_id).expect("restored site");
    let skus = |site: &Value| -> Vec<String> {
        site["products"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|p| p["sku"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        skus(&site),
        skus(&original),
        "the catalogue came back: {site}"
    );
    let orders = site["orders"].as_array().expect("orders");
    assert_eq!(
        orders.len(),
        2,
        "the backed-up order and the restore's verification order: {site}"
    );
    assert_eq!(orders[0]["id"], original["orders"][0]["id"]);
    assert!(
        site["url"].as_str().unwrap_or("").contains(&restored_id),
        "the site moved to its new URL: {site}"
    );
    assert_eq!(
        site["adminPassword"], "Restored-Pass-99",
        "the new store's own admin password"
    );
    assert!(
        same_files(&world.docroot(&id), &world.docroot(&restored_id)),
        "the uploads came back byte for byte"
    );
    assert_eq!(restored["progress"]["percent"], 100, "{restored}");
    assert_eq!(restored["restoredFrom"]["backupId"], backup_id.as_str());
    assert!(
        restored["restoredFrom"]["restoredAt"].is_string(),
        "{restored}"
    );

    // Restore into the same store: what changed since the backup is undone, and the store
    // keeps its URL and its admin password.
    world
        .wp(
            &id,
            &[
                "wc",
                "product",
                "create",
                "--user=admin",
                "--name=After the backup",
                "--sku=AFTER-BACKUP",
                "--regular_price=5",
                "--status=publish",
            ],
        )
        .expect("a product added after the backup");
    world
        .wp(
            &id,
            &[
                "user",
                "update",
                "admin",
                "--user_pass=Changed-Behind-Its-Back",
            ],
        )
        .expect("a password changed behind storeflow's back");
    let uploads = world.docroot(&id).join("wp-content/uploads/2026/12");
    std::fs::remove_file(uploads.join(&files[0].0)).expect("a file deleted after the backup");
    std::fs::write(uploads.join("added-after-the-backup.txt"), b"later").expect("a new file");
    let (status, refused) = platform
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/restore"),
            Some(&token),
            Some(json!({ "backupId": backup_id, "confirm": "backed up" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the name, exactly: {refused}"
    );
    let in_place = Instant::now();
    let (status, accepted) = platform
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/restore"),
            Some(&token),
            Some(json!({ "backupId": backup_id, "confirm": "backed-up" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["store"]["status"], "restoring");
    let back = platform
        .wait_status(&token, &id, "ready", Duration::from_secs(600))
        .await;
    let in_place_took = in_place.elapsed();
    assert_eq!(back["restoredFrom"]["backupId"], backup_id.as_str());
    assert!(back["restoredFrom"]["restoredAt"].is_string(), "{back}");
    let site = world.site(&id).expect("site");
    assert_eq!(
        skus(&site),
        skus(&original),
        "the catalogue as backed up: {site}"
    );
    let orders = site["orders"].as_array().expect("orders");
    assert_eq!(
        orders.len(),
        2,
        "the backed-up order and the restore's verification order: {site}"
    );
    assert_eq!(orders[0]["id"], original["orders"][0]["id"]);
    assert_eq!(site["url"], original["url"], "the store keeps its URL");
    assert_eq!(
        site["adminPassword"], "Tenant-Pass-2024",
        "the store's own admin password, not the one set behind its back"
    );
    assert!(
        same_files(&world.docroot(&id), &world.docroot(&restored_id))
            && !uploads.join("added-after-the-backup.txt").exists(),
        "the uploads are the backup's, no more, no less"
    );

    // A damaged object: refused by its checksum before anything is restored.
    let mut uploads = s3.get(&keys[2]).expect("uploads object");
    let middle = uploads.len() / 2;
    uploads[middle] ^= 0x01;
    s3.put(&keys[2], &uploads).expect("damage");
    let damaged_id = platform
        .create_store(
            &token,
            json!({ "name": "from-damaged", "restoreFrom": backup_id }),
        )
        .await;
    let failed = platform
        .wait_status(&token, &damaged_id, "failed", Duration::from_secs(300))
        .await;
    let reason = failed["failureReason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("uploads of this backup")
            && (reason.contains("corrupt") || reason.contains("checksum")),
        "{failed}"
    );
    assert_eq!(failed["failedStep"], "verify-backup", "{failed}");
    assert!(
        !world
            .docroot(&damaged_id)
            .join("wp-content/uploads/2026")
            .exists(),
        "nothing of the damaged backup was restored"
    );
    let (status, _) = platform
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(&token),
            Some(json!({ "name": "wrong-engine", "engine": "medusa", "restoreFrom": backup_id })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let secrets_in_logs = platform.worker_logs();
    assert!(
        !secrets_in_logs.contains("storeflow-test-secret"),
        "the bucket's secret key never reaches a log"
    );
    let _ = std::fs::remove_dir_all(&spool);
    println!(
        "backup run: {}\nrestore run: {}",
        step_times(&platform, done["runId"].as_str().unwrap_or_default()).await,
        step_times(&platform, created["run"]["id"].as_str().unwrap_or_default()).await
    );
    println!(
        "restore in place run: {}",
        step_times(
            &platform,
            accepted["run"]["id"].as_str().unwrap_or_default()
        )
        .await
    );
    println!(
        "backups: {} MiB of uploads; backup (one worker SIGKILLed mid-upload) complete in {:.1} s; \
         restore into a new store verified by a real order {:.1} s after the request; \
         restore into the same store verified {:.1} s after the request",
        uploads_size >> 20,
        backup_took.as_secs_f64(),
        restore_took.as_secs_f64(),
        in_place_took.as_secs_f64()
    );
}

/// A Medusa store's Admin API through the cluster's service proxy, with its admin token.
async fn medusa_admin(
    client: &kube::Client,
    namespace: &str,
) -> storeflow_executors::medusa::Admin {
    let token = store_secret(client, namespace, "medusa-admin-token").await;
    storeflow_executors::medusa::Admin::new(medusa_service(client, namespace), token)
}

fn medusa_service(
    client: &kube::Client,
    namespace: &str,
) -> storeflow_executors::service_proxy::Service {
    storeflow_executors::service_proxy::Service {
        client: client.clone(),
        namespace: namespace.to_owned(),
        name: "medusa".into(),
        port: 9000,
    }
}

/// A key of the store's Secret, read through the API server.
async fn store_secret(client: &kube::Client, namespace: &str, key: &str) -> String {
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get("store-secrets")
        .await
        .expect("the store's Secret");
    let value = secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .expect("the key in the store's Secret");
    String::from_utf8(value.0.clone()).expect("UTF-8")
}

/// The publishable key the store's storefront was published with (its Deployment's env).
async fn published_key(client: &kube::Client, namespace: &str) -> String {
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), namespace);
    let storefront = deployments
        .get("storefront")
        .await
        .expect("storefront published");
    let value = serde_json::to_value(&storefront).expect("JSON");
    value["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "MEDUSA_PUBLISHABLE_KEY")
        .and_then(|e| e["value"].as_str())
        .expect("the storefront's key")
        .to_owned()
}

/// Product handles of a Medusa store, sorted.
async fn medusa_products(client: &kube::Client, namespace: &str) -> Vec<String> {
    let products = medusa_admin(client, namespace)
        .await
        .get("/admin/products?limit=100")
        .await
        .expect("products");
    let mut handles: Vec<String> = products["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["handle"].as_str().map(str::to_owned))
        .collect();
    handles.sort();
    handles
}

/// Order ids of a Medusa store, sorted.
async fn medusa_orders(client: &kube::Client, namespace: &str) -> Vec<String> {
    let orders = medusa_admin(client, namespace)
        .await
        .get("/admin/orders?limit=100")
        .await
        .expect("orders");
    let mut ids: Vec<String> = orders["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// The status of an Admin API sign-in to a Medusa store.
async fn medusa_sign_in(
    client: &kube::Client,
    namespace: &str,
    email: &str,
    password: &str,
) -> u16 {
    medusa_service(client, namespace)
        .call(
            "POST",
            "/admin/auth/token",
            &[],
            Some(&json!({ "email": email, "password": password })),
        )
        .await
        .expect("sign in")
        .status
}

/// How many sales channels the publishable key is linked to, as Medusa sees it (it must be in
/// the database and live).
async fn medusa_key_channels(client: &kube::Client, namespace: &str, key: &str) -> usize {
    let admin = medusa_admin(client, namespace).await;
    let stored = admin
        .get(&format!("/admin/publishable-api-keys/{key}"))
        .await
        .expect("the key is in the database");
    assert!(
        stored["publishable_api_key"]["revoked_at"].is_null(),
        "{stored}"
    );
    let channels = admin
        .get(&format!("/admin/publishable-api-keys/{key}/sales-channels"))
        .await
        .expect("channels");
    channels["sales_channels"].as_array().map_or(0, Vec::len)
}

/// A Medusa store's backup and restores, on a platform whose workers have the bucket, and
/// where every Medusa store has a real Medusa and PostgreSQL of its own (`database_of` names a
/// store's database as this machine reaches it). The store is backed up; changed behind
/// storeflow's back (a product added, its admin's password changed); restored into a new
/// store, which gets the backed-up catalogue and orders with its own publishable key (in its
/// database, linked to one sales channel), its own admin password, and none of the source's
/// API tokens — while the source keeps what changed; then restored in place, which undoes the
/// changes and keeps the store's key and password. Returns the restores' times.
async fn medusa_backup_round_trip<C>(
    platform: &Platform<C>,
    s3: &S3Server,
    database_of: impl Fn(&str) -> Option<String>,
) -> (Duration, Duration) {
    let backend = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/medusa-backend");
    let client = crate::real_cluster::client_for(&platform.kubeconfig).await;
    let token = platform
        .register("medusa-owner@example.com", "medusa-owner")
        .await;
    let id = platform
        .create_store(
            &token,
            json!({ "name": "tea-house", "engine": "medusa", "password": "Tenant-Pass-2024" }),
        )
        .await;
    let store = platform
        .wait_status(&token, &id, "ready", Duration::from_secs(300))
        .await;
    let email = store["adminCredentials"]["email"]
        .as_str()
        .expect("email")
        .to_owned();
    let backed_up_products = medusa_products(&client, &id).await;
    let backed_up_orders = medusa_orders(&client, &id).await;
    assert_eq!(backed_up_orders.len(), 1, "the verification order");
    let source_key = published_key(&client, &id).await;

    // The backup: the database only (Medusa stores have no uploads), sealed in the bucket.
    let (status, body) = platform
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/backups"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let backup_id = body["backup"]["id"].as_str().expect("backup id").to_owned();
    let done = wait_backup(platform, &token, &backup_id, Duration::from_secs(300)).await;
    assert_eq!(
        done["status"],
        "complete",
        "{done}\n{}",
        tail(&platform.worker_logs(), 40)
    );
    let parts: Vec<&str> = done["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(parts, ["database"]);
    let prefix = format!("storeflow/stores/{id}/{backup_id}/");
    let keys = s3.keys(&prefix).expect("keys");
    assert_eq!(
        keys,
        [
            format!("{prefix}database.sfbk"),
            format!("{prefix}manifest.sfbk")
        ]
    );
    let stored = s3.get(&keys[0]).expect("database object");
    let stored = String::from_utf8_lossy(&stored);
    assert!(
        !stored.contains(&email) && !stored.contains(&backed_up_products[0]),
        "the dump is sealed"
    );

    // Behind storeflow's back: a product, and the admin's password.
    medusa_admin(&client, &id)
        .await
        .post(
            "/admin/products",
            json!({ "title": "After the backup", "handle": "after-the-backup", "is_giftcard": false, "discountable": true }),
        )
        .await
        .expect("a product added after the backup");
    let admin_token = store_secret(&client, &id, "medusa-admin-token").await;
    let database = database_of(&id).expect("the store's database");
    let changed = tokio::task::block_in_place(|| {
        use std::io::Write as _;
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                storeflow_executors::medusa::ADMIN_USER_SCRIPT,
                "sh",
                &email,
            ])
            .current_dir(&backend)
            .env("DATABASE_URL", &database)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(format!("Changed-Behind-Its-Back\n{admin_token}\n").as_bytes())?;
        drop(stdin);
        child.wait()
    })
    .expect("the admin script");
    assert!(changed.success());
    assert_eq!(
        medusa_sign_in(&client, &id, &email, "Changed-Behind-Its-Back").await,
        200
    );

    // Restore into a new store: the backed-up shop, with the new store's own key, password
    // and token; the source is untouched.
    let (status, created) = platform
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(&token),
            Some(json!({ "name": "tea-copy", "restoreFrom": backup_id, "password": "Restored-Pass-99" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["run"]["workflow"], "restore-medusa");
    let copy = created["store"]["id"].as_str().expect("id").to_owned();
    let restoring = Instant::now();
    platform
        .wait_status(&token, &copy, "ready", Duration::from_secs(300))
        .await;
    let restore_took = restoring.elapsed();
    assert_eq!(medusa_products(&client, &copy).await, backed_up_products);
    let copy_orders = medusa_orders(&client, &copy).await;
    assert_eq!(
        copy_orders.len(),
        2,
        "the backed-up order and the copy's verification order"
    );
    assert!(copy_orders.contains(&backed_up_orders[0]));
    let copy_key = published_key(&client, &copy).await;
    assert_ne!(copy_key, source_key, "the new store publishes its own key");
    assert_eq!(medusa_key_channels(&client, &copy, &copy_key).await, 1);
    assert_eq!(
        medusa_sign_in(&client, &copy, &email, "Restored-Pass-99").await,
        200
    );
    assert_eq!(
        medusa_sign_in(&client, &copy, &email, "Tenant-Pass-2024").await,
        401
    );
    let source_token_on_copy =
        storeflow_executors::medusa::Admin::new(medusa_service(&client, &copy), admin_token);
    assert!(
        !source_token_on_copy.works().await.expect("token check"),
        "the source store's API token does not open the copy"
    );
    let medusa_store = medusa_admin(&client, &copy)
        .await
        .get("/admin/store")
        .await
        .expect("store");
    assert_eq!(medusa_store["store"]["name"], "tea-copy");
    assert!(
        medusa_products(&client, &id)
            .await
            .contains(&"after-the-backup".to_owned()),
        "the source keeps what changed since its backup"
    );

    // Restore in place: the change is undone; the store keeps its key and its password.
    let (status, accepted) = platform
        .call(
            Method::POST,
            &format!("/api/v1/stores/{id}/restore"),
            Some(&token),
            Some(json!({ "backupId": backup_id, "confirm": "tea-house" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["run"]["workflow"], "restore-in-place-medusa");
    let in_place = Instant::now();
    let back = platform
        .wait_status(&token, &id, "ready", Duration::from_secs(300))
        .await;
    let in_place_took = in_place.elapsed();
    assert_eq!(back["restoredFrom"]["backupId"], backup_id.as_str());
    assert_eq!(medusa_products(&client, &id).await, backed_up_products);
    assert_eq!(published_key(&client, &id).await, source_key);
    assert_eq!(medusa_key_channels(&client, &id, &source_key).await, 1);
    assert_eq!(
        medusa_sign_in(&client, &id, &email, "Tenant-Pass-2024").await,
        200
    );
    assert_eq!(
        medusa_sign_in(&client, &id, &email, "Changed-Behind-Its-Back").await,
        401
    );
    println!(
        "medusa restore run: {}\nmedusa restore in place run: {}",
        step_times(platform, created["run"]["id"].as_str().unwrap_or_default()).await,
        step_times(platform, accepted["run"]["id"].as_str().unwrap_or_default()).await
    );
    (restore_took, in_place_took)
}

/// Worker environment for backups: the bucket, and a spool directory of the test's.
fn backup_env(s3: &S3Server, spool: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = s3.worker_env();
    env.push(("BACKUP_SPOOL_DIR".into(), spool.display().to_string()));
    env
}

/// [`medusa_backup_round_trip`] on the real control plane: the store's Medusa and PostgreSQL
/// are its own real ones in the pod network, exec into the `postgres` container runs this
/// machine's `pg_dump`/`psql` against that database (kwok), and the bucket is moto's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_medusa_store_is_backed_up_and_restored_on_a_real_cluster() {
    let world = tokio::task::block_in_place(crate::real_cluster::world_with_medusa);
    let s3 =
        tokio::task::block_in_place(|| S3Server::start("storeflow-medusa-backups")).expect("moto");
    let spool = std::env::temp_dir().join(format!(
        "storeflow-spool-medusa-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&spool).expect("spool dir");
    let env = backup_env(&s3, &spool);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut platform = Platform::start_real().await;
    let kubeconfig = platform.kubeconfig.clone();
    platform.start_worker_as(&kubeconfig, &env);
    let (restore, in_place) =
        medusa_backup_round_trip(&platform, &s3, |namespace| world.medusa_database(namespace))
            .await;
    println!(
        "medusa backups on the real control plane: restore into a new store verified {:.1} s after \
         the request; in place {:.1} s",
        restore.as_secs_f64(),
        in_place.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&spool);
}

/// [`medusa_backup_round_trip`] on the fake cluster, with a real Medusa and PostgreSQL per
/// store (`local_medusa` runs exec into the `postgres` container with this machine's
/// `pg_dump`/`psql` against that store's database): the same scenario, without root.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_medusa_store_is_backed_up_and_restored_on_the_fake_cluster() {
    use storeflow_fakecluster::Options;
    use storeflow_fakecluster::local_medusa::PerStoreMedusa;

    let backend = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/medusa-backend");
    assert!(
        backend.join("node_modules/.bin/medusa").exists(),
        "the real-Medusa tests need the Medusa backend package: run `npm ci` in charts/medusa-backend (scripts/test-all.sh does)"
    );
    let s3 =
        tokio::task::block_in_place(|| S3Server::start("storeflow-medusa-backups")).expect("moto");
    let spool = std::env::temp_dir().join(format!(
        "storeflow-spool-medusa-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&spool).expect("spool dir");
    let env = backup_env(&s3, &spool);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(200)),
        ..Options::default()
    })
    .await;
    let medusa = PerStoreMedusa::start(&platform.cluster, &backend, &platform.dir.join("medusa"))
        .expect("per-store Medusa");
    let kubeconfig = platform.kubeconfig.clone();
    platform.start_worker_as(&kubeconfig, &env);
    let (restore, in_place) =
        medusa_backup_round_trip(&platform, &s3, |namespace| medusa.database_url(namespace)).await;
    println!(
        "medusa backups on the fake cluster: restore into a new store verified {:.1} s after the \
         request; in place {:.1} s",
        restore.as_secs_f64(),
        in_place.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&spool);
    tokio::task::spawn_blocking(move || medusa.stop())
        .await
        .expect("stop");
}
