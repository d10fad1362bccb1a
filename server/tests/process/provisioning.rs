//! Whole store lifecycles end to end: the API (in process) creates stores; real `storeflow
//! worker` processes run `provision-woocommerce`, `provision-medusa` and `teardown-store`
//! with the real kube-rs client against the fake Kubernetes API server (exec over WebSocket,
//! service proxy, simulated controllers) and the fake helm. Workers are SIGKILLed in the
//! middle of `wait-ready` and of a WP-CLI step; the runs still complete, with nothing
//! duplicated. No secret reaches argv, logs or events.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use storeflow::{ApiConfig, AppState, api::StoreSettings, app};
use storeflow_engine::Engine;
use storeflow_fakecluster::local_medusa::PerStoreMedusa;
use storeflow_fakecluster::wpcli::Output;
use storeflow_fakecluster::{FakeCluster, Options};
use tower::ServiceExt;
use uuid::Uuid;

use crate::storeflow;

pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const JWT: &str = "provisioning-test-secret-0123456789abcdef";

pub struct Platform<C = FakeCluster> {
    pub db: storeflow_testkit::TestDatabase,
    pub pool: PgPool,
    pub router: Router,
    pub cluster: C,
    pub dir: PathBuf,
    pub helm_log: PathBuf,
    pub kubeconfig: PathBuf,
    pub helm: PathBuf,
    /// The store chart this "build" ships: what workers install and the API upgrades to.
    pub chart: PathBuf,
    engine: Engine,
    workers: Vec<Child>,
}

impl Platform<FakeCluster> {
    pub async fn start(options: Options) -> Platform {
        let cluster = FakeCluster::start_with(options).await;
        let dir = std::env::temp_dir().join(format!("storeflow-e2e-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let kubeconfig = cluster.write_kubeconfig(&dir);
        let helm = dir.join("helm");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_storeflow-fakecluster"), &helm)
            .expect("fake helm");
        Platform::assemble(cluster, dir, kubeconfig, helm).await
    }

    /// Starts a `storeflow worker` process as it runs in a pod: no kubeconfig anywhere, the
    /// API server at `KUBERNETES_SERVICE_HOST`/`PORT`, the service account's files mounted
    /// (at `STOREFLOW_SERVICE_ACCOUNT_DIR` instead of /var/run/secrets/...). The fake must
    /// have been started with `Options::service_account_token`.
    pub fn start_worker_in_pod(&mut self) -> usize {
        let service_account = self.dir.join("serviceaccount");
        self.cluster
            .write_service_account(&service_account, "storeflow-system");
        let mut command = storeflow(&self.db.url);
        command
            .env_remove("KUBECONFIG")
            .env("HOME", &self.dir)
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", self.cluster.port().to_string())
            .env("STOREFLOW_SERVICE_ACCOUNT_DIR", &service_account);
        self.spawn_worker(command)
    }

    /// Every text a secret must never appear in: helm argv, exec argv, run events and state,
    /// worker logs.
    pub async fn public_texts(&self) -> String {
        let helm = std::fs::read_to_string(&self.helm_log).unwrap_or_default();
        let exec: Vec<String> = self
            .cluster
            .exec_log()
            .iter()
            .map(|e| e.command.join(" "))
            .collect();
        let (events,): (Option<String>,) = sqlx::query_as(
            "SELECT string_agg(coalesce(data::text, ''), ' ') FROM workflow_run_events",
        )
        .fetch_one(&self.pool)
        .await
        .expect("events");
        let (state,): (Option<String>,) =
            sqlx::query_as("SELECT string_agg(input::text || state::text || coalesce(error, ''), ' ') FROM workflow_runs")
                .fetch_one(&self.pool)
                .await
                .expect("runs");
        let (attempts,): (Option<String>,) = sqlx::query_as(
            "SELECT string_agg(coalesce(error, ''), ' ') FROM workflow_step_attempts",
        )
        .fetch_one(&self.pool)
        .await
        .expect("attempts");
        format!(
            "{helm}\n{}\n{}\n{}\n{}\n{}",
            exec.join("\n"),
            events.unwrap_or_default(),
            state.unwrap_or_default(),
            attempts.unwrap_or_default(),
            self.worker_logs()
        )
    }

    /// One value of the store's Secret, decoded.
    pub fn store_secret(&self, key: &str, namespace: &str) -> String {
        let secret = self
            .cluster
            .get("secrets", namespace, "store-secrets")
            .expect("store secret exists");
        secret["data"][key]
            .as_str()
            .and_then(base64_decode)
            .expect("key present")
    }

    /// The values of the store's Secret, decoded.
    pub fn store_secret_values(&self, namespace: &str) -> Vec<String> {
        let secret = self
            .cluster
            .get("secrets", namespace, "store-secrets")
            .expect("store secret exists");
        secret["data"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(_, v)| v.as_str().and_then(base64_decode))
            .collect()
    }
}

impl<C> Platform<C> {
    /// The API in process (on a database of its own) beside `cluster`, whose kubeconfig and
    /// helm the workers get.
    pub async fn assemble(cluster: C, dir: PathBuf, kubeconfig: PathBuf, helm: PathBuf) -> Self {
        let db = storeflow_testkit::database().await;
        let pool = db.pool(8).await;
        let engine = Engine::start(pool.clone(), storeflow_workflows::registry())
            .await
            .expect("engine");
        let chart = store_chart();
        let router = api_router(&engine, &chart);
        Platform {
            db,
            pool,
            router,
            cluster,
            helm_log: dir.join("helm.log"),
            kubeconfig,
            helm,
            chart,
            engine,
            dir,
            workers: Vec::new(),
        }
    }

    /// Ships another store chart, as a new build of storeflow would: the API upgrades stores
    /// to its versions, and workers started from now on install it. Running workers are
    /// stopped (SIGTERM, as a rolling deploy does).
    pub async fn ship_chart(&mut self, chart: &Path) {
        self.chart = chart.to_owned();
        self.router = api_router(&self.engine, chart);
        for child in &mut self.workers {
            if child.try_wait().ok().flatten().is_some() {
                continue;
            }
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let stop_by = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < stop_by {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a `storeflow worker` process with the cluster's kubeconfig; its log goes to
    /// `<dir>/worker-<n>.log`.
    pub fn start_worker(&mut self) -> usize {
        let mut command = storeflow(&self.db.url);
        command.env("KUBECONFIG", &self.kubeconfig);
        self.spawn_worker(command)
    }

    /// Starts a `storeflow worker` process with another identity's kubeconfig and more
    /// environment (e.g. `HELM_DRIVER`).
    pub fn start_worker_as(&mut self, kubeconfig: &Path, env: &[(&str, &str)]) -> usize {
        let mut command = storeflow(&self.db.url);
        command
            .env("KUBECONFIG", kubeconfig)
            .envs(env.iter().copied());
        self.spawn_worker(command)
    }

    pub fn spawn_worker(&mut self, mut command: std::process::Command) -> usize {
        use std::os::unix::process::CommandExt;
        // A process group of its own, so a kill takes its helm and other children with it,
        // as the kill of a worker's pod does.
        command.process_group(0);
        let n = self.workers.len();
        let log = std::fs::File::create(self.dir.join(format!("worker-{n}.log"))).expect("log");
        let child = command
            .args([
                "worker",
                "--lease",
                "3s",
                "--poll-interval",
                "100ms",
                "--shutdown-grace",
                "1s",
            ])
            .env("HELM_BIN", &self.helm)
            .env("HELM_CHART_PATH", &self.chart)
            .env("FAKE_HELM_LOG", &self.helm_log)
            .env("STOREFLOW_ENCRYPTION_KEY", KEY)
            // Everything storeflow says; the libraries' connection chatter only at info.
            .env(
                "STOREFLOW_LOG",
                "debug,sqlx::query=info,hyper_util=info,rustls=info,tower=info",
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("worker starts");
        self.workers.push(child);
        n
    }

    /// SIGKILLs worker `n` and every process it started (helm mid-operation included), as
    /// the kill of its pod would: no shutdown of any kind.
    pub fn kill_worker(&mut self, n: usize) {
        let group = format!("-{}", self.workers[n].id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .status();
        let _ = self.workers[n].kill();
        let _ = self.workers[n].wait();
    }

    pub fn worker_logs(&self) -> String {
        (0..self.workers.len())
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("worker-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn register(&self, email: &str, username: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({ "email": email, "username": username, "password": "correct horse battery" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn create_store(&self, token: &str, body: Value) -> String {
        let (status, reply) = self
            .call(Method::POST, "/api/v1/stores", Some(token), Some(body))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
        reply["store"]["id"].as_str().expect("id").to_owned()
    }

    pub async fn store(&self, token: &str, id: &str) -> Value {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/stores/{id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["store"].clone()
    }

    /// Waits until the store has `status`; fails with the store's progress otherwise.
    pub async fn wait_status(
        &self,
        token: &str,
        id: &str,
        status: &str,
        within: Duration,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let store = self.store(token, id).await;
            if store["status"] == status {
                return store;
            }
            if Instant::now() > deadline {
                panic!(
                    "store {id} did not become {status} within {within:?}: {}\nworker log tail:\n{}",
                    serde_json::to_string_pretty(&store).unwrap_or_default(),
                    tail(&self.worker_logs(), 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deletes the store through the API and waits until its teardown has finished.
    pub async fn delete_store(&self, token: &str, id: &str, within: Duration) -> Value {
        let (status, body) = self
            .call(
                Method::DELETE,
                &format!("/api/v1/stores/{id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        self.wait_status(token, id, "deleted", within).await
    }

    /// Rotates the store's admin password to `password` and waits until the rotation run
    /// applied it.
    pub async fn rotate(&self, token: &str, id: &str, password: &str) {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/v1/stores/{id}/rotate-credentials"),
                Some(token),
                Some(json!({ "password": password })),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let run: Uuid = body["run"]["id"]
            .as_str()
            .expect("run")
            .parse()
            .expect("uuid");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status,): (String,) =
                sqlx::query_as("SELECT status::text FROM workflow_runs WHERE id = $1")
                    .bind(run)
                    .fetch_one(&self.pool)
                    .await
                    .expect("run");
            if status == "succeeded" {
                break;
            }
            assert!(
                Instant::now() < deadline && status != "failed",
                "the rotation run is {status}:\n{}",
                tail(&self.worker_logs(), 40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let store = self.store(token, id).await;
        assert_eq!(store["adminCredentials"]["password"], password);
        assert!(store.get("rotation").is_none(), "{store}");
    }

    /// Waits until the store's current run is at `step` (by name).
    pub async fn wait_step(&self, id: &str, step: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let at: Option<(Option<String>,)> = sqlx::query_as(
                "SELECT d.step_name FROM stores s JOIN workflow_runs r ON r.id = s.current_run_id \
                 LEFT JOIN workflow_definition_steps d ON d.workflow = r.workflow AND d.version = r.version \
                   AND d.step_index = r.current_step WHERE s.id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .expect("progress");
            if at.and_then(|(s,)| s).as_deref() == Some(step) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "store {id} never reached step {step}:\n{}",
                tail(&self.worker_logs(), 40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl<C> Drop for Platform<C> {
    fn drop(&mut self) {
        for child in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failed test keeps its logs (helm argv, worker logs) for a look.
        if std::thread::panicking() {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The API of a build that ships the store chart at `chart`.
fn api_router(engine: &Engine, chart: &Path) -> Router {
    let config = ApiConfig {
        register_rate_max: 1000,
        sealer: storeflow_executors::store::sealing::Sealer::from_hex(KEY).expect("key"),
        stores: StoreSettings {
            creation_cooldown: Duration::ZERO,
            // Fleet tests create hundreds of stores for a few tenants.
            max_per_user: 1_000,
            // The backup tests give their workers a bucket.
            backups_configured: true,
            release: Some(
                storeflow_executors::chart::ChartRelease::read(chart).expect("chart versions"),
            ),
            ..StoreSettings::default()
        },
        ..ApiConfig::default()
    };
    app(AppState::new(engine.clone(), JWT, config, None))
}

/// The store chart storeflow installs.
pub fn store_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/ecommerce-store")
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Standard base64 (what the API server stores Secret data as).
fn base64_decode(text: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|c| *c == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}

fn assert_no_secret(texts: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(secret.len() >= 8, "secret too short to check: {secret}");
        assert!(
            !texts.contains(secret.as_str()),
            "a secret leaked into argv, logs or events"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_woocommerce_store_is_provisioned_verified_and_torn_down() {
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(200)),
        ..Options::default()
    })
    .await;
    let _admin = platform.register("admin@example.com", "admin").await;
    let tenant = platform.register("alice@example.com", "alice").await;
    let password = "Tenant-Chosen-Pass-42";
    let id = platform
        .create_store(&tenant, json!({ "name": "alice-shop", "engine": "woocommerce", "theme": "astra", "password": password }))
        .await;
    platform.start_worker();
    let started = Instant::now();
    let store = platform
        .wait_status(&tenant, &id, "ready", Duration::from_secs(90))
        .await;
    // Orchestration overhead: the provisioning time not spent waiting for the (fake) cluster
    // to roll workloads out.
    let total = store["provisioningDurationMs"].as_i64().expect("duration");
    let waiting: i64 = store["progress"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["name"] == "wait-ready" || s["name"] == "wait-published")
        .filter_map(|s| s["durationMs"].as_i64())
        .sum();
    eprintln!(
        "provision-woocommerce on the fake cluster: ready after {:?}; {total} ms from creation, \
         {waiting} ms waiting for rollouts, orchestration overhead {} ms",
        started.elapsed(),
        total - waiting
    );

    // What the API shows.
    assert_eq!(
        store["urls"]["storefront"],
        format!("http://{id}.localhost/")
    );
    assert_eq!(
        store["urls"]["admin"],
        format!("http://{id}.localhost/wp-admin/")
    );
    assert_eq!(store["adminCredentials"]["password"], password);
    assert_eq!(store["progress"]["percent"], 100);
    let (first_order_ms,): (Option<i64>,) =
        sqlx::query_as("SELECT first_order_ms FROM stores WHERE id = $1")
            .bind(&id)
            .fetch_one(&platform.pool)
            .await
            .expect("store");
    assert!(
        first_order_ms.is_some_and(|ms| ms > 0),
        "time to first order recorded"
    );

    // The site as WP-CLI left it.
    let site = platform.cluster.site(&id).expect("the site was set up");
    assert!(site.installed);
    assert_eq!(
        site.admin_password, password,
        "the tenant's password, applied through stdin"
    );
    assert_eq!(site.url, format!("http://{id}.localhost"));
    assert_eq!(
        site.plugins.get("woocommerce"),
        Some(&("9.5.2".to_owned(), true))
    );
    assert_eq!(site.active_theme, "astra");
    assert_eq!(
        site.options
            .get("woocommerce_coming_soon")
            .map(String::as_str),
        Some("no")
    );
    assert!(site.options["woocommerce_cod_settings"].contains("\"enabled\":\"yes\""));
    assert!(site.pages_installed);
    assert_eq!(
        site.shipping_zone_methods.get(&0),
        Some(&vec!["flat_rate".to_owned()])
    );
    let skus: Vec<&str> = site.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, ["TSHIRT-001", "HEADPHONES-001", "WALLET-001"]);
    assert_eq!(site.orders.len(), 1);
    assert_eq!(
        site.orders[0].status, "cancelled",
        "the verification order is cancelled"
    );

    // Exact WP-CLI argv: every command has the docroot; core install takes the password on stdin.
    let log = platform.cluster.exec_log();
    assert!(log.iter().all(|e| e.container == "wp-cli"
        && e.command[0] == "wp"
        && e.command.last().map(String::as_str) == Some("--path=/var/www/html")));
    let install = log
        .iter()
        .find(|e| e.command[1] == "core" && e.command[2] == "install")
        .expect("core install");
    assert_eq!(
        install.command,
        [
            "wp",
            "core",
            "install",
            &format!("--url=http://{id}.localhost"),
            "--title=alice-shop",
            "--admin_user=admin",
            "--admin_email=alice@example.com",
            "--skip-email",
            "--prompt=admin_password",
            "--path=/var/www/html"
        ]
    );
    assert_eq!(install.stdin, format!("{password}\n").as_bytes());
    assert!(
        log.iter()
            .filter(|e| e.command[1] == "wc")
            .all(|e| e.command.iter().any(|a| a == "--user=admin"))
    );
    // The Ingress exists only after the install (published at the end).
    let ingress = platform
        .cluster
        .get("ingresses", &id, "wordpress")
        .expect("published");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        format!("{id}.localhost")
    );
    let helm = std::fs::read_to_string(&platform.helm_log).expect("helm log");
    let calls: Vec<Value> = helm
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Before each install, the release's status (a pending release would be repaired first).
    assert!(
        calls
            .iter()
            .filter(|c| c[0] == "status")
            .all(|c| c == &json!(["status", id, "--namespace", id, "-o", "json"]))
    );
    let installs: Vec<&Value> = calls.iter().filter(|c| c[0] == "upgrade").collect();
    assert_eq!(
        installs.len(),
        2,
        "one install without Ingress, one publication: {helm}"
    );
    for argv in installs {
        let argv: Vec<&str> = argv
            .as_array()
            .expect("argv")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            &argv[..6],
            [
                "upgrade",
                "--install",
                &id,
                &store_chart().to_string_lossy(),
                "--namespace",
                &id
            ]
        );
        assert_eq!(argv[6], "--values");
        assert!(argv[7].contains("storeflow-values-") && argv[7].ends_with(".json"));
        assert!(!Path::new(argv[7]).exists(), "the values file is removed");
        assert_eq!(&argv[8..], ["--timeout", argv[9], "-o", "json"]);
    }

    // No secret anywhere public.
    let mut secrets = platform.store_secret_values(&id);
    assert_eq!(
        secrets.len(),
        2,
        "mariadb-root-password and mariadb-password"
    );
    secrets.push(password.to_owned());
    assert_no_secret(&platform.public_texts().await, &secrets);

    // Rotation: the new password reaches WP-CLI on stdin; the old one stops working.
    platform.rotate(&tenant, &id, "Rotated-Pass-77").await;
    let site = platform.cluster.site(&id).expect("site");
    assert_eq!(site.admin_password, "Rotated-Pass-77");
    let update = platform
        .cluster
        .exec_log()
        .into_iter()
        .find(|e| e.command.get(1).map(String::as_str) == Some("user"))
        .expect("wp user update");
    assert_eq!(
        update.command,
        [
            "wp",
            "user",
            "update",
            "admin",
            "--skip-email",
            "--prompt=user_pass",
            "--path=/var/www/html"
        ]
    );
    assert_eq!(update.stdin, b"Rotated-Pass-77\n");
    assert_no_secret(
        &platform.public_texts().await,
        &["Rotated-Pass-77".to_owned()],
    );

    // Teardown.
    platform
        .delete_store(&tenant, &id, Duration::from_secs(60))
        .await;
    assert!(
        !platform.cluster.namespaces().contains(&id),
        "the namespace is gone"
    );
    let helm = std::fs::read_to_string(&platform.helm_log).expect("helm log");
    assert!(
        helm.lines().any(|l| l.starts_with("[\"uninstall\"")),
        "{helm}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_in_a_pod_provisions_and_tears_down_through_its_service_account() {
    // The fake serves HTTPS with its own CA and refuses any other bearer token, like an API
    // server reached from a pod.
    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.service-account-of-storeflow";
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(200)),
        service_account_token: Some(TOKEN.to_owned()),
    })
    .await;
    let _admin = platform.register("admin@example.com", "admin").await;
    let tenant = platform.register("alice@example.com", "alice").await;
    let id = platform
        .create_store(
            &tenant,
            json!({ "name": "pod-shop", "engine": "woocommerce" }),
        )
        .await;
    platform.start_worker_in_pod();
    let store = platform
        .wait_status(&tenant, &id, "ready", Duration::from_secs(90))
        .await;
    assert_eq!(store["progress"]["percent"], 100);
    let logs = platform.worker_logs();
    assert!(
        logs.contains("in-cluster service account (namespace storeflow-system)")
            && logs.contains(&format!("https://127.0.0.1:{}", platform.cluster.port())),
        "the worker says which cluster it uses:\n{}",
        tail(&logs, 20)
    );
    // helm reached the same API server with the same identity: its objects and release
    // records exist (the fake refuses requests without the token).
    assert!(
        platform
            .cluster
            .get("deployments", &id, "wordpress")
            .is_some()
    );
    let helm = std::fs::read_to_string(&platform.helm_log).expect("helm log");
    assert_eq!(
        helm.lines()
            .filter(|l| l.starts_with("[\"upgrade\""))
            .count(),
        2,
        "{helm}"
    );
    // WP-CLI ran over exec through the service account too.
    let site = platform.cluster.site(&id).expect("the site was set up");
    assert!(site.installed);

    platform
        .delete_store(&tenant, &id, Duration::from_secs(60))
        .await;
    assert!(!platform.cluster.namespaces().contains(&id));

    // The token reached helm in its environment, never its argv, a log or an event.
    assert_no_secret(&platform.public_texts().await, &[TOKEN.to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_cancel_of_the_test_order_leaves_no_live_order_in_the_shop() {
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(100)),
        ..Options::default()
    })
    .await;
    let _admin = platform.register("admin@example.com", "admin").await;
    let tenant = platform.register("alice@example.com", "alice").await;
    let id = platform
        .create_store(
            &tenant,
            json!({ "name": "alice-shop", "engine": "woocommerce" }),
        )
        .await;
    // The first cancel of a test order fails (the order stays live), as when the worker dies
    // between checkout and cancel.
    let failed_once = Arc::new(AtomicBool::new(false));
    {
        let failed_once = failed_once.clone();
        platform.cluster.set_exec_handler(Arc::new(move |request| {
            let cancelling = request.command.iter().any(|a| a == "update")
                && request.command.iter().any(|a| a == "--status=cancelled");
            if cancelling && !failed_once.swap(true, Ordering::SeqCst) {
                return Some(Output {
                    stdout: String::new(),
                    stderr: "Error: connection to the database lost".into(),
                    code: 1,
                });
            }
            None
        }));
    }
    platform.start_worker();
    platform
        .wait_status(&tenant, &id, "ready", Duration::from_secs(90))
        .await;
    assert!(failed_once.load(Ordering::SeqCst), "the cancel failed once");
    let site = platform.cluster.site(&id).expect("site");
    assert_eq!(site.orders.len(), 2, "the retry placed a second test order");
    assert!(
        site.orders.iter().all(|o| o.status == "cancelled"),
        "no live test order is left behind: {:?}",
        site.orders
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_workers_in_wait_ready_and_in_wp_cli_leave_a_complete_store_without_duplicates() {
    // No controllers: pods become ready only when the test says so.
    let mut platform = Platform::start(Options::default()).await;
    let _admin = platform.register("admin@example.com", "admin").await;
    let tenant = platform.register("alice@example.com", "alice").await;
    let id = platform
        .create_store(
            &tenant,
            json!({ "name": "crash-shop", "engine": "woocommerce" }),
        )
        .await;

    // 1. Killed while durably polling in wait-ready.
    let first = platform.start_worker();
    platform
        .wait_step(&id, "wait-ready", Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    platform.kill_worker(first);
    platform.cluster.roll_out(&id);

    // 2. Killed while `wp wc product create` for the second product is running in the pod.
    let gate = Arc::new(AtomicBool::new(true));
    let entered = Arc::new(AtomicBool::new(false));
    {
        let (gate, entered) = (gate.clone(), entered.clone());
        platform.cluster.set_exec_handler(Arc::new(move |request| {
            let creating_second = request.command.iter().any(|a| a == "create")
                && request.command.iter().any(|a| a == "--sku=HEADPHONES-001");
            if creating_second {
                entered.store(true, Ordering::SeqCst);
                // The command keeps running in the pod while the worker dies, then completes.
                while gate.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            None::<Output>
        }));
    }
    let second = platform.start_worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !entered.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "never reached the product step:\n{}",
            tail(&platform.worker_logs(), 40)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    platform.kill_worker(second);
    gate.store(false, Ordering::SeqCst);

    platform.start_worker();
    platform
        .wait_status(&tenant, &id, "ready", Duration::from_secs(90))
        .await;

    let site = platform.cluster.site(&id).expect("site");
    let mut skus: Vec<&str> = site.products.iter().map(|p| p.sku.as_str()).collect();
    skus.sort_unstable();
    assert_eq!(
        skus,
        ["HEADPHONES-001", "TSHIRT-001", "WALLET-001"],
        "no product twice"
    );
    let installs = platform
        .cluster
        .exec_log()
        .iter()
        .filter(|e| e.command[1] == "core" && e.command[2] == "install")
        .count();
    assert_eq!(installs, 1, "WordPress installed once");
    let (rescues,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM workflow_step_attempts a JOIN stores s ON s.current_run_id = a.run_id \
         WHERE s.id = $1 AND a.outcome = 'rescued'",
    )
    .bind(&id)
    .fetch_one(&platform.pool)
    .await
    .expect("attempts");
    assert!(
        rescues >= 1,
        "the in-flight product step was rescued after the kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_medusa_store_is_set_up_and_verified_against_a_real_medusa() {
    use storeflow_executors::medusa::{Admin, MedusaSetup};
    use storeflow_executors::service_proxy::Service;

    let backend = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/medusa-backend");
    assert!(
        backend.join("node_modules/.bin/medusa").exists(),
        "the real-Medusa tests need the Medusa backend package: run `npm ci` in charts/medusa-backend (scripts/test-all.sh does)"
    );
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(200)),
        ..Options::default()
    })
    .await;
    // The store gets a real Medusa of its own once its `medusa` Deployment is written: its
    // Service leads there and its container runs real commands against its database.
    let medusa = PerStoreMedusa::start(&platform.cluster, &backend, &platform.dir.join("medusa"))
        .expect("per-store Medusa");
    let _admin = platform.register("admin@example.com", "admin").await;
    let tenant = platform.register("alice@example.com", "alice").await;
    let id = platform
        .create_store(&tenant, json!({ "name": "tea-house", "engine": "medusa" }))
        .await;
    platform.start_worker();
    let store = platform
        .wait_status(&tenant, &id, "ready", Duration::from_secs(180))
        .await;
    // This platform serves stores over HTTP, where Medusa's admin cannot sign in (its session
    // cookie is Secure): no admin URL rather than a sign-in page that silently fails.
    assert_eq!(
        store["urls"]["storefront"],
        format!("http://{id}.localhost/")
    );
    assert!(store["urls"]["admin"].is_null(), "{}", store["urls"]);
    assert!(store["adminCredentials"]["loginUrl"].is_null());
    let email = store["adminCredentials"]["email"]
        .as_str()
        .expect("email")
        .to_owned();
    let password = store["adminCredentials"]["password"]
        .as_str()
        .expect("password")
        .to_owned();

    // Timings of the Medusa steps against the real Medusa.
    let timings: Vec<(String, f64)> = sqlx::query_as(
        "SELECT d.step_name, extract(epoch FROM a.finished_at - a.started_at)::float8 \
         FROM workflow_step_attempts a JOIN stores s ON s.current_run_id = a.run_id \
         JOIN workflow_runs r ON r.id = a.run_id \
         JOIN workflow_definition_steps d ON d.workflow = r.workflow AND d.version = r.version AND d.step_index = a.step_index \
         WHERE s.id = $1 AND a.outcome = 'succeeded' AND d.step_name IN ('medusa-admin-user', 'medusa-setup', 'verify-storefront') \
         ORDER BY a.step_index",
    )
    .bind(&id)
    .fetch_all(&platform.pool)
    .await
    .expect("timings");
    eprintln!("Medusa steps against the real Medusa: {timings:?}");
    assert_eq!(timings.len(), 3);

    // Through the cluster's service proxy, as the executors see it: the Store API lists the
    // products; the verification order exists and is cancelled.
    let client = kube::Client::try_from(kube::Config::new(
        platform.cluster.url().parse().expect("url"),
    ))
    .expect("client");
    let service = Service {
        client,
        namespace: id.clone(),
        name: "medusa".into(),
        port: 9000,
    };
    let products = service
        .call("GET", "/store/products", &[], None)
        .await
        .expect("products");
    let titles: Vec<&str> = products.body["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    // provision-medusa v2: the old platform's catalogue, in its collections, with its
    // shipping options, and Medusa's store named after the store.
    assert_eq!(titles.len(), 8, "{titles:?}");
    let token = platform.store_secret("medusa-admin-token", &id);
    let admin = Admin::new(service.clone(), token);
    let orders = admin.get("/admin/orders").await.expect("orders");
    let orders = orders["orders"].as_array().cloned().unwrap_or_default();
    assert_eq!(orders.len(), 1, "one verification order");
    assert_eq!(orders[0]["status"], "canceled");

    // A verification attempt that placed its order and then lost its worker left it live; the
    // next attempt cancels it before placing (and cancelling) its own.
    use storeflow_executors::medusa::{checkout_and_cancel, place_test_order};
    let setup = MedusaSetup::catalogue_v2()
        .apply_with(&admin, Some("tea-house"))
        .await
        .expect("setup state");
    let key = setup["publishableKey"].as_str().expect("key").to_owned();
    let verify_email = format!("verify@{id}.localhost");
    let stranded = place_test_order(&service, &key, &verify_email)
        .await
        .expect("a stranded order");
    let retried = checkout_and_cancel(&service, &admin, &key, &verify_email)
        .await
        .expect("the retried verification");
    assert_ne!(retried["orderId"], stranded["orderId"]);
    let orders = admin.get("/admin/orders").await.expect("orders");
    let statuses: Vec<&str> = orders["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|o| o["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["canceled", "canceled", "canceled"],
        "no live test order is left"
    );

    // Setup again duplicates nothing.
    let again = MedusaSetup::catalogue_v2()
        .apply_with(&admin, Some("tea-house"))
        .await
        .expect("setup again");
    assert_eq!(again["created"], json!([]), "{again}");
    let products = service
        .call("GET", "/store/products", &[], None)
        .await
        .expect("products");
    assert_eq!(products.body["products"].as_array().map(Vec::len), Some(8));
    let collections = admin.get("/admin/collections").await.expect("collections");
    let mut handles: Vec<&str> = collections["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .filter_map(|c| c["handle"].as_str())
        .collect();
    handles.sort_unstable();
    assert_eq!(
        handles,
        ["best-sellers", "new-arrivals", "summer-collection"]
    );
    let options = admin
        .get(&format!(
            "/admin/shipping-options?region_id={}",
            again["regionId"].as_str().expect("region")
        ))
        .await
        .expect("shipping options");
    let mut names: Vec<&str> = options["shipping_options"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Express Shipping", "Standard Shipping"]);
    let medusa_store = admin.get("/admin/store").await.expect("store");
    assert_eq!(medusa_store["store"]["name"], "tea-house");
    // The storefront was published with the publishable key setup created.
    let storefront = platform
        .cluster
        .get("deployments", &id, "storefront")
        .expect("storefront published");
    let env = storefront["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains(again["publishableKey"].as_str().expect("key")),
        "{env}"
    );

    // The store's owner signs in to the Medusa admin with the credentials the API shows.
    let signed_in = service
        .call(
            "POST",
            "/admin/auth/token",
            &[],
            Some(&json!({ "email": email, "password": password })),
        )
        .await
        .expect("sign in");
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);

    // Rotation: the new password signs in, the old one no longer does.
    platform.rotate(&tenant, &id, "Rotated-Medusa-99").await;
    let sign_in = |password: &str| {
        let body = json!({ "email": email, "password": password });
        let service = service.clone();
        async move {
            service
                .call("POST", "/admin/auth/token", &[], Some(&body))
                .await
                .expect("sign in")
                .status
        }
    };
    assert_eq!(sign_in("Rotated-Medusa-99").await, 200);
    assert_eq!(sign_in(&password).await, 401);

    let mut secrets = platform.store_secret_values(&id);
    assert_eq!(secrets.len(), 4);
    secrets.push(password.clone());
    assert_no_secret(&platform.public_texts().await, &secrets);
    assert_eq!(medusa.running(), 1);
    tokio::task::spawn_blocking(move || medusa.stop())
        .await
        .expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cleanup_schedules_reap_failed_stores_orphan_namespaces_and_old_history() {
    let mut platform = Platform::start(Options {
        auto_ready: Some(Duration::from_millis(100)),
        ..Options::default()
    })
    .await;
    let admin = platform.register("admin@example.com", "admin").await;
    let tenant = platform.register("alice@example.com", "alice").await;
    // A store that failed long ago...
    let failed = platform
        .create_store(
            &tenant,
            json!({ "name": "old-failure", "engine": "medusa" }),
        )
        .await;
    sqlx::query(
        "UPDATE workflow_runs SET status = 'failed', current_step = 1, error = 'cluster gone', \
         finished_at = now() WHERE subject = $1",
    )
    .bind(&failed)
    .execute(&platform.pool)
    .await
    .expect("failed run");
    sqlx::query("UPDATE stores SET updated_at = now() - interval '8 days' WHERE id = $1")
        .bind(&failed)
        .execute(&platform.pool)
        .await
        .expect("aged");
    // ...the namespace of a store deleted here whose teardown left it behind, one of a store id
    // this database does not know (another installation's: never touched), and a live store's.
    let label = |store: &str| {
        json!({ "metadata": { "name": store, "labels": {
        "app.kubernetes.io/managed-by": "storeflow", "storeflow.io/store-id": store } } })
    };
    platform
        .cluster
        .put("namespaces", "", label("store-0dead0ff"));
    platform
        .cluster
        .put("namespaces", "", label("store-0e1sewhe"));
    sqlx::query(
        "INSERT INTO stores (id, owner_id, name, engine, namespace, status, deleted_at) \
         SELECT 'store-0dead0ff', owner_id, 'gone', 'medusa', 'store-0dead0ff', 'deleted', now() \
         FROM stores WHERE id = $1",
    )
    .bind(&failed)
    .execute(&platform.pool)
    .await
    .expect("deleted store");
    // A store that served for a month, then failed in an upgrade that could not roll back, as
    // long ago: it holds its tenant's data and is left to them.
    sqlx::query(
        "INSERT INTO stores (id, owner_id, name, engine, namespace, status, current_operation, \
                             ready_at, created_at, updated_at) \
         SELECT 'store-0000feed', owner_id, 'served', 'medusa', 'store-0000feed', 'failed', 'upgrade', \
                now() - interval '30 days', now() - interval '31 days', now() - interval '8 days' \
         FROM stores WHERE id = $1",
    )
    .bind(&failed)
    .execute(&platform.pool)
    .await
    .expect("a store that served");
    let live = platform
        .create_store(&tenant, json!({ "name": "alive", "engine": "woocommerce" }))
        .await;
    // Old history next to recent history.
    sqlx::query(
        "INSERT INTO audit_events (at, category, action) VALUES (now() - interval '40 days', 'store', 'ancient'), (now(), 'store', 'recent')",
    )
    .execute(&platform.pool)
    .await
    .expect("audit");

    platform.start_worker();
    platform
        .wait_status(&tenant, &live, "ready", Duration::from_secs(60))
        .await;
    for schedule in ["reap-failed-stores", "reap-orphans", "prune-history"] {
        let (status, body) = platform
            .call(
                Method::POST,
                &format!("/api/v1/schedules/{schedule}/run"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{schedule}: {body}");
    }
    platform
        .wait_status(&tenant, &failed, "deleted", Duration::from_secs(60))
        .await;
    let (served,): (String,) =
        sqlx::query_as("SELECT status::text FROM stores WHERE id = 'store-0000feed'")
            .fetch_one(&platform.pool)
            .await
            .expect("served store");
    assert_eq!(served, "failed", "a store that served is never reaped");
    let deadline = Instant::now() + Duration::from_secs(60);
    while platform
        .cluster
        .namespaces()
        .contains(&"store-0dead0ff".to_owned())
    {
        assert!(
            Instant::now() < deadline,
            "the orphan namespace was not removed:\n{}",
            tail(&platform.worker_logs(), 30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        platform.cluster.namespaces().contains(&live),
        "a live store's namespace is never touched"
    );
    assert!(
        platform
            .cluster
            .namespaces()
            .contains(&"store-0e1sewhe".to_owned()),
        "a namespace of a store this database does not know is never touched"
    );
    assert_eq!(platform.store(&tenant, &live).await["status"], "ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ancient, recent): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE action = 'ancient'), count(*) FILTER (WHERE action = 'recent') FROM audit_events",
        )
        .fetch_one(&platform.pool)
        .await
        .expect("audit");
        if ancient == 0 {
            assert_eq!(recent, 1, "recent history is kept");
            break;
        }
        assert!(Instant::now() < deadline, "prune-history did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (reaped,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_events WHERE subject = $1 AND action = 'store_reaped'",
    )
    .bind(&failed)
    .fetch_one(&platform.pool)
    .await
    .expect("audit");
    assert_eq!(reaped, 1);
}
