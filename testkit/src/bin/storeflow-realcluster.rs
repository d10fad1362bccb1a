//! `storeflow-realcluster`: the tests' real Kubernetes control plane, started by hand.
//!
//! ```sh
//! cargo run -p storeflow-testkit --bin storeflow-realcluster [-- --nodes N --ready-timeout SECS --no-pod-network]
//! ```
//!
//! Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (see
//! `storeflow_testkit::realcluster`), prints ONE JSON line on stdout once the cluster is ready —
//! `kubeconfig`, `helm`, `kubectl`, `server`, `podNetwork` (the network namespace, `null`
//! without root), `hostAddress`, `podCidr`, `serviceCidr`, `guardRoutes`, `dir`, `binDir`,
//! `pids`, `reaperPid`, `readySeconds` — and serves until SIGTERM or SIGINT, then tears
//! everything down (processes, routes, network namespace, directory) and exits 0. If a
//! component exits on its own it tears down and exits 1. Progress and errors go to stderr.
//! If this process is killed, the reaper tears down all the same.

use std::process::ExitCode;
use std::time::Duration;

use storeflow_testkit::realcluster::{Options, RealCluster};

fn usage() -> ! {
    eprintln!(
        "usage: storeflow-realcluster [--nodes N] [--ready-timeout SECONDS] [--no-pod-network]"
    );
    std::process::exit(2)
}

fn options() -> Options {
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
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    options
}

/// What runs on the cluster before it is announced: ClusterExec objects
/// (`cluster.exec_command_for_namespace`), processes in the pod network
/// (`cluster.run_in_pod_network`, stopped at teardown), … Nothing yet.
async fn setup(cluster: &RealCluster) -> anyhow::Result<()> {
    let _ = cluster;
    Ok(())
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
    let options = options();
    let cluster = match RealCluster::start(options) {
        Ok(cluster) => cluster,
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
    let result = runtime.block_on(async {
        setup(&cluster).await?;
        println!("{}", cluster.describe());
        serve(&cluster).await
    });
    eprintln!("storeflow-realcluster: tearing down");
    cluster.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("storeflow-realcluster: {err:#}");
            ExitCode::FAILURE
        }
    }
}
