//! `storeflow`: the control plane's one binary.

mod backups_cli;
mod bench;
mod bench_api;
mod doctor;
mod runs_cli;
mod schedules_cli;
mod simulated;
mod up;
mod users_cli;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use storeflow::config;
use storeflow_engine::{Engine, Scheduler, SchedulerOptions, Worker, WorkerOptions};
use tokio_util::sync::CancellationToken;
use tracing::info;

#[derive(Debug, Parser)]
#[command(
    name = "storeflow",
    version,
    about = "Provision isolated e-commerce stores with durable workflows",
    after_help = "Start here: `storeflow up`, then open http://localhost:3001/ (the first account \
                  to register is the operator). `storeflow doctor` says what provisioning still \
                  needs; `storeflow <command> --help` tells more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args, Clone)]
struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://storeflow:PASSWORD@localhost:5432/storeflow.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the database migrations.
    Migrate {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Run a worker and the scheduler until SIGTERM or SIGINT.
    Worker {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        worker: WorkerArgs,
        /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
        #[arg(long, env = "METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// Do not run the cron scheduler in this process.
        #[arg(long)]
        no_scheduler: bool,
    },
    /// Run the whole platform in one process: API, dashboard, worker and scheduler.
    ///
    /// Without DATABASE_URL it starts (and on later starts reuses) a private PostgreSQL in the
    /// data directory. On a first start from the repository it builds the dashboard (needs npm).
    /// Stores are provisioned into the current kubeconfig context (or, with
    /// --simulated-cluster, into a cluster simulated in this process); once up it says which
    /// cluster that is, or that there is none, and what to do first. Stops on SIGTERM or
    /// Ctrl-C.
    Up {
        /// PostgreSQL URL; unset means the private database in --data-dir.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Where the private database, the generated token secret and encryption key, and the
        /// dashboard's build log live.
        #[arg(long, env = "STOREFLOW_DATA_DIR", default_value = ".storeflow")]
        data_dir: std::path::PathBuf,
        /// Address to listen on (127.0.0.1 keeps the platform to this machine).
        #[arg(long, env = "HOST", default_value = "0.0.0.0")]
        host: String,
        /// Port of the API and the dashboard.
        #[arg(long, env = "PORT", default_value_t = 3001)]
        port: u16,
        /// Provision into a Kubernetes cluster simulated inside this process instead of a
        /// real one: stores go through every step to ready (WooCommerce on simulated
        /// WordPress sites, Medusa on a real local Medusa per store), nothing is deployed,
        /// and the dashboard says so on every page. To see the whole flow without a cluster.
        #[arg(long)]
        simulated_cluster: bool,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Serve the HTTP API until SIGTERM or SIGINT.
    Serve {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Address to listen on.
        #[arg(long, env = "HOST", default_value = "0.0.0.0")]
        host: String,
        /// Port to listen on.
        #[arg(long, env = "PORT", default_value_t = 3001)]
        port: u16,
        /// Database connections of this process. More than PostgreSQL has cores to run
        /// them only adds switching between its backends (on 2 cores, 8 served a third more
        /// store pages per second than 16).
        #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 8)]
        db_connections: u32,
        /// Also serve Prometheus metrics without authentication on this address (e.g.
        /// 0.0.0.0:9464), for scrapers; /api/v1/metrics keeps needing an admin token.
        #[arg(long, env = "METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
    },
    /// Print the API's OpenAPI 3.1 document (what `GET /api/v1/openapi.json` serves); the
    /// dashboard's API types are generated from it.
    Openapi,
    /// Check the database, the Kubernetes cluster, helm and the chart; say how to fix what
    /// is missing.
    Doctor {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Inspect and operate workflow runs.
    Runs {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: runs_cli::RunsCommand,
    },
    /// Store backups: list them, back a store up now.
    Backups {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: backups_cli::BackupsCommand,
    },
    /// Manage cron schedules.
    Schedules {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: schedules_cli::SchedulesCommand,
    },
    /// Manage operator accounts (create an operator; promote an account).
    Users {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: users_cli::UsersCommand,
    },
    /// Benchmark the engine (or, with `api`, the HTTP API) against the configured database
    /// (build with --release).
    Bench(bench::BenchArgs),
}

#[derive(Debug, Args, Clone)]
struct WorkerArgs {
    /// Runs executed at the same time.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
    /// Lease length; a dead worker's runs are taken over this long after its last heartbeat.
    #[arg(long, env = "WORKER_LEASE", default_value = "30s", value_parser = config::parse_duration)]
    lease: Duration,
    /// Fallback poll interval when no notification arrives.
    #[arg(long, env = "WORKER_POLL_INTERVAL", default_value = "1s", value_parser = config::parse_duration)]
    poll_interval: Duration,
    /// Time in-flight steps get to finish on shutdown before their leases are released.
    #[arg(long, env = "WORKER_SHUTDOWN_GRACE", default_value = "10s", value_parser = config::parse_duration)]
    shutdown_grace: Duration,
    /// Database connections of this process.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    db_connections: u32,
    /// Where this worker runs (default: the host name, which in Kubernetes is the pod
    /// name). A worker restarted under the identity of one that died takes over its runs
    /// at once; others wait for the lease. Give each worker on one host its own.
    #[arg(long, env = "WORKER_IDENTITY")]
    identity: Option<String>,
    /// Store provisioning runs in flight at once on the cluster, across all workers (a
    /// burst of new stores waits in line, in order, instead of starting that many helm
    /// installs at once). Give every worker the same value.
    #[arg(long, env = "PROVISIONING_CONCURRENCY", default_value_t = 8)]
    provisioning_concurrency: u32,
    /// Store upgrades in flight at once on the cluster, across all workers: a fleet rollout's
    /// wave (or many single upgrades) waits in line beyond it. Give every worker the same value.
    #[arg(long, env = "UPGRADE_CONCURRENCY", default_value_t = 5)]
    upgrade_concurrency: u32,
}

/// The host's name (a pod's name in Kubernetes), the default worker identity.
fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

impl WorkerArgs {
    fn validate(&self) -> anyhow::Result<()> {
        if self.concurrency == 0 {
            anyhow::bail!("--concurrency (WORKER_CONCURRENCY) must be at least 1");
        }
        if self.lease < Duration::from_secs(1) {
            anyhow::bail!(
                "--lease (WORKER_LEASE) must be at least 1s: a worker renews its leases every lease/3, \
                 and a shorter lease would be lost between heartbeats"
            );
        }
        if self.poll_interval < Duration::from_millis(10) {
            anyhow::bail!("--poll-interval (WORKER_POLL_INTERVAL) must be at least 10ms");
        }
        if self.provisioning_concurrency == 0 {
            anyhow::bail!(
                "--provisioning-concurrency (PROVISIONING_CONCURRENCY) must be at least 1: with 0 no store would ever be provisioned"
            );
        }
        if self.upgrade_concurrency == 0 {
            anyhow::bail!(
                "--upgrade-concurrency (UPGRADE_CONCURRENCY) must be at least 1: with 0 no store would ever be upgraded"
            );
        }
        if self.db_connections < 4 {
            anyhow::bail!(
                "--db-connections (DATABASE_MAX_CONNECTIONS) must be at least 4: claims, checkpoints, \
                 heartbeats and LISTEN each need a connection"
            );
        }
        Ok(())
    }

    fn options(&self) -> WorkerOptions {
        WorkerOptions {
            concurrency: self.concurrency,
            lease: self.lease,
            poll_interval: self.poll_interval,
            shutdown_grace: self.shutdown_grace,
            identity: self
                .identity
                .clone()
                .filter(|identity| !identity.trim().is_empty())
                .or_else(host_name),
            admission: vec![
                storeflow_engine::AdmissionLimit {
                    workflows: storeflow_workflows::store::provisioning_workflows(),
                    max_in_flight: self.provisioning_concurrency,
                },
                storeflow_engine::AdmissionLimit {
                    workflows: storeflow_workflows::upgrade_workflows(),
                    max_in_flight: self.upgrade_concurrency,
                },
            ],
            ..WorkerOptions::default()
        }
    }
}

fn init_tracing(default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("STOREFLOW_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Cancels the token on SIGTERM or SIGINT.
fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => info!("SIGINT received; shutting down"),
            _ = terminate => info!("SIGTERM received; shutting down"),
        }
        trigger.cancel();
    });
    token
}

/// Serves the API until `shutdown`; then ends event streams so the graceful shutdown can
/// finish.
async fn serve_api(
    listener: tokio::net::TcpListener,
    state: storeflow::AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let streams = state.shutdown_token();
    let end_streams = shutdown.clone();
    tokio::spawn(async move {
        end_streams.cancelled().await;
        streams.cancel();
    });
    storeflow::api::serve(listener, storeflow::app(state), shutdown).await
}

/// Installs the Prometheus recorder of an API process, with a scrape listener on `listen`
/// when given; returns the handle `/api/v1/metrics` renders.
fn install_metrics(
    listen: Option<SocketAddr>,
) -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    let builder = storeflow::metric_names::prometheus_builder()?;
    let Some(addr) = listen else {
        return builder
            .install_recorder()
            .map_err(|err| anyhow::anyhow!("cannot install the metrics recorder: {err}"));
    };
    let (recorder, exporter) = builder
        .with_http_listener(addr)
        .build()
        .map_err(|err| anyhow::anyhow!("cannot serve metrics on {addr}: {err}"))?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|err| anyhow::anyhow!("cannot install the metrics recorder: {err}"))?;
    tokio::spawn(exporter);
    info!(%addr, "serving Prometheus metrics");
    Ok(handle)
}

/// What [`with_executor_resources`] found for the store steps.
enum StoreCluster {
    /// A client for the API server at `url`, configured from `from`.
    Configured {
        client: kube::Client,
        url: String,
        from: String,
    },
    /// No usable configuration, and why.
    Missing(String),
}

/// Where the store steps provision.
#[derive(Debug, Clone, Copy)]
enum ClusterChoice<'a> {
    /// The current kubeconfig context, or the pod's service account.
    Environment,
    /// A cluster simulated in this process (`up --simulated-cluster`) and the fake helm for it.
    Simulated {
        kubeconfig: &'a std::path::Path,
        helm: &'a std::path::Path,
    },
}

/// Hands the store-engine steps their clients: the Kubernetes client of the chosen cluster
/// (when there is one), the helm settings, and the circuit breakers. Without a cluster the
/// worker still runs; steps that need it wait and retry with a message that says so.
async fn with_executor_resources(
    worker: Worker,
    engine: Engine,
    sealer: storeflow_executors::store::sealing::Sealer,
    choice: ClusterChoice<'_>,
) -> anyhow::Result<(Worker, StoreCluster)> {
    let mut helm =
        storeflow_executors::helm::HelmSettings::from_env().map_err(|err| anyhow::anyhow!(err))?;
    let source = match choice {
        ClusterChoice::Environment => storeflow_executors::cluster::ConfigSource::Infer,
        ClusterChoice::Simulated {
            kubeconfig,
            helm: fake_helm,
        } => {
            helm.bin = fake_helm.to_owned();
            helm.kubeconfig = Some(kubeconfig.to_owned());
            storeflow_executors::cluster::ConfigSource::File(kubeconfig)
        }
    };
    let breakers = storeflow_executors::breaker::Breakers::default();
    let pool = engine.pool().clone();
    let mut worker = worker;
    if let Some(settings) = storeflow_executors::backup::BucketSettings::from_env()
        .map_err(|err| anyhow::anyhow!(err))?
    {
        let bucket = storeflow_executors::backup::BackupBucket::connect(&settings)
            .map_err(|err| anyhow::anyhow!(err))?;
        info!(bucket = ?bucket, "store backups go to this bucket");
        worker = worker.with_resource(bucket);
    }
    let worker = worker
        // The cleanup steps enqueue teardowns through the engine.
        .with_resource(engine)
        .with_resource(sealer)
        .with_resource(breakers.clone());
    // Health (in the API processes) reads what each worker's breakers say.
    let reporter = uuid::Uuid::new_v4();
    tokio::spawn(async move {
        for tick in 0u64.. {
            if let Err(err) = breakers.report(&pool, reporter).await {
                tracing::debug!(error = %err, "reporting the circuit breakers failed");
            }
            // The stores gauge, every 15 s (a count over the stores table).
            if tick % 3 == 0
                && let Err(err) = storeflow_executors::metrics::refresh_store_gauges(&pool).await
            {
                tracing::debug!(error = %err, "counting stores for the metrics failed");
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    });
    match storeflow_executors::cluster::load(source).await {
        Ok(loaded) => match kube::Client::try_from(loaded.config.clone()) {
            Ok(client) => {
                info!(
                    cluster = %loaded.config.cluster_url,
                    from = %loaded.describe(),
                    "store steps use this Kubernetes cluster"
                );
                let cluster = StoreCluster::Configured {
                    client: client.clone(),
                    url: loaded.config.cluster_url.to_string(),
                    from: loaded.describe(),
                };
                let helm = storeflow_executors::helm::HelmSettings {
                    in_cluster: loaded.in_cluster,
                    ..helm
                };
                Ok((worker.with_resource(client).with_resource(helm), cluster))
            }
            Err(err) => {
                tracing::warn!(error = %err, "the Kubernetes configuration cannot be used; store steps will wait");
                let why = format!("the Kubernetes configuration cannot be used: {err}");
                Ok((worker.with_resource(helm), StoreCluster::Missing(why)))
            }
        },
        Err(err) => {
            tracing::warn!(error = %err, "no Kubernetes configuration; store steps will wait until a worker has one");
            Ok((worker.with_resource(helm), StoreCluster::Missing(err)))
        }
    }
}

pub(crate) async fn start_engine(pool: sqlx::PgPool) -> anyhow::Result<Engine> {
    config::migrate(&pool).await?;
    let engine = Engine::start(pool, storeflow_workflows::registry()).await?;
    // The cleanup schedules exist from the first start; an operator's changes are kept.
    for schedule in storeflow_workflows::default_schedules() {
        if engine.ensure_schedule(&schedule).await? {
            info!(schedule = %schedule.name, cron = %schedule.cron, "created the default schedule");
        }
    }
    Ok(engine)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Openapi => {
            let document = serde_json::to_string_pretty(&storeflow::openapi::document())?;
            println!("{document}");
            Ok(())
        }
        Command::Migrate { db } => {
            init_tracing("warn");
            let pool = config::connect(db.database_url.as_deref(), 2).await?;
            let applied = config::migrate(&pool).await?;
            println!("database schema is up to date ({applied} migrations)");
            Ok(())
        }
        Command::Worker {
            db,
            worker,
            metrics_listen,
            no_scheduler,
        } => {
            init_tracing("info");
            worker.validate()?;
            if let Some(addr) = metrics_listen {
                storeflow::metric_names::prometheus_builder()?
                    .with_http_listener(addr)
                    .install()
                    .map_err(|err| anyhow::anyhow!("cannot serve metrics on {addr}: {err}"))?;
                storeflow_engine::metrics::describe();
                storeflow::metric_names::describe();
                info!(%addr, "serving Prometheus metrics");
            }
            let pool = config::connect(db.database_url.as_deref(), worker.db_connections).await?;
            let engine = start_engine(pool).await?;
            let shutdown = shutdown_on_signals();
            let scheduler = (!no_scheduler).then(|| {
                tokio::spawn(
                    Scheduler::new(engine.clone(), SchedulerOptions::default())
                        .run(shutdown.clone()),
                )
            });
            with_executor_resources(
                Worker::new(engine.clone(), worker.options()),
                engine,
                config::encryption_key()?,
                ClusterChoice::Environment,
            )
            .await?
            .0
            .run(shutdown)
            .await?;
            if let Some(scheduler) = scheduler {
                scheduler.await??;
            }
            Ok(())
        }
        Command::Up {
            database_url,
            data_dir,
            host,
            port,
            simulated_cluster,
            worker,
        } => {
            init_tracing("info");
            worker.validate()?;
            up::up(
                up::UpOptions {
                    database_url,
                    data_dir,
                    host,
                    port,
                    simulated_cluster,
                },
                worker,
            )
            .await
        }
        Command::Serve {
            db,
            host,
            port,
            db_connections,
            metrics_listen,
        } => {
            init_tracing("info");
            let jwt_secret = config::jwt_secret()?;
            let mut api_config = config::api_config()?;
            api_config.sealer = config::encryption_key()?;
            let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|_| {
                anyhow::anyhow!("HOST/PORT `{host}:{port}` is not a valid listen address")
            })?;
            let metrics = install_metrics(metrics_listen)?;
            storeflow_engine::metrics::describe();
            storeflow::metric_names::describe();
            let pool = config::connect(db.database_url.as_deref(), db_connections.max(2)).await?;
            let engine = start_engine(pool).await?;
            let state = storeflow::AppState::new(engine, &jwt_secret, api_config, Some(metrics));
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
                anyhow::anyhow!(
                    "cannot listen on {addr}: {err} (is another process using the port?)"
                )
            })?;
            info!(%addr, "serving the API");
            serve_api(listener, state, shutdown_on_signals()).await?;
            info!("API stopped");
            Ok(())
        }
        Command::Runs { db, command } => {
            init_tracing("warn");
            let pool = config::connect(db.database_url.as_deref(), 4).await?;
            let engine = start_engine(pool).await?;
            runs_cli::run(&engine, command).await
        }
        Command::Doctor { db } => {
            init_tracing("error");
            doctor::run(db.database_url.as_deref()).await
        }
        Command::Users { db, command } => {
            init_tracing("warn");
            let pool = config::connect(db.database_url.as_deref(), 2).await?;
            config::migrate(&pool).await?;
            users_cli::run(&pool, command).await
        }
        Command::Backups { db, command } => {
            init_tracing("warn");
            let pool = config::connect(db.database_url.as_deref(), 4).await?;
            let engine = start_engine(pool).await?;
            backups_cli::run(&engine, command).await
        }
        Command::Schedules { db, command } => {
            init_tracing("warn");
            let pool = config::connect(db.database_url.as_deref(), 4).await?;
            let engine = start_engine(pool).await?;
            schedules_cli::run(&engine, command).await
        }
        Command::Bench(args) => {
            init_tracing("warn");
            bench::run(args).await
        }
    }
}

fn main() -> ExitCode {
    // `up --simulated-cluster` runs this binary as the store steps' helm.
    if let Some(code) = simulated::run_as_helm() {
        return code;
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
