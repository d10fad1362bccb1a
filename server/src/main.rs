//! `storeflow`: the control plane's one binary.

mod bench;
mod runs_cli;
mod schedules_cli;

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
    about = "Provision isolated e-commerce stores with durable workflows"
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
        /// Database connections of this process.
        #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
        db_connections: u32,
    },
    /// Inspect and operate workflow runs.
    Runs {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: runs_cli::RunsCommand,
    },
    /// Manage cron schedules.
    Schedules {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: schedules_cli::SchedulesCommand,
    },
    /// Benchmark the engine against the configured database (build with --release).
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
        .with_writer(std::io::stderr);
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

pub(crate) async fn start_engine(pool: sqlx::PgPool) -> anyhow::Result<Engine> {
    config::migrate(&pool).await?;
    Ok(Engine::start(pool, storeflow_workflows::registry()).await?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
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
                metrics_exporter_prometheus::PrometheusBuilder::new()
                    .with_http_listener(addr)
                    .install()
                    .map_err(|err| anyhow::anyhow!("cannot serve metrics on {addr}: {err}"))?;
                storeflow_engine::metrics::describe();
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
            Worker::new(engine, worker.options()).run(shutdown).await?;
            if let Some(scheduler) = scheduler {
                scheduler.await??;
            }
            Ok(())
        }
        Command::Serve {
            db,
            host,
            port,
            db_connections,
        } => {
            init_tracing("info");
            let jwt_secret = config::jwt_secret()?;
            let api_config = config::api_config()?;
            let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|_| {
                anyhow::anyhow!("HOST/PORT `{host}:{port}` is not a valid listen address")
            })?;
            let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .map_err(|err| anyhow::anyhow!("cannot install the metrics recorder: {err}"))?;
            storeflow_engine::metrics::describe();
            let pool = config::connect(db.database_url.as_deref(), db_connections.max(2)).await?;
            let engine = start_engine(pool).await?;
            let state = storeflow::AppState::new(engine, &jwt_secret, api_config, Some(metrics));
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
                anyhow::anyhow!(
                    "cannot listen on {addr}: {err} (is another process using the port?)"
                )
            })?;
            info!(%addr, "serving the API");
            let shutdown = shutdown_on_signals();
            axum::serve(
                listener,
                storeflow::app(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await?;
            info!("API stopped");
            Ok(())
        }
        Command::Runs { db, command } => {
            init_tracing("warn");
            let pool = config::connect(db.database_url.as_deref(), 4).await?;
            let engine = start_engine(pool).await?;
            runs_cli::run(&engine, command).await
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
