//! Schema-driven fuzzing of the live API: schemathesis (from PyPI; `scripts/test-all.sh`
//! installs it into `target/schemathesis-venv`, or `STOREFLOW_SCHEMATHESIS` names its `st`)
//! reads the OpenAPI document a real `storeflow serve` publishes and sends it thousands of
//! generated requests — valid and invalid bodies, queries and path values — as a tenant and
//! as an operator. It must find no 5xx, no status the contract does not list, no answer
//! whose content type or body breaks its schema.
//!
//! Left out of the generated traffic: the event streams (a stream that is found never ends;
//! their own tests cover them), and, until a last pass of their own, the routes that end the
//! fuzzing identity's sessions (signing out everywhere, a password change, an operator's
//! change or reset of an account — the fuzzer finds the operator's own id in the user list).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Routes whose success ends the caller's own sessions.
const ENDS_SESSIONS: &str =
    "^/api/v1/(auth/logout-all|auth/password|users/\\{id\\}|users/\\{id\\}/password-reset)$";
/// Every route but the event streams and [`ENDS_SESSIONS`] (one regex: schemathesis keeps
/// the last of repeated filters).
const NOT_IN_MAIN_PASSES: &str = "/events/stream$|^/api/v1/(auth/logout-all|auth/password|users/\\{id\\}|users/\\{id\\}/password-reset)$";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

fn schemathesis() -> PathBuf {
    let st = std::env::var_os("STOREFLOW_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/schemathesis-venv/bin/st"
            ))
        });
    assert!(
        st.is_file(),
        "no schemathesis at {}: install it with `python3 -m venv target/schemathesis-venv && \
         target/schemathesis-venv/bin/pip install -r testkit/schemathesis-requirements.txt` \
         (scripts/test-all.sh does), or set STOREFLOW_SCHEMATHESIS to its `st`",
        st.display()
    );
    st
}

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(database_url: &str, dir: &std::path::Path) -> Server {
    let port = crate::up::free_port();
    let log = dir.join("serve.log");
    let child = crate::storeflow(database_url)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env(
            "JWT_SECRET",
            "a-fuzzing-secret-that-is-long-enough-for-hs256",
        )
        // The fuzzer sends thousands of requests from one address: limits would answer
        // most of them 429 and hide what the routes do.
        .env("RATE_LIMIT_MAX", "1000000")
        .env("LOGIN_RATE_LIMIT_MAX", "10000")
        .env("REGISTER_RATE_LIMIT_MAX", "10000")
        .env("ACCOUNT_LOCKOUT_MAX_ATTEMPTS", "1000")
        .env("STORE_CREATION_COOLDOWN_MS", "0")
        // A bucket name is all the API knows of backups (workers hold its credentials; none
        // runs here): without it the backup routes answer 503 BACKUPS_NOT_CONFIGURED.
        .env("BACKUP_S3_BUCKET", "fuzzed-backups")
        // The chart this build ships: what upgrades and rollouts bring stores to (without
        // it they answer 503 CHART_UNKNOWN).
        .env("HELM_CHART_PATH", crate::provisioning::store_chart())
        .env("STOREFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("storeflow serve starts");
    let mut server = Server { child, port, log };
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            panic!(
                "storeflow serve exited with {status}: {}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(Instant::now() < until, "storeflow serve never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.port = port;
    server
}

/// A JSON POST over a plain connection; the answer's body (a 2xx is required).
fn post(port: u16, path: &str, token: Option<&str>, body: Value) -> Value {
    use std::io::{Read, Write};
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(
        head.starts_with("HTTP/1.1 2"),
        "POST {path}: {head}\n{body}"
    );
    serde_json::from_str(body).expect("a JSON answer")
}

/// One schemathesis run against the server as `token`'s user; panics with its report when it
/// finds anything.
fn fuzz(st: &std::path::Path, port: u16, token: &str, who: &str, routes: Routes) {
    let mut command = Command::new(st);
    command
        .current_dir(std::env::temp_dir())
        .arg("run")
        .arg(format!("http://127.0.0.1:{port}/api/v1/openapi.json"))
        .args(["--checks", CHECKS])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--max-examples",
            "25",
            "--seed",
            "20261204",
            // One thread: CPython 3.11's `ast` keeps its recursion depth in state its threads
            // share, so two workers parsing at once can fail a parse (see below).
            "--workers",
            "1",
        ])
        .args(["--request-timeout", "30", "--no-color"])
        .args(["--generation-database", "none"]);
    match routes {
        Routes::Keeping => command.args(["--exclude-path-regex", NOT_IN_MAIN_PASSES]),
        Routes::EndingSessions => command.args(["--include-path-regex", ENDS_SESSIONS]),
    };
    // CPython 3.11's `ast` module can fail a parse that hypothesis makes to read a filter's
    // lambda ("AST constructor recursion depth mismatch", fixed in later Pythons) — with one
    // worker thread it should not, but if it does it is an error of the tool, not a finding:
    // such a run is repeated; any finding fails at once.
    for attempt in 1..=3 {
        let started = Instant::now();
        let output = command.output().expect("schemathesis runs");
        let report = String::from_utf8_lossy(&output.stdout);
        let summary: Vec<&str> = report
            .lines()
            .filter(|line| line.len() < 200)
            .filter(|line| line.contains(" generated, ") || line.contains("Tested:"))
            .collect();
        eprintln!(
            "schemathesis as {who} ({routes:?}) in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            summary.join("; ").trim()
        );
        if output.status.success() {
            return;
        }
        let tool_error_only = !report.contains("Failures:")
            && report.contains("AST constructor recursion depth mismatch");
        assert!(
            tool_error_only && attempt < 3,
            "schemathesis as {who} found answers outside the contract:\n{report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("schemathesis hit CPython's ast recursion bug; running the pass again");
    }
}

#[derive(Debug, Clone, Copy)]
enum Routes {
    /// Every route but the streams and those that end the caller's sessions.
    Keeping,
    /// Only the routes that end the caller's sessions (last: the token may stop working).
    EndingSessions,
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_contract() {
    let st = schemathesis();
    let dir = std::env::temp_dir().join(format!("storeflow-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let server = start_server(&db.url, &dir);
    let port = server.port;
    // The first account is the operator.
    let account = |email: &str, username: &str| {
        let answer = post(
            port,
            "/api/v1/auth/register",
            None,
            json!({ "email": email, "username": username, "password": "correct horse battery" }),
        );
        answer["token"].as_str().expect("token").to_owned()
    };
    // The first account is the operator.
    let admin = account("operator@example.com", "operator");
    let tenant = account("tenant@example.com", "tenant");
    // Data for the listing routes (and for the fuzzer's links to follow): a store being
    // provisioned (no worker runs here, so it stays requested).
    post(
        port,
        "/api/v1/stores",
        Some(&tenant),
        json!({ "name": "fuzzed-shop", "engine": "woocommerce" }),
    );
    fuzz(&st, port, &tenant, "a tenant", Routes::Keeping);
    fuzz(&st, port, &admin, "an operator", Routes::Keeping);
    fuzz(&st, port, &tenant, "a tenant", Routes::EndingSessions);
    fuzz(&st, port, &admin, "an operator", Routes::EndingSessions);
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(
        !log.contains("panicked"),
        "the server panicked while fuzzed:\n{log}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
