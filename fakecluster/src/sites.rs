//! The simulated WordPress sites of a *real* test cluster (real API server, kwok nodes), as
//! one process that runs in the cluster's pod network:
//! - HTTP on the WordPress pods' port: the WooCommerce Store API of the store whose pod IP
//!   the connection was made to (every pod IP of the routed pod CIDR is local in that network,
//!   so the API server's service proxy reaches this process for every store);
//! - a Unix socket (Unix sockets cross network namespaces: the path is on the shared file
//!   system) for WP-CLI commands run by the `wp` shim that kwok executes for `pods/exec`, for
//!   the pod IP → namespace table the test harness keeps current, and for reading a site's
//!   state in assertions.
//!
//! The protocol is one JSON object per line each way:
//! `{"op":"wp","namespace":N,"argv":["wp",…],"stdin":"…"}` → `{"stdout","stderr","code"}`;
//! `{"op":"pods","pods":{"10.244.0.7":"store-1a2b3c4d",…}}` → `{"ok":true}` (replaces the table);
//! `{"op":"site","namespace":N}` → a summary of that site (`null` before its first command);
//! `{"op":"medusa","namespace":N,"port":P}` → `{"ok":true}`: with `--medusa ADDR`, connections
//! to a Medusa pod's IP on ADDR's port are forwarded to that store's own Medusa on loopback
//! port P of the pod network (`"port":null` forgets it) — every store has a Medusa and a
//! database of its own, as in a real cluster, and Medusa cannot be bound to one pod IP.
//!
//! # Caveats
//! kwok never closes a command's standard input and reports a non-zero exit only as an
//! error (storeflow then sees exit code 1): the `wp` shim reads one line per `--prompt`
//! argument instead of reading to the end, and the exit status 0/non-zero is what survives.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener, UnixStream};

use crate::wpcli::Site;

#[derive(Default)]
struct Sites {
    by_namespace: BTreeMap<String, Site>,
    pod_namespaces: BTreeMap<IpAddr, String>,
    /// Namespace → the loopback port of its own Medusa (`--medusa`).
    medusa_ports: BTreeMap<String, u16>,
}

type Shared = Arc<Mutex<Sites>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Sites> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Serves until the process ends: HTTP on `http` (in the pod network), commands on `socket`.
/// The runtime of the fake cluster's binaries: two worker threads are plenty.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The parts of a program that plays the store backends of a real test cluster: invoked as
/// `wp` it is the WP-CLI shim ([`wp_shim`]); as `<program> sites --http ADDR --socket PATH` it
/// serves the sites ([`serve`]). Runs the part `argv` asks for and returns its exit code, or
/// `None` when `argv` asks for neither. `storeflow-fakecluster` and `storeflow-realcluster`
/// both start with it, so either can be the program the store backends run.
pub fn run_backend_part(argv: &[String]) -> Option<i32> {
    let invoked_as = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let wp = invoked_as == "wp";
    let database = matches!(invoked_as, "mariadb-dump" | "mariadb");
    if !wp && !database && argv.get(1).map(String::as_str) != Some("sites") {
        return None;
    }
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return Some(1);
        }
    };
    if database {
        return Some(runtime.block_on(database_shim(invoked_as == "mariadb-dump")));
    }
    if wp {
        let mut wp_argv = vec!["wp".to_owned()];
        wp_argv.extend(argv.iter().skip(1).cloned());
        return Some(runtime.block_on(wp_shim(wp_argv)));
    }
    let mut http: Option<SocketAddr> = None;
    let mut socket: Option<PathBuf> = None;
    let mut medusa: Option<SocketAddr> = None;
    let mut args = argv.iter().skip(2);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--http" => http = args.next().and_then(|a| a.parse().ok()),
            "--socket" => socket = args.next().map(PathBuf::from),
            "--medusa" => medusa = args.next().and_then(|a| a.parse().ok()),
            _ => http = None,
        }
    }
    let (Some(http), Some(socket)) = (http, socket) else {
        eprintln!("usage: {invoked_as} sites --http ADDR --socket PATH [--medusa ADDR]");
        return Some(2);
    };
    match runtime.block_on(serve(http, socket, medusa)) {
        Ok(()) => Some(0),
        Err(err) => {
            eprintln!("error: serving the sites: {err}");
            Some(1)
        }
    }
}

pub async fn serve(
    http: SocketAddr,
    socket: PathBuf,
    medusa: Option<SocketAddr>,
) -> std::io::Result<()> {
    let shared: Shared = Arc::default();
    let _ = std::fs::remove_file(&socket);
    let web = TcpListener::bind(http).await?;
    if let Some(medusa) = medusa {
        let listener = TcpListener::bind(medusa).await?;
        tokio::spawn(forward_medusa(listener, shared.clone()));
    }
    // Bound last: the socket's existence tells the harness that everything listens.
    let commands = UnixListener::bind(&socket)?;
    let for_commands = shared.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = commands.accept().await {
            tokio::spawn(command_connection(stream, for_commands.clone()));
        }
    });
    loop {
        let (stream, _) = web.accept().await?;
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let shared = shared.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            store_api(State((shared, local.ip())), request.map(Body::new)).await,
                        )
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Forwards each connection made to a Medusa pod's IP to that store's own Medusa. A store's
/// Medusa may still be starting (or its pod IP not yet known) when the first request comes:
/// the connection waits for it up to a minute, as a Service waits for its endpoints.
async fn forward_medusa(listener: TcpListener, shared: Shared) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        let Ok(local) = inbound.local_addr() else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            let port = loop {
                let port = {
                    let sites = lock(&shared);
                    sites
                        .pod_namespaces
                        .get(&local.ip())
                        .and_then(|namespace| sites.medusa_ports.get(namespace))
                        .copied()
                };
                match port {
                    Some(port) => break port,
                    None if tokio::time::Instant::now() > until => return,
                    None => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            };
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

async fn store_api(
    State((shared, pod_ip)): State<(Shared, IpAddr)>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let token = parts
        .headers
        .get("cart-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let (status, extra, value) = {
        let mut sites = lock(&shared);
        let Some(namespace) = sites.pod_namespaces.get(&pod_ip).cloned() else {
            return (
                StatusCode::BAD_GATEWAY,
                format!("no store pod has the address {pod_ip} (yet)"),
            )
                .into_response();
        };
        let site = sites.by_namespace.entry(namespace).or_default();
        if !path.starts_with("/wp-json/") {
            // WordPress itself: enough for a readiness check.
            return (StatusCode::OK, "<html><body>WordPress</body></html>").into_response();
        }
        site.store_api(parts.method.as_str(), &path, token.as_deref(), &body)
    };
    let mut answer = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (name, value) in extra {
        answer = answer.header(name, value);
    }
    answer
        .body(Body::from(value.to_string()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

async fn command_connection(stream: UnixStream, shared: Shared) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(command) => answer(&shared, &command),
            Err(err) => json!({ "error": format!("not JSON: {err}") }),
        };
        let mut out = answer.to_string();
        out.push('\n');
        if write.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn answer(shared: &Shared, command: &Value) -> Value {
    let namespace = command["namespace"].as_str().unwrap_or_default().to_owned();
    match command["op"].as_str() {
        Some("wp") => {
            let argv: Vec<String> = command["argv"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let stdin = command["stdin"].as_str().unwrap_or_default();
            let mut sites = lock(shared);
            let output = sites
                .by_namespace
                .entry(namespace)
                .or_default()
                .run(&argv, stdin.as_bytes());
            json!({ "stdout": output.stdout, "stderr": output.stderr, "code": output.code })
        }
        Some("pods") => {
            let table = command["pods"]
                .as_object()
                .map(|pods| {
                    pods.iter()
                        .filter_map(|(ip, ns)| Some((ip.parse().ok()?, ns.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            lock(shared).pod_namespaces = table;
            json!({ "ok": true })
        }
        Some("medusa") => {
            let mut sites = lock(shared);
            match command["port"].as_u64().and_then(|p| u16::try_from(p).ok()) {
                Some(port) => sites.medusa_ports.insert(namespace, port),
                None => sites.medusa_ports.remove(&namespace),
            };
            json!({ "ok": true })
        }
        Some("dump") => match lock(shared).by_namespace.get(&namespace) {
            Some(site) => json!({ "dump": serde_json::to_string(site).unwrap_or_default() }),
            None => json!({ "error": format!("no site in {namespace}: the database is empty") }),
        },
        Some("load") => {
            match serde_json::from_str::<Site>(command["dump"].as_str().unwrap_or("")) {
                Ok(site) => {
                    lock(shared).by_namespace.insert(namespace, site);
                    json!({ "ok": true })
                }
                Err(err) => {
                    json!({ "error": format!("ERROR at line 1: the dump is not valid: {err}") })
                }
            }
        }
        Some("site") => match lock(shared).by_namespace.get(&namespace) {
            Some(site) => json!({
                "installed": site.installed,
                "url": site.url,
                "adminUser": site.admin_user,
                "adminPassword": site.admin_password,
                "openToShoppers": site.open_to_shoppers(),
                "products": site.products.iter().map(|p| json!({ "id": p.id, "sku": p.sku, "name": p.name })).collect::<Vec<_>>(),
                "orders": site.orders.iter().map(|o| json!({ "id": o.id, "status": o.status, "email": o.email })).collect::<Vec<_>>(),
                "dbUpdates": site.db_updates,
            }),
            None => Value::Null,
        },
        _ => json!({ "error": "unknown op" }),
    }
}

/// One request over the command socket.
pub async fn request(socket: &Path, command: &Value) -> std::io::Result<Value> {
    let stream = UnixStream::connect(socket).await?;
    let (read, mut write) = stream.into_split();
    let mut line = command.to_string();
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut lines = BufReader::new(read).lines();
    let answer = lines.next_line().await?.unwrap_or_default();
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}

/// The first line of a simulated database dump.
const DUMP_HEADER: &str = "-- storeflow simulated MariaDB dump: the WordPress site's state as JSON";

/// `mariadb-dump` (`dump`: writes the namespace's site to stdout) and `mariadb` (reads a dump
/// from stdin to its end and loads it), as kwok executes them for the simulated sites; their
/// options (user, database) are accepted and ignored, and the password is not needed.
pub async fn database_shim(dump: bool) -> i32 {
    let (Ok(socket), Ok(namespace)) = (
        std::env::var("STOREFLOW_SITES_SOCKET"),
        std::env::var("STOREFLOW_TEST_NAMESPACE"),
    ) else {
        eprintln!(
            "mariadb (test shim): STOREFLOW_SITES_SOCKET and STOREFLOW_TEST_NAMESPACE must be set"
        );
        return 1;
    };
    let command = if dump {
        json!({ "op": "dump", "namespace": namespace })
    } else {
        let mut text = String::new();
        if let Err(err) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            eprintln!("ERROR: reading the dump: {err}");
            return 1;
        }
        let body = text.strip_prefix(DUMP_HEADER).unwrap_or(&text).trim();
        json!({ "op": "load", "namespace": namespace, "dump": body })
    };
    match request(Path::new(&socket), &command).await {
        Ok(answer) if answer.get("error").is_none() => {
            if dump {
                println!(
                    "{DUMP_HEADER}\n{}",
                    answer["dump"].as_str().unwrap_or_default()
                );
            }
            0
        }
        Ok(answer) => {
            eprintln!("{}", answer["error"].as_str().unwrap_or("failed"));
            1
        }
        Err(err) => {
            eprintln!("ERROR 2002: cannot reach the simulated database: {err}");
            1
        }
    }
}

/// The `wp` shim kwok executes: forwards argv (with `wp` first) and the lines of standard
/// input the command prompts for to the sites process; returns the exit code.
pub async fn wp_shim(argv: Vec<String>) -> i32 {
    let (Ok(socket), Ok(namespace)) = (
        std::env::var("STOREFLOW_SITES_SOCKET"),
        std::env::var("STOREFLOW_TEST_NAMESPACE"),
    ) else {
        eprintln!(
            "wp (test shim): STOREFLOW_SITES_SOCKET and STOREFLOW_TEST_NAMESPACE must be set"
        );
        return 1;
    };
    // `--prompt=a,b` reads one line per named argument (kwok never closes stdin).
    let prompted = argv
        .iter()
        .filter_map(|a| a.strip_prefix("--prompt="))
        .map(|names| names.split(',').count())
        .sum::<usize>();
    let mut stdin = String::new();
    if prompted > 0 {
        use std::io::BufRead;
        let mut reader = std::io::stdin().lock();
        for _ in 0..prompted {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            stdin.push_str(&line);
        }
    }
    let command = json!({ "op": "wp", "namespace": namespace, "argv": argv, "stdin": stdin });
    match request(Path::new(&socket), &command).await {
        Ok(output) => {
            print!("{}", output["stdout"].as_str().unwrap_or_default());
            eprint!("{}", output["stderr"].as_str().unwrap_or_default());
            output["code"].as_i64().unwrap_or(1) as i32
        }
        Err(err) => {
            eprintln!("wp (test shim): the sites process at {socket} does not answer: {err}");
            1
        }
    }
}
