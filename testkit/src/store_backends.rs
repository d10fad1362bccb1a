//! What the pods of store namespaces stand for on a [`RealCluster`]: kwok's pods run nothing,
//! so the backends a store's workflow talks to are wired into the cluster's pod network.
//!
//! - **WordPress** (cannot run here): the simulated sites of `storeflow-fakecluster sites`,
//!   serving the Store API on port 80 for every WordPress pod IP (it learns which pod IP is which
//!   store's), and WP-CLI through kwok's exec of a `wp` shim that talks to it over a socket.
//! - **Medusa**: a real Medusa v1.20 (`charts/medusa-backend/harness.mjs`) and PostgreSQL of its
//!   own for every Medusa store, as in a real cluster, started in the pod network when the
//!   store's namespace appears; the sites process forwards port 9000 of the store's Medusa pod
//!   IPs to it (Medusa cannot be bound to one address). Its PostgreSQL also listens on the pod
//!   network's end of the veth pair, so the scripts kwok runs on the host for `pods/exec` (the
//!   admin user in the `medusa` container, `pg_dump`/`psql` in the `postgres` container) reach
//!   that store's database.
//!
//! A wiring thread keeps this current for as long as the value lives: each namespace labelled
//! `app.kubernetes.io/managed-by=storeflow` gets its ClusterExec (before its first WP-CLI command:
//! a worker reaches that only after the chart's rollout, seconds later), and the sites process
//! learns every store pod's IP. The process tests use it, and so does the `storeflow-realcluster`
//! binary, so that a store provisioned by hand through `storeflow up` gets as far as in the tests.
//! Needs the cluster's pod network (root).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use storeflow_fakecluster::local_medusa::{self, Harness, tail_of};

use crate::realcluster::RealCluster;

/// The port the real Medusa listens on in the pod network (the chart's Medusa service targets it).
pub const MEDUSA_PORT: u16 = 9000;

/// The backends of store pods; see the module docs. Stopped by [`StoreBackends::stop`] (the
/// cluster's teardown stops them too: they run in its network namespace).
#[derive(Debug)]
pub struct StoreBackends {
    cluster: &'static RealCluster,
    dir: PathBuf,
    sites_socket: PathBuf,
    medusa_backend: PathBuf,
    /// Whether Medusa stores get their Medusa ([`StoreBackends::start_medusa`]).
    medusa_enabled: AtomicBool,
    /// Namespace → its store's Medusa.
    medusas: Mutex<BTreeMap<String, MedusaSlot>>,
    sites: Mutex<Option<Child>>,
    stopped: AtomicBool,
}

/// A Medusa store's own Medusa.
#[derive(Debug)]
enum MedusaSlot {
    Starting,
    Running {
        /// Held for its lifetime: dropping it stops Medusa and its PostgreSQL.
        _harness: Harness,
        /// Its database as the host reaches it.
        database: String,
        /// Its port on the pod network's loopback.
        port: u16,
    },
    /// Could not start (the reason is in its log and was printed).
    Failed,
}

impl StoreBackends {
    /// Starts the simulated sites in the pod network and the wiring thread. `fakecluster` is a
    /// program that serves the sites when run as `<it> sites --http ADDR --socket PATH` and acts
    /// as WP-CLI when invoked as `wp` (the `storeflow-fakecluster` binary; `storeflow-realcluster`
    /// answers both as well). Medusa starts on demand: [`StoreBackends::start_medusa`].
    pub fn start(cluster: &'static RealCluster, fakecluster: &Path) -> anyhow::Result<Arc<Self>> {
        if cluster.pod_network().is_none() {
            bail!(
                "store backends need the cluster's pod network, and it has none: it needs root \
                 (network namespaces, veth, routes)"
            );
        }
        let dir = cluster.dir().join("stores");
        std::fs::create_dir_all(dir.join("bin")).context("the store backends' directory")?;
        // kwok runs an exec'd argv through a dispatcher that hands it to this script, in the
        // environment of the store's ClusterExec (PATH with the `wp` shim, the Medusa
        // database, the sites socket); Medusa's scripts need its package as the working directory.
        let exec = dir.join("exec.sh");
        std::fs::write(
            &exec,
            "#!/bin/sh\ncd \"$STOREFLOW_EXEC_CWD\" || exit 1\nexec \"$@\"\n",
        )
        .context("writing the exec script")?;
        set_executable(&exec)?;
        let fakecluster = std::path::absolute(fakecluster).context("the fakecluster program")?;
        std::os::unix::fs::symlink(&fakecluster, dir.join("bin/wp")).context("the wp shim")?;
        // The simulated sites' database clients: `mariadb-dump` writes a site's state, `mariadb`
        // loads one (backups and restores of WooCommerce stores).
        for client in ["mariadb-dump", "mariadb"] {
            std::os::unix::fs::symlink(&fakecluster, dir.join("bin").join(client))
                .with_context(|| format!("the {client} shim"))?;
        }
        let sites_socket = dir.join("sites.sock");
        let sites_log = dir.join("sites.log");
        let mut sites = cluster
            .run_in_pod_network(&fakecluster)?
            .args(["sites", "--http", "0.0.0.0:80", "--socket"])
            .arg(&sites_socket)
            .args(["--medusa", &format!("0.0.0.0:{MEDUSA_PORT}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&sites_log).context("the sites log")?)
            .spawn()
            .with_context(|| format!("starting the sites process ({})", fakecluster.display()))?;
        let until = Instant::now() + Duration::from_secs(20);
        while !sites_socket.exists() {
            if let Ok(Some(status)) = sites.try_wait() {
                bail!(
                    "the sites process exited ({status}): {}",
                    tail_of(&sites_log, 20)
                );
            }
            if Instant::now() > until {
                let _ = sites.kill();
                let _ = sites.wait();
                bail!(
                    "the sites process did not open {} within 20 s",
                    sites_socket.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let backends = Arc::new(StoreBackends {
            cluster,
            dir,
            sites_socket,
            medusa_backend: crate::realcluster::repo_root().join("charts/medusa-backend"),
            medusa_enabled: AtomicBool::new(false),
            medusas: Mutex::new(BTreeMap::new()),
            sites: Mutex::new(Some(sites)),
            stopped: AtomicBool::new(false),
        });
        let wiring = Arc::clone(&backends);
        std::thread::Builder::new()
            .name("store-backends-wiring".into())
            .spawn(move || wire(&wiring))
            .context("starting the wiring thread")?;
        Ok(backends)
    }

    /// The document root of the WordPress store in `namespace` (the wp-cli container's
    /// working directory: `wp-content/uploads` is there).
    pub fn docroot(&self, namespace: &str) -> PathBuf {
        self.dir.join("docroots").join(namespace)
    }

    /// The cluster these backends serve.
    pub fn cluster(&self) -> &'static RealCluster {
        self.cluster
    }

    /// Where the sites, Medusa and exec logs are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sites process's control socket (`{"op":"site","namespace":…}` answers a site).
    pub fn sites_socket(&self) -> &Path {
        &self.sites_socket
    }

    /// From now on every Medusa store gets a real Medusa and PostgreSQL of its own, started
    /// in the pod network when its namespace appears and stopped when it is gone. Needs `node`
    /// and `npm ci` in `charts/medusa-backend`.
    pub fn start_medusa(&self) -> anyhow::Result<()> {
        if !self
            .medusa_backend
            .join("node_modules/.bin/medusa")
            .exists()
        {
            bail!(
                "Medusa needs its backend package: run `npm ci` in {} (scripts/test-all.sh does)",
                self.medusa_backend.display()
            );
        }
        self.medusa_enabled.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Whether Medusa stores get their Medusa.
    pub fn medusa_enabled(&self) -> bool {
        self.medusa_enabled.load(Ordering::SeqCst)
    }

    /// The database of `namespace`'s Medusa as the host reaches it, once it runs.
    pub fn medusa_database(&self, namespace: &str) -> Option<String> {
        match self.medusas().get(namespace) {
            Some(MedusaSlot::Running { database, .. }) => Some(database.clone()),
            _ => None,
        }
    }

    fn medusas(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, MedusaSlot>> {
        self.medusas.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts `namespace`'s Medusa on a thread of its own (it takes seconds); its slot says
    /// when it runs.
    fn start_store_medusa(self: &Arc<Self>, namespace: &str) {
        self.medusas()
            .insert(namespace.to_owned(), MedusaSlot::Starting);
        let backends = Arc::clone(self);
        let name = namespace.to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("medusa-{namespace}"))
            .spawn(move || {
                let namespace = name;
                let slot = match backends.spawn_medusa(&namespace) {
                    Ok(slot) => slot,
                    Err(err) => {
                        eprintln!(
                            "store backends: the Medusa of {namespace} did not start: {err:#}"
                        );
                        MedusaSlot::Failed
                    }
                };
                let mut medusas = backends.medusas();
                // Gone meanwhile (or stopped): the harness stops as it is dropped.
                if medusas.contains_key(&namespace) && !backends.stopped.load(Ordering::SeqCst) {
                    medusas.insert(namespace, slot);
                }
            });
        if spawned.is_err() {
            self.medusas()
                .insert(namespace.to_owned(), MedusaSlot::Failed);
        }
    }

    fn spawn_medusa(&self, namespace: &str) -> anyhow::Result<MedusaSlot> {
        let network = self
            .cluster
            .pod_network()
            .ok_or_else(|| anyhow!("no pod network"))?;
        let log = self.dir.join(format!("medusa-{namespace}.log"));
        let mut command = self.cluster.run_in_pod_network("node")?;
        command
            .arg(self.medusa_backend.join("harness.mjs"))
            .args(["--db-listen", &network.netns_address.to_string()])
            .arg("--log-file")
            .arg(&log)
            .current_dir(&self.medusa_backend);
        let harness = Harness::spawn(command, &log).map_err(|err| anyhow!(err))?;
        let database = harness.ready["externalDatabaseUrl"]
            .as_str()
            .context("the harness's line has no externalDatabaseUrl")?
            .to_owned();
        let port = harness
            .url
            .rsplit_once(':')
            .and_then(|(_, port)| port.trim_end_matches('/').parse().ok())
            .context("the harness's url has no port")?;
        Ok(MedusaSlot::Running {
            _harness: harness,
            database,
            port,
        })
    }

    /// What the simulated WordPress site of `namespace` holds (`null` before its first
    /// WP-CLI command).
    pub fn site(&self, namespace: &str) -> anyhow::Result<Value> {
        sites_request(
            &self.sites_socket,
            &json!({ "op": "site", "namespace": namespace }),
        )
    }

    /// Runs a WP-CLI command against the simulated site of `namespace`, as the `wp` shim in
    /// its pod would (for tests that change a store behind storeflow's back). Fails unless
    /// the command succeeded.
    pub fn wp(&self, namespace: &str, args: &[&str]) -> anyhow::Result<String> {
        // The document root the chart gives WP-CLI (the simulated sites insist on it).
        let argv: Vec<&str> = std::iter::once("wp")
            .chain(args.iter().copied())
            .chain(["--path=/var/www/html"])
            .collect();
        let answer = sites_request(
            &self.sites_socket,
            &json!({ "op": "wp", "namespace": namespace, "argv": argv, "stdin": "" }),
        )?;
        if answer["code"] != 0 {
            bail!("wp {}: {answer}", args.join(" "));
        }
        Ok(answer["stdout"].as_str().unwrap_or_default().to_owned())
    }

    /// Stops the wiring, Medusa (its harness stops its PostgreSQL) and the sites, waiting
    /// for each.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Dropping a harness stops its Medusa and PostgreSQL (a second or so each): in parallel.
        let medusas = std::mem::take(&mut *self.medusas());
        let stopping: Vec<_> = medusas
            .into_values()
            .map(|slot| std::thread::spawn(move || drop(slot)))
            .collect();
        for thread in stopping {
            let _ = thread.join();
        }
        if let Some(mut sites) = self.sites.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = sites.kill();
            let _ = sites.wait();
        }
    }
}

/// A configuration home for `medusa` CLI runs under `dir`, telemetry off (see
/// [`local_medusa::cli_config_home`]).
pub fn medusa_cli_config_home(dir: &Path) -> anyhow::Result<PathBuf> {
    local_medusa::cli_config_home(dir).context("the Medusa CLI's config home")
}

fn set_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", path.display()))
}

fn sites_request(socket: &Path, command: &Value) -> anyhow::Result<Value> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("connecting to {}", socket.display()))?;
    writeln!(stream, "{command}").context("writing to the sites socket")?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .context("reading from the sites socket")?;
    Ok(serde_json::from_str(&line).unwrap_or(Value::Null))
}

/// The wiring loop (see the module docs), until [`StoreBackends::stop`].
fn wire(backends: &Arc<StoreBackends>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("store backends: no runtime for the wiring: {err}");
            return;
        }
    };
    runtime.block_on(async move {
        let client = loop {
            match backends.cluster.client().await {
                Ok(client) => break client,
                Err(_) if backends.stopped.load(Ordering::SeqCst) => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        };
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let pods: Api<Pod> = Api::all(client);
        let stores = ListParams::default().labels("app.kubernetes.io/managed-by=storeflow");
        // Namespace → the Medusa (database, port) its exec environment and the forwarder were
        // given.
        let mut wired: BTreeMap<String, Option<(String, u16)>> = BTreeMap::new();
        let mut table = BTreeMap::new();
        while !backends.stopped.load(Ordering::SeqCst) {
            if let Ok(list) = namespaces.list(&stores).await {
                let mut present: BTreeSet<String> = BTreeSet::new();
                for namespace in list.items {
                    let medusa = namespace
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|labels| labels.get("storeflow.io/engine"))
                        .is_some_and(|engine| engine == "medusa");
                    let Some(name) = namespace.metadata.name else {
                        continue;
                    };
                    if medusa
                        && backends.medusa_enabled()
                        && !backends.medusas().contains_key(&name)
                    {
                        backends.start_store_medusa(&name);
                    }
                    present.insert(name);
                }
                // Gone stores' Medusas stop (a second or so each, off this loop).
                let gone: Vec<MedusaSlot> = {
                    let mut medusas = backends.medusas();
                    let names: Vec<String> = medusas
                        .keys()
                        .filter(|name| !present.contains(*name))
                        .cloned()
                        .collect();
                    names
                        .iter()
                        .filter_map(|name| medusas.remove(name))
                        .collect()
                };
                if !gone.is_empty() {
                    std::thread::spawn(move || drop(gone));
                }
                wired.retain(|name, _| present.contains(name));
                for name in present {
                    let medusa = match backends.medusas().get(&name) {
                        Some(MedusaSlot::Running { database, port, .. }) => {
                            Some((database.clone(), *port))
                        }
                        _ => None,
                    };
                    // Wired again when its Medusa started after it: its exec needs the
                    // database, and the forwarder answers only once that is done.
                    if wired.get(&name) == Some(&medusa) {
                        continue;
                    }
                    let database = medusa.as_ref().map(|(database, _)| database.as_str());
                    if wire_namespace(backends, &name, database).await.is_err() {
                        continue;
                    }
                    if let Some((_, port)) = &medusa {
                        let socket = backends.sites_socket.clone();
                        let command = json!({ "op": "medusa", "namespace": name, "port": port });
                        let told =
                            tokio::task::spawn_blocking(move || sites_request(&socket, &command))
                                .await;
                        if !matches!(told, Ok(Ok(_))) {
                            continue;
                        }
                    }
                    wired.insert(name, medusa);
                }
            }
            if let Ok(list) = pods.list(&ListParams::default()).await {
                let now: BTreeMap<String, String> = list
                    .items
                    .into_iter()
                    .filter_map(|pod| {
                        let namespace = pod.metadata.namespace?;
                        let ip = pod.status?.pod_ip?;
                        namespace.starts_with("store-").then_some((ip, namespace))
                    })
                    .collect();
                if now != table {
                    let socket = backends.sites_socket.clone();
                    let command = json!({ "op": "pods", "pods": now });
                    let told =
                        tokio::task::spawn_blocking(move || sites_request(&socket, &command)).await;
                    if matches!(told, Ok(Ok(_))) {
                        table = now;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// Gives `namespace` its exec environment: PATH with the `wp` shim, the sites socket, its
/// Medusa's database (the `medusa` container's `DATABASE_URL`; for the `postgres` container
/// what the PostgreSQL image has, and where that database is), Medusa's package as the
/// working directory.
async fn wire_namespace(
    backends: &StoreBackends,
    namespace: &str,
    medusa_database: Option<&str>,
) -> anyhow::Result<()> {
    let path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        backends.dir.join("bin").display()
    );
    let cwd = backends.medusa_backend.display().to_string();
    let socket = backends.sites_socket.display().to_string();
    let config_home = medusa_cli_config_home(&backends.dir)?.display().to_string();
    // WordPress's document root: the chart sets it as the wp-cli container's working directory
    // (uploads are backed up and restored relative to it).
    let docroot = backends.docroot(namespace);
    std::fs::create_dir_all(&docroot).context("the store's document root")?;
    let docroot = docroot.display().to_string();
    let postgres = medusa_database
        .and_then(local_medusa::postgres_env)
        .unwrap_or_default();
    let postgres: Vec<(&str, &str)> = postgres
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    backends
        .cluster
        .exec_command_for_namespace_by_container(
            namespace,
            &backends.dir.join("exec.sh"),
            &[],
            &[
                ("PATH", path.as_str()),
                ("STOREFLOW_EXEC_CWD", cwd.as_str()),
                ("STOREFLOW_SITES_SOCKET", socket.as_str()),
                ("DATABASE_URL", medusa_database.unwrap_or_default()),
                // A container's exec inherits the container's environment, where the chart sets
                // this; kwok's exec gets only the ClusterExec's.
                ("MEDUSA_DISABLE_TELEMETRY", "true"),
                ("XDG_CONFIG_HOME", config_home.as_str()),
            ],
            &[
                (&["wp-cli"], &[("STOREFLOW_EXEC_CWD", docroot.as_str())]),
                (&["postgres"], &postgres),
            ],
        )
        .await
}
