//! A real Kubernetes control plane for integration tests: etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler (the pinned builds of `tools/`, see
//! `tools/README.md`), with kwok standing in for the kubelet of one or more nodes.
//!
//! [`RealCluster::shared`] starts one per test binary on first use; the
//! `storeflow-realcluster` binary starts the same cluster by hand
//! (`cargo run -p storeflow-testkit --bin storeflow-realcluster`: one JSON line on stdout,
//! then it serves until SIGTERM or SIGINT).
//!
//! # Guarantees
//! - **Everything in one directory**: `$TMPDIR/storeflow-realcluster-<id>/` holds the PKI
//!   (generated with rcgen: one CA, serving and client certificates as `tools/README.md`
//!   lists, a front-proxy CA, the service-account key pair), one kubeconfig per client
//!   (`admin.kubeconfig` is [`RealCluster::kubeconfig`]: `O=system:masters`), etcd's data and
//!   one log per component under `logs/`. Every port is a free loopback port.
//! - **Ready within a bounded time** ([`Options::ready_timeout`], 90 s by default,
//!   `STOREFLOW_REALCLUSTER_READY_TIMEOUT` seconds to override): `/readyz` answers, kwok's
//!   CRDs are established, the stages and fault policies are applied, every node is Ready,
//!   the controller manager and scheduler answer `/healthz` and the `default` ServiceAccount
//!   exists. Otherwise start fails naming the component and quoting the end of its log
//!   (also at once when a component exits during start).
//! - **Torn down however the process ends**: a reaper process (`sh`, in a process group of its
//!   own so a terminal's Ctrl-C does not reach it) holds a pipe from this process; when the
//!   pipe closes — normal exit, panic, SIGKILL — it sends SIGTERM to every component
//!   but etcd, then to etcd (the API server stops quickly only while etcd answers) — pids
//!   recorded in `pids`, checked against `/proc/<pid>/cmdline` so a reused pid is never
//!   hit — and to every process in the pod network namespace, SIGKILL to what is left after
//!   8 + 5 s (a SIGTERM teardown takes 1.5–3 s here), deletes the
//!   guard routes, the veth pair and the network namespace, and removes the directory.
//!   [`RealCluster::shutdown`] does the same and waits for it.
//! - **hostPath volumes stay inside the directory**: the controller manager's hostPath
//!   provisioner always writes `/tmp/hostpath_pv/<uuid>` (no flag changes it). As root the
//!   controller manager runs in a mount namespace of its own where `/tmp/hostpath_pv` is a
//!   bind mount of `<dir>/hostpath_pv`, so its volumes go with the directory. (Without root
//!   the reaper asks the API server for the PersistentVolumes' paths before it stops
//!   anything and removes those; volumes of a cluster that crashed stay.)
//! - **Pods** go Pending → Running/Ready through kwok stages (`tools/kwok/manifests/pod-stages.yaml`):
//!   Job pods then Succeeded, deleted pods go at once; every PVC binds at once (the default
//!   StorageClass `standard`). [`RealCluster::inject_fault`] makes a namespace's pods fail the
//!   way storeflow's wait-ready step recognizes.
//! - **Pod network** (root only): pod IPs come from this cluster's pod CIDR (a /24, kwok's
//!   `--cidr`), which is routed into a network namespace of this cluster's own (`sf-pods-<n>`)
//!   through a veth pair and is local there: a server started with
//!   [`RealCluster::run_in_pod_network`] listening on `0.0.0.0:<port>` answers for every pod
//!   IP, so the API server's service proxy (`/api/v1/namespaces/<ns>/services/http:<svc>:<port>/proxy/`)
//!   and pod proxy reach it. From inside the namespace only its own addresses and
//!   [`PodNetwork::host_address`] (the host end of the veth) are reachable.
//! - **Guard routes**: while the cluster lives, a blackhole route (with a metric of this
//!   cluster's own, so concurrent clusters do not remove each other's) covers every private
//!   IPv4 range (10/8, 172.16/12, 192.168/16) and the IPv6 ULA range fc00::/7 **that contains
//!   none of the machine's resolvers (`/etc/resolv.conf`), default gateways, interface
//!   addresses or literal proxy addresses** — a range that does is left alone (on the
//!   project's machine the resolver is 10.255.255.53, so 10/8 is not blackholed, and the IPv6
//!   gateway is in fd00::/64, so fc00::/7 is not either), plus this cluster's own address
//!   block (pod CIDRs, service CIDR, veth links). Routes are checked after they are added
//!   (`ip route get` of every protected address that routed before must still route, else
//!   the guard is removed and start fails); a pod or service address that is not in this
//!   cluster's pod network never leaves the machine.
//!
//! # Exec (kwok)
//! kwok runs the argv an exec request names as a local process (kwok's user, network
//! namespace and environment); the only per-namespace settings a `ClusterExec` has are fixed
//! environment variables and a working directory — no command, no templating.
//! [`RealCluster::exec_command_for_namespace`] therefore creates a ClusterExec for the
//! namespace whose environment names the program, and kwok's `PATH` starts with a directory of
//! dispatchers, one per name in [`Options::exec_names`] (`wp`, `sh`, `bash`, `node`, `npx`,
//! `medusa`, `php` by default; [`RealCluster::add_exec_name`] adds more): an exec of
//! `wp core is-installed` in such a namespace runs `<program> <args…> wp core is-installed`
//! with `STOREFLOW_TEST_NAMESPACE=<namespace>` and the given variables in its environment.
//! In a namespace without such a ClusterExec (or with one made by hand) the dispatcher runs
//! the real command of that name. An absolute argv\[0\] (`/bin/sh`) bypasses the dispatchers.
//!
//! kwok v0.8.0's exec semantics (checked by `tests/realcluster.rs`):
//! - **stdin is never closed**: kwok copies the client's stdin into the command's and never
//!   closes the pipe, so a command reading to EOF (`cat`) never ends; line reads (`read -r`)
//!   work.
//! - **exit status**: a non-zero exit comes back as a `Failure` status with reason
//!   `InternalError` and the message `… cmd wait: <argv>: exit status 7`, not as
//!   `NonZeroExitCode` with an `ExitCode` cause: clients see a failure without the code
//!   (kubectl exits 1; storeflow's `pod_exec` falls back to code 1).
//! - kwok picks up a new ClusterExec from its watch, so an exec right after
//!   `exec_command_for_namespace` could still fail with `no exec found for container …`;
//!   the function pauses 500 ms before it returns (kwok's watch delivers within
//!   milliseconds on an idle machine), and a retry on that message is safe.
//! - Without `-i` (no stdin requested) the command's stdin is empty (`read` sees EOF).
//!
//! # Caveats
//! - Needs the binaries: `STOREFLOW_K8S_BIN` or `scripts/k8s-tools.sh` (needs Go; a cold
//!   build takes about 20 minutes, cached afterwards). The pod network and the hostPath
//!   mount namespace need root (`ip`, `unshare`); without root the cluster starts without
//!   them: pod IPs are loopback addresses (127.30.16.0/24), which never leave the machine —
//!   EndpointSlices refuse them, so a service proxy request answers 503 "no endpoints
//!   available" — and [`RealCluster::run_in_pod_network`] fails saying it needs root.
//! - Faults must be injected **before** the namespace's pods are created (a MutatingAdmission
//!   policy copies the label to new pods; existing pods keep their state).
//! - kcm's parent directory `/tmp/hostpath_pv` (a mount point of the mount namespace) is
//!   created if missing (mode 1777, like `/tmp`, so clusters started without root can use it
//!   too) and never removed: removing it while another cluster's controller manager has it as
//!   a mount point would detach that mount.
//! - If the reaper itself is killed (SIGKILL to its process group), nothing is cleaned up.
//! - At most 64 clusters with a pod network at once on one machine.
//! - The guard protects only literal addresses it can see: a private address the machine
//!   reaches through a host name (a mirror, a proxy named by host name) is not known to it.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Read as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::json;

/// The Kubernetes version the pinned binaries report.
pub const KUBERNETES_VERSION: &str = "v1.37.2";

/// The names kwok's exec dispatchers answer to by default (see the module docs).
pub const DEFAULT_EXEC_NAMES: &[&str] = &["wp", "sh", "bash", "node", "npx", "medusa", "php"];

/// The namespace label the fault policies read.
pub const FAULT_LABEL: &str = "storeflow.test/fault";

const POD_STAGES: &str = include_str!("../../tools/kwok/manifests/pod-stages.yaml");
const FAULT_POLICY: &str = include_str!("../../tools/kwok/manifests/fault-policy.yaml");
const STORAGE_CLASS: &str = include_str!("../../tools/kwok/manifests/storage-class.yaml");

/// Private ranges the guard blackholes when they hold no protected address.
const PRIVATE_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
];
const PRIVATE_V6: &[(Ipv6Addr, u8)] = &[(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7)];
/// Candidate /16 blocks for a cluster's addresses, first usable wins.
const BLOCKS: &[[u8; 2]] = &[[172, 30], [10, 244], [192, 168]];
/// Route metric of slot 0's guard routes (slot n uses `GUARD_METRIC + n`).
const GUARD_METRIC: u32 = 3100;
/// Pod-network slots (one per concurrent cluster on the machine).
const SLOTS: u8 = 64;

/// The bin directory of the pinned Kubernetes binaries: `STOREFLOW_K8S_BIN` if set, else
/// what `scripts/k8s-tools.sh` prints (it reuses its cache, or builds — about 20 minutes cold,
/// progress on stderr). Panics if neither works; [`try_tool_bin_dir`] returns the error.
pub fn tool_bin_dir() -> PathBuf {
    try_tool_bin_dir().unwrap_or_else(|err| panic!("{err:#}"))
}

/// [`tool_bin_dir`], returning the error.
pub fn try_tool_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("STOREFLOW_K8S_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let script = repo_root().join("scripts/k8s-tools.sh");
    eprintln!(
        "realcluster: running {} for the Kubernetes binaries (cached after the first build; a \
         cold build takes about 20 minutes, its progress follows)",
        script.display()
    );
    let started = Instant::now();
    // stderr goes straight to ours (not captured by the test harness): the build's progress.
    let output = Command::new(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}); it needs Go on PATH — or set STOREFLOW_K8S_BIN to a directory with \
             etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok and helm",
            script.display(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| anyhow!("{} printed no bin directory", script.display()))?;
    eprintln!(
        "realcluster: binaries in {} ({:.1} s)",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(dir)
}

/// The repository root (testkit's parent directory).
pub(crate) fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct Options {
    /// kwok nodes (`kwok-node-0`, …); at least one.
    pub nodes: usize,
    /// From the start of the first component to ready (the binaries' build is not counted).
    pub ready_timeout: Duration,
    /// Route the pod CIDR into a network namespace (needs root). Defaults to "running as root".
    pub pod_network: bool,
    /// The binaries; [`try_tool_bin_dir`] when `None`.
    pub bin_dir: Option<PathBuf>,
    /// argv\[0\] names kwok's exec dispatchers answer to (see the module docs).
    pub exec_names: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        let ready_timeout = std::env::var("STOREFLOW_REALCLUSTER_READY_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(90));
        Options {
            nodes: 1,
            ready_timeout,
            pod_network: is_root(),
            bin_dir: None,
            exec_names: DEFAULT_EXEC_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// A failure injected into every pod created afterwards in a namespace
/// (`tools/kwok/manifests/fault-policy.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pending, container waiting with reason `ImagePullBackOff`, never Ready.
    ImagePull,
    /// Running, container waiting with reason `CrashLoopBackOff`, restartCount 3, never Ready.
    CrashLoop,
    /// A nodeSelector no node has: the scheduler sets `PodScheduled=False`, reason `Unschedulable`.
    Unschedulable,
}

impl Fault {
    /// The value of the namespace label [`FAULT_LABEL`].
    pub fn label_value(self) -> &'static str {
        match self {
            Fault::ImagePull => "image-pull",
            Fault::CrashLoop => "crash-loop",
            Fault::Unschedulable => "unschedulable",
        }
    }
}

/// The network namespace pod IPs are routed into.
#[derive(Debug, Clone)]
pub struct PodNetwork {
    /// Its name (`ip netns exec <netns> …`).
    pub netns: String,
    /// The host end of the veth pair: the only host address reachable from the namespace.
    pub host_address: Ipv4Addr,
    /// The namespace end of the veth pair.
    pub netns_address: Ipv4Addr,
    /// The guard routes this cluster added (`blackhole <range> metric <m>`).
    pub guard_routes: Vec<String>,
}

/// A running control plane; see the module docs.
#[derive(Debug)]
pub struct RealCluster {
    dir: PathBuf,
    bin: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    pod_cidr: String,
    service_cidr: String,
    pod_network: Option<PodNetwork>,
    exec_bin: PathBuf,
    ready_after: Duration,
    components: Mutex<Vec<Component>>,
    reaper: Mutex<Option<Reaper>>,
}

#[derive(Debug)]
struct Component {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

#[derive(Debug)]
struct Reaper {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl RealCluster {
    /// The cluster of this test binary, started on first use with [`Options::default`]
    /// (blocking; callers on other threads wait for the same start). Panics, with the same
    /// message for every caller, if it cannot start.
    pub fn shared() -> &'static RealCluster {
        static SHARED: OnceLock<Result<RealCluster, String>> = OnceLock::new();
        match SHARED.get_or_init(|| {
            RealCluster::start(Options::default()).map_err(|err| format!("{err:#}"))
        }) {
            Ok(cluster) => cluster,
            Err(err) => panic!("the shared real cluster did not start: {err}"),
        }
    }

    /// Starts a cluster this value owns: torn down by [`RealCluster::shutdown`], or by the
    /// reaper when it is dropped or the process exits. Blocking (no async runtime needed).
    pub fn start(options: Options) -> anyhow::Result<RealCluster> {
        let bin = match &options.bin_dir {
            Some(dir) => dir.clone(),
            None => try_tool_bin_dir()?,
        };
        for name in [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kubectl",
            "kwok",
            "helm",
        ] {
            if !bin.join(name).is_file() {
                bail!("{} has no {name}", bin.display());
            }
        }
        let share = bin
            .parent()
            .map(|p| p.join("share/kwok"))
            .filter(|p| p.join("crd").is_dir() && p.join("stage").is_dir())
            .ok_or_else(|| {
                anyhow!(
                    "no share/kwok/{{crd,stage}} next to {} (scripts/k8s-tools.sh puts them there)",
                    bin.display()
                )
            })?;
        let root = is_root();
        if options.pod_network && !root {
            bail!(
                "the pod network needs root (ip netns, veth, routes); this process runs as uid {} \
                 — start without it (Options::pod_network = false) or as root",
                effective_uid().unwrap_or(u32::MAX)
            );
        }
        let started = Instant::now();
        let deadline = started + options.ready_timeout;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("storeflow-realcluster-{}", &id[..12]));
        for sub in [
            "logs",
            "pki",
            "etcd",
            "exec-bin",
            "hostpath_pv",
            "manifests",
            "kwok-home",
        ] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        // The reaper first: from here on, whatever exists goes when this process does.
        write_teardown(&dir, None, &bin, root)?;
        let reaper = spawn_reaper(&dir)?;
        let mut starting = Starting {
            dir: dir.clone(),
            components: Vec::new(),
            reaper: Some(reaper),
        };
        match starting.run(&options, &bin, &share, root, started, deadline) {
            Ok(mut cluster) => {
                cluster.components = Mutex::new(std::mem::take(&mut starting.components));
                cluster.reaper = Mutex::new(starting.reaper.take());
                Ok(cluster)
            }
            Err(err) => {
                // Tear down what was started, and wait for it: a caller may retry at once.
                if let Some(reaper) = starting.reaper.take() {
                    reaper.finish();
                }
                for component in &mut starting.components {
                    let _ = component.child.wait();
                }
                Err(err)
            }
        }
    }

    /// The kubeconfig of a `system:masters` user (`admin.kubeconfig`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The helm binary (v3, pinned by `tools/helm`).
    pub fn helm(&self) -> PathBuf {
        self.bin.join("helm")
    }

    /// The kubectl binary (same version as the API server).
    pub fn kubectl(&self) -> PathBuf {
        self.bin.join("kubectl")
    }

    /// The directory of all the binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// `https://127.0.0.1:<port>`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The pod CIDR (kwok's `--cidr`), e.g. `172.30.16.0/24`.
    pub fn pod_cidr(&self) -> &str {
        &self.pod_cidr
    }

    /// The service CIDR (ClusterIPs; never routed anywhere but the guard's blackhole).
    pub fn service_cidr(&self) -> &str {
        &self.service_cidr
    }

    /// The cluster's directory (PKI, kubeconfigs, logs under `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long the start took, from the first component to ready.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// The pod network, if the cluster has one (root).
    pub fn pod_network(&self) -> Option<&PodNetwork> {
        self.pod_network.as_ref()
    }

    /// The process ids of the components (`etcd`, `kube-apiserver`, …, `kwok`).
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        let components = self.components.lock().unwrap_or_else(|p| p.into_inner());
        components.iter().map(|c| (c.name, c.child.id())).collect()
    }

    /// The reaper's process id (it waits on a pipe from this process; see the module docs).
    pub fn reaper_pid(&self) -> Option<u32> {
        let reaper = self.reaper.lock().unwrap_or_else(|p| p.into_inner());
        reaper.as_ref().map(|r| r.child.id())
    }

    /// A kubectl command with this cluster's kubeconfig.
    pub fn kubectl_command(&self) -> Command {
        let mut command = Command::new(self.kubectl());
        command.arg("--kubeconfig").arg(&self.kubeconfig);
        command
    }

    /// A helm command with this cluster's kubeconfig (`KUBECONFIG`) and helm's cache,
    /// config and data directories inside the cluster's directory.
    pub fn helm_command(&self) -> Command {
        let mut command = Command::new(self.helm());
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"));
        command
    }

    /// A client for this cluster (admin), for the calling runtime.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .with_context(|| format!("reading {}", self.kubeconfig.display()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .context("the cluster's kubeconfig")?;
        kube::Client::try_from(config).context("a client for the real cluster")
    }

    /// `ip netns exec <netns> <program>`: a command that runs in the pod network, where a
    /// server on `0.0.0.0:<port>` answers for every pod IP. Processes in the namespace are
    /// stopped at teardown. Fails when the cluster has no pod network (not root).
    pub fn run_in_pod_network(&self, program: impl AsRef<OsStr>) -> anyhow::Result<Command> {
        let network = self.require_pod_network()?;
        let mut command = Command::new("ip");
        command
            .arg("netns")
            .arg("exec")
            .arg(&network.netns)
            .arg(program);
        Ok(command)
    }

    /// The host end of the pod network's veth pair: where a server in the pod network reaches
    /// the host (e.g. a PostgreSQL listening there). Fails when there is no pod network.
    pub fn host_address(&self) -> anyhow::Result<Ipv4Addr> {
        Ok(self.require_pod_network()?.host_address)
    }

    fn require_pod_network(&self) -> anyhow::Result<&PodNetwork> {
        self.pod_network.as_ref().ok_or_else(|| {
            anyhow!(
                "this cluster has no pod network: it needs root (ip netns, veth, routes); this \
                 process runs as uid {}",
                effective_uid().unwrap_or(u32::MAX)
            )
        })
    }

    /// Labels `namespace` (server-side apply; creating it if missing) so that pods created in
    /// it **from now on** fail with `fault`, and returns once the API server applies it (a
    /// dry-run pod comes back with the annotation; this also waits for the namespace's
    /// `default` ServiceAccount). Pods that exist already are not changed.
    ///
    /// storeflow's ensure-namespace step refuses a namespace that exists without its labels:
    /// a provisioning test creates the namespace with them (or labels it after that step).
    pub async fn inject_fault(&self, namespace: &str, fault: Fault) -> anyhow::Result<()> {
        self.apply_fault_label(namespace, Some(fault)).await
    }

    /// Removes the fault label (pods created afterwards are healthy again).
    pub async fn clear_fault(&self, namespace: &str) -> anyhow::Result<()> {
        self.apply_fault_label(namespace, None).await
    }

    async fn apply_fault_label(&self, namespace: &str, fault: Option<Fault>) -> anyhow::Result<()> {
        use k8s_openapi::api::core::v1::{Namespace, Pod};
        use kube::api::{Api, Patch, PatchParams, PostParams};

        let client = self.client().await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let labels = match fault {
            Some(fault) => json!({ FAULT_LABEL: fault.label_value() }),
            None => json!({}),
        };
        let desired = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": namespace, "labels": labels },
        });
        namespaces
            .patch(
                namespace,
                &PatchParams::apply("storeflow-testkit-fault").force(),
                &Patch::Apply(&desired),
            )
            .await
            .with_context(|| format!("labelling namespace {namespace}"))?;
        // The admission policy reads the namespace from the API server's informer: wait
        // until a dry-run pod shows the new state.
        let pods: Api<Pod> = Api::namespaced(client, namespace);
        let probe: Pod = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": "storeflow-fault-probe" },
            "spec": { "containers": [{ "name": "probe", "image": "probe" }] },
        }))?;
        let want = fault.map(Fault::label_value);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last;
        loop {
            match pods
                .create(
                    &PostParams {
                        dry_run: true,
                        ..Default::default()
                    },
                    &probe,
                )
                .await
            {
                Ok(pod) => {
                    let got = pod
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(FAULT_LABEL))
                        .map(String::as_str);
                    if got == want {
                        return Ok(());
                    }
                    last = format!("a dry-run pod has annotation {got:?}, expected {want:?}");
                }
                Err(err) => last = format!("dry-run pod: {err}"),
            }
            if Instant::now() > deadline {
                bail!("fault {want:?} in namespace {namespace} not in effect after 30 s: {last}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Makes exec requests into pods of `namespace` run `command args… <requested argv…>`
    /// locally (kwok's user and network namespace), with `STOREFLOW_TEST_NAMESPACE=<namespace>`
    /// and `env` in its environment (a `PATH` there is the command's; without one it gets the
    /// machine's), when the requested argv\[0\] is one of the dispatcher
    /// names ([`Options::exec_names`], [`RealCluster::add_exec_name`]). Creates (or replaces)
    /// the ClusterExec `storeflow-exec-<namespace>`; see the module docs for kwok's exec
    /// semantics. Returns after a pause long enough for kwok's watch to deliver it (exec
    /// requests before that fail with `no exec found`).
    pub async fn exec_command_for_namespace(
        &self,
        namespace: &str,
        command: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        self.exec_command_for_namespace_by_container(namespace, command, args, env, &[])
            .await
    }

    /// As [`Self::exec_command_for_namespace`], with variables set or replaced for the
    /// containers named in each of `by_container` (kwok prefers an entry naming the
    /// container over the default one): e.g. a working directory of its own.
    pub async fn exec_command_for_namespace_by_container(
        &self,
        namespace: &str,
        command: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        by_container: &[ContainerEnv<'_>],
    ) -> anyhow::Result<()> {
        use kube::api::{Api, DynamicObject, Patch, PatchParams};

        let command = std::path::absolute(command)
            .with_context(|| format!("the exec command {}", command.display()))?;
        if !command.is_file() {
            bail!("the exec command {} is not a file", command.display());
        }
        let mut envs = vec![
            json!({"name": "STOREFLOW_TEST_NAMESPACE", "value": namespace}),
            json!({"name": "STOREFLOW_EXEC_COMMAND", "value": command.to_string_lossy()}),
            json!({"name": "STOREFLOW_EXEC_ARGC", "value": args.len().to_string()}),
        ];
        for (i, arg) in args.iter().enumerate() {
            envs.push(json!({"name": format!("STOREFLOW_EXEC_ARG_{i}"), "value": arg}));
        }
        for (name, value) in env {
            envs.push(json!({"name": name, "value": value}));
        }
        let mut execs: Vec<serde_json::Value> = by_container
            .iter()
            .map(|(containers, overrides)| {
                let mut envs = envs.clone();
                for (name, value) in overrides.iter() {
                    envs.retain(|e| e["name"] != *name);
                    envs.push(json!({"name": name, "value": value}));
                }
                json!({ "containers": containers, "local": { "envs": envs } })
            })
            .collect();
        execs.push(json!({ "local": { "envs": envs } }));
        let name = exec_object_name(namespace);
        let object = json!({
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterExec",
            "metadata": { "name": name, "labels": { "app.kubernetes.io/managed-by": "storeflow-testkit" } },
            "spec": {
                "selector": { "matchNamespaces": [namespace] },
                "execs": execs,
            },
        });
        let api: Api<DynamicObject> = Api::all_with(self.client().await?, &cluster_exec_resource());
        api.patch(
            &name,
            &PatchParams::apply("storeflow-testkit").force(),
            &Patch::Apply(&object),
        )
        .await
        .with_context(|| format!("applying ClusterExec {name}"))?;
        // kwok's informer delivers it within milliseconds on an idle machine.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(())
    }

    /// Deletes the ClusterExec of `namespace` (a namespace's deletion does not: it is
    /// cluster-scoped).
    pub async fn remove_exec_command_for_namespace(&self, namespace: &str) -> anyhow::Result<()> {
        use kube::api::{Api, DeleteParams, DynamicObject};
        let api: Api<DynamicObject> = Api::all_with(self.client().await?, &cluster_exec_resource());
        match api
            .delete(&exec_object_name(namespace), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(err) => Err(err).context("deleting the ClusterExec"),
        }
    }

    /// Makes exec requests whose argv\[0\] is `name` go through the dispatcher (see the
    /// module docs). Takes effect at once.
    pub fn add_exec_name(&self, name: &str) -> anyhow::Result<()> {
        add_dispatcher(&self.exec_bin, name)
    }

    /// `None` while every component runs; else which one exited, how, and its log's end.
    pub fn exited_component(&self) -> Option<String> {
        let mut components = self.components.lock().unwrap_or_else(|p| p.into_inner());
        components
            .iter_mut()
            .find_map(|c| match c.child.try_wait() {
                Ok(Some(status)) => Some(format!(
                    "{} exited ({status}); the end of {}:\n{}",
                    c.name,
                    c.log.display(),
                    log_tail(&c.log, 30)
                )),
                _ => None,
            })
    }

    /// Stops everything and removes the directory, routes and network namespace (what the
    /// reaper does), waiting until it is done.
    pub fn shutdown(&self) {
        let reaper = self.reaper.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(reaper) = reaper {
            reaper.finish();
        }
        let mut components = self.components.lock().unwrap_or_else(|p| p.into_inner());
        for component in components.iter_mut() {
            // The reaper stopped them; collect their exit status (no zombies).
            if component.child.try_wait().ok().flatten().is_none() {
                let _ = component.child.kill();
            }
            let _ = component.child.wait();
        }
    }

    /// The JSON the `storeflow-realcluster` binary prints.
    pub fn describe(&self) -> serde_json::Value {
        let pids: serde_json::Map<String, serde_json::Value> = self
            .pids()
            .into_iter()
            .map(|(name, pid)| (name.to_owned(), json!(pid)))
            .collect();
        json!({
            "kubeconfig": self.kubeconfig,
            "helm": self.helm(),
            "kubectl": self.kubectl(),
            "server": self.server,
            "podNetwork": self.pod_network.as_ref().map(|n| n.netns.clone()),
            "hostAddress": self.pod_network.as_ref().map(|n| n.host_address.to_string()),
            "podCidr": self.pod_cidr,
            "serviceCidr": self.service_cidr,
            "guardRoutes": self.pod_network.as_ref().map(|n| n.guard_routes.clone()).unwrap_or_default(),
            "dir": self.dir,
            "binDir": self.bin,
            "pids": pids,
            "reaperPid": self.reaper_pid(),
            "readySeconds": (self.ready_after.as_secs_f64() * 10.0).round() / 10.0,
        })
    }
}

/// Containers (by name) and the variables set or replaced for them in a ClusterExec.
pub type ContainerEnv<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

fn exec_object_name(namespace: &str) -> String {
    format!("storeflow-exec-{namespace}")
}

fn cluster_exec_resource() -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: "kwok.x-k8s.io".into(),
        version: "v1alpha1".into(),
        api_version: "kwok.x-k8s.io/v1alpha1".into(),
        kind: "ClusterExec".into(),
        plural: "clusterexecs".into(),
    }
}

impl Reaper {
    /// Closes its pipe (it tears down) and waits until it is done.
    fn finish(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The state of a start in progress (what to tear down if it fails).
struct Starting {
    dir: PathBuf,
    components: Vec<Component>,
    reaper: Option<Reaper>,
}

/// Addresses of one cluster: the service CIDR, its pod CIDR and veth link.
#[derive(Debug, Clone)]
struct Addresses {
    service_cidr: String,
    first_service_ip: Ipv4Addr,
    pod_cidr: String,
    network: Option<NetworkPlan>,
}

#[derive(Debug, Clone)]
struct NetworkPlan {
    netns: String,
    host_link: String,
    netns_link: String,
    host_address: Ipv4Addr,
    netns_address: Ipv4Addr,
    /// `blackhole <range> metric <m>` (IPv4 and `-6` ones).
    guard: Vec<GuardRoute>,
}

#[derive(Debug, Clone)]
struct GuardRoute {
    v6: bool,
    range: String,
    metric: u32,
}

impl GuardRoute {
    fn describe(&self) -> String {
        format!("blackhole {} metric {}", self.range, self.metric)
    }

    fn ip_args(&self, verb: &str) -> Vec<String> {
        let mut args = Vec::new();
        if self.v6 {
            args.push("-6".to_owned());
        }
        args.extend(
            [
                "route",
                verb,
                "blackhole",
                &self.range,
                "metric",
                &self.metric.to_string(),
            ]
            .map(str::to_owned),
        );
        args
    }
}

struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
    controller_manager: u16,
    scheduler: u16,
    kwok: u16,
}

impl Starting {
    fn run(
        &mut self,
        options: &Options,
        bin: &Path,
        share: &Path,
        root: bool,
        started: Instant,
        deadline: Instant,
    ) -> anyhow::Result<RealCluster> {
        let dir = self.dir.clone();
        let addresses = if options.pod_network {
            let plan = claim_network()?;
            write_teardown(&dir, Some(&plan.1), bin, root)?;
            create_network(&plan.1, &plan.0)?;
            plan.0
        } else {
            // No routes without root: loopback pod IPs, which the API server never proxies
            // to and which never leave the machine.
            Addresses {
                service_cidr: "172.30.0.0/20".into(),
                first_service_ip: Ipv4Addr::new(172, 30, 0, 1),
                pod_cidr: "127.30.16.0/24".into(),
                network: None,
            }
        };

        let ports = Ports {
            etcd_client: free_port()?,
            etcd_peer: free_port()?,
            apiserver: free_port()?,
            controller_manager: free_port()?,
            scheduler: free_port()?,
            kwok: free_port()?,
        };
        let server = format!("https://127.0.0.1:{}", ports.apiserver);
        let pki = dir.join("pki");
        generate_pki(&pki, addresses.first_service_ip)?;
        for (name, user) in [
            ("admin", "admin"),
            ("controller-manager", "controller-manager"),
            ("scheduler", "scheduler"),
            ("kwok", "kwok"),
        ] {
            write_kubeconfig(&dir.join(format!("{name}.kubeconfig")), &server, &pki, user)?;
        }
        write_health_kubeconfig(&dir.join("health.kubeconfig"), &pki)?;
        let kubeconfig = dir.join("admin.kubeconfig");
        let p = |name: &str| pki.join(name).to_string_lossy().into_owned();
        let d = |name: &str| dir.join(name).to_string_lossy().into_owned();

        // etcd and the API server.
        let etcd_client = format!("http://127.0.0.1:{}", ports.etcd_client);
        let etcd_peer = format!("http://127.0.0.1:{}", ports.etcd_peer);
        self.spawn(
            "etcd",
            Command::new(bin.join("etcd")).args([
                "--name=sf".to_owned(),
                format!("--data-dir={}", d("etcd")),
                format!("--listen-client-urls={etcd_client}"),
                format!("--advertise-client-urls={etcd_client}"),
                format!("--listen-peer-urls={etcd_peer}"),
                format!("--initial-advertise-peer-urls={etcd_peer}"),
                format!("--initial-cluster=sf={etcd_peer}"),
                "--auto-compaction-retention=1".to_owned(),
                "--quota-backend-bytes=2147483648".to_owned(),
                "--unsafe-no-fsync=true".to_owned(),
            ]),
        )?;
        self.spawn(
            "kube-apiserver",
            Command::new(bin.join("kube-apiserver")).args([
                format!("--etcd-servers={etcd_client}"),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--secure-port={}", ports.apiserver),
                "--advertise-address=127.0.0.1".to_owned(),
                "--endpoint-reconciler-type=none".to_owned(),
                format!("--tls-cert-file={}", p("apiserver.crt")),
                format!("--tls-private-key-file={}", p("apiserver.key")),
                format!("--client-ca-file={}", p("ca.crt")),
                "--authorization-mode=Node,RBAC".to_owned(),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                format!("--service-cluster-ip-range={}", addresses.service_cidr),
                "--allow-privileged=true".to_owned(),
                format!(
                    "--kubelet-client-certificate={}",
                    p("apiserver-kubelet-client.crt")
                ),
                format!("--kubelet-client-key={}", p("apiserver-kubelet-client.key")),
                "--kubelet-preferred-address-types=Hostname,InternalIP".to_owned(),
                format!("--requestheader-client-ca-file={}", p("front-proxy-ca.crt")),
                "--requestheader-allowed-names=front-proxy-client".to_owned(),
                "--requestheader-username-headers=X-Remote-User".to_owned(),
                "--requestheader-group-headers=X-Remote-Group".to_owned(),
                "--requestheader-extra-headers-prefix=X-Remote-Extra-".to_owned(),
                format!("--proxy-client-cert-file={}", p("front-proxy-client.crt")),
                format!("--proxy-client-key-file={}", p("front-proxy-client.key")),
                format!("--cert-dir={}", d("pki")),
                "--profiling=false".to_owned(),
            ]),
        )?;
        let kubectl = bin.join("kubectl");
        let admin = |args: &[&str]| -> Command {
            let mut command = Command::new(&kubectl);
            command.arg("--kubeconfig").arg(&kubeconfig).args(args);
            command
        };
        self.wait_for("kube-apiserver", "/readyz", deadline, || {
            quiet_ok(&mut admin(&[
                "get",
                "--raw=/readyz",
                "--request-timeout=2s",
            ]))
        })?;
        let apiserver_ready = started.elapsed();

        // Controllers and scheduler.
        let kcm_args = vec![
            format!("--kubeconfig={}", d("controller-manager.kubeconfig")),
            format!(
                "--authentication-kubeconfig={}",
                d("controller-manager.kubeconfig")
            ),
            format!(
                "--authorization-kubeconfig={}",
                d("controller-manager.kubeconfig")
            ),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--secure-port={}", ports.controller_manager),
            "--leader-elect=false".to_owned(),
            "--use-service-account-credentials=true".to_owned(),
            format!("--service-account-private-key-file={}", p("sa.key")),
            format!("--root-ca-file={}", p("ca.crt")),
            format!("--cluster-signing-cert-file={}", p("ca.crt")),
            format!("--cluster-signing-key-file={}", p("ca.key")),
            "--enable-hostpath-provisioner=true".to_owned(),
            "--profiling=false".to_owned(),
        ];
        let kcm = bin.join("kube-controller-manager");
        let mut kcm_command = if root {
            // hostPath volumes: /tmp/hostpath_pv is <dir>/hostpath_pv in its mount namespace.
            create_hostpath_parent()?;
            let mut command = Command::new("unshare");
            command
                .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg(r#"mount --bind "$1" /tmp/hostpath_pv && shift && exec "$@""#)
                .arg("sh")
                .arg(dir.join("hostpath_pv"))
                .arg(&kcm);
            command
        } else {
            Command::new(&kcm)
        };
        kcm_command.args(&kcm_args);
        self.spawn("kube-controller-manager", &mut kcm_command)?;
        self.spawn(
            "kube-scheduler",
            Command::new(bin.join("kube-scheduler")).args([
                format!("--kubeconfig={}", d("scheduler.kubeconfig")),
                format!("--authentication-kubeconfig={}", d("scheduler.kubeconfig")),
                format!("--authorization-kubeconfig={}", d("scheduler.kubeconfig")),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--secure-port={}", ports.scheduler),
                "--leader-elect=false".to_owned(),
                "--profiling=false".to_owned(),
            ]),
        )?;

        // kwok's CRDs, the stages and policies, then kwok.
        let manifests = dir.join("manifests");
        for (name, text) in [
            ("pod-stages.yaml", POD_STAGES),
            ("fault-policy.yaml", FAULT_POLICY),
            ("storage-class.yaml", STORAGE_CLASS),
        ] {
            std::fs::write(manifests.join(name), text)?;
        }
        let crd = share.join("crd");
        let stage = share.join("stage");
        self.kubectl_step(
            "kube-apiserver",
            "applying kwok's CRDs",
            admin(&["apply", "--server-side", "-f"]).arg(&crd),
        )?;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        self.kubectl_step(
            "kube-apiserver",
            "waiting for kwok's CRDs to be established",
            admin(&["wait", "--for=condition=Established", "crd", "--all"])
                .arg(format!("--timeout={left}s")),
        )?;
        self.kubectl_step(
            "kube-apiserver",
            "applying the stages, fault policies and storage class",
            admin(&["apply", "--server-side", "-f"])
                .arg(&stage)
                .arg("-f")
                .arg(&manifests),
        )?;

        let exec_bin = dir.join("exec-bin");
        write_dispatcher(&exec_bin, &options.exec_names)?;
        let original_path = std::env::var_os("PATH").unwrap_or_default();
        let mut kwok_path = exec_bin.clone().into_os_string();
        kwok_path.push(":");
        kwok_path.push(&original_path);
        self.spawn(
            "kwok",
            Command::new(bin.join("kwok"))
                .args([
                    format!("--kubeconfig={}", d("kwok.kubeconfig")),
                    "--manage-all-nodes=true".to_owned(),
                    "--node-name=localhost".to_owned(),
                    "--node-ip=127.0.0.1".to_owned(),
                    format!("--node-port={}", ports.kwok),
                    format!("--server-address=127.0.0.1:{}", ports.kwok),
                    format!("--tls-cert-file={}", p("kwok-serving.crt")),
                    format!("--tls-private-key-file={}", p("kwok-serving.key")),
                    format!("--cidr={}", addresses.pod_cidr),
                    "--node-lease-duration-seconds=40".to_owned(),
                    "--enable-crds=Stage,Exec,ClusterExec,PortForward,ClusterPortForward,Logs,ClusterLogs,Attach,ClusterAttach".to_owned(),
                ])
                .env("PATH", &kwok_path)
                .env("STOREFLOW_EXEC_ORIG_PATH", &original_path)
                // kwok also reads ~/.kwok/kwok.yaml: not a user's.
                .env("HOME", dir.join("kwok-home"))
                .env("STOREFLOW_EXEC_ORIG_HOME", std::env::var_os("HOME").unwrap_or_default())
                .current_dir(&dir),
        )?;
        let nodes: Vec<serde_json::Value> = (0..options.nodes.max(1))
            .map(|i| {
                let name = format!("kwok-node-{i}");
                json!({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "labels": {
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "type": "kwok",
                        },
                        "annotations": {
                            "kwok.x-k8s.io/node": "fake",
                            "node.alpha.kubernetes.io/ttl": "0",
                        },
                    },
                })
            })
            .collect();
        std::fs::write(
            dir.join("manifests-nodes.json"),
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "List", "items": nodes}))?,
        )?;
        let nodes_file = dir.join("manifests-nodes.json");
        self.kubectl_step(
            "kube-apiserver",
            "creating the nodes",
            admin(&["apply", "--server-side", "-f"]).arg(&nodes_file),
        )?;
        let want_nodes = options.nodes.max(1);
        self.wait_for("kwok", "every node Ready", deadline, || {
            let output = admin(&[
                "get",
                "nodes",
                "-o",
                r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
            ])
            .stderr(Stdio::null())
            .output();
            output.is_ok_and(|o| {
                let text = String::from_utf8_lossy(&o.stdout);
                o.status.success() && text.lines().filter(|l| l.trim() == "True").count() == want_nodes
            })
        })?;
        for (component, port) in [
            ("kube-controller-manager", ports.controller_manager),
            ("kube-scheduler", ports.scheduler),
        ] {
            let url = format!("https://127.0.0.1:{port}");
            self.wait_for(component, "/healthz", deadline, || {
                // Self-signed serving certificates: not verified (loopback, our own process).
                quiet_ok(
                    Command::new(&kubectl)
                        .arg("--kubeconfig")
                        .arg(dir.join("health.kubeconfig"))
                        .args(["--server", &url, "get", "--raw=/healthz"])
                        .arg("--request-timeout=2s"),
                )
            })?;
        }
        self.wait_for(
            "kube-controller-manager",
            "the default ServiceAccount",
            deadline,
            || {
                quiet_ok(&mut admin(&[
                    "get",
                    "serviceaccount",
                    "default",
                    "-n",
                    "default",
                ]))
            },
        )?;
        let ready_after = started.elapsed();
        eprintln!(
            "realcluster: ready in {:.1} s (API server {:.1} s) — {} ({}{})",
            ready_after.as_secs_f64(),
            apiserver_ready.as_secs_f64(),
            server,
            dir.display(),
            addresses
                .network
                .as_ref()
                .map(|n| format!(", pod network {} {}", n.netns, addresses.pod_cidr))
                .unwrap_or_default()
        );
        Ok(RealCluster {
            dir: dir.clone(),
            bin: bin.to_path_buf(),
            kubeconfig,
            server,
            pod_cidr: addresses.pod_cidr.clone(),
            service_cidr: addresses.service_cidr.clone(),
            pod_network: addresses.network.map(|n| PodNetwork {
                netns: n.netns,
                host_address: n.host_address,
                netns_address: n.netns_address,
                guard_routes: n.guard.iter().map(GuardRoute::describe).collect(),
            }),
            exec_bin,
            ready_after,
            components: Mutex::new(Vec::new()),
            reaper: Mutex::new(None),
        })
    }

    /// Starts a component (its own process group, output to `logs/<name>.log`) and records
    /// its pid for the reaper.
    fn spawn(&mut self, name: &'static str, command: &mut Command) -> anyhow::Result<()> {
        use std::os::unix::process::CommandExt as _;
        let log = self.dir.join("logs").join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let mut pids = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("pids"))?;
        std::io::Write::write_all(&mut pids, format!("{name} {}\n", child.id()).as_bytes())?;
        self.components.push(Component { name, child, log });
        Ok(())
    }

    /// A component that exited, as an error.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        for component in &mut self.components {
            if let Ok(Some(status)) = component.child.try_wait() {
                bail!(
                    "{} exited during start ({status}); the end of {}:\n{}",
                    component.name,
                    component.log.display(),
                    log_tail(&component.log, 30)
                );
            }
        }
        Ok(())
    }

    fn wait_for(
        &mut self,
        component: &str,
        what: &str,
        deadline: Instant,
        mut ready: impl FnMut() -> bool,
    ) -> anyhow::Result<()> {
        loop {
            self.check_alive()?;
            if ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = self.dir.join("logs").join(format!("{component}.log"));
                bail!(
                    "the real cluster was not ready in time: {component}: no {what}; the end of {}:\n{}",
                    log.display(),
                    log_tail(&log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn kubectl_step(
        &mut self,
        component: &str,
        doing: &str,
        command: &mut Command,
    ) -> anyhow::Result<()> {
        self.check_alive()?;
        let output = command.stdin(Stdio::null()).output()?;
        if !output.status.success() {
            let log = self.dir.join("logs").join(format!("{component}.log"));
            bail!(
                "{doing}: kubectl failed ({}): {}; the end of {}:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                log.display(),
                log_tail(&log, 20)
            );
        }
        Ok(())
    }
}

/// Whether a command succeeds (output discarded).
fn quiet_ok(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `/tmp/hostpath_pv`, the hostPath provisioner's fixed parent directory: the mount point
/// (as root); created like `/tmp` (mode 1777) when missing, so that a controller manager of a
/// cluster started without root can use it too.
fn create_hostpath_parent() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = Path::new("/tmp/hostpath_pv");
    if path.is_dir() {
        return Ok(());
    }
    match std::fs::create_dir(path) {
        Ok(()) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o1777))
            .context("chmod 1777 /tmp/hostpath_pv"),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err).context("creating /tmp/hostpath_pv"),
    }
}

/// A free loopback port (bound and released; the component binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn log_tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// `'…'` for sh.
fn shell_quote(text: &OsStr) -> String {
    format!("'{}'", text.to_string_lossy().replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------
// Reaper

/// Writes `<dir>/teardown.sh`, what the reaper runs (atomically replaced as the cluster
/// gains things to remove).
fn write_teardown(
    dir: &Path,
    network: Option<&NetworkPlan>,
    bin: &Path,
    root: bool,
) -> anyhow::Result<()> {
    let q = |p: &Path| shell_quote(p.as_os_str());
    let mut script = String::new();
    let _ = writeln!(
        script,
        "# storeflow real cluster teardown (written by storeflow-testkit)"
    );
    let _ = writeln!(script, "D={}", q(dir));
    let _ = writeln!(
        script,
        "NS={}",
        shell_quote(OsStr::new(network.map(|n| n.netns.as_str()).unwrap_or("")))
    );
    // live [name]: pids of the components (all, or all but `name`'s) still running this
    // cluster's command line, and of the processes in its network namespace.
    script.push_str(
        r#"live() {
    if [ -f "$D/pids" ]; then
        while read -r name pid; do
            [ "$name" = "${1:-}" ] && continue
            if tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$D"; then echo "$pid"; fi
        done < "$D/pids"
    fi
    if [ -n "$NS" ]; then ip netns pids "$NS" 2>/dev/null; fi
}
# stop [name] [tenths]: SIGTERM, wait up to tenths/10 s.
stop() {
    pids=$(live "${1:-}")
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    i=0
    while [ -n "$pids" ] && [ $i -lt "$2" ]; do sleep 0.1; pids=$(live "${1:-}"); i=$((i + 1)); done
}
"#,
    );
    if !root {
        // hostPath volumes of this cluster: ask the API server before anything stops.
        let _ = writeln!(
            script,
            r#"{} --kubeconfig "$D/admin.kubeconfig" --request-timeout=5s get pv -o 'jsonpath={{range .items[*]}}{{.spec.hostPath.path}}{{"\n"}}{{end}}' 2>/dev/null \
    | grep -E '^/tmp/hostpath_pv/[0-9a-f-]{{36}}$' | while read -r p; do rm -rf "$p"; done"#,
            q(&bin.join("kubectl"))
        );
    }
    // Everything but etcd first (the API server stops quickly only while etcd answers),
    // then etcd, then SIGKILL for what is left.
    script.push_str(
        r#"stop etcd 80
stop "" 50
pids=$(live)
if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; sleep 0.2; fi
"#,
    );
    if let Some(network) = network {
        for route in &network.guard {
            let _ = writeln!(script, "ip {} 2>/dev/null", route.ip_args("del").join(" "));
        }
        let _ = writeln!(script, "ip link del {} 2>/dev/null", network.host_link);
        let _ = writeln!(script, "ip netns del \"$NS\" 2>/dev/null");
    }
    let _ = writeln!(script, "exit 0");
    let tmp = dir.join("teardown.sh.tmp");
    std::fs::write(&tmp, script)?;
    std::fs::rename(&tmp, dir.join("teardown.sh"))?;
    Ok(())
}

/// The reaper: waits for EOF on its stdin (this process gone, or the pipe closed), then runs
/// `teardown.sh` and removes the directory. In a process group of its own.
fn spawn_reaper(dir: &Path) -> anyhow::Result<Reaper> {
    use std::os::unix::process::CommandExt as _;
    // Never waited on when the process exits first: it must outlive us to clean up.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"cat >/dev/null; sh "$0/teardown.sh" >/dev/null 2>&1; rm -rf "$0""#)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting the real cluster's reaper")?;
    let stdin = child.stdin.take();
    Ok(Reaper { child, stdin })
}

// ---------------------------------------------------------------------------------------
// Pod network

fn ip(args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip (iproute2)")?;
    if !output.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn v4_contains(net: Ipv4Addr, prefix: u8, addr: Ipv4Addr) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    u32::from(net) & mask == u32::from(addr) & mask
}

fn v6_contains(net: Ipv6Addr, prefix: u8, addr: Ipv6Addr) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    u128::from(net) & mask == u128::from(addr) & mask
}

/// Addresses no guard route may capture: resolvers, default gateways, this machine's
/// addresses, literal proxy addresses.
fn protected_addresses() -> anyhow::Result<Vec<IpAddr>> {
    let mut found = Vec::new();
    let parse = |text: &str| -> Option<IpAddr> {
        let text = text.split('%').next()?.trim_matches(['[', ']']);
        text.parse().ok()
    };
    for file in ["/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            for line in text.lines() {
                let mut words = line.split_whitespace();
                if words.next() == Some("nameserver") {
                    found.extend(words.next().and_then(parse));
                }
            }
        }
    }
    for family in ["-4", "-6"] {
        let routes = ip(&[family, "route", "show", "default"])?;
        for line in routes.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                if pair[0] == "via" {
                    found.extend(parse(pair[1]));
                }
            }
        }
        let addrs = ip(&[family, "-o", "addr", "show"])?;
        for line in addrs.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            // `5: sfp0h inet …`: the veth of another storeflow cluster is not the machine's.
            if words.get(1).is_some_and(|dev| dev.starts_with("sfp")) {
                continue;
            }
            for pair in words.windows(2) {
                if pair[0] == "inet" || pair[0] == "inet6" {
                    found.extend(pair[1].split('/').next().and_then(parse));
                }
            }
        }
    }
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        if let Ok(value) = std::env::var(var) {
            let rest = value.split("://").last().unwrap_or("");
            let host_port = rest.split('/').next().unwrap_or("");
            let host_port = host_port.rsplit('@').next().unwrap_or("");
            let host = if host_port.starts_with('[') {
                host_port
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('[')
            } else {
                host_port.split(':').next().unwrap_or("")
            };
            found.extend(parse(host));
        }
    }
    found.retain(|a| {
        !a.is_loopback() && !matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
    });
    Ok(found)
}

/// Whether an existing route (not one of storeflow's own) overlaps `net/prefix`.
fn route_overlaps(routes: &str, net: Ipv4Addr, prefix: u8) -> bool {
    routes.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let ours = words.windows(2).any(|w| {
            (w[0] == "dev" && w[1].starts_with("sfp"))
                || (w[0] == "metric"
                    && w[1].parse::<u32>().is_ok_and(|m| {
                        (GUARD_METRIC..GUARD_METRIC + u32::from(SLOTS)).contains(&m)
                    }))
        });
        let dst = match words.first() {
            Some(&"blackhole" | &"unreachable" | &"prohibit" | &"local" | &"broadcast") => {
                words.get(1)
            }
            other => other,
        };
        let Some(dst) = dst else { return false };
        if ours || *dst == "default" {
            return false;
        }
        let (addr, len) = dst.split_once('/').unwrap_or((dst, "32"));
        let (Ok(addr), Ok(len)) = (addr.parse::<Ipv4Addr>(), len.parse::<u8>()) else {
            return false;
        };
        let shorter = len.min(prefix);
        v4_contains(net, shorter, addr)
    })
}

/// Chooses the address block, claims a slot (by creating its network namespace, which
/// fails if another cluster has it) and plans the guard.
fn claim_network() -> anyhow::Result<(Addresses, NetworkPlan)> {
    let protected = protected_addresses()?;
    let routes = ip(&["-4", "route", "show", "table", "all"])?;
    let free = |net: Ipv4Addr, prefix: u8| {
        !protected.iter().any(|a| match a {
            IpAddr::V4(a) => v4_contains(net, prefix, *a),
            IpAddr::V6(_) => false,
        })
    };
    let block = BLOCKS
        .iter()
        .map(|[a, b]| Ipv4Addr::new(*a, *b, 0, 0))
        .find(|net| free(*net, 16) && !route_overlaps(&routes, *net, 16))
        .ok_or_else(|| {
            anyhow!(
                "no address block for the pod network: 172.30/16, 10.244/16 and 192.168/16 all \
                 hold a resolver, gateway or local address, or a route"
            )
        })?;
    let [a, b, _, _] = block.octets();
    let mut claimed = None;
    for slot in 0..SLOTS {
        let netns = format!("sf-pods-{slot}");
        if ip(&["netns", "add", &netns]).is_ok() {
            claimed = Some((slot, netns));
            break;
        }
    }
    let (slot, netns) = claimed.ok_or_else(|| {
        anyhow!(
            "all {SLOTS} pod-network slots are taken (ip netns list: sf-pods-*); remove stale ones"
        )
    })?;
    let metric = GUARD_METRIC + u32::from(slot);
    let mut guard = Vec::new();
    let mut covered = false;
    for (net, prefix) in PRIVATE_V4 {
        if free(*net, *prefix) {
            covered |= v4_contains(*net, *prefix, block);
            guard.push(GuardRoute {
                v6: false,
                range: format!("{net}/{prefix}"),
                metric,
            });
        }
    }
    if !covered {
        guard.push(GuardRoute {
            v6: false,
            range: format!("{block}/16"),
            metric,
        });
    }
    for (net, prefix) in PRIVATE_V6 {
        let free6 = !protected.iter().any(|a| match a {
            IpAddr::V6(a) => v6_contains(*net, *prefix, *a),
            IpAddr::V4(_) => false,
        });
        if free6 {
            guard.push(GuardRoute {
                v6: true,
                range: format!("{net}/{prefix}"),
                metric,
            });
        }
    }
    let link = 4 * slot;
    let addresses = Addresses {
        service_cidr: format!("{a}.{b}.0.0/20"),
        first_service_ip: Ipv4Addr::new(a, b, 0, 1),
        pod_cidr: format!("{a}.{b}.{}.0/24", 16 + slot),
        network: None,
    };
    let plan = NetworkPlan {
        netns,
        host_link: format!("sfp{slot}h"),
        netns_link: format!("sfp{slot}p"),
        host_address: Ipv4Addr::new(a, b, 255, link + 1),
        netns_address: Ipv4Addr::new(a, b, 255, link + 2),
        guard,
    };
    Ok((
        Addresses {
            network: Some(plan.clone()),
            ..addresses
        },
        plan,
    ))
}

/// veth pair, addresses, the pod CIDR routed into the namespace and local there, the guard.
fn create_network(plan: &NetworkPlan, addresses: &Addresses) -> anyhow::Result<()> {
    let ns = plan.netns.as_str();
    let host = format!("{}/30", plan.host_address);
    let inner = format!("{}/30", plan.netns_address);
    let netns_address = plan.netns_address.to_string();
    let pod_cidr = addresses.pod_cidr.as_str();
    ip(&[
        "link",
        "add",
        &plan.host_link,
        "type",
        "veth",
        "peer",
        "name",
        &plan.netns_link,
        "netns",
        ns,
    ])?;
    ip(&["addr", "add", &host, "dev", &plan.host_link])?;
    ip(&["link", "set", &plan.host_link, "up"])?;
    ip(&["-n", ns, "addr", "add", &inner, "dev", &plan.netns_link])?;
    ip(&["-n", ns, "link", "set", &plan.netns_link, "up"])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    ip(&["-n", ns, "route", "add", "local", pod_cidr, "dev", "lo"])?;
    ip(&[
        "route",
        "add",
        pod_cidr,
        "via",
        &netns_address,
        "dev",
        &plan.host_link,
    ])?;
    let routable_before: Vec<IpAddr> = protected_addresses()?
        .into_iter()
        .filter(|a| routable(*a))
        .collect();
    for route in &plan.guard {
        let args = route.ip_args("add");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ip(&args)?;
    }
    // Every protected address that routed before must still route (never into a blackhole
    // of ours).
    for address in &routable_before {
        if !routable(*address) {
            for route in &plan.guard {
                let args = route.ip_args("del");
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let _ = ip(&args);
            }
            bail!("a guard route captured {address}; removed the guard routes");
        }
    }
    Ok(())
}

/// Whether `ip route get` finds a route to `address` that is not a blackhole.
fn routable(address: IpAddr) -> bool {
    let family = if address.is_ipv4() { "-4" } else { "-6" };
    match ip(&[family, "route", "get", &address.to_string()]) {
        Ok(out) => !matches!(
            out.split_whitespace().next().unwrap_or(""),
            "blackhole" | "unreachable" | "prohibit" | "throw"
        ),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------
// PKI and kubeconfigs

struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

fn write_file(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn name(common: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn.push(DnType::CommonName, common);
    dn
}

impl Authority {
    fn new(pki: &Path, file: &str, common: &str) -> anyhow::Result<Authority> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(common, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        write_file(
            &pki.join(format!("{file}.key")),
            &key.serialize_pem(),
            0o600,
        )?;
        let issuer = CertifiedIssuer::self_signed(params, key)?;
        write_file(&pki.join(format!("{file}.crt")), &issuer.pem(), 0o644)?;
        Ok(Authority { issuer })
    }

    /// A certificate signed by this authority: `<file>.crt` and `<file>.key`.
    fn issue(
        &self,
        pki: &Path,
        file: &str,
        common: &str,
        organization: Option<&str>,
        server_names: &[&str],
    ) -> anyhow::Result<()> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(
            server_names
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
        )?;
        params.distinguished_name = name(common, organization);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = if server_names.is_empty() {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        };
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        write_file(&pki.join(format!("{file}.crt")), &cert.pem(), 0o644)?;
        write_file(
            &pki.join(format!("{file}.key")),
            &key.serialize_pem(),
            0o600,
        )?;
        Ok(())
    }
}

fn generate_pki(pki: &Path, first_service_ip: Ipv4Addr) -> anyhow::Result<()> {
    let ca = Authority::new(pki, "ca", "storeflow-realcluster-ca")?;
    let service_ip = first_service_ip.to_string();
    ca.issue(
        pki,
        "apiserver",
        "kube-apiserver",
        None,
        &[
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "127.0.0.1",
            &service_ip,
        ],
    )?;
    ca.issue(pki, "admin", "admin", Some("system:masters"), &[])?;
    ca.issue(
        pki,
        "controller-manager",
        "system:kube-controller-manager",
        None,
        &[],
    )?;
    ca.issue(pki, "scheduler", "system:kube-scheduler", None, &[])?;
    ca.issue(pki, "kwok", "kwok-controller", Some("system:masters"), &[])?;
    ca.issue(
        pki,
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        Some("system:masters"),
        &[],
    )?;
    ca.issue(
        pki,
        "kwok-serving",
        "kwok",
        None,
        &["localhost", "127.0.0.1"],
    )?;
    let sa = KeyPair::generate()?;
    write_file(&pki.join("sa.key"), &sa.serialize_pem(), 0o600)?;
    write_file(&pki.join("sa.pub"), &sa.public_key_pem(), 0o644)?;
    let front = Authority::new(
        pki,
        "front-proxy-ca",
        "storeflow-realcluster-front-proxy-ca",
    )?;
    front.issue(pki, "front-proxy-client", "front-proxy-client", None, &[])?;
    Ok(())
}

/// A kubeconfig (JSON, which every client reads as YAML) for `<pki>/<user>.{crt,key}`.
fn write_kubeconfig(path: &Path, server: &str, pki: &Path, user: &str) -> anyhow::Result<()> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "storeflow-realcluster",
            "cluster": { "server": server, "certificate-authority": pki.join("ca.crt") },
        }],
        "users": [{
            "name": user,
            "user": {
                "client-certificate": pki.join(format!("{user}.crt")),
                "client-key": pki.join(format!("{user}.key")),
            },
        }],
        "contexts": [{
            "name": "storeflow-realcluster",
            "context": { "cluster": "storeflow-realcluster", "user": user },
        }],
        "current-context": "storeflow-realcluster",
    });
    write_file(path, &serde_json::to_string_pretty(&config)?, 0o600)
}

/// The admin client certificate without server verification: for the controller manager's
/// and scheduler's `/healthz` (their serving certificates are self-signed in memory).
fn write_health_kubeconfig(path: &Path, pki: &Path) -> anyhow::Result<()> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "component",
            "cluster": { "server": "https://127.0.0.1:1", "insecure-skip-tls-verify": true },
        }],
        "users": [{
            "name": "admin",
            "user": {
                "client-certificate": pki.join("admin.crt"),
                "client-key": pki.join("admin.key"),
            },
        }],
        "contexts": [{ "name": "component", "context": { "cluster": "component", "user": "admin" } }],
        "current-context": "component",
    });
    write_file(path, &serde_json::to_string_pretty(&config)?, 0o600)
}

// ---------------------------------------------------------------------------------------
// Exec dispatchers

const DISPATCHER: &str = r#"#!/bin/sh
# storeflow-testkit realcluster: kwok runs this for an exec whose argv[0] is this file's name
# (kwok's PATH starts with this directory). With STOREFLOW_EXEC_COMMAND (set by the
# namespace's ClusterExec) it runs `$STOREFLOW_EXEC_COMMAND $STOREFLOW_EXEC_ARG_0.. <argv>`;
# without it, the real command of this name.
name=${0##*/}
# kwok's own PATH (it starts with this directory) becomes the machine's again; a PATH the
# namespace's ClusterExec set is kept.
case ":$PATH:" in
    *":${0%/*}:"*) PATH=${STOREFLOW_EXEC_ORIG_PATH:-/usr/local/bin:/usr/bin:/bin} ;;
esac
export PATH
HOME=${STOREFLOW_EXEC_ORIG_HOME:-$HOME}
export HOME
unset STOREFLOW_EXEC_ORIG_PATH STOREFLOW_EXEC_ORIG_HOME
if [ -z "${STOREFLOW_EXEC_COMMAND:-}" ]; then
    exec "$name" "$@"
fi
command=$STOREFLOW_EXEC_COMMAND
n=${STOREFLOW_EXEC_ARGC:-0}
set -- "$name" "$@"
i=$n
while [ "$i" -gt 0 ]; do
    i=$((i - 1))
    eval "set -- \"\${STOREFLOW_EXEC_ARG_$i}\" \"\$@\""
done
i=0
while [ "$i" -lt "$n" ]; do
    unset "STOREFLOW_EXEC_ARG_$i"
    i=$((i + 1))
done
unset STOREFLOW_EXEC_COMMAND STOREFLOW_EXEC_ARGC
exec "$command" "$@"
"#;

fn write_dispatcher(exec_bin: &Path, names: &[String]) -> anyhow::Result<()> {
    write_file(&exec_bin.join(".dispatch"), DISPATCHER, 0o755)?;
    for name in names {
        add_dispatcher(exec_bin, name)?;
    }
    Ok(())
}

fn add_dispatcher(exec_bin: &Path, name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!("not a command name: {name:?}");
    }
    let link = exec_bin.join(name);
    if link.symlink_metadata().is_ok() {
        return Ok(());
    }
    std::os::unix::fs::symlink(".dispatch", &link)
        .with_context(|| format!("creating {}", link.display()))
}
