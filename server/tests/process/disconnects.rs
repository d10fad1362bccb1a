//! Clients that go away: many clients on every route class abandon their requests at random
//! moments (before the request is complete, right after it, while the answer streams), and
//! the server's own request timeout (100 ms here) cuts others short. Afterwards a clean run must see no
//! 5xx at all, and every tenant must see exactly its own rows under its own identity: no
//! request, however it ended, may leave a pooled connection inside a transaction, in the
//! tenant role, or with another caller's identity.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Server {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn start_server(database_url: &str, dir: &std::path::Path, timeout_ms: &str) -> Server {
    let port = free_port();
    let log = dir.join(format!("serve-{port}.log"));
    let child = crate::storeflow(database_url)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("JWT_SECRET", "a-test-secret-that-is-long-enough-for-hs256")
        // Few connections, so an abandoned request's connection is soon someone else's.
        .env("DATABASE_MAX_CONNECTIONS", "4")
        .env("REQUEST_TIMEOUT_MS", timeout_ms)
        .env("RATE_LIMIT_MAX", "1000000")
        .env("LOGIN_RATE_LIMIT_MAX", "10000")
        .env("REGISTER_RATE_LIMIT_MAX", "1000")
        .env("ACCOUNT_LOCKOUT_MAX_ATTEMPTS", "1000")
        .env("MAX_STORES_PER_USER", "100")
        .env("STORE_CREATION_COOLDOWN_MS", "0")
        .env("STOREFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("storeflow serve starts");
    let mut server = Server { child, port, log };
    let until = Instant::now() + Duration::from_secs(60);
    while request(port, "GET", "/api/v1/health/ready", None, None).map(|r| r.0) != Some(200) {
        if let Some(status) = server.child.try_wait().expect("wait") {
            panic!(
                "storeflow serve exited with {status}: {}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < until, "storeflow serve never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.port = port;
    server
}

fn raw_request(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Vec<u8> {
    raw_request_with(method, path, token, body, "")
}

fn raw_request_with(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    extra_headers: &str,
) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}{extra_headers}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One complete request; `(status, body)`.
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    exchange(port, &raw_request(method, path, token, body))
}

fn exchange(port: u16, raw: &[u8]) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream.write_all(raw).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    Some((status, body))
}

/// A setup request that must succeed. Should it time out (408: its work is dropped, or had
/// just committed), it is sent again with the same idempotency key, or `on_conflict` says
/// what the first attempt did.
fn must(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    on_conflict: &dyn Fn() -> Option<Value>,
) -> Value {
    let key = format!(
        "Idempotency-Key: setup-{}\r\n",
        uuid::Uuid::new_v4().simple()
    );
    for _ in 0..20 {
        match exchange(
            port,
            &raw_request_with(method, path, token, body.as_ref(), &key),
        ) {
            Some((408, _)) => continue,
            Some((409, conflict)) => match on_conflict() {
                Some(body) => return body,
                None => panic!("{method} {path}: {conflict}"),
            },
            Some((status, body)) if status < 300 => return body,
            other => panic!("{method} {path}: {other:?}"),
        }
    }
    panic!("{method} {path} kept timing out");
}

/// A cheap pseudo-random sequence per thread (no dependency needed).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

/// Checks a 200 answer; says what is wrong with it.
type Check<'a> = dyn Fn(&Value) -> Option<String> + 'a;

struct Tenant {
    id: String,
    token: String,
    stores: Vec<String>,
}

fn tenant(port: u16, name: &str, stores: usize) -> Tenant {
    let email = format!("{name}@example.com");
    let password = "correct horse battery staple";
    let credentials = json!({ "email": email, "password": password });
    let login = || {
        Some(must(
            port,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(credentials.clone()),
            &|| None,
        ))
    };
    // Registered by an attempt that timed out: log in instead.
    let registered = must(
        port,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(json!({ "email": email, "username": name, "password": password })),
        &login,
    );
    let token = registered["token"].as_str().expect("token").to_owned();
    let id = registered["user"]["id"].as_str().expect("id").to_owned();
    let stores = (0..stores)
        .map(|i| {
            let created = must(
                port,
                "POST",
                "/api/v1/stores",
                Some(&token),
                Some(json!({ "name": format!("{name}-shop-{i}"), "engine": "woocommerce" })),
                &|| None,
            );
            created["store"]["id"]
                .as_str()
                .expect("store id")
                .to_owned()
        })
        .collect();
    Tenant { id, token, stores }
}

#[test]
fn clients_that_vanish_at_any_moment_leave_nothing_behind_for_later_requests() {
    let dir = tempdir();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(storeflow_testkit::database());
    // The server under test: its own timeout (100 ms) cuts requests short under this load.
    let server = start_server(&db.url, &dir, "100");
    let port = server.port;
    // Accounts and stores are set up through another replica with the usual timeout.
    let setup = start_server(&db.url, &dir, "30000");

    // The first account is the operator; two tenants with stores of their own.
    let admin = tenant(setup.port, "operator", 0);
    let alice = Arc::new(tenant(setup.port, "alice", 3));
    let bob = Arc::new(tenant(setup.port, "bob", 2));
    let runs = must(
        setup.port,
        "GET",
        "/api/v1/runs?limit=5",
        Some(&admin.token),
        None,
        &|| None,
    );
    drop(setup);
    let run_id = runs["runs"][0]["id"].as_str().expect("a run").to_owned();

    // Chaos: every route class, abandoned at random moments, for a few seconds.
    let abandoned = Arc::new(AtomicUsize::new(0));
    let chaos_until = Instant::now() + Duration::from_secs(6);
    let threads: Vec<_> = (0..24u64)
        .map(|n| {
            let (alice, bob, admin_token, run_id, abandoned) = (
                alice.clone(),
                bob.clone(),
                admin.token.clone(),
                run_id.clone(),
                abandoned.clone(),
            );
            std::thread::spawn(move || {
                let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ ((n + 1) * 0x1000_0001));
                let mut created = 0;
                while Instant::now() < chaos_until {
                    let who = if dice.roll(2) == 0 { &alice } else { &bob };
                    let store = &who.stores[dice.roll(who.stores.len() as u64) as usize];
                    let (method, path, token, body) = match dice.roll(11) {
                        0 => ("GET", "/api/v1/stores?limit=50".to_owned(), Some(who.token.as_str()), None),
                        1 => ("GET", format!("/api/v1/stores/{store}"), Some(who.token.as_str()), None),
                        2 => ("GET", format!("/api/v1/stores/{store}/events"), Some(who.token.as_str()), None),
                        3 => ("GET", format!("/api/v1/stores/{store}/events/stream"), Some(who.token.as_str()), None),
                        4 => ("GET", "/api/v1/auth/me".to_owned(), Some(who.token.as_str()), None),
                        5 => ("GET", "/api/v1/audit".to_owned(), Some(who.token.as_str()), None),
                        6 => ("GET", "/api/v1/runs?limit=20".to_owned(), Some(admin_token.as_str()), None),
                        7 => ("GET", format!("/api/v1/runs/{run_id}"), Some(admin_token.as_str()), None),
                        8 => ("GET", "/api/v1/stores?limit=50".to_owned(), Some(admin_token.as_str()), None),
                        9 => (
                            "POST",
                            "/api/v1/auth/login".to_owned(),
                            None,
                            Some(json!({ "email": if who.stores.len() == 3 { "alice@example.com" } else { "bob@example.com" }, "password": "correct horse battery staple" })),
                        ),
                        _ => {
                            created += 1;
                            (
                                "POST",
                                "/api/v1/stores".to_owned(),
                                Some(who.token.as_str()),
                                Some(json!({ "name": format!("chaos-{n}-{created}"), "engine": "medusa" })),
                            )
                        }
                    };
                    let bytes = raw_request(method, &path, token, body.as_ref());
                    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                    match dice.roll(4) {
                        // Half a request, then gone.
                        0 => {
                            let _ = stream.write_all(&bytes[..bytes.len() / 2]);
                        }
                        // The whole request, gone after a moment (0-7 ms).
                        1 | 2 => {
                            let _ = stream.write_all(&bytes);
                            std::thread::sleep(Duration::from_micros(dice.roll(8_000)));
                        }
                        // Read the start of the answer (or the stream), then gone.
                        _ => {
                            let _ = stream.write_all(&bytes);
                            let mut first = [0u8; 64];
                            let _ = stream.read(&mut first);
                        }
                    }
                    drop(stream);
                    abandoned.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("chaos thread");
    }
    let abandoned = abandoned.load(Ordering::Relaxed);
    assert!(abandoned > 500, "only {abandoned} requests were abandoned");

    // A clean run: no 5xx, and each tenant sees exactly itself and its own stores.
    let server_errors = Arc::new(AtomicUsize::new(0));
    let leaks = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let verified = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8u64)
        .map(|n| {
            let (alice, bob) = (alice.clone(), bob.clone());
            let (server_errors, leaks, verified) =
                (server_errors.clone(), leaks.clone(), verified.clone());
            std::thread::spawn(move || {
                let (me, other) = if n % 2 == 0 {
                    (&alice, &bob)
                } else {
                    (&bob, &alice)
                };
                for i in 0..150 {
                    let (path, check): (String, &Check<'_>) = match i % 3 {
                        0 => ("/api/v1/auth/me".into(), &|body: &Value| {
                            (body["user"]["id"].as_str() != Some(me.id.as_str())).then(|| {
                                format!("auth/me answered {} for {}", body["user"]["id"], me.id)
                            })
                        }),
                        1 => ("/api/v1/stores?limit=100".into(), &|body: &Value| {
                            let stores = body["stores"].as_array()?;
                            stores
                                .iter()
                                .find(|s| s["ownerId"].as_str() != Some(me.id.as_str()))
                                .map(|s| {
                                    format!("{} saw store {} of {}", me.id, s["id"], s["ownerId"])
                                })
                        }),
                        _ => (
                            format!("/api/v1/stores/{}", me.stores[i % me.stores.len()]),
                            &|body: &Value| {
                                (body["store"]["ownerId"].as_str() != Some(me.id.as_str()))
                                    .then(|| format!("{} got store {}", me.id, body["store"]))
                            },
                        ),
                    };
                    match request(port, "GET", &path, Some(&me.token), None) {
                        Some((status, _)) if status >= 500 => {
                            server_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        Some((200, body)) => {
                            if let Some(leak) = check(&body) {
                                leaks.lock().unwrap().push(leak);
                            }
                            verified.fetch_add(1, Ordering::Relaxed);
                        }
                        // 408 from the 100 ms limit is a legitimate answer under load.
                        Some((408, _)) => {}
                        other => leaks.lock().unwrap().push(format!("GET {path}: {other:?}")),
                    }
                    // Another tenant's store does not exist for me.
                    let foreign = &other.stores[i % other.stores.len()];
                    match request(
                        port,
                        "GET",
                        &format!("/api/v1/stores/{foreign}"),
                        Some(&me.token),
                        None,
                    ) {
                        Some((404 | 408, _)) => {}
                        Some((status, _)) if status >= 500 => {
                            server_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        other => leaks.lock().unwrap().push(format!(
                            "{} reading {foreign} of another tenant: {other:?}",
                            me.id
                        )),
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("clean thread");
    }
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert_eq!(
        server_errors.load(Ordering::Relaxed),
        0,
        "5xx after clients vanished; server log:\n{log}"
    );
    let leaks = leaks.lock().unwrap();
    assert!(leaks.is_empty(), "wrong answers: {leaks:#?}");
    let verified = verified.load(Ordering::Relaxed);
    assert!(verified > 300, "only {verified} answers could be checked");
    // (A request dropped while its COMMIT is on the wire makes the driver send a ROLLBACK
    // after it: PostgreSQL notes "there is no transaction in progress", which is harmless.
    // A BEGIN inside a leftover transaction, a statement in an aborted one, or a tenant's
    // statement on a table only the owner may read would not be.)
    for symptom in [
        "current transaction is aborted",
        "already a transaction in progress",
        "permission denied",
        "came back inside a transaction",
    ] {
        assert!(
            !log.contains(symptom),
            "the server log shows `{symptom}`:\n{log}"
        );
    }
    println!(
        "disconnects: {abandoned} requests abandoned, then {verified} answers verified, 0 × 5xx"
    );
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "storeflow-disconnects-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
