//! PostgreSQL goes away under a running API: readiness and requests answer 503 within a
//! second (a 1 s readiness probe sees "not ready", not a timeout), and the API recovers by
//! itself when the database is back.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// The server under test, stopped however the test ends.
pub(crate) struct Serve(pub(crate) std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `storeflow serve` on a free loopback port with `env` added, once it answers ready
/// (readiness probes do not count against any request budget).
pub(crate) fn serve_ready(database_url: &str, env: &[(&str, &str)]) -> (Serve, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut command = crate::storeflow(database_url);
    command
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("JWT_SECRET", "a-test-secret-that-is-long-enough-for-hs256")
        .env("STOREFLOW_LOG", "error")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let serve = Serve(command.spawn().expect("storeflow serve starts"));
    let ready_by = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || request(port, "GET", "/api/v1/health/ready", None, None).0 != 200
    {
        assert!(Instant::now() < ready_by, "serve never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (serve, port)
}

#[test]
fn while_the_database_is_down_the_api_answers_503_within_a_second_and_recovers() {
    let database = storeflow_testkit::OwnServer::start();
    let (_serve, port) = serve_ready(&database.url, &[("RATE_LIMIT_MAX", "1000000")]);
    let (status, registered) = request(
        port,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(
            &json!({ "email": "ops@example.com", "username": "ops", "password": "correct horse battery" }),
        ),
    );
    assert_eq!(status, 201, "{registered}");
    let token = registered["token"].as_str().expect("token").to_owned();

    database.stop();
    // Right away, and for a while: every answer is a 503 within a second.
    let until = Instant::now() + Duration::from_secs(4);
    let mut checked = 0;
    while Instant::now() < until {
        for (path, token) in [
            ("/api/v1/health/ready", None),
            ("/api/v1/auth/me", Some(token.as_str())),
            ("/api/v1/stores", Some(token.as_str())),
        ] {
            let started = Instant::now();
            let (status, body) = request(port, "GET", path, token, None);
            let took = started.elapsed();
            assert_eq!(status, 503, "{path} while the database is down: {body}");
            assert!(
                took < Duration::from_millis(1000),
                "{path} took {took:?} to answer 503"
            );
            if path != "/api/v1/health/ready" {
                assert_eq!(body["error"]["code"], "DATABASE_UNAVAILABLE", "{body}");
                assert_eq!(body["error"]["retryable"], true, "{body}");
            }
            checked += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(checked >= 6);
    assert_eq!(
        request(port, "GET", "/api/v1/health/live", None, None).0,
        200
    );

    database.restart();
    let back_by = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = request(port, "GET", "/api/v1/auth/me", Some(&token), None);
        if status == 200 {
            assert_eq!(body["user"]["email"], "ops@example.com");
            break;
        }
        assert!(
            Instant::now() < back_by,
            "the API did not recover after the database came back: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        request(port, "GET", "/api/v1/health/ready", None, None).0,
        200
    );
}
