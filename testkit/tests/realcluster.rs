//! The real cluster harness against the real control plane (needs the pinned binaries:
//! `STOREFLOW_K8S_BIN` or `scripts/k8s-tools.sh`; the pod network tests need root).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use kube::api::{Api, AttachParams, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use storeflow_testkit::realcluster::{Fault, KUBERNETES_VERSION, RealCluster};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout` with the
/// last state it described.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) if Instant::now() > deadline => {
                panic!("{what}: not within {timeout:?}; last: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(err) => panic!("creating namespace {name}: {err}"),
    }
}

async fn deployment(client: &kube::Client, namespace: &str, name: &str, replicas: i32) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "registry.invalid/app:1",
                    "ports": [{"containerPort": 8080}],
                }]},
            },
        },
    }))
    .unwrap();
    // The namespace's default ServiceAccount comes a moment after the namespace: the
    // Deployment controller retries its pods, nothing to wait for here.
    api.create(&PostParams::default(), &deployment)
        .await
        .unwrap_or_else(|err| panic!("creating deployment {namespace}/{name}: {err}"));
}

async fn pods(client: &kube::Client, namespace: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap();
    let (net, len): (std::net::Ipv4Addr, u32) = (net.parse().unwrap(), len.parse().unwrap());
    let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let mask = u32::MAX << (32 - len);
    u32::from(ip) & mask == u32::from(net) & mask
}

#[tokio::test]
async fn control_plane_is_ready() {
    let cluster = RealCluster::shared();
    let client = cluster.client().await.unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, KUBERNETES_VERSION);
    let nodes: Api<Node> = Api::all(client.clone());
    let nodes = nodes.list(&ListParams::default()).await.unwrap().items;
    assert!(!nodes.is_empty());
    for node in &nodes {
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        assert!(ready, "node {:?} not Ready", node.metadata.name);
    }
    assert!(cluster.ready_after() < Duration::from_secs(90));
    assert!(cluster.server().starts_with("https://127.0.0.1:"));

    // The real helm and kubectl, with the kubeconfig.
    let helm = cluster.helm_command().arg("version").output().unwrap();
    assert!(helm.status.success(), "{helm:?}");
    assert!(String::from_utf8_lossy(&helm.stdout).contains("v3."));
    let list = cluster
        .helm_command()
        .args(["list", "-A"])
        .output()
        .unwrap();
    assert!(list.status.success(), "helm list: {list:?}");
    let kubectl = cluster
        .kubectl_command()
        .args(["get", "nodes", "-o", "name"])
        .output()
        .unwrap();
    assert!(kubectl.status.success(), "{kubectl:?}");
    assert!(String::from_utf8_lossy(&kubectl.stdout).contains("node/kwok-node-0"));

    // Everything lives in the cluster's directory, and the reaper is waiting.
    assert!(cluster.kubeconfig().starts_with(cluster.dir()));
    for (name, pid) in cluster.pids() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(!cmdline.is_empty(), "{name} ({pid}) is not running");
    }
    let reaper = cluster.reaper_pid().expect("a reaper");
    assert!(Path::new(&format!("/proc/{reaper}")).exists());
    assert!(cluster.exited_component().is_none());
}

#[tokio::test]
async fn deployment_pods_become_ready() {
    let cluster = RealCluster::shared();
    let client = cluster.client().await.unwrap();
    namespace(&client, "rc-deploy").await;
    deployment(&client, "rc-deploy", "web", 3).await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "rc-deploy");
    eventually("3 ready replicas", Duration::from_secs(60), || async {
        let d = api.get("web").await.map_err(|e| e.to_string())?;
        let ready = d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        if ready == 3 {
            Ok(())
        } else {
            Err(format!("{ready} ready"))
        }
    })
    .await;
    let pods = pods(&client, "rc-deploy").await;
    assert_eq!(pods.len(), 3);
    for pod in &pods {
        assert!(ready(pod));
        let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap();
        assert!(
            in_cidr(&ip, cluster.pod_cidr()),
            "{ip} not in {}",
            cluster.pod_cidr()
        );
    }
}

#[tokio::test]
async fn namespace_deletion_finalizes() {
    let cluster = RealCluster::shared();
    let client = cluster.client().await.unwrap();
    namespace(&client, "rc-delete").await;
    deployment(&client, "rc-delete", "web", 2).await;
    eventually("2 ready pods", Duration::from_secs(60), || async {
        let n = pods(&client, "rc-delete")
            .await
            .iter()
            .filter(|p| ready(p))
            .count();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("{n} ready"))
        }
    })
    .await;
    let started = Instant::now();
    let api: Api<Namespace> = Api::all(client.clone());
    api.delete("rc-delete", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the namespace gone", Duration::from_secs(90), || async {
        match api.get_opt("rc-delete").await {
            Ok(None) => Ok(()),
            Ok(Some(ns)) => Err(format!("{:?}", ns.status.and_then(|s| s.phase))),
            Err(err) => Err(err.to_string()),
        }
    })
    .await;
    eprintln!(
        "namespace with a Deployment deleted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn faults_show_as_wait_ready_sees_them() {
    let cluster = RealCluster::shared();
    let client = cluster.client().await.unwrap();
    let cases = [
        (Fault::ImagePull, "rc-fault-image-pull"),
        (Fault::CrashLoop, "rc-fault-crash-loop"),
        (Fault::Unschedulable, "rc-fault-unschedulable"),
    ];
    for (fault, ns) in cases {
        cluster.inject_fault(ns, fault).await.unwrap();
        deployment(&client, ns, "app", 1).await;
    }
    // A healthy namespace next to them is not affected.
    namespace(&client, "rc-fault-none").await;
    deployment(&client, "rc-fault-none", "app", 1).await;

    for (fault, ns) in cases {
        let pod = eventually(
            &format!("{fault:?} in {ns}"),
            Duration::from_secs(60),
            || async {
                let pods = pods(&client, ns).await;
                let pod = pods.into_iter().next().ok_or("no pod")?;
                let status = pod.status.clone().unwrap_or_default();
                let waiting = status.container_statuses.iter().flatten().find_map(|c| {
                    c.state
                        .as_ref()?
                        .waiting
                        .as_ref()
                        .map(|w| (w.reason.clone(), c.restart_count))
                });
                let shown = match fault {
                    Fault::ImagePull => waiting
                        .as_ref()
                        .is_some_and(|(r, _)| r.as_deref() == Some("ImagePullBackOff")),
                    Fault::CrashLoop => waiting
                        .as_ref()
                        .is_some_and(|(r, n)| r.as_deref() == Some("CrashLoopBackOff") && *n >= 3),
                    Fault::Unschedulable => status.conditions.iter().flatten().any(|c| {
                        c.type_ == "PodScheduled"
                            && c.status == "False"
                            && c.reason.as_deref() == Some("Unschedulable")
                    }),
                };
                if shown {
                    Ok(pod)
                } else {
                    Err(format!("{status:?}"))
                }
            },
        )
        .await;
        assert!(!ready(&pod), "{ns}: a faulted pod is Ready");
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        match fault {
            Fault::ImagePull | Fault::Unschedulable => assert_eq!(phase, Some("Pending")),
            Fault::CrashLoop => assert_eq!(phase, Some("Running")),
        }
    }
    eventually("the healthy pod Ready", Duration::from_secs(60), || async {
        let n = pods(&client, "rc-fault-none")
            .await
            .iter()
            .filter(|p| ready(p))
            .count();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("{n} ready"))
        }
    })
    .await;

    // Cleared, pods created afterwards are healthy again.
    cluster.clear_fault("rc-fault-image-pull").await.unwrap();
    deployment(&client, "rc-fault-image-pull", "later", 1).await;
    eventually(
        "a pod created after clear_fault Ready",
        Duration::from_secs(60),
        || async {
            let n = pods(&client, "rc-fault-image-pull")
                .await
                .iter()
                .filter(|p| {
                    p.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("later-"))
                        && ready(p)
                })
                .count();
            if n == 1 {
                Ok(())
            } else {
                Err(format!("{n} ready"))
            }
        },
    )
    .await;
}

/// A script kwok runs for exec requests in one namespace.
struct Script(PathBuf);

impl Script {
    fn new(body: &str) -> Script {
        use std::os::unix::fs::PermissionsExt as _;
        let path = std::env::temp_dir().join(format!(
            "storeflow-rc-exec-{}.sh",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Script(path)
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Exec {
    stdout: String,
    stderr: String,
    status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
}

/// Runs `argv` in `pod` (retrying while kwok has not seen the ClusterExec yet), writes
/// `stdin` without closing it, and collects the output within `timeout`.
async fn exec(
    pods: &Api<Pod>,
    pod: &str,
    argv: &[&str],
    stdin: &[u8],
    timeout: Duration,
) -> Result<Exec, String> {
    let params = AttachParams::default()
        .stdin(true)
        .stdout(true)
        .stderr(true);
    let mut attached = pods
        .exec(
            pod,
            argv.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            &params,
        )
        .await
        .map_err(|e| format!("exec: {e}"))?;
    let mut input = attached.stdin().unwrap();
    input.write_all(stdin).await.map_err(|e| e.to_string())?;
    input.flush().await.map_err(|e| e.to_string())?;
    let status = attached.take_status().unwrap();
    let mut out = attached.stdout().unwrap();
    let mut err = attached.stderr().unwrap();
    let collect = async {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = tokio::join!(out.read_to_string(&mut o), err.read_to_string(&mut e));
        let status = status.await;
        (o, e, status)
    };
    let (stdout, stderr, status) = tokio::time::timeout(timeout, collect)
        .await
        .map_err(|_| "timed out".to_owned())?;
    drop(input);
    Ok(Exec {
        stdout,
        stderr,
        status,
    })
}

#[tokio::test]
async fn exec_reaches_a_local_command() {
    let cluster = RealCluster::shared();
    let client = cluster.client().await.unwrap();
    let ns = "rc-exec";
    namespace(&client, ns).await;
    deployment(&client, ns, "shell", 1).await;
    let pod = eventually("a ready pod", Duration::from_secs(60), || async {
        let pods = pods(&client, ns).await;
        pods.iter()
            .find(|p| ready(p))
            .and_then(|p| p.metadata.name.clone())
            .ok_or_else(|| "none ready".to_owned())
    })
    .await;
    let script = Script::new(
        r#"#!/bin/sh
echo "namespace=$STOREFLOW_TEST_NAMESPACE extra=$EXTRA"
printf 'arg=%s\n' "$@"
case "$*" in *fail*) echo "failing on purpose" >&2; exit 7 ;; esac
case "$*" in *to-eof*) cat; echo "EOF seen"; exit 0 ;; esac
read -r line
echo "line=$line"
"#,
    );
    cluster
        .exec_command_for_namespace(ns, &script.0, &["fixed arg"], &[("EXTRA", "extra value")])
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);

    // stdin: a line read works (kwok never closes stdin; see below).
    let started = Instant::now();
    let run = eventually("exec through kwok", Duration::from_secs(20), || async {
        let run = exec(
            &pods,
            &pod,
            &["wp", "core", "is-installed"],
            b"hello\n",
            Duration::from_secs(30),
        )
        .await?;
        if run.stderr.contains("no exec found")
            || run.status.as_ref().is_some_and(|s| {
                s.message
                    .as_deref()
                    .is_some_and(|m| m.contains("no exec found"))
            })
        {
            return Err("kwok has not seen the ClusterExec yet".into());
        }
        Ok(run)
    })
    .await;
    eprintln!("exec round trip {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(
        run.stdout,
        "namespace=rc-exec extra=extra value\narg=fixed arg\narg=wp\narg=core\narg=is-installed\nline=hello\n",
        "stderr: {}",
        run.stderr
    );
    assert_eq!(
        run.status.as_ref().and_then(|s| s.status.as_deref()),
        Some("Success")
    );

    // A non-zero exit is a Failure without the exit code (InternalError, "exit status 7").
    let run = exec(&pods, &pod, &["wp", "fail"], b"", Duration::from_secs(30))
        .await
        .unwrap();
    let status = run.status.expect("a status");
    assert_eq!(status.status.as_deref(), Some("Failure"));
    let message = status.message.clone().unwrap_or_default();
    assert!(message.contains("exit status 7"), "{status:?}");
    assert_ne!(
        status.reason.as_deref(),
        Some("NonZeroExitCode"),
        "{status:?}"
    );
    assert!(run.stderr.contains("failing on purpose"), "{}", run.stderr);

    // stdin is never closed: a command reading to EOF does not end.
    let run = exec(
        &pods,
        &pod,
        &["wp", "to-eof"],
        b"some input\n",
        Duration::from_secs(3),
    )
    .await;
    assert!(
        matches!(&run, Err(e) if e == "timed out"),
        "kwok closed stdin after all? {:?}",
        run.map(|r| r.stdout)
    );

    // Another namespace's pods have no exec.
    cluster.remove_exec_command_for_namespace(ns).await.unwrap();
}

#[tokio::test]
async fn services_proxy_reaches_the_pod_network() {
    let cluster = RealCluster::shared();
    let Some(network) = cluster.pod_network() else {
        assert!(
            cluster
                .run_in_pod_network("true")
                .unwrap_err()
                .to_string()
                .contains("root")
        );
        eprintln!("skipped: no pod network (not root)");
        return;
    };
    // The guard routes are in place.
    let routes = Command::new("ip")
        .args(["route", "show", "table", "all"])
        .output()
        .unwrap();
    let routes6 = Command::new("ip")
        .args(["-6", "route", "show", "table", "all"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&routes.stdout),
        String::from_utf8_lossy(&routes6.stdout)
    );
    for route in &network.guard_routes {
        assert!(all.contains(route.as_str()), "{route} missing from\n{all}");
    }

    let client = cluster.client().await.unwrap();
    let ns = "rc-proxy";
    namespace(&client, ns).await;
    deployment(&client, ns, "web", 2).await;
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();

    let root = std::env::temp_dir().join(format!(
        "storeflow-rc-www-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "hello from the pod network\n").unwrap();
    let mut server = cluster
        .run_in_pod_network("python3")
        .unwrap()
        .args(["-m", "http.server", "8080", "--bind", "0.0.0.0"])
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 in the pod network");

    let body = eventually(
        "GET through the service proxy",
        Duration::from_secs(60),
        || async {
            let request = http::Request::get(format!(
                "/api/v1/namespaces/{ns}/services/http:web:80/proxy/hello.txt"
            ))
            .body(Vec::new())
            .unwrap();
            client
                .request_text(request)
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    assert_eq!(body, "hello from the pod network\n");

    // Pod proxy too, to each pod's own IP.
    for pod in pods(&client, ns).await {
        let name = pod.metadata.name.unwrap();
        let request = http::Request::get(format!(
            "/api/v1/namespaces/{ns}/pods/{name}:8080/proxy/hello.txt"
        ))
        .body(Vec::new())
        .unwrap();
        assert_eq!(
            client.request_text(request).await.unwrap(),
            "hello from the pod network\n"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&root);

    // From inside, the host is reachable at the host end of the veth.
    let host = cluster.host_address().unwrap();
    assert_eq!(host, network.host_address);
    let listener = std::net::TcpListener::bind((host, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = cluster
        .run_in_pod_network("python3")
        .unwrap()
        .args([
            "-c",
            "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5).sendall(b'from the pod network')",
            &host.to_string(),
            &port.to_string(),
        ])
        .status()
        .unwrap();
    assert!(client.success());
    let (mut stream, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), std::net::IpAddr::V4(network.netns_address));
    let mut got = String::new();
    std::io::Read::read_to_string(&mut stream, &mut got).unwrap();
    assert_eq!(got, "from the pod network");
}

/// What the `storeflow-realcluster` binary printed.
struct Started {
    child: std::process::Child,
    line: Value,
    /// Keep it bound for the whole test (`_guard`), see [`TerminateOnPanic`].
    guard: TerminateOnPanic,
}

/// Sends SIGTERM to the binary if the test panics while it runs, so that it tears its cluster
/// down as on any SIGTERM: a failing assertion must not leave a control plane running (one
/// was found holding its ports and a CI lock long after its test had failed).
struct TerminateOnPanic(u32);

impl Drop for TerminateOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.to_string()])
                .status();
        }
    }
}

fn start_binary(args: &[&str]) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_storeflow-realcluster"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let guard = TerminateOnPanic(child.id());
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the JSON line within 300 s");
    let line: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    for key in [
        "kubeconfig",
        "helm",
        "kubectl",
        "server",
        "podNetwork",
        "dir",
        "pids",
        "storeBackends",
        "env",
    ] {
        assert!(line.get(key).is_some(), "{key} missing from {line}");
    }
    assert!(Path::new(line["kubeconfig"].as_str().unwrap()).is_file());
    assert!(Path::new(line["helm"].as_str().unwrap()).is_file());
    Started { child, line, guard }
}

/// What of the cluster described by `line` is still there.
fn leftovers(line: &Value) -> Vec<String> {
    let mut left = Vec::new();
    let dir = line["dir"].as_str().unwrap();
    if Path::new(dir).exists() {
        left.push(format!("directory {dir}"));
    }
    for (name, pid) in line["pids"].as_object().unwrap() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(dir) {
            left.push(format!("{name} ({pid})"));
        }
    }
    if let Some(netns) = line["podNetwork"].as_str() {
        let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
        if String::from_utf8_lossy(&list.stdout)
            .split_whitespace()
            .any(|w| w == netns)
        {
            left.push(format!("network namespace {netns}"));
        }
    }
    let routes = Command::new("ip")
        .args(["route", "show", "table", "all"])
        .output()
        .unwrap();
    let routes6 = Command::new("ip")
        .args(["-6", "route", "show", "table", "all"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&routes.stdout),
        String::from_utf8_lossy(&routes6.stdout)
    );
    for route in line["guardRoutes"].as_array().unwrap() {
        if all.contains(route.as_str().unwrap()) {
            left.push(format!("route {route}"));
        }
    }
    if let Some(cidr) = line["podCidr"]
        .as_str()
        .filter(|_| line["podNetwork"].is_string())
        && all.lines().any(|l| l.starts_with(cidr))
    {
        left.push(format!("route to {cidr}"));
    }
    left
}

/// The binary killed with SIGKILL (like a test binary killed): the reaper cleans up.
#[test]
fn killed_binary_leaves_nothing() {
    let Started {
        mut child,
        line,
        guard: _guard,
    } = start_binary(&["--no-medusa"]);
    assert!(leftovers(&line).len() >= 2);
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = leftovers(&line);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left after SIGKILL: {left:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A store namespace on the binary's cluster is wired as in the process tests: WP-CLI through
/// kwok's exec reaches the simulated site, and a real Medusa answers on every pod IP.
async fn store_backends_are_wired(line: &Value) {
    let backends = &line["storeBackends"];
    let kubeconfig =
        kube::config::Kubeconfig::read_from(line["kubeconfig"].as_str().unwrap()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let ns = "store-byhand01";
    let api: Api<Namespace> = Api::all(client.clone());
    let labelled: Namespace = serde_json::from_value(json!({"metadata": {
        "name": ns, "labels": {"app.kubernetes.io/managed-by": "storeflow"},
    }}))
    .unwrap();
    api.create(&PostParams::default(), &labelled).await.unwrap();
    deployment(&client, ns, "wordpress", 1).await;
    let pod = eventually("a ready pod", Duration::from_secs(60), || async {
        pods(&client, ns)
            .await
            .iter()
            .find(|p| ready(p))
            .and_then(|p| p.metadata.name.clone())
            .ok_or_else(|| "none ready".to_owned())
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let install = [
        "wp",
        "--path=/var/www/html",
        "core",
        "install",
        "--url=http://byhand.localhost",
        "--title=By hand",
        "--admin_user=admin",
        "--admin_email=admin@example.com",
        "--skip-email",
        "--prompt=admin_password",
    ];
    let run = eventually("wp through kwok", Duration::from_secs(30), || async {
        let run = exec(
            &pods,
            &pod,
            &install,
            b"By-Hand-Pass-1\n",
            Duration::from_secs(30),
        )
        .await?;
        match run.status.as_ref().and_then(|s| s.status.as_deref()) {
            Some("Success") => Ok(run),
            _ => Err(format!("{:?} {}", run.status, run.stderr)),
        }
    })
    .await;
    assert!(run.stdout.contains("Success"), "{}", run.stdout);
    let socket = backends["sitesSocket"].as_str().unwrap();
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!("{}\n", json!({"op": "site", "namespace": ns})).as_bytes(),
    )
    .unwrap();
    let mut site = String::new();
    BufReader::new(stream).read_line(&mut site).unwrap();
    let site: Value = serde_json::from_str(&site).unwrap();
    assert_eq!(site["installed"], true, "{site}");
    assert_eq!(site["adminPassword"], "By-Hand-Pass-1", "{site}");

    if backends["medusa"] == true {
        // A Medusa store's namespace gets a Medusa of its own: port 9000 of its pods' IPs is it.
        let medusa_ns = "store-byhand02";
        let labelled: Namespace = serde_json::from_value(json!({"metadata": {
            "name": medusa_ns, "labels": {
                "app.kubernetes.io/managed-by": "storeflow", "storeflow.io/engine": "medusa",
            },
        }}))
        .unwrap();
        api.create(&PostParams::default(), &labelled).await.unwrap();
        deployment(&client, medusa_ns, "medusa", 1).await;
        let medusa_pods: Api<Pod> = Api::namespaced(client.clone(), medusa_ns);
        let ip = eventually("a ready Medusa pod", Duration::from_secs(60), || async {
            medusa_pods
                .list(&ListParams::default())
                .await
                .map(|list| list.items)
                .unwrap_or_default()
                .iter()
                .find(|p| ready(p))
                .and_then(|p| p.status.as_ref()?.pod_ip.clone())
                .ok_or_else(|| "none ready".to_owned())
        })
        .await;
        // Its Medusa starts in seconds; a connection meanwhile waits for it.
        let health = eventually("the store's own Medusa", Duration::from_secs(120), || {
            let ip = ip.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut stream = std::net::TcpStream::connect((ip.as_str(), 9000))
                        .map_err(|err| err.to_string())?;
                    std::io::Write::write_all(
                        &mut stream,
                        b"GET /health HTTP/1.1\r\nHost: medusa\r\nConnection: close\r\n\r\n",
                    )
                    .map_err(|err| err.to_string())?;
                    let mut answer = String::new();
                    std::io::Read::read_to_string(&mut stream, &mut answer)
                        .map_err(|err| err.to_string())?;
                    if answer.starts_with("HTTP/1.1 200") {
                        Ok(answer)
                    } else {
                        Err(answer)
                    }
                })
                .await
                .map_err(|err| err.to_string())?
            }
        })
        .await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    }
}

/// SIGTERM: the binary tears down and exits 0 with nothing left. Before that, with a pod
/// network, its store backends are wired.
#[test]
fn terminated_binary_tears_down() {
    let Started {
        mut child,
        line,
        guard: _guard,
    } = start_binary(&[]);
    if line["storeBackends"].is_object() {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(store_backends_are_wired(&line));
    }
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    eprintln!(
        "teardown after SIGTERM: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(status.success(), "{status}");
    assert_eq!(leftovers(&line), Vec::<String>::new());
}
