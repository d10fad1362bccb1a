//! `storeflow up` on a machine with only the PostgreSQL server binaries: a private database
//! is created on first start and reused on the next; a start that fails leaves nothing
//! running and says what to do; a start that succeeds says where everything is.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    request_as(port, method, path, None, body)
}

/// `request` with a bearer token.
pub(crate) fn request_as(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let body = body.unwrap_or("");
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         {authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn up(data_dir: &std::path::Path, port: u16) -> Child {
    up_command(data_dir, port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("storeflow up starts")
}

/// `storeflow up` on 127.0.0.1:`port` with its data in `data_dir`, no cluster configured.
fn up_command(data_dir: &std::path::Path, port: u16) -> Command {
    let mut command = crate::storeflow_binary();
    command
        .args(["up", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env_remove("KUBECONFIG")
        // No ~/.kube/config either: no cluster at all.
        .env("HOME", data_dir)
        .env("STOREFLOW_LOG", "warn");
    command
}

pub(crate) fn wait_ready(port: u16, child: &mut Child) {
    wait_ready_within(port, child, Duration::from_secs(60));
}

/// Waits until `up` answers ready (it may first build the dashboard).
pub(crate) fn wait_ready_within(port: u16, child: &mut Child, within: Duration) {
    let until = Instant::now() + within;
    loop {
        if let Some((200, _)) = request(port, "GET", "/api/v1/health/ready", None) {
            return;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("storeflow up exited early with {status}");
        }
        assert!(Instant::now() < until, "storeflow up never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn stop(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            assert!(exit.success(), "storeflow up exited with {exit}");
            return;
        }
        assert!(
            Instant::now() < until,
            "storeflow up did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn up_starts_a_private_database_and_reuses_it_on_the_next_start() {
    let data_dir =
        std::env::temp_dir().join(format!("storeflow-up-{}", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    let mut first = up(&data_dir, port);
    wait_ready(port, &mut first);
    let (status, body) = request(
        port,
        "POST",
        "/api/v1/auth/register",
        Some(r#"{"email": "owner@example.com", "username": "owner", "password": "correct horse"}"#),
    )
    .expect("register");
    assert_eq!(status, 201, "{body}");
    assert!(body.contains(r#""role":"admin""#), "{body}");
    stop(&mut first);

    let mut second = up(&data_dir, port);
    wait_ready(port, &mut second);
    let (status, body) = request(
        port,
        "POST",
        "/api/v1/auth/login",
        Some(r#"{"email": "owner@example.com", "password": "correct horse"}"#),
    )
    .expect("login");
    assert_eq!(status, 200, "the user survived the restart: {body}");
    stop(&mut second);
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// Whether the private PostgreSQL of `data_dir` runs (its postmaster.pid names a live process).
pub(crate) fn private_database_runs(data_dir: &std::path::Path) -> bool {
    std::fs::read_to_string(data_dir.join("postgres/postmaster.pid"))
        .ok()
        .and_then(|pid| pid.lines().next().map(str::to_owned))
        .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
}

#[test]
fn up_that_cannot_take_its_port_starts_nothing_and_says_what_to_do() {
    let data_dir =
        std::env::temp_dir().join(format!("storeflow-up-{}", uuid::Uuid::new_v4().simple()));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let output = up_command(&data_dir, port)
        .output()
        .expect("storeflow up runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")) && stderr.contains("--port"),
        "{stderr}"
    );
    assert!(
        !data_dir.join("postgres").exists(),
        "no database was even created"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn up_that_fails_after_starting_its_database_stops_it() {
    let data_dir =
        std::env::temp_dir().join(format!("storeflow-up-{}", uuid::Uuid::new_v4().simple()));
    // A bad setting read only once the database runs (by the store steps' helm settings).
    let output = up_command(&data_dir, free_port())
        .env("HELM_TIMEOUT", "soon")
        .output()
        .expect("storeflow up runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HELM_TIMEOUT `soon`"), "{stderr}");
    assert!(
        data_dir.join("postgres").exists(),
        "the database had been started"
    );
    assert!(
        !private_database_runs(&data_dir),
        "the private PostgreSQL was left running"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn up_says_where_the_api_is_that_no_cluster_is_configured_and_what_to_do_next() {
    let data_dir =
        std::env::temp_dir().join(format!("storeflow-up-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir).expect("dir");
    let port = free_port();
    let stdout = data_dir.join("stdout");
    let mut child = up_command(&data_dir, port)
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("storeflow up starts");
    wait_ready(port, &mut child);
    // The announcement follows readiness by a moment (the cluster check).
    let until = Instant::now() + Duration::from_secs(10);
    let said = loop {
        let said = std::fs::read_to_string(&stdout).unwrap_or_default();
        if said.contains("next:") || Instant::now() > until {
            break said;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    stop(&mut child);
    assert!(
        said.contains(&format!("API on http://127.0.0.1:{port}/api/v1")),
        "{said}"
    );
    // Run from server/ (no dashboard/ there): why the dashboard is not served.
    assert!(said.contains("dashboard: not served"), "{said}");
    assert!(
        said.contains("cluster: none") && said.contains("ensure-namespace"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "next: register with curl -X POST http://127.0.0.1:{port}/api/v1/auth/register"
        )),
        "{said}"
    );
    assert!(!private_database_runs(&data_dir));
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// The announcement `up` printed to `stdout` once it said what to do next.
pub(crate) fn announcement(stdout: &std::path::Path) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let said = std::fs::read_to_string(stdout).unwrap_or_default();
        if said.contains("next:") || Instant::now() > until {
            return said;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes whose command line mentions `text`.
pub(crate) fn processes_mentioning(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.contains(text) {
            found.push(format!("{}: {line}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

/// A store of the tenant `token`, once it has `status` (fails on `failed` or the deadline).
fn wait_store(
    port: u16,
    token: &str,
    id: &str,
    status: &str,
    within: Duration,
) -> serde_json::Value {
    let until = Instant::now() + within;
    loop {
        let (code, body) = request_as(
            port,
            "GET",
            &format!("/api/v1/stores/{id}"),
            Some(token),
            None,
        )
        .expect("store page");
        assert_eq!(code, 200, "{body}");
        let store: serde_json::Value = serde_json::from_str(&body).expect("json");
        let now = store["store"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if now == status {
            return store["store"].clone();
        }
        assert!(
            now != "failed" && Instant::now() < until,
            "store {id} is {now}, not {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn up_with_a_simulated_cluster_takes_both_engines_to_ready_and_says_nothing_is_deployed() {
    let data_dir =
        std::env::temp_dir().join(format!("storeflow-up-{}", uuid::Uuid::new_v4().simple()));
    // Started where the repository's charts are (the store chart, the Medusa package), without
    // its dashboard/ (nothing to build here).
    let work = data_dir.join("work");
    std::fs::create_dir_all(&work).expect("dir");
    let charts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts");
    std::os::unix::fs::symlink(&charts, work.join("charts")).expect("charts link");
    let port = free_port();
    let stdout = data_dir.join("stdout");
    let mut child = up_command(&data_dir, port)
        .arg("--simulated-cluster")
        .current_dir(&work)
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(data_dir.join("stderr")).expect("stderr file"))
        .spawn()
        .expect("storeflow up starts");
    wait_ready(port, &mut child);
    let said = announcement(&stdout);
    assert!(
        said.contains("cluster: simulated inside this process")
            && said.contains("NOTHING IS REALLY DEPLOYED")
            && said.contains("each Medusa store gets a real Medusa"),
        "{said}"
    );

    // Every client learns it, signed in or not.
    let (_, health) = request(port, "GET", "/api/v1/health", None).expect("health");
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(health["simulatedCluster"], true, "{health}");

    let (code, body) = request(
        port,
        "POST",
        "/api/v1/auth/register",
        Some(r#"{"email":"ops@example.com","username":"ops","password":"correct horse battery"}"#),
    )
    .expect("register");
    assert_eq!(code, 201, "{body}");
    let token = serde_json::from_str::<serde_json::Value>(&body).expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let create = |name: &str, engine: &str| {
        let (code, body) = request_as(
            port,
            "POST",
            "/api/v1/stores",
            Some(&token),
            Some(&format!(r#"{{"name":"{name}","engine":"{engine}"}}"#)),
        )
        .expect("create");
        assert_eq!(code, 202, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["store"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let woo = create("simulated-woo", "woocommerce");
    let medusa = create("simulated-medusa", "medusa");
    let ready = wait_store(port, &token, &woo, "ready", Duration::from_secs(120));
    // The numbers a tenant looks for: time to ready and to the first (verification) order.
    assert!(
        ready["provisioningDurationMs"].as_i64().is_some(),
        "{ready}"
    );
    assert!(ready["timeToFirstOrderMs"].as_i64().is_some(), "{ready}");
    // The Medusa store waits for its own Medusa (PostgreSQL, migrations) to start.
    wait_store(port, &token, &medusa, "ready", Duration::from_secs(300));
    // What the Grafana dashboard charts, as Prometheus reads it.
    let (code, metrics) =
        request_as(port, "GET", "/api/v1/metrics", Some(&token), None).expect("metrics");
    assert_eq!(code, 200, "{metrics}");
    for series in [
        "storeflow_http_request_duration_seconds_bucket{",
        "route=\"/api/v1/stores/{id}\"",
        "storeflow_stores{",
        "storeflow_store_provisioning_seconds_bucket{engine=\"medusa\"",
        "storeflow_store_provisioning_seconds_bucket{engine=\"woocommerce\"",
        "storeflow_store_first_order_seconds_bucket{",
        "storeflow_security_events_total{kind=\"registration\"}",
        "storeflow_step_duration_seconds_bucket{",
    ] {
        assert!(metrics.contains(series), "no {series} in:\n{metrics}");
    }
    assert!(
        metrics.contains("storeflow_stores{status=\"ready\",engine=\"woocommerce\"} 1")
            || metrics.contains("storeflow_stores{engine=\"woocommerce\",status=\"ready\"} 1"),
        "{metrics}"
    );
    let (_, health) =
        request_as(port, "GET", "/api/v1/health", Some(&token), None).expect("health");
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(
        health["checks"]["kubernetes"]["status"], "healthy",
        "{health}"
    );
    let harnesses = processes_mentioning(&data_dir.display().to_string())
        .into_iter()
        .filter(|process| process.contains("harness.mjs"))
        .count();
    assert_eq!(harnesses, 1, "one Medusa, the Medusa store's own");

    stop(&mut child);
    assert!(!private_database_runs(&data_dir));
    // The store's Medusa and its PostgreSQL stopped with `up`.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let left = processes_mentioning(&data_dir.display().to_string());
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < until,
            "left running after up stopped: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_dir_all(&data_dir);
}
