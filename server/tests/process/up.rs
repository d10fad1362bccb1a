//! `storeflow up` on a machine with only the PostgreSQL server binaries: a private database
//! is created on first start and reused on the next; a start that fails leaves nothing
//! running and says what to do; a start that succeeds says where everything is.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn request(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

fn wait_ready(port: u16, child: &mut Child) {
    let until = Instant::now() + Duration::from_secs(60);
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

fn stop(child: &mut Child) {
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
fn private_database_runs(data_dir: &std::path::Path) -> bool {
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
