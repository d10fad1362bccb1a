//! `storeflow up`: the whole platform in one process — API, dashboard, worker, scheduler, and
//! (without `DATABASE_URL`) a private PostgreSQL; with `--simulated-cluster`, the cluster too
//! (see `simulated`).
//!
//! Order matters for a failed start: the listen port is taken first (a port in use fails before
//! anything is started), and once the private PostgreSQL runs, every later failure — and a
//! SIGTERM or Ctrl-C during the start — stops it before `up` returns; so are the simulated
//! cluster's Medusa backends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use storeflow::config;
use storeflow_engine::{Scheduler, SchedulerOptions, Worker};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::simulated::SimulatedCluster;
use crate::{
    ClusterChoice, StoreCluster, WorkerArgs, serve_api, shutdown_on_signals, start_engine,
    with_executor_resources,
};

/// The private database of `storeflow up`: a PostgreSQL cluster in `<data_dir>/postgres`,
/// listening only on a Unix socket there.
fn start_private_database(data_dir: &Path) -> anyhow::Result<storeflow_pglocal::Cluster> {
    let cluster = storeflow_pglocal::Cluster::new(
        data_dir.join("postgres"),
        storeflow_pglocal::Listen::SocketOnly,
        "storeflow",
    )?;
    let hint = "; as root, the data directory must be reachable by the `postgres` user (choose another with --data-dir)";
    if cluster
        .ensure_initialized()
        .map_err(|err| anyhow::anyhow!("{err}{hint}"))?
    {
        info!(dir = %cluster.dir().display(), "created a private PostgreSQL cluster");
    }
    cluster
        .start()
        .map_err(|err| anyhow::anyhow!("{err}{hint}"))?;
    Ok(cluster)
}

/// `JWT_SECRET` if set; else a random secret kept in `<data_dir>/jwt-secret` (mode 0600),
/// so tokens survive restarts of `storeflow up`.
fn up_jwt_secret(data_dir: &std::path::Path) -> anyhow::Result<String> {
    if std::env::var("JWT_SECRET").is_ok_and(|s| !s.is_empty()) {
        return config::jwt_secret();
    }
    persistent_secret(data_dir, "jwt-secret", "token-signing secret")
}

/// `STOREFLOW_ENCRYPTION_KEY` if set; else a random key kept in `<data_dir>/encryption-key`
/// (mode 0600), so store credentials stay readable across restarts of `storeflow up`.
fn up_encryption_key(
    data_dir: &std::path::Path,
) -> anyhow::Result<storeflow_executors::store::sealing::Sealer> {
    if std::env::var("STOREFLOW_ENCRYPTION_KEY").is_ok_and(|s| !s.trim().is_empty()) {
        return config::encryption_key();
    }
    let key = persistent_secret(data_dir, "encryption-key", "credential encryption key")?;
    storeflow_executors::store::sealing::Sealer::from_hex(&key).map_err(|err| {
        anyhow::anyhow!(
            "the key in {} is damaged ({err}); restore it from a backup (deleting it makes existing store credentials unreadable)",
            data_dir.join("encryption-key").display()
        )
    })
}

/// 32 random bytes as hex, generated once into `<data_dir>/<file>` (mode 0600) and read
/// from there afterwards.
fn persistent_secret(
    data_dir: &std::path::Path,
    file_name: &str,
    what: &str,
) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(file_name);
    if let Ok(secret) = std::fs::read_to_string(&path) {
        let secret = secret.trim().to_owned();
        if secret.len() >= 32 {
            return Ok(secret);
        }
        anyhow::bail!(
            "the {what} in {} is damaged (shorter than 32 characters); restore it or delete the \
             file to generate a new one",
            path.display()
        );
    }
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written to a temporary file and renamed, so no reader ever sees a partial secret.
    let temporary = data_dir.join(format!("{file_name}.{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|err| {
            anyhow::anyhow!("cannot write the {what} to {}: {err}", temporary.display())
        })?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    info!(path = %path.display(), "generated the {what}");
    Ok(secret)
}

/// What `storeflow up` was asked for.
#[derive(Debug)]
pub(crate) struct UpOptions {
    /// `DATABASE_URL`; `None` starts the private PostgreSQL in `data_dir`.
    pub(crate) database_url: Option<String>,
    pub(crate) data_dir: PathBuf,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Provision into a cluster simulated in this process.
    pub(crate) simulated_cluster: bool,
}

pub(crate) async fn up(options: UpOptions, worker: WorkerArgs) -> anyhow::Result<()> {
    let UpOptions {
        database_url,
        data_dir,
        host,
        port,
        simulated_cluster,
    } = options;
    // From here on SIGTERM/SIGINT end the start in order instead of killing the process
    // with a private PostgreSQL left running.
    let shutdown = shutdown_on_signals();
    std::fs::create_dir_all(&data_dir).map_err(|err| {
        anyhow::anyhow!(
            "cannot create the data directory {}: {err} (choose another with --data-dir)",
            data_dir.display()
        )
    })?;
    let data_dir = std::fs::canonicalize(&data_dir)?;
    let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|_| {
        anyhow::anyhow!(
            "`{host}:{port}` is not a valid listen address; give --host an IP address such as \
             0.0.0.0 or 127.0.0.1"
        )
    })?;
    let mut api_config = config::api_config()?;
    let jwt_secret = up_jwt_secret(&data_dir)?;
    api_config.sealer = up_encryption_key(&data_dir)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
        let advice = if err.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "another process listens on port {port} (another `storeflow up`?): stop it, or \
                 start this one with --port <another port>"
            )
        } else {
            "choose another address with --host and --port".to_owned()
        };
        anyhow::anyhow!("cannot listen on {addr}: {err}; {advice}")
    })?;
    if api_config.dashboard_dir.is_none() {
        api_config.dashboard_dir = build_dashboard(&data_dir, &shutdown).await;
    }
    if shutdown.is_cancelled() {
        return Ok(());
    }
    let external_url = database_url.filter(|u| !u.is_empty());
    let private = match external_url {
        Some(_) => None,
        None => {
            let data = data_dir.clone();
            Some(tokio::task::spawn_blocking(move || start_private_database(&data)).await??)
        }
    };
    let started = Started {
        private: private.clone(),
        external_url,
        listener,
        addr,
        jwt_secret,
        api_config,
        worker,
    };
    let result = if simulated_cluster {
        run_simulated(started, &data_dir, shutdown).await
    } else {
        run(started, None, shutdown).await
    };
    if let Some(cluster) = private {
        match tokio::task::spawn_blocking(move || cluster.stop(false)).await {
            Ok(Ok(())) => info!("private PostgreSQL stopped"),
            Ok(Err(err)) => eprintln!("error: stopping the private PostgreSQL: {err}"),
            Err(err) => eprintln!("error: stopping the private PostgreSQL: {err}"),
        }
    }
    result
}

/// [`run`] on a cluster simulated in this process, whose Medusa backends are stopped however
/// the run ends.
async fn run_simulated(
    mut started: Started,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let simulated = std::sync::Arc::new(SimulatedCluster::start(data_dir).await?);
    started.api_config.simulated_cluster = Some(simulated.kubeconfig.clone());
    let result = run(started, Some(&simulated), shutdown).await;
    let stopping = simulated.clone();
    if let Err(err) = tokio::task::spawn_blocking(move || stopping.stop()).await {
        eprintln!("error: stopping the simulated cluster's Medusa backends: {err}");
    }
    result
}

/// What the start has taken so far.
struct Started {
    /// The private PostgreSQL, when `DATABASE_URL` is not set.
    private: Option<storeflow_pglocal::Cluster>,
    external_url: Option<String>,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    jwt_secret: String,
    api_config: storeflow::ApiConfig,
    worker: WorkerArgs,
}

/// Everything after the port and the database: until the platform stops (or fails to start).
async fn run(
    started: Started,
    simulated: Option<&SimulatedCluster>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let worker = started.worker;
    let api_config = started.api_config;
    let pool = match &started.private {
        Some(cluster) => {
            let admin = config::connect(Some(&cluster.url("postgres")), 1).await?;
            let exists: Option<(i32,)> =
                sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = 'storeflow'")
                    .fetch_optional(&admin)
                    .await?;
            if exists.is_none() {
                sqlx::query("CREATE DATABASE storeflow")
                    .execute(&admin)
                    .await?;
            }
            admin.close().await;
            println!(
                "database: private PostgreSQL in {} (kept between starts)",
                cluster.dir().display()
            );
            config::connect(Some(&cluster.url("storeflow")), worker.db_connections).await?
        }
        None => config::connect(started.external_url.as_deref(), worker.db_connections).await?,
    };
    let metrics = storeflow::metric_names::prometheus_builder()?
        .install_recorder()
        .map_err(|err| anyhow::anyhow!("cannot install the metrics recorder: {err}"))?;
    storeflow_engine::metrics::describe();
    storeflow::metric_names::describe();
    let engine = start_engine(pool).await?;
    let choice = match simulated {
        Some(simulated) => ClusterChoice::Simulated {
            kubeconfig: &simulated.kubeconfig,
            helm: &simulated.helm,
        },
        None => ClusterChoice::Environment,
    };
    let (worker_instance, store_cluster) = with_executor_resources(
        Worker::new(engine.clone(), worker.options()),
        engine.clone(),
        api_config.sealer.clone(),
        choice,
    )
    .await?;
    let dashboard = api_config.dashboard_dir.is_some();
    let state = storeflow::AppState::new(
        engine.clone(),
        &started.jwt_secret,
        api_config,
        Some(metrics),
    );
    let api = tokio::spawn(serve_api(started.listener, state, shutdown.clone()));
    let scheduler = tokio::spawn(
        Scheduler::new(engine.clone(), SchedulerOptions::default()).run(shutdown.clone()),
    );
    announce(started.addr, dashboard, &store_cluster, simulated).await;
    let worker_result = worker_instance.run(shutdown.clone()).await;
    shutdown.cancel();
    let api_result = api.await;
    let scheduler_result = scheduler.await;
    engine.pool().close().await;
    worker_result?;
    api_result??;
    scheduler_result??;
    Ok(())
}

/// What a newcomer needs once everything runs: where the dashboard is, whether stores have a
/// cluster to go to (and which), helm, and the first thing to do.
async fn announce(
    addr: SocketAddr,
    dashboard: bool,
    store_cluster: &StoreCluster,
    simulated: Option<&SimulatedCluster>,
) {
    let base = if addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    };
    println!(
        "storeflow is up: API on {base}/api/v1 (OpenAPI at /api/v1/openapi.json), worker and scheduler running"
    );
    if dashboard {
        println!("dashboard: {base}/");
    }
    match (simulated, store_cluster) {
        (Some(simulated), _) => println!(
            "cluster: simulated inside this process ({}): NOTHING IS REALLY DEPLOYED. Stores go \
             through every step to ready; WooCommerce stores on simulated WordPress sites, and {}",
            simulated.url(),
            simulated.medusa_note
        ),
        (None, StoreCluster::Configured { client, url, from }) => {
            match tokio::time::timeout(Duration::from_secs(3), client.apiserver_version()).await {
                Ok(Ok(version)) => println!(
                    "cluster: {url} ({from}), Kubernetes {}: stores are provisioned there",
                    version.git_version
                ),
                Ok(Err(err)) => println!(
                    "cluster: {url} ({from}) does not answer ({err}); store steps retry until it does"
                ),
                Err(_) => println!(
                    "cluster: {url} ({from}) does not answer within 3 s; store steps retry until it does"
                ),
            }
            let helm_bin = std::env::var("HELM_BIN").unwrap_or_else(|_| "helm".into());
            let helm = crate::doctor::helm_check(&helm_bin).await;
            match helm.fix {
                None => println!("helm: {}", helm.detail),
                Some(fix) => println!(
                    "helm: {}: stores will fail at install-chart; {fix}",
                    helm.detail
                ),
            }
        }
        (None, StoreCluster::Missing(why)) => println!(
            "cluster: none ({why}); stores wait at ensure-namespace until one is configured \
             (see docs/real-cluster.md). To see the whole flow without a cluster, restart with \
             `storeflow up --simulated-cluster`"
        ),
    }
    if dashboard {
        println!(
            "next: open {base}/ and register; the first account is the operator (admin) and can create stores"
        );
    } else {
        println!(
            "next: register with curl -X POST {base}/api/v1/auth/register -H 'content-type: application/json' \
             -d '{{\"email\":\"you@example.com\",\"username\":\"you\",\"password\":\"a long passphrase\"}}' \
             (the first account is the operator), then POST {base}/api/v1/stores"
        );
    }
}

/// `dashboard/dist` when it can be had: built here once (npm ci when `node_modules` is missing,
/// then `npm run build`, output in `<data_dir>/dashboard-build.log`) when the repository's
/// `dashboard/` is in the working directory and npm is on PATH. Says why when not; `up` then
/// serves the API alone.
async fn build_dashboard(data_dir: &Path, shutdown: &CancellationToken) -> Option<PathBuf> {
    let source = Path::new("dashboard");
    let dist = source.join("dist");
    if !source.join("package.json").is_file() {
        println!(
            "dashboard: not served: no dashboard/ in {} — start storeflow from the repository, \
             or set STOREFLOW_DASHBOARD_DIR to a built dashboard",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        );
        return None;
    }
    if crate::doctor::on_path("npm").is_none() {
        println!(
            "dashboard: not served: building it needs Node.js 20 with npm, not found on PATH; \
             install it and restart (or build it elsewhere and set STOREFLOW_DASHBOARD_DIR). The \
             API works without it."
        );
        return None;
    }
    let log_path = data_dir.join("dashboard-build.log");
    println!(
        "dashboard: building it (first start only; about a minute; output in {})",
        log_path.display()
    );
    let started = std::time::Instant::now();
    let mut steps: Vec<&[&str]> = Vec::new();
    if !source.join("node_modules").is_dir() {
        steps.push(&["ci", "--no-audit", "--no-fund"]);
    }
    steps.push(&["run", "build"]);
    for args in steps {
        let outcome = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
        {
            Ok(log) => {
                let err_log = log.try_clone();
                let mut command = tokio::process::Command::new("npm");
                command
                    .args(args)
                    .current_dir(source)
                    .stdin(std::process::Stdio::null())
                    .stdout(log)
                    .kill_on_drop(true);
                if let Ok(err_log) = err_log {
                    command.stderr(err_log);
                }
                tokio::select! {
                    status = command.status() => status.map_err(|err| err.to_string()),
                    _ = shutdown.cancelled() => return None,
                }
            }
            Err(err) => Err(format!("cannot write {}: {err}", log_path.display())),
        };
        match outcome {
            Ok(status) if status.success() => {}
            Ok(status) => {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                println!(
                    "dashboard: not served: `npm {}` in dashboard/ failed ({status}); the API works \
                     without it. The end of {}:\n{}",
                    args.join(" "),
                    log_path.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
                return None;
            }
            Err(err) => {
                println!(
                    "dashboard: not served: cannot run `npm {}`: {err}",
                    args.join(" ")
                );
                return None;
            }
        }
    }
    if storeflow::api::dashboard::is_built(&dist) {
        println!(
            "dashboard: built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        Some(dist)
    } else {
        println!(
            "dashboard: not served: the build left no dashboard/dist/index.html (see {})",
            log_path.display()
        );
        None
    }
}
