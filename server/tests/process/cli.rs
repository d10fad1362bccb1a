//! The `storeflow runs …` commands and configuration errors.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{run_err, run_ok, storeflow};

fn worker(url: &str) -> Child {
    storeflow(url)
        .args([
            "worker",
            "--poll-interval",
            "100ms",
            "--lease",
            "5s",
            "--shutdown-grace",
            "1s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts")
}

fn show(url: &str, run: &str) -> Value {
    serde_json::from_str(&run_ok(
        storeflow(url).args(["runs", "show", run, "--json"]),
    ))
    .expect("json")
}

fn wait_status(url: &str, run: &str, want: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = show(url, run);
        if shown["status"] == want {
            return shown;
        }
        assert!(
            Instant::now() < until,
            "run {run} never became {want}: {shown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn runs_commands_start_show_list_retry_and_cancel() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let url = db.url.as_str();
    assert!(run_ok(storeflow(url).arg("migrate")).contains("database schema is up to date"));

    let key_run =
        run_ok(storeflow(url).args(["runs", "start", "selftest", "--idempotency-key", "k1"]));
    let again = storeflow(url)
        .args(["runs", "start", "selftest", "--idempotency-key", "k1"])
        .output()
        .expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        key_run,
        "same key, same run"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("existing run"));

    let failing = run_ok(storeflow(url).args([
        "runs",
        "start",
        "selftest",
        "--input",
        r#"{"steps": 3, "fail_step": 2, "fail_times": 5}"#,
    ]));
    let failing = failing.trim();
    let mut child = worker(url);
    // A finished run is at no step: the definition's next one (selftest has more steps
    // than a run executes) is not named as its current step.
    let finished = wait_status(url, key_run.trim(), "succeeded");
    assert!(
        finished["current_step_name"].is_null(),
        "a finished run names no current step: {finished}"
    );
    let failed = wait_status(url, failing, "failed");
    assert_eq!(failed["steps"][1]["status"], "failed");
    assert_eq!(failed["steps"][1]["attempts"], 5);
    assert_eq!(failed["steps"][2]["status"], "pending");
    let human = run_ok(storeflow(url).args(["runs", "show", failing]));
    assert!(human.contains("step-2"), "{human}");
    assert!(human.contains("injected failure"), "{human}");

    let listed: Value = serde_json::from_str(&run_ok(storeflow(url).args([
        "runs",
        "list",
        "--status",
        "failed",
        "--workflow",
        "selftest",
        "--json",
    ])))
    .expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], failing);

    // retry-step: the budget resets, so fail_times (5, counted per budget) fails it again —
    // which shows the step (and only that step) ran again.
    let wrong = run_err(storeflow(url).args(["runs", "retry-step", failing, "step-1"]));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("the failed step is number 2"));
    let out = run_ok(storeflow(url).args(["runs", "retry-step", failing, "2"]));
    assert!(out.contains("will be retried"), "{out}");
    let failed_again = wait_status(url, failing, "failed");
    assert_eq!(failed_again["steps"][1]["attempts"], 10);
    assert_eq!(failed_again["steps"][0]["attempts"], 1);

    let slow = run_ok(storeflow(url).args([
        "runs",
        "start",
        "selftest",
        "--input",
        r#"{"steps": 2, "delay_ms": 60000}"#,
    ]));
    let slow = slow.trim();
    wait_status(url, slow, "running");
    let out = run_ok(storeflow(url).args(["runs", "cancel", slow]));
    assert!(out.contains("cancellation requested"), "{out}");
    let cancelled = wait_status(url, slow, "cancelled");
    assert_eq!(cancelled["steps"][0]["status"], "cancelled");

    child.kill().expect("stop worker");
    child.wait().expect("reaped");
}

#[test]
fn configuration_and_input_errors_say_what_to_do() {
    let missing = run_err(
        std::process::Command::new(env!("CARGO_BIN_EXE_storeflow"))
            .args(["runs", "list"])
            .env_remove("DATABASE_URL"),
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("DATABASE_URL is not set"), "{stderr}");

    let unreachable = run_err(
        storeflow("postgres://storeflow:s3cret-pw@127.0.0.1:1/storeflow").args(["runs", "list"]),
    );
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1/storeflow"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret-pw"),
        "the password is never printed: {stderr}"
    );

    let malformed = run_err(storeflow("mysql://nope").args(["runs", "list"]));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("not a valid PostgreSQL URL"));

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let bad_json =
        run_err(storeflow(&db.url).args(["runs", "start", "selftest", "--input", "{steps:"]));
    assert!(String::from_utf8_lossy(&bad_json.stderr).contains("--input is not valid JSON"));
    let unknown = run_err(storeflow(&db.url).args(["runs", "start", "provision-nothing"]));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("workflow `provision-nothing` is not registered")
    );
    let not_found =
        run_err(storeflow(&db.url).args(["runs", "show", "00000000-0000-0000-0000-000000000000"]));
    assert!(String::from_utf8_lossy(&not_found.stderr).contains("not found"));
    let bad_helm = run_err(storeflow(&db.url).arg("worker").env("HELM_TIMEOUT", "soon"));
    assert!(
        String::from_utf8_lossy(&bad_helm.stderr).contains("HELM_TIMEOUT `soon` is not a duration"),
        "{}",
        String::from_utf8_lossy(&bad_helm.stderr)
    );
    let bad_status = run_err(storeflow(&db.url).args(["runs", "list", "--status", "done"]));
    assert!(String::from_utf8_lossy(&bad_status.stderr).contains("unknown run status `done`"));
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to metrics listener");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

#[test]
fn the_worker_exports_engine_metrics_for_prometheus() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = storeflow(&db.url)
        .args([
            "worker",
            "--poll-interval",
            "100ms",
            "--metrics-listen",
            &addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts");
    let run = run_ok(storeflow(&db.url).args([
        "runs",
        "start",
        "selftest",
        "--input",
        r#"{"steps": 3, "fail_step": 2, "fail_times": 1}"#,
    ]));
    wait_status(&db.url, run.trim(), "succeeded");
    let until = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let body = std::net::TcpStream::connect(&addr).map(|_| http_get(&addr, "/metrics"));
        if let Ok(body) = body
            && body.contains("storeflow_runs_finished_total")
        {
            break body;
        }
        assert!(Instant::now() < until, "no metrics served on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().expect("stop worker");
    child.wait().expect("reaped");
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in:\n{metrics}"))
            .to_owned()
    };
    assert!(line("storeflow_runs_started_total{workflow=\"selftest\"}").ends_with(" 1"));
    assert!(
        line("storeflow_runs_finished_total{workflow=\"selftest\",status=\"succeeded\"}")
            .ends_with(" 1")
    );
    assert!(
        line("storeflow_step_retries_total{workflow=\"selftest\",step=\"step-2\"}").ends_with(" 1")
    );
    assert!(
        metrics.contains("storeflow_step_duration_seconds"),
        "{metrics}"
    );
    assert!(
        metrics.contains("storeflow_claim_latency_seconds"),
        "{metrics}"
    );
}

#[test]
fn schedules_can_be_set_listed_disabled_and_fire_from_a_worker() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let url = db.url.as_str();
    let bad = run_err(storeflow(url).args([
        "schedules",
        "set",
        "oops",
        "--cron",
        "every minute",
        "--workflow",
        "selftest",
    ]));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid cron expression"));
    let out = run_ok(storeflow(url).args([
        "schedules",
        "set",
        "tick",
        "--cron",
        "* * * * * *",
        "--workflow",
        "selftest",
        "--input",
        r#"{"steps": 1}"#,
    ]));
    assert!(out.contains("schedule tick saved"), "{out}");
    let listed: Value = serde_json::from_str(&run_ok(storeflow(url).args([
        "schedules",
        "list",
        "--json",
    ])))
    .expect("json");
    // The default cleanup schedules exist from the first start, beside the new one.
    let names: Vec<&str> = listed
        .as_array()
        .expect("schedules")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "prune-history",
            "reap-failed-stores",
            "reap-orphans",
            "scheduled-backups",
            "tick"
        ]
    );
    let tick = &listed[4];
    assert_eq!(tick["enabled"], true);
    assert!(tick["next_tick_at"].is_string());

    let mut child = worker(url);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let runs: Value = serde_json::from_str(&run_ok(storeflow(url).args([
            "runs",
            "list",
            "--subject",
            "schedule:tick",
            "--status",
            "succeeded",
            "--json",
        ])))
        .expect("json");
        if runs.as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        assert!(Instant::now() < until, "the schedule never fired a run");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().expect("stop worker");
    child.wait().expect("reaped");
    assert!(run_ok(storeflow(url).args(["schedules", "disable", "tick"])).contains("disabled"));
    let listed = run_ok(storeflow(url).args(["schedules", "list"]));
    assert!(
        listed
            .lines()
            .any(|l| l.contains("tick") && l.contains("false")),
        "{listed}"
    );
}

#[test]
fn doctor_lists_what_is_missing_and_how_to_fix_it() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let output = storeflow(&db.url)
        .arg("doctor")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HELM_BIN", "/nonexistent/helm")
        .env("HELM_CHART_PATH", "/nonexistent/chart")
        .output()
        .expect("doctor runs");
    assert!(!output.status.success(), "missing pieces fail the doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("ok   database"), "{stdout}");
    assert!(stdout.contains("FAIL kubernetes"), "{stdout}");
    assert!(stdout.contains("FAIL helm"), "{stdout}");
    assert!(stdout.contains("set HELM_BIN"), "{stdout}");
    assert!(stdout.contains("FAIL chart"), "{stdout}");
    assert!(
        stdout.contains("ok   backups     off (BACKUP_S3_BUCKET is not set"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("3 of 5 checks failed"));
}

#[test]
fn doctor_in_a_pod_uses_the_service_account_and_finds_everything_in_place() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    // An API server that serves HTTPS with its own CA and accepts only this token.
    let cluster = runtime.block_on(storeflow_fakecluster::FakeCluster::start_with(
        storeflow_fakecluster::Options {
            service_account_token: Some("doctor-service-account-token".into()),
            ..Default::default()
        },
    ));
    let dir = std::env::temp_dir().join(format!("storeflow-doctor-{}", uuid::Uuid::new_v4()));
    let service_account = dir.join("serviceaccount");
    cluster.write_service_account(&service_account, "storeflow-system");
    let helm = dir.join("helm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_storeflow-fakecluster"), &helm)
        .expect("fake helm");
    let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/ecommerce-store");
    // `storeflow doctor` as in a worker pod: no kubeconfig anywhere, the service account.
    let doctor_in_pod = || {
        storeflow(&db.url)
            .arg("doctor")
            .env_remove("KUBECONFIG")
            .env("HOME", &dir)
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", cluster.port().to_string())
            .env("STOREFLOW_SERVICE_ACCOUNT_DIR", &service_account)
            .env("HELM_BIN", &helm)
            .env("HELM_CHART_PATH", &chart)
            .output()
            .expect("doctor runs")
    };
    let output = doctor_in_pod();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("storeflow doctor in a pod:\n{stdout}");
    let kubernetes = stdout
        .lines()
        .find(|l| l.contains("kubernetes"))
        .expect("a kubernetes line");
    assert_eq!(
        kubernetes,
        format!(
            "ok   kubernetes  Kubernetes v1.33.0-fake reachable (in-cluster service account \
             (namespace storeflow-system), https://127.0.0.1:{}/)",
            cluster.port()
        )
    );
    assert!(
        stdout.contains(
            "ok   permissions all 52 API operations of provisioning and teardown are allowed"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("everything storeflow needs is in place"),
        "{stdout}"
    );

    // RBAC without exec and the service proxy: the doctor names exactly those.
    cluster.deny("create", "pods/exec");
    cluster.deny("get", "services/proxy");
    let output = doctor_in_pod();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        stdout.contains("FAIL permissions not allowed: create pods/exec, get services/proxy\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("charts/storeflow/templates/rbac.yaml"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("1 of 6 checks failed"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The same pod with a token the API server refuses: the doctor says what to check.
    std::fs::write(service_account.join("token"), "revoked-token").expect("token");
    let output = doctor_in_pod();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(stdout.contains("FAIL kubernetes"), "{stdout}");
    assert!(
        stdout.contains("refused storeflow's credentials (401"),
        "{stdout}"
    );
    assert!(stdout.contains("service account's token mount"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn stderr_of(output: std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_database_that_requires_tls_is_reached_with_verify_full_and_refusals_say_what_to_add() {
    // pg_hba.conf accepts TCP only over TLS, as managed databases are commonly configured.
    let server = storeflow_testkit::tls_server();
    let dir = std::env::temp_dir().join(format!("storeflow-dbtls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("database-ca.crt");
    std::fs::write(&ca, &server.ca_pem).expect("ca");

    // Verified TLS: the server's certificate chains to the given CA and names 127.0.0.1.
    let verified = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        server.url,
        ca.display()
    );
    let migrated = run_ok(storeflow(&verified).arg("migrate"));
    assert!(
        migrated.contains("database schema is up to date"),
        "{migrated}"
    );

    // Without TLS the server refuses, and the error says what to add to the URL.
    let plain = format!("{}?sslmode=disable", server.url);
    let refused = stderr_of(run_err(storeflow(&plain).arg("migrate")));
    assert!(refused.contains("no encryption"), "{refused}");
    assert!(refused.contains("add sslmode=verify-full"), "{refused}");

    // A CA that did not sign the server's certificate: TLS fails, and says which setting.
    let stranger = storeflow_testkit::tls_server();
    let wrong_ca = dir.join("other-ca.crt");
    std::fs::write(&wrong_ca, &stranger.ca_pem).expect("ca");
    let untrusted = stderr_of(run_err(
        storeflow(&format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            server.url,
            wrong_ca.display()
        ))
        .arg("migrate"),
    ));
    assert!(untrusted.contains("TLS with PostgreSQL"), "{untrusted}");
    assert!(untrusted.contains("sslrootcert"), "{untrusted}");

    // A CA file that is not there is named as such, not as an unreachable server.
    let missing = stderr_of(run_err(
        storeflow(&format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            server.url,
            dir.join("no-such-ca.crt").display()
        ))
        .arg("migrate"),
    ));
    assert!(missing.contains("cannot be read"), "{missing}");
    assert!(!missing.contains("cannot reach"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `storeflow users …` with `stdin` as its standard input.
fn users(url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = storeflow(url)
        .arg("users")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("storeflow runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("password written");
    child.wait_with_output().expect("storeflow ends")
}

#[test]
fn operators_are_created_from_the_command_line_with_the_password_on_stdin() {
    use tower::ServiceExt;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let created = users(
        &db.url,
        &[
            "create-admin",
            "--email",
            "Ops@Example.com",
            "--username",
            "ops",
        ],
        "operator-password-1\n",
    );
    assert!(created.status.success(), "{created:?}");
    assert_eq!(
        String::from_utf8_lossy(&created.stdout),
        "created operator ops (ops@example.com)\n"
    );

    // A published deployment (first registration is no operator); the operator signs in.
    let router = runtime.block_on(async {
        let engine =
            storeflow_engine::Engine::start(db.pool(4).await, storeflow_workflows::registry())
                .await
                .expect("engine");
        storeflow::app(storeflow::AppState::new(
            engine,
            "users-cli-test-secret-0123456789abcdef",
            storeflow::ApiConfig {
                first_user_is_admin: false,
                ..storeflow::ApiConfig::default()
            },
            None,
        ))
    });
    let post = |path: &str, body: Value| {
        let request = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let router = router.clone();
        runtime.block_on(async move {
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .expect("body")
                .to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        })
    };
    let (status, login) = post(
        "/api/v1/auth/login",
        serde_json::json!({ "email": "ops@example.com", "password": "operator-password-1" }),
    );
    assert_eq!(status, axum::http::StatusCode::OK, "{login}");
    assert_eq!(login["user"]["role"], "admin");

    // A tenant registers, and is promoted from the command line.
    let (status, registered) = post(
        "/api/v1/auth/register",
        serde_json::json!({ "email": "lead@example.com", "username": "lead", "password": "lead-password-1" }),
    );
    assert_eq!(status, axum::http::StatusCode::CREATED, "{registered}");
    assert_eq!(registered["user"]["role"], "tenant");
    let promoted = users(&db.url, &["promote", "--email", "lead@example.com"], "");
    assert!(promoted.status.success(), "{promoted:?}");
    let (_, login) = post(
        "/api/v1/auth/login",
        serde_json::json!({ "email": "lead@example.com", "password": "lead-password-1" }),
    );
    assert_eq!(login["user"]["role"], "admin");

    // What goes wrong says what to do, and no password reaches argv or output.
    let short = users(
        &db.url,
        &[
            "create-admin",
            "--email",
            "x@example.com",
            "--username",
            "xx1",
        ],
        "short\n",
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("8 to 128 characters"));
    let taken = users(
        &db.url,
        &[
            "create-admin",
            "--email",
            "lead@example.com",
            "--username",
            "lead2",
        ],
        "another-password-2\n",
    );
    assert!(!taken.status.success());
    let taken = String::from_utf8_lossy(&taken.stderr);
    assert!(
        taken.contains("storeflow users promote --email lead@example.com"),
        "{taken}"
    );
    assert!(!taken.contains("another-password-2"));
    let unknown = users(&db.url, &["promote", "--email", "nobody@example.com"], "");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("create-admin"));
}

#[test]
fn the_benchmarks_run_and_check_their_own_results() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    let engine = run_ok(storeflow(&db.url).args([
        "bench",
        "--runs",
        "20",
        "--steps",
        "3",
        "--concurrency",
        "8",
    ]));
    assert!(
        engine.contains("check: 20/20 runs succeeded; 60 step completions recorded, 60 distinct"),
        "{engine}"
    );
    assert!(engine.contains("steps/s"), "{engine}");
    let latency =
        run_ok(storeflow(&db.url).args(["bench", "--runs", "3", "--steps", "2", "--latency"]));
    assert!(latency.contains("enqueue->finish per run"), "{latency}");
    let api = run_ok(storeflow(&db.url).args([
        "bench",
        "api",
        "--rate",
        "40",
        "--duration",
        "1s",
        "--repeat",
        "1",
        "--connections",
        "2",
        "--stores",
        "5",
        "--soak",
        "2s",
        "--sample-every",
        "1s",
    ]));
    for route in [
        "GET /api/v1/stores/{id}",
        "GET /api/v1/stores?limit=50",
        "POST /api/v1/auth/login",
    ] {
        assert!(api.contains(&format!("{route}: ")), "{route}: {api}");
    }
    assert!(api.contains("at 40 req/s for 1s"), "{api}");
    assert!(api.contains(" 0 failed;"), "{api}");
    assert!(api.contains("non-2xx 0,"), "{api}");
    assert!(api.contains("soak done:"), "{api}");
    assert!(api.contains("server memory at the end:"), "{api}");
    // The benchmark leaves nothing behind.
    let left: (i64,) = runtime
        .block_on(
            sqlx::query_as("SELECT count(*) FROM users WHERE email LIKE 'bench-%'")
                .fetch_one(&runtime.block_on(db.pool(1))),
        )
        .expect("count");
    assert_eq!(left.0, 0);
}
