//! `storeflow bench`: throughput and latency of the engine against the configured database.
//! A benchmark, not a test: it prints figures and checks that every step completion was
//! recorded exactly once.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use storeflow_engine::{EVENTS_CHANNEL, Engine, NewRun, Worker, WorkerOptions, selftest};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use storeflow::config;

#[derive(Debug, clap::Subcommand)]
pub enum BenchMode {
    /// HTTP load against the API on loopback (fixed rate, then maximum throughput).
    Api(crate::bench_api::ApiBenchArgs),
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    mode: Option<BenchMode>,
    /// PostgreSQL URL of the database to benchmark against (it is migrated).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Selftest runs to execute.
    #[arg(long, default_value_t = 2000)]
    runs: usize,
    /// No-op steps per run.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Worker concurrency (runs in flight).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Delay inside each step.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Latency mode: one run at a time, reporting enqueue→finish per run.
    #[arg(long)]
    latency: bool,
    /// Checkpoint statements in flight at once.
    #[arg(long, default_value_t = 2)]
    checkpoint_writers: usize,
    /// Database connections of the benchmark process.
    #[arg(long, default_value_t = 16)]
    db_connections: u32,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchMode::Api(api)) = args.mode {
        return crate::bench_api::run(api).await;
    }
    if args.steps == 0 || args.steps > selftest::MAX_STEPS {
        bail!("--steps must be between 1 and {}", selftest::MAX_STEPS);
    }
    if args.runs == 0 || args.concurrency == 0 {
        bail!("--runs and --concurrency must be at least 1");
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; figures are not representative (use cargo run --release)"
        );
    }
    let pool = config::connect(args.database_url.as_deref(), args.db_connections).await?;
    let engine = crate::start_engine(pool.clone()).await?;
    print_database(&pool).await?;
    let options = WorkerOptions {
        concurrency: args.concurrency,
        checkpoint_writers: args.checkpoint_writers,
        ..WorkerOptions::default()
    };
    let stop = CancellationToken::new();
    let worker = tokio::spawn(Worker::new(engine.clone(), options).run(stop.clone()));
    let subject = format!("bench:{}", Uuid::new_v4());
    let input = json!({ "steps": args.steps, "delay_ms": args.delay_ms });
    let result = if args.latency {
        latency(&engine, &args, &subject, &input).await
    } else {
        throughput(&engine, &args, &subject, &input, &stop).await
    };
    stop.cancel();
    worker.await.context("worker task")??;
    result?;
    verify(&engine, &subject, args.runs, args.steps).await?;
    let retained = engine.retained_step_completions().await?;
    println!("finished steps retained in the database: {retained}");
    if let Some(rss) = peak_rss_mb() {
        println!("peak RSS of this process (worker + enqueue): {rss:.1} MB");
    }
    Ok(())
}

async fn print_database(pool: &PgPool) -> anyhow::Result<()> {
    let (version, fsync, sync_commit): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')",
    )
    .fetch_one(pool)
    .await?;
    println!("database: PostgreSQL {version}, fsync={fsync}, synchronous_commit={sync_commit}");
    Ok(())
}

async fn throughput(
    engine: &Engine,
    args: &BenchArgs,
    subject: &str,
    input: &serde_json::Value,
    _stop: &CancellationToken,
) -> anyhow::Result<()> {
    println!(
        "throughput: {} selftest runs x {} steps, concurrency {}, delay {} ms",
        args.runs, args.steps, args.concurrency, args.delay_ms
    );
    // Enqueue before the worker may claim: the runs start "now" in the database's clock.
    let enqueue_started = Instant::now();
    let mut tx = engine.pool().begin().await?;
    let (started_at,): (chrono::DateTime<chrono::Utc>,) =
        sqlx::query_as("SELECT now()").fetch_one(&mut *tx).await?;
    // In chunks, so the enqueue does not inflate the worker's memory figure.
    let mut remaining = args.runs;
    while remaining > 0 {
        let chunk = remaining.min(5_000);
        let runs: Vec<NewRun> = (0..chunk)
            .map(|_| NewRun::new(selftest::WORKFLOW, input.clone()).subject(subject))
            .collect();
        engine.enqueue_many(&mut tx, runs).await?;
        remaining -= chunk;
    }
    tx.commit().await?;
    println!(
        "enqueued {} runs in {:.2} s",
        args.runs,
        enqueue_started.elapsed().as_secs_f64()
    );

    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // Reads only unfinished runs (the runnable index and the lease index), not history.
        let open = engine.unfinished_runs_about(subject).await?;
        if open == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{open} runs still unfinished after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let times = engine.finish_times_about(subject).await?;
    let (p50, p99) = (times.p50_seconds, times.p99_seconds);
    let last_finish = times.last_finish.context("no run finished")?;
    let elapsed = (last_finish - started_at).num_microseconds().unwrap_or(1) as f64 / 1e6;
    let steps = (args.runs * args.steps) as f64;
    println!(
        "completed {} durable steps in {:.3} s: {:.0} steps/s",
        args.runs * args.steps,
        elapsed,
        steps / elapsed
    );
    println!(
        "enqueue->finish (all runs queued at once): p50 {:.1} ms, p99 {:.1} ms",
        p50 * 1e3,
        p99 * 1e3
    );
    Ok(())
}

async fn latency(
    engine: &Engine,
    args: &BenchArgs,
    subject: &str,
    input: &serde_json::Value,
) -> anyhow::Result<()> {
    println!(
        "latency: {} selftest runs of {} steps, one at a time, delay {} ms",
        args.runs, args.steps, args.delay_ms
    );
    let mut listener = PgListener::connect_with(engine.pool()).await?;
    listener.listen(EVENTS_CHANNEL).await?;
    let mut observed = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let started = Instant::now();
        let run = engine
            .enqueue_now(NewRun::new(selftest::WORKFLOW, input.clone()).subject(subject))
            .await?;
        loop {
            tokio::time::timeout(Duration::from_secs(30), listener.recv())
                .await
                .context("no progress within 30 s; is the run stuck?")??;
            if engine.run_finished(run.run_id).await? == Some(true) {
                break;
            }
        }
        observed.push(started.elapsed().as_secs_f64());
    }
    let times = engine.finish_times_about(subject).await?;
    let (p50, p99) = (times.p50_seconds, times.p99_seconds);
    observed.sort_by(f64::total_cmp);
    let pick = |q: f64| observed[((observed.len() - 1) as f64 * q).round() as usize] * 1e3;
    println!(
        "enqueue->finish per run (database clock): p50 {:.2} ms, p99 {:.2} ms",
        p50 * 1e3,
        p99 * 1e3
    );
    println!(
        "enqueue call -> finish observed by the client: p50 {:.2} ms, p99 {:.2} ms",
        pick(0.5),
        pick(0.99)
    );
    Ok(())
}

/// Every run succeeded and every (run, step) completed exactly once.
async fn verify(engine: &Engine, subject: &str, runs: usize, steps: usize) -> anyhow::Result<()> {
    let storeflow_engine::Completions {
        succeeded_runs,
        step_completions: completions,
        distinct_steps: distinct,
    } = engine.completions_about(subject).await?;
    let expected = (runs * steps) as i64;
    let ok = succeeded_runs == runs as i64 && completions == expected && distinct == expected;
    println!(
        "check: {succeeded_runs}/{runs} runs succeeded; {completions} step completions recorded, \
         {distinct} distinct (run, step), expected {expected}: {}",
        if ok { "OK" } else { "MISMATCH" }
    );
    if !ok {
        bail!("the benchmark's completions do not match what was enqueued");
    }
    Ok(())
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
