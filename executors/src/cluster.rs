//! Is a Kubernetes cluster reachable with the current configuration? Read-only; used by
//! health, `storeflow doctor` and `storeflow up` to say plainly whether stores can be
//! provisioned.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// What a probe of the configured cluster found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The API server answered a version request with these credentials; false for a
    /// refusal (401), an untrusted certificate or no answer within the timeout.
    pub reachable: bool,
    /// The kubeconfig context in use, if the configuration came from a kubeconfig.
    pub context: Option<String>,
    /// Where the configuration came from, for people: `kubeconfig context X` or
    /// `in-cluster service account (namespace N)`.
    pub source: Option<String>,
    /// The API server URL.
    pub server: Option<String>,
    /// The server's Kubernetes version, when reachable.
    pub version: Option<String>,
    /// One line for people: what was found, or what to do.
    pub message: String,
}

/// Where a pod's service-account files are mounted by the kubelet.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// What a pod is given to reach its API server: `KUBERNETES_SERVICE_HOST` and
/// `KUBERNETES_SERVICE_PORT`, and the service account's `token`, `ca.crt` and `namespace`
/// files.
#[derive(Debug, Clone)]
pub struct InClusterEnv {
    /// `KUBERNETES_SERVICE_HOST`; unset (or empty) means this is not a pod.
    pub host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`, as given (checked to be a port number when used).
    pub port: Option<String>,
    /// [`SERVICE_ACCOUNT_DIR`] unless `STOREFLOW_SERVICE_ACCOUNT_DIR` says otherwise (a token
    /// projected elsewhere; tests).
    pub service_account_dir: PathBuf,
}

impl InClusterEnv {
    /// Reads this process's environment; empty variables count as unset.
    pub fn from_env() -> InClusterEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        InClusterEnv {
            host: var("KUBERNETES_SERVICE_HOST"),
            port: var("KUBERNETES_SERVICE_PORT"),
            service_account_dir: var("STOREFLOW_SERVICE_ACCOUNT_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR)),
        }
    }
}

/// Where the cluster configuration comes from.
#[derive(Debug, Clone, Copy)]
pub enum ConfigSource<'a> {
    /// `KUBECONFIG` if set, else `~/.kube/config` if it exists, else the pod's service account
    /// (when `KUBERNETES_SERVICE_HOST` says this runs in a pod).
    Infer,
    /// This kubeconfig file, its current context.
    File(&'a Path),
    /// This pod environment.
    InCluster(&'a InClusterEnv),
}

/// The credentials of an in-cluster configuration, for processes storeflow starts (helm).
/// Paths only: the token is read when needed, so a rotated token is picked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InClusterCredentials {
    /// `https://host:port`.
    pub server: String,
    /// The service account's `ca.crt`: the only root trusted for the API server.
    pub ca_file: PathBuf,
    /// The service account's `token` file; read again for every helm call, since the
    /// kubelet rotates it.
    pub token_file: PathBuf,
    /// The namespace storeflow itself runs in.
    pub namespace: String,
}

/// A usable configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration to build a `kube::Client` from.
    pub config: kube::Config,
    /// The kubeconfig context, when loaded from a kubeconfig.
    pub context: Option<String>,
    /// Set when loaded from the pod's service account.
    pub in_cluster: Option<InClusterCredentials>,
}

impl LoadedConfig {
    /// `kubeconfig context X` or `in-cluster service account (namespace N)`.
    pub fn describe(&self) -> String {
        match (&self.in_cluster, &self.context) {
            (Some(credentials), _) => format!(
                "in-cluster service account (namespace {})",
                credentials.namespace
            ),
            (None, Some(context)) => format!("kubeconfig context {context}"),
            (None, None) => "kubeconfig".to_owned(),
        }
    }
}

/// Loads the configuration the executors use. An explicitly set `KUBECONFIG` that cannot be
/// used is an error, not a reason to try something else: a worker must never provision into
/// a cluster other than the one it was pointed at.
pub async fn load(source: ConfigSource<'_>) -> Result<LoadedConfig, String> {
    match source {
        ConfigSource::Infer => {
            let explicit = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
            let home_config = std::env::var_os("HOME")
                .map(|home| Path::new(&home).join(".kube/config"))
                .filter(|path| path.exists());
            if explicit || home_config.is_some() {
                let context = kube::config::Kubeconfig::read()
                    .ok()
                    .and_then(|c| c.current_context);
                let config = kube::Config::from_kubeconfig(&Default::default())
                    .await
                    .map_err(|err| {
                        let which = if explicit {
                            "the kubeconfig named by KUBECONFIG".to_owned()
                        } else {
                            "~/.kube/config".to_owned()
                        };
                        format!(
                            "{which} cannot be used ({}); fix it or set KUBECONFIG to a \
                             working kubeconfig file",
                            crate::error_chain(&err)
                        )
                    })?;
                return Ok(LoadedConfig {
                    config,
                    context,
                    in_cluster: None,
                });
            }
            let env = InClusterEnv::from_env();
            if env.host.is_none() {
                return Err("no Kubernetes configuration found: KUBECONFIG is not set, \
                            ~/.kube/config does not exist, and this is not a pod \
                            (KUBERNETES_SERVICE_HOST is not set); set KUBECONFIG to a \
                            kubeconfig file or run storeflow in the cluster with a service \
                            account"
                    .to_owned());
            }
            in_cluster(&env)
        }
        ConfigSource::File(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|err| {
                format!(
                    "cannot read the kubeconfig {} ({err}); set KUBECONFIG to a kubeconfig file",
                    path.display()
                )
            })?;
            let context = kubeconfig.current_context.clone();
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map(|config| LoadedConfig {
                    config,
                    context,
                    in_cluster: None,
                })
                .map_err(|err| format!("the kubeconfig {} cannot be used: {err}", path.display()))
        }
        ConfigSource::InCluster(env) => in_cluster(env),
    }
}

/// The in-cluster configuration, as client-go builds it: `https://` the service host and
/// port, the service account's CA as the only trusted root, its token as bearer. kube-rs
/// re-reads the token file and the CA file periodically, so rotated credentials are used
/// without a restart.
fn in_cluster(env: &InClusterEnv) -> Result<LoadedConfig, String> {
    let host = env.host.as_deref().ok_or_else(|| {
        "KUBERNETES_SERVICE_HOST is not set; in-cluster configuration needs it (the kubelet \
         sets it in every pod)"
            .to_owned()
    })?;
    let port: u16 = match env.port.as_deref() {
        Some(port) => port
            .parse()
            .map_err(|_| format!("KUBERNETES_SERVICE_PORT `{port}` is not a port number"))?,
        None => {
            return Err(
                "KUBERNETES_SERVICE_PORT is not set; in-cluster configuration needs it with \
                 KUBERNETES_SERVICE_HOST"
                    .to_owned(),
            );
        }
    };
    // As client-go writes it: IPv6 in brackets, no port when it is 443.
    let authority = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_owned(),
    };
    let server = if port == 443 {
        format!("https://{authority}")
    } else {
        format!("https://{authority}:{port}")
    };
    let uri: http::Uri = server
        .parse()
        .map_err(|err| format!("`{server}` is not a URL ({err}); check KUBERNETES_SERVICE_HOST"))?;
    let dir = &env.service_account_dir;
    let mount_hint = "the pod needs its service-account token mounted \
                      (automountServiceAccountToken must not be false)";
    let token_file = dir.join("token");
    match std::fs::read_to_string(&token_file) {
        Ok(token) if !token.trim().is_empty() => {}
        Ok(_) => {
            return Err(format!(
                "the service-account token {} is empty; {mount_hint}",
                token_file.display()
            ));
        }
        Err(err) => {
            return Err(format!(
                "cannot read the service-account token {} ({err}); {mount_hint}",
                token_file.display()
            ));
        }
    }
    let ca_file = dir.join("ca.crt");
    let ca = std::fs::read(&ca_file).map_err(|err| {
        format!(
            "cannot read the cluster CA certificate {} ({err}); {mount_hint}",
            ca_file.display()
        )
    })?;
    let roots = pem_certificates(&ca).map_err(|problem| {
        format!(
            "the cluster CA certificate {} is not usable: {problem}",
            ca_file.display()
        )
    })?;
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .map(|n| n.trim().to_owned())
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let mut config = kube::Config::new(uri);
    config.default_namespace = namespace.clone();
    config.root_cert = Some(roots);
    config.root_cert_file = Some(ca_file.clone());
    config.auth_info.token_file = Some(token_file.to_string_lossy().into_owned());
    Ok(LoadedConfig {
        config,
        context: None,
        in_cluster: Some(InClusterCredentials {
            server,
            ca_file,
            token_file,
            namespace,
        }),
    })
}

/// The DER certificates of a PEM bundle; an error unless there is at least one.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certificates = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("{err}"))?;
    if certificates.is_empty() {
        return Err("it holds no PEM certificate".to_owned());
    }
    Ok(certificates)
}

/// Loads the configuration the way the executors will and asks the API server for its
/// version, within `timeout`.
pub async fn probe(source: ConfigSource<'_>, timeout: Duration) -> ClusterStatus {
    let loaded = match load(source).await {
        Ok(loaded) => loaded,
        Err(message) => {
            return ClusterStatus {
                reachable: false,
                context: None,
                source: None,
                server: None,
                version: None,
                message,
            };
        }
    };
    let status = |reachable: bool, version: Option<String>, message: String| ClusterStatus {
        reachable,
        context: loaded.context.clone(),
        source: Some(loaded.describe()),
        server: Some(loaded.config.cluster_url.to_string()),
        version,
        message,
    };
    let client = match kube::Client::try_from(loaded.config.clone()) {
        Ok(client) => client,
        Err(err) => {
            return status(
                false,
                None,
                format!(
                    "the Kubernetes configuration cannot be used: {}",
                    crate::error_chain(&err)
                ),
            );
        }
    };
    match tokio::time::timeout(timeout, client.apiserver_version()).await {
        Ok(Ok(info)) => status(
            true,
            Some(info.git_version.clone()),
            format!("Kubernetes {} reachable", info.git_version),
        ),
        Ok(Err(kube::Error::Api(response))) if response.code == 401 => status(
            false,
            None,
            format!(
                "the Kubernetes API server refused storeflow's credentials (401 {}); {}",
                response.message,
                if loaded.in_cluster.is_some() {
                    "check that the service-account token is current and its service account exists"
                } else {
                    "check the kubeconfig user's token or certificate"
                }
            ),
        ),
        Ok(Err(err)) => {
            let cause = crate::error_chain(&err);
            let message = if cause.contains("peer certificate") {
                format!(
                    "the Kubernetes API server's TLS certificate is not trusted ({cause}); {}",
                    if loaded.in_cluster.is_some() {
                        "the service account's ca.crt must be the cluster's CA"
                    } else {
                        "the kubeconfig's certificate-authority must be the cluster's CA"
                    }
                )
            } else {
                format!("the Kubernetes API server did not answer: {cause}")
            };
            status(false, None, message)
        }
        Err(_) => status(
            false,
            None,
            format!(
                "the Kubernetes API server did not answer within {} s",
                timeout.as_secs()
            ),
        ),
    }
}

/// One thing the workers do through the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The RBAC verb: `get`, `list`, `create`, `patch`, `update`, `delete`.
    pub verb: &'static str,
    /// The API group; empty for the core group.
    pub group: &'static str,
    /// The resource, plural and lower-case (`namespaces`, `statefulsets`).
    pub resource: &'static str,
    /// The subresource (`exec`), or empty for the resource itself.
    pub subresource: &'static str,
    /// Only this object (RBAC `resourceNames`), when set.
    pub name: &'static str,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.verb)?;
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{}", self.resource)?;
        if !self.subresource.is_empty() {
            write!(f, "/{}", self.subresource)?;
        }
        if !self.name.is_empty() {
            write!(f, " {}", self.name)?;
        }
        Ok(())
    }
}

const fn access(verb: &'static str, group: &'static str, resource: &'static str) -> Access {
    Access {
        verb,
        group,
        resource,
        subresource: "",
        name: "",
    }
}

/// What provisioning and teardown do through the API server — the grants of the workers'
/// ClusterRoles in charts/storeflow (templates/rbac.yaml), which `storeflow doctor` asks the
/// API server about. `helm_driver` is `HELM_DRIVER` (`configmap` keeps helm's release records
/// in ConfigMaps, anything else in Secrets).
pub fn required_access(helm_driver: Option<&str>) -> Vec<Access> {
    let mut list = vec![
        access("get", "", "namespaces"),
        access("list", "", "namespaces"),
        access("create", "", "namespaces"),
        access("patch", "", "namespaces"),
        access("delete", "", "namespaces"),
    ];
    // The kinds the store chart renders, as helm installs, upgrades and uninstalls them.
    for (group, resource) in [
        ("", "services"),
        ("", "persistentvolumeclaims"),
        ("", "resourcequotas"),
        ("", "limitranges"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
    ] {
        for verb in ["get", "create", "patch", "delete"] {
            list.push(access(verb, group, resource));
        }
    }
    let records = if helm_driver == Some("configmap") {
        "configmaps"
    } else {
        "secrets"
    };
    for verb in ["get", "list", "create", "update", "delete"] {
        list.push(access(verb, "", records));
    }
    list.push(access("create", "", "secrets"));
    for verb in ["get", "patch"] {
        list.push(Access {
            name: "store-secrets",
            ..access(verb, "", "secrets")
        });
    }
    list.push(access("get", "", "pods"));
    list.push(access("list", "", "pods"));
    // Exec over WebSocket is a GET upgrade: the API server authorizes it as `get`, and since
    // Kubernetes 1.30 also as `create` (the real 1.37 server refuses a missing `get` first).
    for verb in ["get", "create"] {
        list.push(Access {
            subresource: "exec",
            ..access(verb, "", "pods")
        });
    }
    list.push(Access {
        subresource: "log",
        ..access("get", "", "pods")
    });
    for verb in ["get", "create"] {
        list.push(Access {
            subresource: "proxy",
            ..access(verb, "", "services")
        });
    }
    list
}

/// Which of `wanted` the API server says this identity may not do (SelfSubjectAccessReview,
/// in any namespace: the workers' grants are cluster-wide, fenced by admission).
pub async fn missing_access(
    client: &kube::Client,
    wanted: &[Access],
) -> Result<Vec<Access>, String> {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let reviews: kube::Api<SelfSubjectAccessReview> = kube::Api::all(client.clone());
    let mut missing = Vec::new();
    for access in wanted {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(access.verb.to_owned()),
                    group: Some(access.group.to_owned()),
                    resource: Some(access.resource.to_owned()),
                    subresource: (!access.subresource.is_empty())
                        .then(|| access.subresource.to_owned()),
                    name: (!access.name.is_empty()).then(|| access.name.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = reviews
            .create(&kube::api::PostParams::default(), &review)
            .await
            .map_err(|err| {
                format!(
                    "asking the API server what storeflow may do failed: {}",
                    crate::error_chain(&err)
                )
            })?;
        if !answer.status.is_some_and(|s| s.allowed) {
            missing.push(*access);
        }
    }
    Ok(missing)
}
