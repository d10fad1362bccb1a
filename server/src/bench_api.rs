//! `storeflow bench api`: HTTP load on loopback against a real `storeflow serve` process
//! (this binary, or `--server-bin`) on the configured database, measured the way a load
//! generator like wrk measures it: closed loops over keep-alive connections, every non-2xx
//! answer counted. Figures per route:
//! - maximum throughput (median of `--repeat` rounds), latency percentiles, non-2xx;
//! - CPU per request of the server process and of the PostgreSQL backends serving it
//!   (from `/proc`, when PostgreSQL runs on this machine);
//! - latency at a fixed rate (measured from each request's scheduled send time, so a slow
//!   server cannot hide queueing);
//! - the server's resident memory after each phase, after bursts of logins, and — with
//!   `--soak` — sampled over a long run of mixed traffic (reads, logins, creations, event
//!   streams).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use storeflow::config;

#[derive(Debug, clap::Args)]
pub struct ApiBenchArgs {
    /// PostgreSQL URL of the database to benchmark against (it is migrated).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Concurrent keep-alive connections of the closed-loop phases.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Length of each closed-loop round and of the fixed-rate phase.
    #[arg(long, default_value = "15s", value_parser = config::parse_duration)]
    duration: Duration,
    /// Closed-loop rounds per route; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Requests per second of the fixed-rate phase.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Stores the tenant creates (through the API) before the reads (1-100).
    #[arg(long, default_value_t = 50)]
    stores: usize,
    /// Routes to measure: `store` (GET /stores/{id}), `list` (GET /stores?limit=50),
    /// `login` (POST /auth/login).
    #[arg(long, value_delimiter = ',', default_value = "store,list,login")]
    routes: Vec<String>,
    /// After the routes, mixed traffic (reads, logins, creations, event streams) for this
    /// long, sampling the server's memory every `--sample-every`.
    #[arg(long, value_parser = config::parse_duration)]
    soak: Option<Duration>,
    #[arg(long, default_value = "30s", value_parser = config::parse_duration)]
    sample_every: Duration,
    /// The server binary to measure (default: this one), e.g. an older build to compare.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Database connections of the server under test (`storeflow serve`'s default).
    #[arg(long, default_value_t = 8)]
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
            chunk: vec![0; 64 * 1024],
        })
    }

    /// Sends one request (its raw bytes) and reads the whole answer; returns the status and
    /// the body.
    async fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, &[u8])> {
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
        let head = std::str::from_utf8(&self.buffer[..header_end]).context("head")?;
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
        Ok((status, &self.buffer[header_end..header_end + length]))
    }
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn call(addr: SocketAddr, raw: &[u8]) -> anyhow::Result<(u16, Value)> {
    let mut connection = Connection::open(addr).await?;
    let (status, body) = connection.send(raw).await?;
    Ok((status, serde_json::from_slice(body).unwrap_or(Value::Null)))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks; 100 per second on Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Resident memory of a process in MiB, from `/proc/<pid>/status`.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The server under test: a child `storeflow serve`.
struct Server {
    child: tokio::process::Child,
    addr: SocketAddr,
    pool: sqlx::PgPool,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Summed CPU time of the PostgreSQL backends serving the server's connections (when
    /// PostgreSQL runs on this machine and `/proc` shows them).
    async fn database_cpu(&self) -> Option<Duration> {
        let pids: Vec<(i32,)> = sqlx::query_as(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'storeflow-bench-server'",
        )
        .fetch_all(&self.pool)
        .await
        .ok()?;
        if pids.is_empty() {
            return None;
        }
        let mut total = Duration::ZERO;
        for (pid,) in pids {
            total += cpu_time(pid as u32)?;
        }
        Some(total)
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn start_server(args: &ApiBenchArgs, database_url: &str) -> anyhow::Result<Server> {
    let binary = match &args.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("locating this binary")?,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let secret: String = (0..4)
        .map(|_| Uuid::new_v4().simple().to_string())
        .collect();
    let key: String = (0..2)
        .map(|_| Uuid::new_v4().simple().to_string())
        .collect();
    // The server's backends are recognisable in pg_stat_activity (for their CPU time).
    let url = if database_url.contains('?') {
        format!("{database_url}&application_name=storeflow-bench-server")
    } else {
        format!("{database_url}?application_name=storeflow-bench-server")
    };
    let mut child = tokio::process::Command::new(&binary)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("DATABASE_URL", url)
        .env("DATABASE_MAX_CONNECTIONS", args.db_connections.to_string())
        .env("JWT_SECRET", secret)
        .env("STOREFLOW_ENCRYPTION_KEY", key)
        .env("FIRST_USER_IS_ADMIN", "false")
        // The limits' highest settings: the benchmark measures the work, not the limiters.
        .env("RATE_LIMIT_MAX", "10000000")
        .env("LOGIN_RATE_LIMIT_MAX", "10000")
        .env("REGISTER_RATE_LIMIT_MAX", "10000")
        .env("ACCOUNT_LOCKOUT_MAX_ATTEMPTS", "1000")
        .env("MAX_STORES_PER_USER", "100")
        .env("STORE_CREATION_COOLDOWN_MS", "0")
        .env("STOREFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} serve", binary.display()))?;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = call(addr, &request("GET", "/api/v1/health/ready", None, None)).await;
        if matches!(ready, Ok((200, _))) {
            break;
        }
        if let Some(status) = child.try_wait()? {
            bail!("the server under test exited with {status}");
        }
        if Instant::now() > until {
            bail!("the server under test did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pool = config::connect(Some(database_url), 2).await?;
    Ok(Server { child, addr, pool })
}

/// What a closed-loop round measured.
struct Round {
    ok: usize,
    non_2xx: usize,
    errors: usize,
    per_second: f64,
    latencies: Vec<f64>,
    server_cpu: Option<Duration>,
    database_cpu: Option<Duration>,
}

/// `connections` closed loops sending `requests` (round robin per connection) for
/// `duration`.
async fn closed_loop(
    server: &Server,
    requests: &[Vec<u8>],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Round> {
    let mut open = Vec::with_capacity(connections);
    for _ in 0..connections {
        open.push(Connection::open(server.addr).await?);
    }
    let server_cpu_before = cpu_time(server.pid());
    let database_cpu_before = server.database_cpu().await;
    let started = Instant::now();
    let until = started + duration;
    let mut workers = Vec::new();
    for (n, mut connection) in open.into_iter().enumerate() {
        let requests = requests.to_vec();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut non_2xx, mut errors) = (0usize, 0usize, 0usize);
            let mut latencies = Vec::new();
            let mut i = n;
            while Instant::now() < until {
                let sent = Instant::now();
                match connection.send(&requests[i % requests.len()]).await {
                    Ok((status, _)) if (200..300).contains(&status) => {
                        ok += 1;
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(_) => non_2xx += 1,
                    Err(_) => {
                        errors += 1;
                        match Connection::open(connection.stream.peer_addr()?).await {
                            Ok(fresh) => connection = fresh,
                            Err(_) => break,
                        }
                    }
                }
                i += 1;
            }
            anyhow::Ok((ok, non_2xx, errors, latencies))
        }));
    }
    let mut round = Round {
        ok: 0,
        non_2xx: 0,
        errors: 0,
        per_second: 0.0,
        latencies: Vec::new(),
        server_cpu: None,
        database_cpu: None,
    };
    for worker in workers {
        let (ok, non_2xx, errors, mut latencies) = worker.await??;
        round.ok += ok;
        round.non_2xx += non_2xx;
        round.errors += errors;
        round.latencies.append(&mut latencies);
    }
    let elapsed = started.elapsed();
    round.server_cpu = cpu_time(server.pid())
        .zip(server_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    round.database_cpu = server
        .database_cpu()
        .await
        .zip(database_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    round.per_second = round.ok as f64 / elapsed.as_secs_f64();
    round.latencies.sort_by(f64::total_cmp);
    Ok(round)
}

/// Requests sent at a fixed rate over `connections`; latency from each scheduled time.
async fn fixed_rate(
    server: &Server,
    raw: &[u8],
    rate: u32,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let total = (rate as f64 * duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let (tickets, receiver) = tokio::sync::mpsc::channel::<Instant>(total.max(1));
    let receiver = std::sync::Arc::new(tokio::sync::Mutex::new(receiver));
    let mut workers = Vec::new();
    for _ in 0..connections {
        let mut connection = Connection::open(server.addr).await?;
        let receiver = receiver.clone();
        let raw = raw.to_vec();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0usize;
            loop {
                let next = receiver.lock().await.recv().await;
                let Some(scheduled) = next else { break };
                tokio::time::sleep_until(scheduled.into()).await;
                match connection.send(&raw).await {
                    Ok((status, _)) if (200..300).contains(&status) => {
                        latencies.push(scheduled.elapsed().as_secs_f64() * 1000.0)
                    }
                    _ => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    for i in 0..total {
        tickets.send(start + interval * i as u32).await.ok();
    }
    drop(tickets);
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for worker in workers {
        let (mut l, f) = worker.await?;
        latencies.append(&mut l);
        failed += f;
    }
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, failed))
}

fn per_request(cpu: Option<Duration>, requests: usize) -> String {
    match cpu {
        Some(cpu) if requests > 0 => {
            format!("{:.3} ms", cpu.as_secs_f64() * 1000.0 / requests as f64)
        }
        _ => "n/a".into(),
    }
}

struct Tenant {
    email: String,
    token: String,
    stores: Vec<String>,
}

const PASSWORD: &str = "bench-password-that-is-long-enough";

async fn register(addr: SocketAddr, label: &str) -> anyhow::Result<Tenant> {
    let email = format!("bench-{label}-{}@bench.invalid", Uuid::new_v4().simple());
    let body = json!({ "email": email, "username": format!("bench-{}", &Uuid::new_v4().simple().to_string()[..12]), "password": PASSWORD });
    let (status, answer) = call(
        addr,
        &request("POST", "/api/v1/auth/register", None, Some(&body)),
    )
    .await?;
    if status != 201 {
        bail!("registering the benchmark tenant answered {status}: {answer}");
    }
    Ok(Tenant {
        email,
        token: answer["token"].as_str().context("token")?.to_owned(),
        stores: Vec::new(),
    })
}

async fn create_store(addr: SocketAddr, tenant: &mut Tenant, name: String) -> anyhow::Result<()> {
    let body = json!({ "name": name, "engine": if tenant.stores.len().is_multiple_of(2) { "woocommerce" } else { "medusa" } });
    let (status, answer) = call(
        addr,
        &request("POST", "/api/v1/stores", Some(&tenant.token), Some(&body)),
    )
    .await?;
    if status != 202 {
        bail!("creating a store answered {status}: {answer}");
    }
    tenant.stores.push(
        answer["store"]["id"]
            .as_str()
            .context("store id")?
            .to_owned(),
    );
    Ok(())
}

pub async fn run(args: ApiBenchArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.rate == 0 || args.repeat == 0 {
        bail!("--connections, --rate and --repeat must be at least 1");
    }
    if !(1..=100).contains(&args.stores) {
        bail!("--stores must be 1 to 100 (one page of the listing)");
    }
    if let Some(route) = args
        .routes
        .iter()
        .find(|r| !matches!(r.as_str(), "store" | "list" | "login"))
    {
        bail!("--routes: unknown route `{route}`; choose from store, list, login");
    }
    if cfg!(debug_assertions) && args.server_bin.is_none() {
        eprintln!("warning: this is a debug build; figures are not representative (use --release)");
    }
    let database_url = args
        .database_url
        .clone()
        .filter(|u| !u.is_empty())
        .context("DATABASE_URL is not set: set it (or pass --database-url) to the database to benchmark against")?;
    // Migrated by this build first, so the server under test finds the schema it expects.
    let pool = config::connect(Some(&database_url), 2).await?;
    let engine = crate::start_engine(pool.clone()).await?;
    let server = start_server(&args, &database_url).await?;
    let result = measure(&args, &server).await;
    let pid = server.pid();
    let final_rss = rss_mib(pid);
    server.stop().await;
    cleanup(&engine).await?;
    if let Some(rss) = final_rss {
        println!("server memory at the end: {rss:.1} MiB resident");
    }
    result
}

async fn measure(args: &ApiBenchArgs, server: &Server) -> anyhow::Result<()> {
    let addr = server.addr;
    let mut tenant = register(addr, "reader").await?;
    for i in 0..args.stores {
        create_store(addr, &mut tenant, format!("bench-{i:03}")).await?;
    }
    println!(
        "server pid {} on {addr}; a tenant with {} stores (each with its provisioning run; no worker, so they stay requested); {} keep-alive connections; rounds of {}",
        server.pid(),
        args.stores,
        args.connections,
        humantime::format_duration(args.duration),
    );
    if let Some(rss) = rss_mib(server.pid()) {
        println!("server memory after start and seeding: {rss:.1} MiB resident");
    }
    for route in &args.routes {
        let (label, requests): (&str, Vec<Vec<u8>>) = match route.as_str() {
            "store" => (
                "GET /api/v1/stores/{id}",
                tenant
                    .stores
                    .iter()
                    .map(|id| {
                        request(
                            "GET",
                            &format!("/api/v1/stores/{id}"),
                            Some(&tenant.token),
                            None,
                        )
                    })
                    .collect(),
            ),
            "list" => (
                "GET /api/v1/stores?limit=50",
                vec![request(
                    "GET",
                    "/api/v1/stores?limit=50",
                    Some(&tenant.token),
                    None,
                )],
            ),
            _ => (
                "POST /api/v1/auth/login",
                vec![request(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(&json!({ "email": tenant.email, "password": PASSWORD })),
                )],
            ),
        };
        // Warm-up: connections, plans, caches.
        closed_loop(server, &requests, args.connections, Duration::from_secs(2)).await?;
        let mut rounds = Vec::new();
        for _ in 0..args.repeat {
            rounds.push(closed_loop(server, &requests, args.connections, args.duration).await?);
        }
        rounds.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        let median = &rounds[rounds.len() / 2];
        let all: Vec<String> = rounds
            .iter()
            .map(|r| format!("{:.0}", r.per_second))
            .collect();
        let non_2xx: usize = rounds.iter().map(|r| r.non_2xx).sum();
        let errors: usize = rounds.iter().map(|r| r.errors).sum();
        println!(
            "{label}: {:.0} req/s median of {} rounds ({}), p50 {:.2} ms, p99 {:.2} ms; non-2xx {non_2xx}, connection errors {errors}; CPU per request: server {}, PostgreSQL {}",
            median.per_second,
            rounds.len(),
            all.join(", "),
            percentile(&median.latencies, 0.5),
            percentile(&median.latencies, 0.99),
            per_request(median.server_cpu, median.ok + median.non_2xx),
            per_request(median.database_cpu, median.ok + median.non_2xx),
        );
        if route != "login" {
            let rate = args.rate;
            let (latencies, failed) = fixed_rate(
                server,
                &requests[0],
                rate,
                args.connections.min(16),
                args.duration,
            )
            .await?;
            println!(
                "{label} at {rate} req/s for {}: {} ok, {failed} failed; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                humantime::format_duration(args.duration),
                latencies.len(),
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.9),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or(f64::NAN),
            );
        }
        if let Some(rss) = rss_mib(server.pid()) {
            println!("server memory after {label}: {rss:.1} MiB resident");
        }
    }
    if let Some(soak) = args.soak {
        soak_run(args, server, &mut tenant, soak).await?;
    }
    Ok(())
}

/// Mixed traffic for `length`: 8 readers (store pages and lists, ~20/s each), 2 logins per second,
/// a store created every 2 s, 4 event streams reconnecting every 20 s.
/// Prints the server's resident memory every `--sample-every`.
async fn soak_run(
    args: &ApiBenchArgs,
    server: &Server,
    tenant: &mut Tenant,
    length: Duration,
) -> anyhow::Result<()> {
    let addr = server.addr;
    let until = Instant::now() + length;
    println!(
        "soak: {} of mixed traffic (8 readers at ~20 req/s, 2 logins/s, a store created every 2 s, 4 event streams)",
        humantime::format_duration(length)
    );
    let mut tasks = Vec::new();
    let reads: Vec<Vec<u8>> = tenant
        .stores
        .iter()
        .map(|id| {
            request(
                "GET",
                &format!("/api/v1/stores/{id}"),
                Some(&tenant.token),
                None,
            )
        })
        .chain(std::iter::once(request(
            "GET",
            "/api/v1/stores?limit=50",
            Some(&tenant.token),
            None,
        )))
        .collect();
    for n in 0..8 {
        let reads = reads.clone();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(addr).await?;
            let mut i = n;
            let mut counts = (0usize, 0usize);
            while Instant::now() < until {
                match connection.send(&reads[i % reads.len()]).await {
                    Ok((status, _)) if (200..300).contains(&status) => counts.0 += 1,
                    Ok(_) => counts.1 += 1,
                    Err(_) => {
                        counts.1 += 1;
                        connection = Connection::open(addr).await?;
                    }
                }
                i += 1;
                // About 20 reads per second per reader: steady, not saturating.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            anyhow::Ok(counts)
        }));
    }
    let login = request(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({ "email": tenant.email, "password": PASSWORD })),
    );
    tasks.push(tokio::spawn(async move {
        let mut counts = (0usize, 0usize);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        while Instant::now() < until {
            tick.tick().await;
            match call(addr, &login).await {
                Ok((200, _)) => counts.0 += 1,
                _ => counts.1 += 1,
            }
        }
        anyhow::Ok(counts)
    }));
    // Creations by tenants of their own, so the reader's listing keeps its size; a new
    // creator every 90 stores (a tenant may hold 100).
    tasks.push(tokio::spawn(async move {
        let mut counts = (0usize, 0usize);
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut n = 0;
        let mut creator = String::new();
        while Instant::now() < until {
            tick.tick().await;
            if n % 90 == 0 {
                creator = register(addr, "creator").await?.token;
            }
            n += 1;
            let body = json!({ "name": format!("soak-{n}"), "engine": "medusa" });
            match call(
                addr,
                &request("POST", "/api/v1/stores", Some(&creator), Some(&body)),
            )
            .await
            {
                Ok((202, _)) => counts.0 += 1,
                _ => counts.1 += 1,
            }
        }
        anyhow::Ok(counts)
    }));
    for n in 0..4 {
        let stream = request(
            "GET",
            &format!(
                "/api/v1/stores/{}/events/stream",
                tenant.stores[n % tenant.stores.len()]
            ),
            Some(&tenant.token),
            None,
        );
        tasks.push(tokio::spawn(async move {
            let mut counts = (0usize, 0usize);
            while Instant::now() < until {
                let opened = async {
                    let mut socket = TcpStream::connect(addr).await?;
                    socket.write_all(&stream).await?;
                    let mut chunk = vec![0u8; 16 * 1024];
                    let read_until = Instant::now() + Duration::from_secs(20);
                    while Instant::now() < read_until.min(until) {
                        match tokio::time::timeout(Duration::from_secs(1), socket.read(&mut chunk))
                            .await
                        {
                            Ok(Ok(0)) => break,
                            Ok(Ok(_)) | Err(_) => {}
                            Ok(Err(err)) => return Err(anyhow::Error::from(err)),
                        }
                    }
                    anyhow::Ok(())
                };
                match opened.await {
                    Ok(()) => counts.0 += 1,
                    Err(_) => counts.1 += 1,
                }
            }
            anyhow::Ok(counts)
        }));
    }
    let started = Instant::now();
    let mut samples: Vec<(Duration, f64)> = Vec::new();
    while Instant::now() < until {
        if let Some(rss) = rss_mib(server.pid()) {
            println!(
                "soak {:>6}: server {rss:.1} MiB resident",
                humantime::format_duration(Duration::from_secs(started.elapsed().as_secs()))
            );
            samples.push((started.elapsed(), rss));
        }
        tokio::time::sleep(
            args.sample_every
                .min(until.saturating_duration_since(Instant::now())),
        )
        .await;
    }
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (o, f) = task.await??;
        ok += o;
        failed += f;
    }
    if let Some(rss) = rss_mib(server.pid()) {
        samples.push((started.elapsed(), rss));
    }
    let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let (min, max) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    println!(
        "soak done: {ok} operations answered 2xx, {failed} not; server memory min {min:.1} MiB, max {max:.1} MiB, mean {mean:.1} MiB ({:+.1} % / {:+.1} % around the mean)",
        (min - mean) / mean * 100.0,
        (max - mean) / mean * 100.0
    );
    Ok(())
}

/// Removes what the benchmark created: its tenants, their stores, runs and audit rows.
async fn cleanup(engine: &storeflow_engine::Engine) -> anyhow::Result<()> {
    let mut tx = engine.pool().begin().await?;
    let stores: Vec<String> = sqlx::query_scalar(
        "SELECT s.id FROM stores s JOIN users u ON u.id = s.owner_id \
         WHERE u.email LIKE 'bench-%@bench.invalid'",
    )
    .fetch_all(&mut *tx)
    .await?;
    engine.delete_runs_about(&mut tx, &stores).await?;
    for statement in [
        "DELETE FROM audit_events WHERE subject IN (SELECT s.id FROM stores s \
            JOIN users u ON u.id = s.owner_id WHERE u.email LIKE 'bench-%@bench.invalid') \
            OR actor_email LIKE 'bench-%@bench.invalid'",
        "DELETE FROM stores WHERE owner_id IN (SELECT id FROM users WHERE email LIKE 'bench-%@bench.invalid')",
        "DELETE FROM users WHERE email LIKE 'bench-%@bench.invalid'",
    ] {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
