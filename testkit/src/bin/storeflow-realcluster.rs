//! `storeflow-realcluster`: the tests' real Kubernetes control plane, started by hand.
//!
//! ```sh
//! cargo run -p storeflow-testkit --bin storeflow-realcluster [-- --nodes N --ready-timeout SECS --no-pod-network --no-medusa]
//! ```
//!
//! Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (see
//! `storeflow_testkit::realcluster`), prints ONE JSON line on stdout once the cluster is ready —
//! `kubeconfig`, `helm`, `kubectl`, `server`, `podNetwork` (the network namespace, `null`
//! without root), `hostAddress`, `podCidr`, `serviceCidr`, `guardRoutes`, `dir`, `binDir`,
//! `pids`, `reaperPid`, `readySeconds`, plus `storeBackends` (`null` without a pod network) and
//! `env` (the `KUBECONFIG` and `HELM_BIN` to give `storeflow up`) — and serves until SIGTERM or SIGINT, then tears
//! everything down (processes, routes, network namespace, directory) and exits 0. If a
//! component exits on its own it tears down and exits 1. Progress and errors go to stderr.
//! If this process is killed, the reaper tears down all the same.
//!
//! With the pod network (root), store pods are backed as in the process tests
//! (`storeflow_testkit::store_backends`): this binary, run as `<it> sites …` in the pod network,
//! serves the simulated WordPress sites, and linked as `wp` it is their WP-CLI; a real Medusa
//! (unless `--no-medusa`, or its package is not installed) answers for Medusa pods. So
//! `KUBECONFIG=… HELM_BIN=… storeflow up` provisions WooCommerce and Medusa stores to ready on it.

use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use serde_json::json;
use storeflow_testkit::realcluster::{Options, RealCluster};
use storeflow_testkit::store_backends::StoreBackends;

fn usage() -> ! {
    eprintln!(
        "usage: storeflow-realcluster [--nodes N] [--ready-timeout SECONDS] [--no-pod-network] [--no-medusa]"
    );
    std::process::exit(2)
}

fn options(medusa: &mut bool) -> Options {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> u64 {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("{what} needs a number");
                usage()
            })
        };
        match arg.as_str() {
            "--nodes" => options.nodes = number("--nodes").max(1) as usize,
            "--ready-timeout" => {
                options.ready_timeout = Duration::from_secs(number("--ready-timeout"))
            }
            "--no-pod-network" => options.pod_network = false,
            "--no-medusa" => *medusa = false,
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    options
}

/// The store backends (see the module docs), when the cluster has a pod network.
fn start_backends(
    cluster: &'static RealCluster,
    medusa: bool,
) -> anyhow::Result<Option<Arc<StoreBackends>>> {
    if cluster.pod_network().is_none() {
        eprintln!(
            "storeflow-realcluster: no pod network (it needs root), so no store backends: stores \
             provisioned here stop at their first WP-CLI or Medusa step"
        );
        return Ok(None);
    }
    let me = std::env::current_exe()?;
    let backends = StoreBackends::start(cluster, &me)?;
    if medusa {
        eprintln!(
            "storeflow-realcluster: each Medusa store gets a Medusa of its own in the pod network"
        );
        if let Err(err) = backends.start_medusa() {
            eprintln!(
                "storeflow-realcluster: no Medusa ({err:#}); Medusa stores will fail at their \
                 Medusa steps, WooCommerce stores are not affected"
            );
        }
    }
    Ok(Some(backends))
}

/// The JSON line: the cluster's description, its store backends, and the environment
/// `storeflow up` needs to provision on it.
fn announcement(cluster: &RealCluster, backends: Option<&StoreBackends>) -> serde_json::Value {
    let mut line = cluster.describe();
    line["storeBackends"] = match backends {
        Some(backends) => json!({
            "dir": backends.dir(),
            "sitesSocket": backends.sites_socket(),
            "medusa": backends.medusa_enabled(),
        }),
        None => serde_json::Value::Null,
    };
    line["env"] = json!({
        "KUBECONFIG": cluster.kubeconfig(),
        "HELM_BIN": cluster.helm(),
    });
    line
}

/// Until SIGTERM/SIGINT (Ok) or a component exits (Err).
async fn serve(cluster: &RealCluster) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = tick.tick() => {
                if let Some(exited) = cluster.exited_component() {
                    anyhow::bail!("{exited}");
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // In the pod network this binary serves the simulated sites; linked as `wp` it is WP-CLI.
    if let Some(code) = storeflow_fakecluster::sites::run_backend_part(&argv) {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let mut medusa = true;
    let options = options(&mut medusa);
    // Lives as long as the process: the store backends' wiring thread borrows it.
    let cluster: &'static RealCluster = match RealCluster::start(options) {
        Ok(cluster) => Box::leak(Box::new(cluster)),
        Err(err) => {
            eprintln!("storeflow-realcluster: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("storeflow-realcluster: {err}");
            cluster.shutdown();
            return ExitCode::FAILURE;
        }
    };
    let backends = match start_backends(cluster, medusa) {
        Ok(backends) => backends,
        Err(err) => {
            eprintln!("storeflow-realcluster: the store backends did not start: {err:#}");
            cluster.shutdown();
            return ExitCode::FAILURE;
        }
    };
    let line = announcement(cluster, backends.as_deref());
    println!("{line}");
    eprintln!(
        "storeflow-realcluster: ready; provision on it with\n  KUBECONFIG={} HELM_BIN={} cargo run --release -p storeflow -- up\nStop it with SIGTERM or Ctrl-C.",
        cluster.kubeconfig().display(),
        cluster.helm().display()
    );
    let result = runtime.block_on(serve(cluster));
    eprintln!("storeflow-realcluster: tearing down");
    if let Some(backends) = &backends {
        backends.stop();
    }
    cluster.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("storeflow-realcluster: {err:#}");
            ExitCode::FAILURE
        }
    }
}
