//! Test harness for database tests on a real PostgreSQL.
//!
//! With `DATABASE_URL` set, tests use that server (the role needs `CREATEDB`). Without it,
//! the first test of a test binary starts a throwaway cluster from the local PostgreSQL
//! server binaries (`initdb`/`pg_ctl` on `PATH` or under `/usr/lib/postgresql/*/bin`; as
//! root they run as the `postgres` system user, because `initdb` refuses root). A reaper
//! process stops the cluster and deletes its directory when the test binary exits, however
//! it exits. Every test gets a database of its own, migrated.
//!
//! [`realcluster`]: a real Kubernetes control plane (etcd, API server, controller manager,
//! scheduler, kwok nodes) per test binary, or by hand with the `storeflow-realcluster` binary;
//! [`store_backends`]: what its store pods stand for (simulated WordPress sites and WP-CLI, a
//! real Medusa) in its pod network.

pub mod realcluster;
pub mod s3;
pub mod store_backends;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use storeflow_pglocal::{Cluster, Listen};

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub url: String,
    pub name: String,
}

impl TestDatabase {
    /// A pool of `max_connections` to this test's database.
    pub async fn pool(&self, max_connections: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("connecting to test database {}: {err}", self.name))
    }
}

struct Server {
    /// URL of the maintenance database; test databases replace the path.
    admin_url: String,
    /// Keeps the reaper's stdin open for as long as this process lives.
    _reaper: Option<std::process::ChildStdin>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static START_LOCK: Mutex<()> = Mutex::new(());

/// The server all tests of this binary use.
fn server() -> &'static Server {
    if let Some(server) = SERVER.get() {
        return server;
    }
    let _guard = START_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Server {
            admin_url: url,
            _reaper: None,
        },
        _ => start_throwaway_cluster(),
    })
}

/// Creates a fresh, migrated database for one test.
pub async fn database() -> TestDatabase {
    let server = server();
    let name = format!("storeflow_test_{}", uuid::Uuid::new_v4().simple());
    let admin: PgConnectOptions = server
        .admin_url
        .parse()
        .unwrap_or_else(|err| panic!("DATABASE_URL is not a valid PostgreSQL URL: {err}"));
    let mut conn = admin
        .connect()
        .await
        .unwrap_or_else(|err| panic!("connecting to the test PostgreSQL server: {err}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("creating test database {name}: {err}"));
    let options = admin.database(&name);
    let url = options.to_url_lossy().to_string();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("connecting to test database {name}: {err}"));
    storeflow_engine::migrate(&pool)
        .await
        .unwrap_or_else(|err| panic!("migrating test database {name}: {err}"));
    pool.close().await;
    TestDatabase { url, name }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|err| panic!("finding a free port for the test cluster: {err}"))
}

fn start_throwaway_cluster() -> Server {
    let (cluster, reaper) = throwaway_cluster(&[]);
    cluster
        .start()
        .unwrap_or_else(|err| panic!("starting the test cluster: {err}"));
    Server {
        admin_url: cluster.url("postgres"),
        _reaper: reaper,
    }
}

/// An initialized (not started) throwaway cluster with test settings plus `settings`, and the
/// stdin of its reaper: the reaper outlives us by a moment — when our end of its stdin closes
/// (we exited, however), it stops the cluster and removes the directory.
fn throwaway_cluster(settings: &[(&str, &str)]) -> (Cluster, Option<std::process::ChildStdin>) {
    let base = std::env::temp_dir().join(format!(
        "storeflow-testpg-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut cluster = Cluster::new(&base, Listen::Loopback(free_port()), "storeflow")
        .unwrap_or_else(|err| panic!("{err}"))
        .initdb_no_sync()
        .setting("fsync", "off")
        .setting("synchronous_commit", "off")
        .setting("full_page_writes", "off")
        .setting("max_connections", "300")
        .setting("shared_buffers", "128MB");
    for (name, value) in settings {
        cluster = cluster.setting(name, value);
    }
    cluster
        .ensure_initialized()
        .unwrap_or_else(|err| panic!("creating the test cluster: {err}"));
    let script = format!(
        "cat >/dev/null; {} >/dev/null 2>&1; rm -rf '{}'",
        cluster.stop_command_line(),
        base.display()
    );
    // Never waited on by design: it must outlive this process to clean up after it.
    #[allow(clippy::zombie_processes)]
    let mut reaper = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("starting the test cluster reaper: {err}"));
    let reaper_stdin = reaper.stdin.take();
    (cluster, reaper_stdin)
}

/// A PostgreSQL server that accepts TCP connections only over TLS (`hostssl` in pg_hba.conf;
/// plain ones are rejected), like a managed database that requires TLS. Its certificate, for
/// `127.0.0.1` and `localhost`, is signed by a CA generated for it.
#[derive(Debug)]
pub struct TlsServer {
    /// `postgres://storeflow@127.0.0.1:PORT/postgres`, without any `sslmode`.
    pub url: String,
    /// PEM of the CA that signed the server's certificate (for `sslrootcert`).
    pub ca_pem: String,
    _reaper: Option<std::process::ChildStdin>,
}

/// Starts a [`TlsServer`] of its own (stopped and removed when the test binary exits).
pub fn tls_server() -> TlsServer {
    let (cluster, reaper) = throwaway_cluster(&[
        ("ssl", "on"),
        ("ssl_cert_file", "server.crt"),
        ("ssl_key_file", "server.key"),
    ]);
    let certificates = storeflow_fakecluster::tls::test_certificates(
        "storeflow-test-database-ca",
        &["127.0.0.1", "localhost"],
    );
    let write = |name: &str, contents: &[u8], mode: u32| {
        cluster
            .write_data_file(name, contents, mode)
            .unwrap_or_else(|err| panic!("{err}"))
    };
    write("server.crt", certificates.cert_pem.as_bytes(), 0o644);
    write("server.key", certificates.key_pem.as_bytes(), 0o600);
    write(
        "pg_hba.conf",
        b"local all all trust\n\
          hostssl all all 127.0.0.1/32 trust\n\
          hostnossl all all 127.0.0.1/32 reject\n",
        0o600,
    );
    cluster
        .start()
        .unwrap_or_else(|err| panic!("starting the TLS test cluster: {err}"));
    TlsServer {
        url: cluster.url("postgres"),
        ca_pem: certificates.ca_pem,
        _reaper: reaper,
    }
}

/// A PostgreSQL server of a test's own, which the test may stop and start again (the
/// database going away under a running process). Stopped and removed when the test binary
/// exits, however it exits.
#[derive(Debug)]
pub struct OwnServer {
    /// `postgres://storeflow@127.0.0.1:PORT/postgres`.
    pub url: String,
    cluster: Cluster,
    _reaper: Option<std::process::ChildStdin>,
}

impl OwnServer {
    /// Starts a server of its own.
    pub fn start() -> OwnServer {
        let (cluster, reaper) = throwaway_cluster(&[]);
        cluster
            .start()
            .unwrap_or_else(|err| panic!("starting a test cluster: {err}"));
        OwnServer {
            url: cluster.url("postgres"),
            cluster,
            _reaper: reaper,
        }
    }

    /// Stops the server (`pg_ctl stop -m fast`): every session is ended at once. (Not
    /// `immediate`: the test clusters run with `synchronous_commit = off`, and a crash would
    /// lose the last commits.)
    pub fn stop(&self) {
        self.cluster
            .stop(false)
            .unwrap_or_else(|err| panic!("stopping the test cluster: {err}"));
    }

    /// Starts it again after [`OwnServer::stop`].
    pub fn restart(&self) {
        self.cluster
            .start()
            .unwrap_or_else(|err| panic!("restarting the test cluster: {err}"));
    }

    /// A URL of the same server naming `database`.
    pub fn url_of(&self, database: &str) -> String {
        self.cluster.url(database)
    }
}
