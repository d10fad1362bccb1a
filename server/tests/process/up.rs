//! `storeflow up` on a machine with only the PostgreSQL server binaries: a private database
//! is created on first start and reused on the next.

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
    Command::new(env!("CARGO_BIN_EXE_storeflow"))
        .args(["up", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env("STOREFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("storeflow up starts")
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
