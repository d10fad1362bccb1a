//! Test harness for database tests on a real PostgreSQL.
//!
//! With `DATABASE_URL` set, tests use that server (the role needs `CREATEDB`). Without it,
//! the first test of a test binary starts a throwaway cluster from the local PostgreSQL
//! server binaries (`initdb`/`pg_ctl` on `PATH` or under `/usr/lib/postgresql/*/bin`; as
//! root they run as the `postgres` system user, because `initdb` refuses root). A reaper
//! process stops the cluster and deletes its directory when the test binary exits, however
//! it exits. Every test gets a database of its own, migrated.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

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
    storeflow_engine::MIGRATOR
        .run(&pool)
        .await
        .unwrap_or_else(|err| panic!("migrating test database {name}: {err}"));
    pool.close().await;
    TestDatabase { url, name }
}

fn find_binary(name: &str) -> PathBuf {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.is_file());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binary `{name}` not found on PATH or under /usr/lib/postgresql/*/bin: \
             install the PostgreSQL server (e.g. `apt-get install postgresql`) or set DATABASE_URL"
        )
    })
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root.
fn pg_command(binary: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(binary);
        command
    } else {
        Command::new(binary)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|err| panic!("finding a free port for the test cluster: {err}"))
}

fn start_throwaway_cluster() -> Server {
    let initdb = find_binary("initdb");
    let pg_ctl = find_binary("pg_ctl");
    let as_postgres = running_as_root();
    let base = std::env::temp_dir().join(format!(
        "storeflow-testpg-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&base)
        .unwrap_or_else(|err| panic!("creating {}: {err}", base.display()));
    if as_postgres {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&base)
            .status()
            .unwrap_or_else(|err| panic!("chown of the test cluster directory: {err}"));
        assert!(status.success(), "chown postgres {} failed", base.display());
    }
    let data = base.join("data");
    let output = pg_command(&initdb, as_postgres)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "storeflow",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .output()
        .unwrap_or_else(|err| panic!("running initdb: {err}"));
    assert!(
        output.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The reaper outlives us by a moment: when our end of its stdin closes (we exited,
    // however), it stops the cluster and removes the directory.
    let stop_line = format!(
        "{}'{}' -D '{}' stop -m immediate",
        if as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        },
        pg_ctl.display(),
        data.display()
    );
    let script = format!(
        "cat >/dev/null; {stop_line} >/dev/null 2>&1; rm -rf '{}'",
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

    let port = free_port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='{}' \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c max_connections=300 -c shared_buffers=128MB",
        base.display()
    );
    let log = base.join("postgres.log");
    let output = pg_command(&pg_ctl, as_postgres)
        .arg("-D")
        .arg(&data)
        .arg("-o")
        .arg(options)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "start"])
        .output()
        .unwrap_or_else(|err| panic!("running pg_ctl start: {err}"));
    assert!(
        output.status.success(),
        "starting the test cluster failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Server {
        admin_url: format!("postgres://storeflow@127.0.0.1:{port}/postgres"),
        _reaper: reaper_stdin,
    }
}
