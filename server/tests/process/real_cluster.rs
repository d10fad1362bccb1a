//! The store workflows against a **real** control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok nodes — `testkit::realcluster`) with the
//! **real** helm installing `charts/ecommerce-store`: real worker processes provision stores
//! to ready (verification included), tear them down until the namespace controller has
//! removed the namespace, rotate credentials, recover from a worker SIGKILLed mid-flow, and
//! fail fast on a failing rollout that an operator then heals.
//!
//! What the pods would run is wired in the cluster's pod network by
//! `testkit::store_backends` (the same wiring `storeflow-realcluster` gives a cluster started by
//! hand): the simulated WordPress sites (`storeflow-fakecluster sites`: the Store API for every
//! WordPress pod IP; WP-CLI through kwok's exec of a `wp` shim) and a real Medusa v1.20 on port
//! 9000 for every Medusa pod IP. Needs root (network namespaces); CI runs as root.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use storeflow_testkit::realcluster::{Fault, RealCluster};
use storeflow_testkit::store_backends::StoreBackends;

use crate::provisioning::{Platform, tail};

/// What the pods of the shared real cluster stand for, wired once per test binary.
pub type RealWorld = StoreBackends;

/// The shared world (the cluster starts on first use: ~10 s with its binaries built).
pub fn world() -> &'static RealWorld {
    static WORLD: OnceLock<Arc<StoreBackends>> = OnceLock::new();
    WORLD.get_or_init(|| {
        StoreBackends::start(
            RealCluster::shared(),
            Path::new(env!("CARGO_BIN_EXE_storeflow-fakecluster")),
        )
        .unwrap_or_else(|err| {
            panic!(
                "the real-cluster tests need root: they route the pod network into a network \
                 namespace ({err:#})"
            )
        })
    })
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared world, in which every Medusa store gets a real Medusa and PostgreSQL of its own.
pub fn world_with_medusa() -> &'static RealWorld {
    let world = world();
    if let Err(err) = world.start_medusa() {
        panic!("{err:#}");
    }
    world
}

impl Platform<&'static RealWorld> {
    /// The API in process and workers against the real cluster with the real helm.
    pub async fn start_real() -> Self {
        let world = tokio::task::block_in_place(world);
        let dir =
            std::env::temp_dir().join(format!("storeflow-real-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let kubeconfig = world.cluster().kubeconfig().to_owned();
        Platform::assemble(world, dir, kubeconfig, world.cluster().helm()).await
    }

    async fn namespace_exists(&self, name: &str) -> bool {
        let client = self.cluster.cluster().client().await.expect("client");
        Api::<Namespace>::all(client)
            .get_opt(name)
            .await
            .expect("get")
            .is_some()
    }

    fn helm_json(&self, args: &[&str]) -> Value {
        let output = self
            .cluster
            .cluster()
            .helm_command()
            .args(args)
            .output()
            .expect("helm runs");
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    }
}

async fn tenant_and_store(
    platform: &Platform<&'static RealWorld>,
    name: &str,
    engine: &str,
) -> (String, String) {
    let email = format!("{name}@example.com");
    let token = platform.register(&email, name).await;
    let id = platform
        .create_store(&token, json!({ "name": format!("{name}-shop"), "engine": engine, "password": "Tenant-Pass-2024" }))
        .await;
    (token, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_woocommerce_store_is_provisioned_verified_rotated_and_torn_down_on_a_real_cluster() {
    let mut platform = Platform::start_real().await;
    platform.start_worker();
    let (token, id) = tenant_and_store(&platform, "realwoo", "woocommerce").await;
    let started = Instant::now();
    let store = platform
        .wait_status(&token, &id, "ready", Duration::from_secs(240))
        .await;
    let to_ready = started.elapsed();
    assert_eq!(store["progress"]["percent"], 100, "{store}");

    // The site as WP-CLI (through kwok's exec) left it, and the verification order cancelled.
    let site = platform.cluster.site(&id).expect("site");
    assert_eq!(site["installed"], true, "{site}");
    assert_eq!(site["adminPassword"], "Tenant-Pass-2024");
    assert_eq!(site["openToShoppers"], true);
    let skus: Vec<&str> = site["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["sku"].as_str())
        .collect();
    assert_eq!(skus, ["TSHIRT-001", "HEADPHONES-001", "WALLET-001"]);
    let orders = site["orders"].as_array().expect("orders");
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0]["status"], "cancelled",
        "the verification order is cancelled"
    );

    // The real helm's release: deployed, two revisions (installed without Ingress, then
    // published), and the Ingress the publication added.
    let release = platform.helm_json(&["status", &id, "--namespace", &id, "-o", "json"]);
    assert_eq!(release["info"]["status"], "deployed", "{release}");
    assert_eq!(release["version"], 2, "{release}");
    let ingress = platform
        .cluster
        .cluster()
        .kubectl_command()
        .args(["get", "ingress", "-n", &id, "-o", "json"])
        .output()
        .expect("kubectl");
    let ingress: Value = serde_json::from_slice(&ingress.stdout).expect("json");
    assert_eq!(
        ingress["items"][0]["spec"]["rules"][0]["host"],
        format!("{id}.localhost")
    );

    // Rotation: the new password reaches the site over exec's stdin.
    platform.rotate(&token, &id, "Rotated-Pass-77").await;
    assert_eq!(
        platform.cluster.site(&id).expect("site")["adminPassword"],
        "Rotated-Pass-77"
    );

    // Teardown: until the namespace controller has removed the namespace.
    let deleting = Instant::now();
    platform
        .delete_store(&token, &id, Duration::from_secs(180))
        .await;
    assert!(
        !platform.namespace_exists(&id).await,
        "the namespace is gone when the store is deleted"
    );
    assert!(
        platform
            .helm_json(&["list", "-A", "-o", "json"])
            .as_array()
            .is_none_or(|releases| releases.iter().all(|r| r["name"] != id.as_str())),
        "the release is uninstalled"
    );
    println!(
        "real cluster: woocommerce store ready {:.1} s after creation; torn down (namespace gone) in {:.1} s",
        to_ready.as_secs_f64(),
        deleting.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_medusa_store_is_provisioned_verified_and_upgraded_against_a_real_medusa_on_a_real_cluster()
 {
    tokio::task::block_in_place(world_with_medusa);
    let mut platform = Platform::start_real().await;
    // The first account is the operator.
    let operator = platform.register("ops@example.com", "ops").await;
    platform.start_worker();
    let (token, id) = tenant_and_store(&platform, "realmedusa", "medusa").await;
    let started = Instant::now();
    let store = platform
        .wait_status(&token, &id, "ready", Duration::from_secs(300))
        .await;
    assert_eq!(store["progress"]["percent"], 100, "{store}");
    let (first_order_ms,): (Option<i64>,) =
        sqlx::query_as("SELECT first_order_ms FROM stores WHERE id = $1")
            .bind(&id)
            .fetch_one(&platform.pool)
            .await
            .expect("store");
    assert!(
        first_order_ms.is_some_and(|ms| ms > 0),
        "the verification order was placed"
    );
    println!(
        "real cluster: medusa store ready {:.1} s after creation",
        started.elapsed().as_secs_f64()
    );

    // An upgrade to a newer Medusa image: the publishable key medusa-setup made at
    // provisioning is kept from the release, Medusa's migrations run, a real order verifies.
    use crate::upgrades::{chart_variant, upgrade, wait_store};
    let values = platform.helm_json(&["get", "values", &id, "--namespace", &id, "-o", "json"]);
    let key = values["medusa"]["storefront"]["publishableKey"].clone();
    assert!(
        key.as_str().is_some_and(|k| k.starts_with("pk_")),
        "{values}"
    );
    let newer = chart_variant(&platform.dir, "2.2.0", &[("1.20.10-2", "1.20.10-3")]);
    platform.ship_chart(&newer).await;
    platform.start_worker();
    let (status, body) = upgrade(&platform, &operator, &id, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = body["run"]["id"].as_str().expect("run").to_owned();
    let upgraded = wait_store(
        &platform,
        &token,
        &id,
        Duration::from_secs(300),
        "the upgrade",
        |s| s["status"] == "ready" && s["lastUpgrade"]["status"].is_string(),
    )
    .await;
    assert_eq!(upgraded["lastUpgrade"]["status"], "succeeded", "{upgraded}");
    assert_eq!(upgraded["versions"]["chart"], "2.2.0");
    let values = platform.helm_json(&["get", "values", &id, "--namespace", &id, "-o", "json"]);
    assert_eq!(
        values["medusa"]["storefront"]["publishableKey"], key,
        "{values}"
    );
    assert_eq!(values["medusa"]["storefront"]["enabled"], true, "{values}");
    assert_eq!(
        deployment_image(&platform, &id, "medusa"),
        "storeflow/medusa-backend:1.20.10-3"
    );
    let (migrated,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM workflow_step_attempts a \
           JOIN workflow_definition_steps d ON d.workflow = 'upgrade-medusa' AND d.version = 1 \
            AND d.step_index = a.step_index \
          WHERE a.run_id = $1::uuid AND d.step_name = 'medusa-migrations' AND a.outcome = 'succeeded')",
    )
    .bind(&run)
    .fetch_one(&platform.pool)
    .await
    .expect("attempts");
    assert!(migrated, "medusa migrations ran as a step of their own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_rollout_fails_fast_and_an_operator_heals_it_with_a_step_retry() {
    let mut platform = Platform::start_real().await;
    // The first account is the operator.
    let operator = platform.register("ops@example.com", "ops").await;
    let (token, id) = tenant_and_store(&platform, "crashy", "woocommerce").await;
    // The store's namespace, as storeflow labels it, made to crash-loop before any pod exists.
    let client = platform.cluster.cluster().client().await.expect("client");
    let namespace: Namespace = serde_json::from_value(json!({
        "metadata": { "name": id, "labels": {
            "app.kubernetes.io/managed-by": "storeflow", "storeflow.io/store-id": id } }
    }))
    .expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace created");
    platform
        .cluster
        .cluster()
        .inject_fault(&id, Fault::CrashLoop)
        .await
        .expect("fault");
    platform.start_worker();
    let started = Instant::now();
    let failed = platform
        .wait_status(&token, &id, "failed", Duration::from_secs(180))
        .await;
    let failed_after = started.elapsed();
    assert_eq!(failed["failedStep"], "wait-ready", "{failed}");
    assert!(
        failed["failureReason"]
            .as_str()
            .is_some_and(|r| r.contains("CrashLoopBackOff") || r.contains("crash")),
        "{failed}"
    );
    // Fails fast: the crash loop is recognised, not waited out for the step's timeout.
    assert!(
        failed_after < Duration::from_secs(120),
        "failed after {failed_after:?}"
    );

    // The operator fixes the cause (the next pods start cleanly) and retries the step.
    platform
        .cluster
        .cluster()
        .clear_fault(&id)
        .await
        .expect("clear");
    Api::<Pod>::namespaced(client, &id)
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("pods deleted");
    let run = failed["currentRun"]["id"].as_str().expect("run").to_owned();
    let (status, body) = platform
        .call(
            Method::POST,
            &format!("/api/v1/runs/{run}/steps/wait-ready/retry"),
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    platform
        .wait_status(&token, &id, "ready", Duration::from_secs(240))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_flow_on_a_real_cluster_is_resumed_without_duplicates() {
    let mut platform = Platform::start_real().await;
    let first = platform.start_worker();
    let (token, id) = tenant_and_store(&platform, "killed", "woocommerce").await;
    platform
        .wait_step(&id, "woocommerce-products", Duration::from_secs(180))
        .await;
    platform.kill_worker(first);
    platform.start_worker();
    platform
        .wait_status(&token, &id, "ready", Duration::from_secs(240))
        .await;
    let site = platform.cluster.site(&id).expect("site");
    assert_eq!(
        site["products"].as_array().map(Vec::len),
        Some(3),
        "no product twice: {site}"
    );
    assert_eq!(
        site["orders"].as_array().map(Vec::len),
        Some(1),
        "one verification order: {site}"
    );
    let release = platform.helm_json(&["status", &id, "--namespace", &id, "-o", "json"]);
    assert_eq!(
        release["info"]["status"], "deployed",
        "no release left pending: {release}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reap_orphans_removes_a_deleted_stores_leftover_namespace_from_a_real_cluster() {
    let mut platform = Platform::start_real().await;
    let admin = platform.register("reaper@example.com", "reaper").await;
    let (token, live) = tenant_and_store(&platform, "keeper", "woocommerce").await;
    platform.start_worker();
    platform
        .wait_status(&token, &live, "ready", Duration::from_secs(240))
        .await;
    // A namespace a deleted store left behind (with a workload in it), and one of a store id
    // this database does not know (another installation's: never touched).
    let client = platform.cluster.cluster().client().await.expect("client");
    let orphan = format!("store-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let foreign = format!("store-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    for name in [&orphan, &foreign] {
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": { "name": name, "labels": {
                "app.kubernetes.io/managed-by": "storeflow", "storeflow.io/store-id": name } }
        }))
        .expect("namespace");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace created");
        let config: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(
            json!({ "metadata": { "name": "leftover" }, "data": { "a": "b" } }),
        )
        .expect("configmap");
        Api::namespaced(client.clone(), name)
            .create(&PostParams::default(), &config)
            .await
            .expect("configmap created");
    }
    sqlx::query(
        "INSERT INTO stores (id, owner_id, name, engine, namespace, status, deleted_at) \
         SELECT $2, owner_id, 'gone', 'woocommerce', $2, 'deleted', now() FROM stores WHERE id = $1",
    )
    .bind(&live)
    .bind(&orphan)
    .execute(&platform.pool)
    .await
    .expect("deleted store");

    let (status, body) = platform
        .call(
            Method::POST,
            "/api/v1/schedules/reap-orphans/run",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let started = Instant::now();
    while platform.namespace_exists(&orphan).await {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the orphan namespace was not removed:\n{}",
            tail(&platform.worker_logs(), 30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        platform.namespace_exists(&foreign).await,
        "another installation's namespace is never touched"
    );
    assert!(
        platform.namespace_exists(&live).await,
        "a live store's namespace is never touched"
    );
    assert_eq!(platform.store(&token, &live).await["status"], "ready");
    Api::<Namespace>::all(client)
        .delete(&foreign, &DeleteParams::default())
        .await
        .expect("foreign namespace removed");
}

/// Installs `charts/storeflow` with the real helm (release `storeflow` in
/// `storeflow-system`: its ServiceAccounts, ClusterRoles, bindings and admission policies as
/// a cluster would get them) and writes a kubeconfig with a token of its worker
/// ServiceAccount (TokenRequest, as a pod's projected token).
fn install_control_plane_chart(world: &RealWorld, dir: &Path) -> PathBuf {
    let install = world
        .cluster()
        .helm_command()
        .args(["upgrade", "--install", "storeflow"])
        .arg(repo().join("charts/storeflow"))
        .args([
            "--namespace",
            "storeflow-system",
            "--create-namespace",
            "--set",
            "database.external.existingSecret=storeflow-database",
        ])
        .output()
        .expect("helm runs");
    assert!(
        install.status.success(),
        "helm install of charts/storeflow failed: {}{}",
        String::from_utf8_lossy(&install.stdout),
        String::from_utf8_lossy(&install.stderr)
    );
    let token = world
        .cluster()
        .kubectl_command()
        .args([
            "create",
            "token",
            "storeflow-worker",
            "--namespace",
            "storeflow-system",
            "--duration",
            "1h",
        ])
        .output()
        .expect("kubectl runs");
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout)
        .expect("token")
        .trim()
        .to_owned();
    let view = |path: &str| {
        let output = world
            .cluster()
            .kubectl_command()
            .args(["config", "view", "--raw", "--minify", "--flatten", "-o"])
            .arg(format!("jsonpath={{{path}}}"))
            .output()
            .expect("kubectl runs");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let kubeconfig = dir.join("worker.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n\
             users:\n- name: storeflow-worker\n  user:\n    token: {token}\n\
             contexts:\n- name: worker\n  context:\n    cluster: real\n    user: storeflow-worker\ncurrent-context: worker\n",
            view(".clusters[0].cluster.server"),
            view(".clusters[0].cluster.certificate-authority-data"),
        ),
    )
    .expect("kubeconfig");
    kubeconfig
}

pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

fn doctor(platform: &Platform<&'static RealWorld>, kubeconfig: &Path) -> (bool, String) {
    let output = crate::storeflow(&platform.db.url)
        .arg("doctor")
        .env("KUBECONFIG", kubeconfig)
        .env("HELM_DRIVER", "configmap")
        .env("HELM_BIN", &platform.helm)
        .env("HELM_CHART_PATH", crate::provisioning::store_chart())
        .output()
        .expect("doctor runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_service_accounts_grants_and_fences_from_charts_storeflow_hold_on_the_real_api_server()
 {
    let mut platform = Platform::start_real().await;
    let world = platform.cluster;
    let kubeconfig =
        tokio::task::block_in_place(|| install_control_plane_chart(world, &platform.dir));

    // doctor, asking the real API server (SelfSubjectAccessReviews) as the worker.
    let (ok, report) = tokio::task::block_in_place(|| doctor(&platform, &kubeconfig));
    assert!(
        report.contains("ok   permissions all")
            && report.contains("API operations of provisioning and teardown are allowed"),
        "{report}"
    );
    assert!(ok || !report.contains("FAIL permissions"), "{report}");

    // A whole lifecycle as the chart's worker ServiceAccount, helm's records in ConfigMaps as
    // the chart configures it.
    platform.start_worker_as(&kubeconfig, &[("HELM_DRIVER", "configmap")]);
    let (token, id) = tenant_and_store(&platform, "leastpriv", "woocommerce").await;
    platform
        .wait_status(&token, &id, "ready", Duration::from_secs(240))
        .await;
    assert_eq!(platform.cluster.site(&id).expect("site")["installed"], true);
    platform
        .delete_store(&token, &id, Duration::from_secs(180))
        .await;
    assert!(!platform.namespace_exists(&id).await);

    // The fences: the worker may write in store namespaces only.
    let worker = client_for(&kubeconfig).await;
    let config: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(
        json!({ "metadata": { "name": "not-a-store" }, "data": { "a": "b" } }),
    )
    .expect("configmap");
    let refused =
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(worker.clone(), "default")
            .create(&PostParams::default(), &config)
            .await
            .expect_err("a write outside store namespaces is refused");
    assert!(
        refused
            .to_string()
            .contains("storeflow may only write in store namespaces"),
        "{refused}"
    );
    let namespace: Namespace = serde_json::from_value(json!({
        "metadata": { "name": "payments", "labels": { "app.kubernetes.io/managed-by": "storeflow" } }
    }))
    .expect("namespace");
    let refused = Api::<Namespace>::all(worker)
        .create(&PostParams::default(), &namespace)
        .await
        .expect_err("a namespace that is not a store's is refused");
    assert!(
        refused
            .to_string()
            .contains("may only create, change or delete store namespaces"),
        "{refused}"
    );

    // One rule less (exec into store pods): the next store fails naming what is missing, and
    // doctor says the same.
    let admin = platform.cluster.cluster().client().await.expect("client");
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(admin);
    let mut role = roles.get("storeflow-stores").await.expect("role");
    let rules = role.rules.take().unwrap_or_default();
    let kept: Vec<_> = rules
        .iter()
        .filter(|rule| {
            !rule
                .resources
                .as_ref()
                .is_some_and(|r| r.iter().any(|r| r == "pods/exec"))
        })
        .cloned()
        .collect();
    assert_eq!(kept.len() + 1, rules.len());
    role.rules = Some(kept);
    role.metadata.managed_fields = None;
    roles
        .replace("storeflow-stores", &PostParams::default(), &role)
        .await
        .expect("rule removed");
    let (ok, report) = tokio::task::block_in_place(|| doctor(&platform, &kubeconfig));
    assert!(!ok, "{report}");
    assert!(
        report.contains("FAIL permissions not allowed: get pods/exec, create pods/exec"),
        "{report}"
    );
    let (second_token, second) = tenant_and_store(&platform, "norule", "woocommerce").await;
    let failed = platform
        .wait_status(&second_token, &second, "failed", Duration::from_secs(240))
        .await;
    let reason = failed["failureReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("pods/exec") && reason.contains("forbidden"),
        "the failure names the missing permission: {failed}"
    );
    println!("without pods/exec: {reason}\ndoctor:\n{report}");
    role.rules = Some(rules);
    role.metadata.resource_version = None;
    roles
        .replace("storeflow-stores", &PostParams::default(), &role)
        .await
        .expect("rule restored");
}

/// CPU time (clock ticks) and resident memory (KiB) of a process, from /proc.
fn process_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((ticks, rss))
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Samples the control plane's components every 200 ms until told to stop: CPU ticks at the
/// first and last sample, and the largest resident memory seen, per component.
fn sample_control_plane(
    pids: Vec<(&'static str, u32)>,
    stop: std::sync::mpsc::Receiver<()>,
) -> std::thread::JoinHandle<Vec<(&'static str, u64, u64)>> {
    std::thread::spawn(move || {
        let first: Vec<u64> = pids
            .iter()
            .map(|(_, pid)| process_usage(*pid).map_or(0, |u| u.0))
            .collect();
        let mut peak = vec![0u64; pids.len()];
        let mut last = first.clone();
        loop {
            for (i, (_, pid)) in pids.iter().enumerate() {
                if let Some((ticks, rss)) = process_usage(*pid) {
                    last[i] = ticks;
                    peak[i] = peak[i].max(rss);
                }
            }
            if stop.recv_timeout(Duration::from_millis(200)).is_ok() {
                break;
            }
        }
        pids.iter()
            .enumerate()
            .map(|(i, (name, _))| (*name, last[i] - first[i], peak[i]))
            .collect()
    })
}

/// Steps that only touch storeflow's own database: orchestration, not cluster work.
const ORCHESTRATION_STEPS: &[&str] = &[
    "mark-provisioning",
    "chart-values",
    "publish-values",
    "mark-ready",
];

/// Ten stores requested at once (nine WooCommerce, one Medusa with a Medusa of its own; ten
/// tenants) all reach ready on the
/// real control plane, each with one release and its own verified site. Prints per store the
/// time to ready and the orchestration overhead (time from the request to ready not spent in a
/// step that talks to the cluster: queueing, checkpoints between steps, the database-only
/// steps), and the control plane's CPU and peak memory over the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_stores_requested_at_once_all_reach_ready_on_a_real_cluster() {
    tokio::task::block_in_place(world_with_medusa);
    let mut platform = Platform::start_real().await;
    platform.start_worker();
    let mut tenants = Vec::new();
    for n in 0..10 {
        let name = format!("fleet{n}");
        let token = platform
            .register(&format!("{name}@example.com"), &name)
            .await;
        tenants.push((name, token));
    }
    let (stop, stopped) = std::sync::mpsc::channel();
    let sampler = sample_control_plane(platform.cluster.cluster().pids(), stopped);
    let started = Instant::now();
    let mut stores = Vec::new();
    for (n, (name, token)) in tenants.iter().enumerate() {
        let engine = if n == 4 { "medusa" } else { "woocommerce" };
        let id = platform
            .create_store(token, json!({ "name": format!("{name}-shop"), "engine": engine, "password": "Tenant-Pass-2024" }))
            .await;
        stores.push((token.clone(), id, engine));
    }
    let mut finished = Vec::new();
    for (token, id, engine) in &stores {
        let store = platform
            .wait_status(token, id, "ready", Duration::from_secs(600))
            .await;
        finished.push((id.clone(), *engine, store));
    }
    let wall = started.elapsed();
    let _ = stop.send(());
    let usage = sampler.join().expect("sampler");

    let mut lines = Vec::new();
    for (id, engine, store) in &finished {
        let progress = &store["progress"];
        assert_eq!(progress["status"], "succeeded", "{store}");
        let time = |v: &Value| {
            chrono::DateTime::parse_from_rfc3339(v.as_str().expect("timestamp")).expect("rfc3339")
        };
        let requested = time(&store["createdAt"]);
        let ready = time(&progress["finishedAt"]);
        let to_ready = (ready - requested).as_seconds_f64();
        let in_cluster_steps: f64 = progress["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| !ORCHESTRATION_STEPS.contains(&s["name"].as_str().unwrap_or("")))
            .map(|s| s["durationMs"].as_f64().unwrap_or(0.0) / 1000.0)
            .sum();
        // A retried step's duration holds its attempts; say so beside the figure.
        let retried = progress["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| s["attempt"].as_i64().unwrap_or(1) > 1)
            .count();
        let releases = platform.helm_json(&["list", "--namespace", id, "-o", "json"]);
        assert_eq!(
            releases.as_array().map(Vec::len),
            Some(1),
            "{id}: one release"
        );
        if *engine == "woocommerce" {
            let site = platform.cluster.site(id).expect("site");
            assert_eq!(site["installed"], true, "{site}");
            assert_eq!(site["orders"].as_array().map(Vec::len), Some(1), "{site}");
        }
        lines.push(format!(
            "  {id} {engine:<11} ready {to_ready:5.1} s, orchestration overhead {:4.0} ms{}",
            (to_ready - in_cluster_steps) * 1000.0,
            if retried > 0 {
                format!(" ({retried} steps retried)")
            } else {
                String::new()
            }
        ));
    }
    let ticks = clock_ticks_per_second();
    println!(
        "real cluster: 10 stores requested at once, all ready in {:.1} s\n{}",
        wall.as_secs_f64(),
        lines.join("\n")
    );
    for (name, cpu, peak_kib) in usage {
        println!(
            "  {name:<24} CPU {:5.1} s ({:3.0} % of one core), peak RSS {:4.0} MiB",
            cpu as f64 / ticks,
            cpu as f64 / ticks / wall.as_secs_f64() * 100.0,
            peak_kib as f64 / 1024.0
        );
    }
}

/// The image of a Deployment's first container, as the real API server has it.
fn deployment_image(
    platform: &Platform<&'static RealWorld>,
    namespace: &str,
    name: &str,
) -> String {
    let output = platform
        .cluster
        .cluster()
        .kubectl_command()
        .args([
            "get",
            "deployment",
            name,
            "-n",
            namespace,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .output()
        .expect("kubectl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upgrade_and_the_rollback_of_a_bad_release_on_a_real_cluster() {
    use crate::upgrades::{chart_variant, recovery_time, upgrade, wait_store};
    let mut platform = Platform::start_real().await;
    let operator = platform.register("ops@example.com", "ops").await;
    platform.start_worker();
    let (token, id) = tenant_and_store(&platform, "upwoo", "woocommerce").await;
    platform
        .wait_status(&token, &id, "ready", Duration::from_secs(240))
        .await;

    // The next build ships chart 2.2.0: the real helm upgrades the release, WP-CLI migrates.
    let good = chart_variant(
        &platform.dir,
        "2.2.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache")],
    );
    platform.ship_chart(&good).await;
    platform.start_worker();
    let started = Instant::now();
    let (status, body) = upgrade(&platform, &operator, &id, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let upgraded = wait_store(
        &platform,
        &token,
        &id,
        Duration::from_secs(240),
        "the upgrade",
        |s| s["status"] == "ready" && s["lastUpgrade"]["status"] == "succeeded",
    )
    .await;
    let upgrade_took = started.elapsed();
    assert_eq!(
        upgraded["versions"],
        json!({ "chart": "2.2.0", "app": "2.2.0" })
    );
    assert_eq!(
        deployment_image(&platform, &id, "wordpress"),
        "wordpress:6.8-php8.2-apache"
    );
    let release = platform.helm_json(&["get", "metadata", &id, "--namespace", &id, "-o", "json"]);
    assert_eq!(release["revision"], 3, "{release}");
    assert_eq!(release["version"], "2.2.0", "{release}");
    assert_eq!(
        upgraded["lastUpgrade"]["from"]["chart"],
        platform.helm_json(&["history", &id, "--namespace", &id, "-o", "json"])[1]["chart"]
            .as_str()
            .and_then(|c| c.strip_prefix("ecommerce-store-"))
            .expect("chart of revision 2"),
        "the versions the upgrade started from, as helm recorded them"
    );
    let site = platform.cluster.site(&id).expect("site");
    assert_eq!(site["dbUpdates"], 2, "{site}");
    assert_eq!(site["orders"].as_array().map(Vec::len), Some(2), "{site}");

    // The one after is bad: its WordPress crash-loops (an admission policy marks pods of
    // `-crashloop` images for kwok's crash-loop stage). The run rolls it back by itself.
    let bad = chart_variant(
        &platform.dir,
        "2.3.0",
        &[("6.7-php8.2-apache", "6.8-php8.2-apache-crashloop")],
    );
    platform.ship_chart(&bad).await;
    platform.start_worker();
    let started = Instant::now();
    let (status, body) = upgrade(&platform, &operator, &id, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = body["run"]["id"].as_str().expect("run").to_owned();
    let rolled_back = wait_store(
        &platform,
        &token,
        &id,
        Duration::from_secs(300),
        "the rollback",
        |s| s["status"] == "ready" && s["lastUpgrade"]["status"] == "rolled_back",
    )
    .await;
    let rollback_took = started.elapsed();
    assert_eq!(
        rolled_back["versions"],
        json!({ "chart": "2.2.0", "app": "2.2.0" })
    );
    assert_eq!(rolled_back["lastUpgrade"]["failedStep"], "wait-upgraded");
    assert!(
        rolled_back["lastUpgrade"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("CrashLoopBackOff")),
        "{rolled_back}"
    );
    assert_eq!(
        deployment_image(&platform, &id, "wordpress"),
        "wordpress:6.8-php8.2-apache"
    );
    let release = platform.helm_json(&["status", &id, "--namespace", &id, "-o", "json"]);
    assert_eq!(release["info"]["status"], "deployed", "{release}");
    assert_eq!(release["info"]["description"], "Rollback to 3", "{release}");
    let metadata = platform.helm_json(&["get", "metadata", &id, "--namespace", &id, "-o", "json"]);
    assert_eq!(metadata["version"], "2.2.0", "{metadata}");
    let site = platform.cluster.site(&id).expect("site");
    assert_eq!(
        site["orders"].as_array().map(Vec::len),
        Some(3),
        "the rolled-back store took a real order: {site}"
    );
    let recovery = recovery_time(&platform.pool, &run, "wait-upgraded").await;
    println!(
        "real cluster: upgrade 2.1.0 → 2.2.0 verified in {:.1} s; bad release 2.3.0 rolled back \
         and verified in {:.1} s, {:.1} s of it from the failed health check to the old version \
         verified again by an order",
        upgrade_took.as_secs_f64(),
        rollback_took.as_secs_f64(),
        recovery.as_secs_f64()
    );
}

/// Figures for failed upgrades on the real control plane: a store is upgraded to a bad
/// release `STOREFLOW_UPGRADE_ROUNDS` times (default 2; the closing figures used 20 in a
/// release build) and every time rolled back and verified again. Prints the time from the
/// failed health check to the old version verified again by an order (p50, p95, max) and
/// checks no round leaves a helm release pending or the store anywhere but ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_bad_releases_are_rolled_back_on_a_real_cluster() {
    use crate::upgrades::{chart_variant, recovery_time, upgrade, wait_store};
    let rounds: usize = std::env::var("STOREFLOW_UPGRADE_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let mut platform = Platform::start_real().await;
    let operator = platform.register("ops@example.com", "ops").await;
    platform.start_worker();
    let (token, id) = tenant_and_store(&platform, "rounds", "woocommerce").await;
    platform
        .wait_status(&token, &id, "ready", Duration::from_secs(240))
        .await;
    let bad = chart_variant(
        &platform.dir,
        "9.9.9",
        &[("6.7-php8.2-apache", "6.7-php8.2-apache-crashloop")],
    );
    platform.ship_chart(&bad).await;
    platform.start_worker();
    let mut recoveries = Vec::new();
    for round in 0..rounds {
        let (status, body) = upgrade(&platform, &operator, &id, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "round {round}: {body}");
        let run = body["run"]["id"].as_str().expect("run").to_owned();
        let store = wait_store(
            &platform,
            &token,
            &id,
            Duration::from_secs(300),
            "the rollback",
            |s| {
                s["status"] == "ready"
                    && s["lastUpgrade"]["runId"] == run.as_str()
                    && s["lastUpgrade"]["status"] == "rolled_back"
            },
        )
        .await;
        assert_ne!(store["versions"]["chart"], "9.9.9", "{store}");
        let release = platform.helm_json(&["status", &id, "--namespace", &id, "-o", "json"]);
        assert_eq!(
            release["info"]["status"], "deployed",
            "round {round}: {release}"
        );
        recoveries.push(recovery_time(&platform.pool, &run, "wait-upgraded").await);
    }
    recoveries.sort();
    let at = |q: f64| {
        recoveries[((recoveries.len() as f64 * q).ceil() as usize).clamp(1, recoveries.len()) - 1]
    };
    println!(
        "real cluster: {rounds} bad releases rolled back; from the failed health check to the old \
         version verified again by an order: p50 {:.1} s, p95 {:.1} s, max {:.1} s",
        at(0.5).as_secs_f64(),
        at(0.95).as_secs_f64(),
        recoveries
            .last()
            .map(Duration::as_secs_f64)
            .unwrap_or_default()
    );
}
