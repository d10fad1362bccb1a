//! `storeflow bench api`: HTTP load on loopback against the real API (in this process,
//! on the configured database). An open-loop phase sends requests at a fixed rate and
//! measures each from its scheduled send time (so a slow server cannot hide queueing);
//! a closed-loop phase finds the maximum sustainable throughput.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use storeflow::auth::{Role, TokenKeys, User};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use storeflow::config;

#[derive(Debug, clap::Args)]
pub struct ApiBenchArgs {
    /// PostgreSQL URL of the database to benchmark against (it is migrated).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Requests per second in the fixed-rate phase.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Length of each phase.
    #[arg(long, default_value = "10s", value_parser = config::parse_duration)]
    duration: Duration,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Stores the tenant creates (through the API) so the listing has something to list (1-100).
    #[arg(long, default_value_t = 100)]
    seed_stores: usize,
    /// Database connections of the API under test.
    #[arg(long, default_value_t = 16)]
    db_connections: u32,
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    chunk: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(64 * 1024),
            chunk: vec![0; 16 * 1024],
        })
    }

    /// Sends one request (its raw bytes) and reads the whole answer; returns the status.
    async fn send(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        self.stream.write_all(request).await?;
        self.buffer.clear();
        let header_end = loop {
            let n = self.stream.read(&mut self.chunk).await?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.buffer.extend_from_slice(&self.chunk[..n]);
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..header_end]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("malformed status line")?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .context("the answer has no Content-Length")?;
        while self.buffer.len() < header_end + length {
            let n = self.stream.read(&mut self.chunk).await?;
            if n == 0 {
                bail!("the server closed the connection mid-answer");
            }
            self.buffer.extend_from_slice(&self.chunk[..n]);
        }
        Ok(status)
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

pub async fn run(args: ApiBenchArgs) -> anyhow::Result<()> {
    if args.rate == 0 || args.connections == 0 {
        bail!("--rate and --connections must be at least 1");
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are not representative (use --release)");
    }
    let pool = config::connect(args.database_url.as_deref(), args.db_connections).await?;
    let engine = crate::start_engine(pool.clone()).await?;

    if !(1..=100).contains(&args.seed_stores) {
        bail!("--seed-stores must be 1 to 100 (one page of the listing)");
    }
    // A tenant to call with: the listing then goes through row-level security.
    let secret: String = (0..4)
        .map(|_| Uuid::new_v4().simple().to_string())
        .collect();
    let tokens = TokenKeys::new(&secret, Duration::from_secs(3600));
    let id = Uuid::now_v7();
    let hash = storeflow::auth::hash_password(Uuid::new_v4().to_string())
        .await
        .map_err(|err| anyhow::anyhow!("hashing: {}", err.message))?;
    let tenant: User = sqlx::query_as(
        "INSERT INTO users (id, email, username, password_hash, role) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, email, username, role, created_at, token_version",
    )
    .bind(id)
    .bind(format!("bench-{}@bench.invalid", id.simple()))
    .bind(format!("bench-{}", id.simple()))
    .bind(&hash)
    .bind(Role::Tenant)
    .fetch_one(&pool)
    .await?;
    let token = tokens
        .issue(&tenant)
        .map_err(|err| anyhow::anyhow!("token: {}", err.message))?;

    // The API under test, on loopback, with limits that do not throttle the benchmark.
    let config = storeflow::ApiConfig {
        rate_limit_max: u32::MAX / 2,
        stores: storeflow::api::StoreSettings {
            max_per_user: 100,
            creation_cooldown: Duration::ZERO,
            ..storeflow::api::StoreSettings::default()
        },
        ..storeflow::ApiConfig::default()
    };
    let state = storeflow::AppState::new(engine.clone(), &secret, config, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            storeflow::app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    // The stores, created the way a tenant creates them (each enqueues its provisioning
    // run; no worker runs here, so they stay requested).
    let mut seeder = Connection::open(addr).await?;
    for i in 0..args.seed_stores {
        let body = json!({ "name": format!("bench-{i:03}"), "engine": if i % 2 == 0 { "woocommerce" } else { "medusa" } })
            .to_string();
        let request = format!(
            "POST /api/v1/stores HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let status = seeder.send(request.as_bytes()).await?;
        if status != 202 {
            bail!("creating seed store {i} answered {status}");
        }
    }

    let path = format!("/api/v1/stores?limit={}", args.seed_stores);
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n")
            .into_bytes();
    println!(
        "api: GET {} listing {} stores, as their tenant (row-level security), over {} keep-alive connections on loopback",
        path.split('?').next().unwrap_or(&path),
        args.seed_stores,
        args.connections
    );
    // Warm up every connection.
    let mut connections = Vec::new();
    for _ in 0..args.connections {
        let mut connection = Connection::open(addr).await?;
        let status = connection.send(&request).await?;
        if status != 200 {
            bail!("warm-up request answered {status}");
        }
        connections.push(connection);
    }

    // Phase 1: fixed rate, latency from the scheduled send time.
    let total = (args.rate as f64 * args.duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let (tickets, receiver) = async_channel(total);
    let start = Instant::now() + Duration::from_millis(50);
    let mut workers = Vec::new();
    for mut connection in connections.drain(..) {
        let receiver = receiver.clone();
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            while let Ok(scheduled) = receiver.recv().await {
                tokio::time::sleep_until(scheduled.into()).await;
                match connection.send(&request).await {
                    Ok(200) => latencies.push(scheduled.elapsed().as_secs_f64() * 1000.0),
                    _ => failures += 1,
                }
            }
            (latencies, failures, connection)
        }));
    }
    for i in 0..total {
        tickets.send(start + interval * i as u32).await.ok();
    }
    drop(tickets);
    let mut latencies = Vec::with_capacity(total);
    let mut failures = 0;
    for worker in workers {
        let (mut l, f, connection) = worker.await?;
        latencies.append(&mut l);
        failures += f;
        connections.push(connection);
    }
    let achieved = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "fixed rate {} req/s for {:?}: {} ok, {} failed, achieved {:.0} req/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.rate,
        args.duration,
        latencies.len(),
        failures,
        achieved,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );

    // Phase 2: as fast as the connections go.
    let until = Instant::now() + args.duration;
    let mut workers = Vec::new();
    for mut connection in connections.drain(..) {
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let sent = Instant::now();
                if let Ok(200) = connection.send(&request).await {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for worker in workers {
        all.append(&mut worker.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    println!(
        "maximum throughput with {} connections: {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms)",
        args.connections,
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    );

    server.abort();
    // Leave the database as it was: the tenant, its stores, their runs and audit rows.
    let mut tx = pool.begin().await?;
    for statement in [
        "DELETE FROM workflow_run_events WHERE run_id IN \
           (SELECT r.id FROM workflow_runs r JOIN stores s ON s.id = r.subject WHERE s.owner_id = $1)",
        "DELETE FROM workflow_runs WHERE subject IN (SELECT id FROM stores WHERE owner_id = $1)",
        "DELETE FROM audit_events WHERE subject IN (SELECT id FROM stores WHERE owner_id = $1)",
        "DELETE FROM stores WHERE owner_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        sqlx::query(statement)
            .bind(tenant.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A multi-consumer queue of send times (tokio's mpsc has one consumer).
fn async_channel(capacity: usize) -> (Sender, Receiver) {
    let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
    let receiver = std::sync::Arc::new(tokio::sync::Mutex::new(receiver));
    (Sender(sender), Receiver(receiver))
}

struct Sender(tokio::sync::mpsc::Sender<Instant>);

impl Sender {
    async fn send(&self, at: Instant) -> Result<(), ()> {
        self.0.send(at).await.map_err(|_| ())
    }
}

#[derive(Clone)]
struct Receiver(std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Instant>>>);

impl Receiver {
    async fn recv(&self) -> Result<Instant, ()> {
        self.0.lock().await.recv().await.ok_or(())
    }
}
