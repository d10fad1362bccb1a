//! Real Medusa v1 backends on this machine for stores on the fake cluster.
//!
//! A Medusa store's steps reach its backend twice: the Admin and Store APIs through the API
//! server's service proxy (`medusa` Service), and `pods/exec` into the `medusa` container (the
//! admin-user script). On the fake cluster both lead to a real Medusa started from
//! `charts/medusa-backend/harness.mjs` (its own PostgreSQL, torn down with it): one per store
//! with [`PerStoreMedusa`], as each store has its own in a real cluster, or one a test starts
//! itself with [`Harness`] and routes with [`exec_handler`].
//!
//! # Guarantees
//! - A store's `medusa` Deployment is not rolled out before its Medusa answers: its pods wait
//!   in `ContainerCreating`, and a Medusa that cannot start crash-loops with the reason, so
//!   `wait-ready` fails with it instead of waiting forever.
//! - A store's Medusa and its PostgreSQL stop when its namespace is gone, when
//!   [`PerStoreMedusa::stop`] runs, and — the harness watches its standard input — when this
//!   process dies in any way.
//! - The Medusa CLI runs with a configuration home of its own with telemetry off
//!   ([`cli_config_home`]).
//!
//! # Caveats
//! - Medusa listens on all interfaces (its CLI has no host option); the admin user's password
//!   is the store's, so keep the machine's port range to yourself.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::FakeCluster;
use crate::exec::ExecHandler;
use crate::wpcli::Output;

/// The name of a Medusa store's Deployment, Service and container (charts/ecommerce-store).
const MEDUSA: &str = "medusa";

/// A configuration home (`XDG_CONFIG_HOME`) for `medusa` CLI runs on this machine, under `dir`,
/// with Medusa's telemetry switched off. `MEDUSA_DISABLE_TELEMETRY` only stops new events:
/// every CLI run still forks a sender for the queue in `$XDG_CONFIG_HOME/medusa` — with the
/// machine's `~/.config` that queue grew to 12 GB here, and each sender, unable to reach the
/// network, held gigabytes of memory and a core. A home of its own keeps the machine's
/// configuration out of it, and this one sends nothing.
pub fn cli_config_home(dir: &Path) -> std::io::Result<PathBuf> {
    let home = dir.join("xdg-config");
    std::fs::create_dir_all(home.join("medusa"))?;
    std::fs::write(
        home.join("medusa/config.json"),
        "{\"telemetry\":{\"enabled\":false}}\n",
    )?;
    Ok(home)
}

/// The last `lines` lines of a log file.
pub fn tail_of(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A real Medusa with a private PostgreSQL, run by the harness; stopped when dropped.
#[derive(Debug)]
pub struct Harness {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its database, on loopback.
    pub database_url: String,
    /// The line the harness printed (with `externalDatabaseUrl` when started with
    /// `--db-listen`).
    pub ready: serde_json::Value,
}

impl Harness {
    /// Starts the harness of the Medusa package `backend` (its `node_modules` installed), its
    /// output in `log`; returns once Medusa answers `/health`.
    pub fn start(backend: &Path, log: &Path) -> Result<Harness, String> {
        let mut command = Command::new("node");
        command
            .arg(backend.join("harness.mjs"))
            .arg("--log-file")
            .arg(log)
            .current_dir(backend);
        Harness::spawn(command, log)
    }

    /// Runs `command` (a prepared `node …/harness.mjs …`, e.g. inside a network namespace)
    /// and waits for its line. `log` is where its `--log-file` goes, quoted when it fails.
    pub fn spawn(mut command: Command, log: &Path) -> Result<Harness, String> {
        let mut child = command
            // The harness stops Medusa and its PostgreSQL when this pipe closes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot run node for the Medusa harness: {err}"))?;
        let mut line = String::new();
        let read = match child.stdout.take() {
            Some(stdout) => BufReader::new(stdout).read_line(&mut line),
            None => Ok(0),
        };
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(ready) if read.is_ok() && ready["url"].is_string() => Ok(Harness {
                child,
                url: ready["url"].as_str().unwrap_or_default().to_owned(),
                database_url: ready["databaseUrl"].as_str().unwrap_or_default().to_owned(),
                ready,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "Medusa did not start (log: {}): {}",
                    log.display(),
                    tail_of(log, 8)
                ))
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // Closing its stdin stops Medusa and PostgreSQL and removes their directory.
        drop(self.child.stdin.take());
        let until = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Answers exec calls into `medusa` containers by running the command here, in the Medusa
/// package `backend` with the database `database_for(namespace)` names — the program the
/// image would run, against that store's database — and into the `postgres` container of
/// `medusa-postgres` with the environment the image gives it (`POSTGRES_USER`, `POSTGRES_DB`,
/// `POSTGRES_PASSWORD`), plus `PGHOST`/`PGPORT` of that database, so this machine's
/// `pg_dump` and `psql` reach it. Other containers, and namespaces without a database, fall
/// through to the fake's own behaviour.
pub fn exec_handler(
    backend: PathBuf,
    config_home: PathBuf,
    database_for: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> ExecHandler {
    Arc::new(move |request| {
        if !matches!(request.container.as_str(), MEDUSA | POSTGRES) || request.command.is_empty() {
            return None;
        }
        let database_url = database_for(&request.namespace)?;
        let mut command = Command::new(&request.command[0]);
        command.args(&request.command[1..]).current_dir(&backend);
        if request.container == POSTGRES {
            command.envs(postgres_env(&database_url)?);
        } else {
            command
                .env("DATABASE_URL", database_url)
                .env("MEDUSA_DISABLE_TELEMETRY", "true")
                .env("XDG_CONFIG_HOME", &config_home);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&request.stdin);
        }
        let output = child.wait_with_output().ok()?;
        Some(Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code().unwrap_or(1),
        })
    })
}

/// The container of a Medusa store's PostgreSQL (charts/ecommerce-store, `medusa-postgres`).
const POSTGRES: &str = "postgres";

/// What the PostgreSQL image's container has in its environment, for the database at
/// `postgres://user:password@host:port/db` (and `PGHOST`/`PGPORT`, since it is not local).
pub fn postgres_env(database_url: &str) -> Option<Vec<(&'static str, String)>> {
    let rest = database_url.strip_prefix("postgres://")?;
    let (credentials, location) = rest.rsplit_once('@')?;
    let (user, password) = credentials.split_once(':')?;
    let (address, database) = location.split_once('/')?;
    let (host, port) = address.rsplit_once(':')?;
    let database = database.split('?').next().unwrap_or(database);
    Some(vec![
        ("POSTGRES_USER", user.to_owned()),
        ("POSTGRES_PASSWORD", password.to_owned()),
        ("POSTGRES_DB", database.to_owned()),
        ("PGHOST", host.to_owned()),
        ("PGPORT", port.to_owned()),
    ])
}

/// One store's backend.
enum Slot {
    Starting,
    Running(Harness),
    /// Could not start; its pods crash-loop with the reason.
    Failed,
}

struct Inner {
    cluster: FakeCluster,
    backend: PathBuf,
    dir: PathBuf,
    slots: Mutex<BTreeMap<String, Slot>>,
    /// Whether the Medusa package is installed (checked, or `npm ci` run, once).
    package: Mutex<Option<Result<(), String>>>,
    stopped: AtomicBool,
}

/// A real Medusa for every Medusa store on a fake cluster, started when the store's `medusa`
/// Deployment is written and stopped when its namespace is gone.
#[derive(Clone)]
pub struct PerStoreMedusa {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PerStoreMedusa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerStoreMedusa")
            .field("backend", &self.inner.backend)
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl PerStoreMedusa {
    /// Watches `cluster` for Medusa stores. `backend` is the Medusa package
    /// (`charts/medusa-backend`; `npm ci` is run there once if its packages are missing and
    /// npm is on PATH); logs go to `dir` (`medusa-<namespace>.log`, `medusa-npm.log`).
    pub fn start(cluster: &FakeCluster, backend: &Path, dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let config_home = cli_config_home(dir)?;
        cluster.hold_workloads_named(MEDUSA);
        let inner = Arc::new(Inner {
            cluster: cluster.clone(),
            backend: backend.to_owned(),
            dir: dir.to_owned(),
            slots: Mutex::new(BTreeMap::new()),
            package: Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        let databases = Arc::downgrade(&inner);
        cluster.set_exec_handler(exec_handler(
            backend.to_owned(),
            config_home,
            move |namespace| match databases.upgrade()?.slots().get(namespace) {
                Some(Slot::Running(harness)) => Some(harness.database_url.clone()),
                _ => None,
            },
        ));
        let watcher = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("medusa-per-store".into())
            .spawn(move || {
                while let Some(inner) = watcher.upgrade() {
                    if inner.stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    inner.reconcile();
                    drop(inner);
                    std::thread::sleep(Duration::from_millis(300));
                }
            })?;
        Ok(PerStoreMedusa { inner })
    }

    /// The database of `namespace`'s Medusa, once it runs (for tests that change a store
    /// behind storeflow's back).
    pub fn database_url(&self, namespace: &str) -> Option<String> {
        match self.inner.slots().get(namespace) {
            Some(Slot::Running(harness)) => Some(harness.database_url.clone()),
            _ => None,
        }
    }

    /// Stores whose Medusa answers now.
    pub fn running(&self) -> usize {
        self.inner
            .slots()
            .values()
            .filter(|slot| matches!(slot, Slot::Running(_)))
            .count()
    }

    /// Stops every store's Medusa (and watches no more).
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        let slots = std::mem::take(&mut *self.inner.slots());
        // Each harness takes a moment to stop its Medusa and PostgreSQL: in parallel.
        let stopping: Vec<_> = slots
            .into_values()
            .map(|slot| std::thread::spawn(move || drop(slot)))
            .collect();
        for thread in stopping {
            let _ = thread.join();
        }
    }
}

impl Inner {
    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a Medusa for each new Medusa store, stops those of removed namespaces.
    fn reconcile(self: &Arc<Self>) {
        let namespaces = self.cluster.namespaces();
        let wanted: Vec<String> = namespaces
            .iter()
            .filter(|ns| self.cluster.get("deployments", ns, MEDUSA).is_some())
            .cloned()
            .collect();
        let gone: Vec<Slot> = {
            let mut slots = self.slots();
            let names: Vec<String> = slots
                .keys()
                .filter(|ns| !namespaces.contains(ns))
                .cloned()
                .collect();
            names.iter().filter_map(|ns| slots.remove(ns)).collect()
        };
        drop(gone);
        for namespace in wanted {
            let new = {
                let mut slots = self.slots();
                if slots.contains_key(&namespace) {
                    false
                } else {
                    slots.insert(namespace.clone(), Slot::Starting);
                    true
                }
            };
            if new {
                let inner = self.clone();
                let _ = std::thread::Builder::new()
                    .name("medusa-start".into())
                    .spawn(move || inner.start_one(&namespace));
            }
        }
    }

    fn start_one(&self, namespace: &str) {
        let started = self
            .ensure_package()
            .and_then(|()| {
                Harness::start(
                    &self.backend,
                    &self.dir.join(format!("medusa-{namespace}.log")),
                )
            })
            .map_err(|err| {
                format!("the simulated cluster could not start this store's local Medusa: {err}")
            });
        let mut slots = self.slots();
        let still_wanted = !self.stopped.load(Ordering::SeqCst)
            && matches!(slots.get(namespace), Some(Slot::Starting));
        match started {
            Ok(harness) if still_wanted => {
                self.cluster.route_service(namespace, MEDUSA, &harness.url);
                slots.insert(namespace.to_owned(), Slot::Running(harness));
                drop(slots);
                self.cluster.workload_started(namespace, MEDUSA);
            }
            // The store went away (or everything stops) while its Medusa started.
            Ok(harness) => {
                drop(slots);
                drop(harness);
            }
            Err(message) => {
                if still_wanted {
                    slots.insert(namespace.to_owned(), Slot::Failed);
                }
                drop(slots);
                self.cluster.workload_crashed(namespace, MEDUSA, &message);
            }
        }
    }

    /// `node_modules` of the Medusa package, installed with `npm ci` on first need.
    fn ensure_package(&self) -> Result<(), String> {
        let mut package = self.package.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(result) = package.as_ref() {
            return result.clone();
        }
        let result = if !self.backend.join("harness.mjs").is_file() {
            Err(format!(
                "no Medusa package at {} (start storeflow from the repository)",
                self.backend.display()
            ))
        } else if self.backend.join("node_modules/.bin/medusa").exists() {
            Ok(())
        } else {
            let log = self.dir.join("medusa-npm.log");
            let output = std::fs::File::create(&log).and_then(|file| {
                let errors = file.try_clone()?;
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&self.backend)
                    .stdin(Stdio::null())
                    .stdout(file)
                    .stderr(errors)
                    .status()
            });
            match output {
                Ok(status) if status.success() => Ok(()),
                Ok(status) => Err(format!(
                    "`npm ci` in {} failed ({status}); see {}",
                    self.backend.display(),
                    log.display()
                )),
                Err(err) => Err(format!(
                    "the Medusa package in {} is not installed and `npm ci` cannot run ({err}): \
                     install Node.js 20 with npm",
                    self.backend.display()
                )),
            }
        };
        *package = Some(result.clone());
        result
    }
}
