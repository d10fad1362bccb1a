//! `storeflow up --simulated-cluster`: the whole flow with no Kubernetes at all.
//!
//! A fake Kubernetes API server runs inside this process (the one the fast tests use: its
//! controllers roll workloads out, `pods/exec` reaches a simulated WordPress with WP-CLI), the
//! store steps' helm is this binary run under the name `helm` (the fake helm, rendering nothing
//! but recording releases as helm does), and each Medusa store gets a real Medusa v1.20 on this
//! machine, started from `charts/medusa-backend` when its Deployment is written. Stores go from
//! requested to ready through every real step; nothing is deployed anywhere, and the API says
//! so to every client (`simulatedCluster` in health), so the dashboard shows it on every page.
//!
//! Never chosen by default: only the flag turns it on, whatever cluster is configured.
//!
//! Built with the `simulated-cluster` cargo feature (a default one). Without it — the container
//! image's build — the binary links no fake cluster and `up --simulated-cluster` says it
//! cannot simulate one.

use std::path::{Path, PathBuf};

/// Runs the fake helm when this binary was started under the name `helm` (the link
/// [`SimulatedCluster::start`] writes); `None` otherwise, and always without the feature.
#[cfg(not(feature = "simulated-cluster"))]
pub(crate) fn run_as_helm() -> Option<std::process::ExitCode> {
    None
}

/// Runs the fake helm when this binary was started under the name `helm` (the link
/// [`SimulatedCluster::start`] writes); `None` otherwise.
#[cfg(feature = "simulated-cluster")]
pub(crate) fn run_as_helm() -> Option<std::process::ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    let invoked_as = argv
        .first()
        .and_then(|arg| Path::new(arg).file_name())
        .and_then(|name| name.to_str())?;
    if invoked_as != "helm" {
        return None;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error: cannot start the runtime: {err}");
            return Some(std::process::ExitCode::FAILURE);
        }
    };
    let outcome = runtime.block_on(storeflow_fakecluster::helm::run(&argv[1..]));
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    Some(std::process::ExitCode::from(
        u8::try_from(outcome.code).unwrap_or(1),
    ))
}

/// The in-process API server and the Medusa backends of a simulated cluster.
#[cfg(feature = "simulated-cluster")]
#[derive(Debug)]
struct Parts {
    /// Keeps the in-process API server's state alive.
    cluster: storeflow_fakecluster::FakeCluster,
    medusa: storeflow_fakecluster::local_medusa::PerStoreMedusa,
}

#[cfg(feature = "simulated-cluster")]
impl Parts {
    fn url(&self) -> String {
        self.cluster.url()
    }

    fn stop(&self) {
        self.medusa.stop();
    }
}

/// Without the feature there is nothing to simulate a cluster with: no value of this type
/// exists, so no [`SimulatedCluster`] does.
#[cfg(not(feature = "simulated-cluster"))]
#[derive(Debug)]
enum Parts {}

#[cfg(not(feature = "simulated-cluster"))]
impl Parts {
    fn url(&self) -> String {
        match *self {}
    }

    fn stop(&self) {
        match *self {}
    }
}

/// The simulated cluster of one `storeflow up`.
#[derive(Debug)]
pub(crate) struct SimulatedCluster {
    parts: Parts,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) helm: PathBuf,
    /// What Medusa stores will get, for the announcement.
    pub(crate) medusa_note: String,
}

impl SimulatedCluster {
    /// Without the feature: an error that says so.
    #[cfg(not(feature = "simulated-cluster"))]
    pub(crate) async fn start(_data_dir: &Path) -> anyhow::Result<SimulatedCluster> {
        anyhow::bail!(
            "this storeflow was built without the simulated cluster (cargo feature \
             `simulated-cluster`, as the container image is): provision into a real cluster \
             (drop --simulated-cluster), or build storeflow with its default features"
        )
    }

    /// Starts it with its files (kubeconfig, the `helm` link, Medusa logs) in
    /// `<data_dir>/simulated-cluster`; the Medusa package is `charts/medusa-backend` under the
    /// working directory (the repository).
    #[cfg(feature = "simulated-cluster")]
    pub(crate) async fn start(data_dir: &Path) -> anyhow::Result<SimulatedCluster> {
        use storeflow_fakecluster::local_medusa::PerStoreMedusa;
        use storeflow_fakecluster::{FakeCluster, Options};
        /// How long the simulated controllers take to roll a workload out.
        const ROLLOUT: std::time::Duration = std::time::Duration::from_millis(800);

        let dir = data_dir.join("simulated-cluster");
        std::fs::create_dir_all(&dir).map_err(|err| {
            anyhow::anyhow!(
                "cannot create {}: {err} (choose another --data-dir)",
                dir.display()
            )
        })?;
        let cluster = FakeCluster::start_on(
            Options {
                auto_ready: Some(ROLLOUT),
                service_account_token: None,
            },
            0,
        )
        .await;
        let kubeconfig = cluster.write_kubeconfig(&dir);
        let helm = dir.join("helm");
        let _ = std::fs::remove_file(&helm);
        let me = std::env::current_exe()
            .map_err(|err| anyhow::anyhow!("cannot find this program's path for helm: {err}"))?;
        std::os::unix::fs::symlink(&me, &helm)
            .map_err(|err| anyhow::anyhow!("cannot link {}: {err}", helm.display()))?;
        let backend = std::path::absolute("charts/medusa-backend")?;
        let medusa = PerStoreMedusa::start(&cluster, &backend, &dir.join("medusa"))
            .map_err(|err| anyhow::anyhow!("cannot prepare the local Medusa backends: {err}"))?;
        let medusa_note = medusa_note(&backend, &dir.join("medusa"));
        Ok(SimulatedCluster {
            parts: Parts { cluster, medusa },
            kubeconfig,
            helm,
            medusa_note,
        })
    }

    /// The in-process API server's URL.
    pub(crate) fn url(&self) -> String {
        self.parts.url()
    }

    /// Stops every store's Medusa (each with its PostgreSQL).
    pub(crate) fn stop(&self) {
        self.parts.stop();
    }
}

/// What a Medusa store will get here, in words.
#[cfg(feature = "simulated-cluster")]
fn medusa_note(backend: &Path, logs: &Path) -> String {
    if !backend.join("harness.mjs").is_file() {
        return format!(
            "Medusa stores fail at wait-ready: no Medusa package at {} (start storeflow from the \
             repository)",
            backend.display()
        );
    }
    if crate::doctor::on_path("node").is_none() {
        return "Medusa stores fail at wait-ready: they need Node.js 20, not found on PATH"
            .to_owned();
    }
    let install = if backend.join("node_modules/.bin/medusa").exists() {
        ""
    } else {
        " (the first one installs its npm packages first: a few minutes)"
    };
    format!(
        "each Medusa store gets a real Medusa v1.20 with its own PostgreSQL on this machine, \
         started when its chart is installed{install}; logs in {}",
        logs.display()
    )
}
