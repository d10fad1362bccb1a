//! `storeflow-fakecluster`: the fake Kubernetes API server as a process, for running the real
//! `storeflow` against it (browser tests, demos). Run under the name `helm` (a link the
//! server writes) it is the fake helm instead.
//!
//! ```text
//! storeflow-fakecluster --dir DIR [--port N] [--ready-after 800ms] [--chart PATH]
//! ```
//! prints one JSON line — `{"kubeconfig", "helm", "chart", "control", "server"}` — and serves
//! until SIGTERM/SIGINT or until its standard input closes. `control` is the base URL of
//! `POST fail-next|fail|heal {"namespace", "failure": "image-pull"}` and `GET state`.
//!
//! For a real test cluster (real API server, kwok nodes):
//! ```text
//! storeflow-fakecluster sites --http 0.0.0.0:80 --socket PATH
//! ```
//! serves the simulated WordPress sites (run it in the cluster's pod network), and run under
//! the name `wp` (a link on the PATH kwok gives exec'd commands) it is the WP-CLI shim that
//! forwards to them (see `sites`).

use std::path::PathBuf;
use std::time::Duration;

use storeflow_fakecluster::{FakeCluster, Options};

fn usage() -> ! {
    eprintln!(
        "usage: storeflow-fakecluster --dir DIR [--port N] [--ready-after DURATION] [--chart PATH]\n       storeflow-fakecluster sites --http ADDR --socket PATH"
    );
    std::process::exit(2)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(code) = storeflow_fakecluster::sites::run_backend_part(&argv) {
        std::process::exit(code);
    }
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_owned();
    let runtime = match storeflow_fakecluster::sites::runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            std::process::exit(1)
        }
    };
    if invoked_as == "helm" {
        let outcome = runtime.block_on(storeflow_fakecluster::helm::run(&argv[1..]));
        print!("{}", outcome.stdout);
        eprint!("{}", outcome.stderr);
        std::process::exit(outcome.code);
    }
    let mut dir: Option<PathBuf> = None;
    let mut port = 0u16;
    let mut ready_after = Duration::from_millis(800);
    let mut chart = PathBuf::from("charts/ecommerce-store");
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = args.next().map(PathBuf::from),
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--ready-after" => {
                ready_after = args
                    .next()
                    .and_then(|d| humantime_like(d))
                    .unwrap_or_else(|| usage())
            }
            "--chart" => chart = args.next().map(PathBuf::from).unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    let Some(dir) = dir else { usage() };
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {err}", dir.display());
        std::process::exit(1)
    }
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let chart = std::fs::canonicalize(&chart).unwrap_or(chart);
    runtime.block_on(async move {
        let cluster = FakeCluster::start_on(
            Options {
                auto_ready: Some(ready_after),
                service_account_token: None,
            },
            port,
        )
        .await;
        let kubeconfig = cluster.write_kubeconfig(&dir);
        // The fake helm is this binary under the name `helm`.
        let helm = dir.join("helm");
        let _ = std::fs::remove_file(&helm);
        let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(&argv[0]));
        if let Err(err) = std::os::unix::fs::symlink(&me, &helm) {
            eprintln!("error: cannot link {}: {err}", helm.display());
            std::process::exit(1)
        }
        println!(
            "{}",
            serde_json::json!({
                "server": cluster.url(),
                "kubeconfig": kubeconfig,
                "helm": helm,
                "chart": chart,
                "control": format!("{}/fake", cluster.url()),
            })
        );
        let stdin_closed = tokio::task::spawn_blocking(|| {
            use std::io::Read;
            let mut sink = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        });
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => std::process::exit(1),
            };
        tokio::select! {
            _ = stdin_closed => {}
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    // The runtime's blocking stdin reader must not keep the process alive.
    std::process::exit(0)
}

/// `800ms`, `2s`.
fn humantime_like(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    text.strip_suffix('s')?
        .parse()
        .ok()
        .map(Duration::from_secs)
}
