//! Is a Kubernetes cluster reachable with the current configuration? Read-only; used by
//! health, `storeflow doctor` and `storeflow up` to say plainly whether stores can be
//! provisioned.

use std::time::Duration;

use serde::Serialize;

/// What a probe of the configured cluster found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub reachable: bool,
    /// The kubeconfig context in use, if the configuration came from a kubeconfig.
    pub context: Option<String>,
    /// The API server URL.
    pub server: Option<String>,
    /// The server's Kubernetes version, when reachable.
    pub version: Option<String>,
    /// One line for people: what was found, or what to do.
    pub message: String,
}

/// Where the cluster configuration comes from.
#[derive(Debug, Clone, Copy)]
pub enum ConfigSource<'a> {
    /// `KUBECONFIG`, `~/.kube/config`, or the in-cluster service account.
    Infer,
    /// This kubeconfig file, its current context.
    File(&'a std::path::Path),
}

async fn load(source: ConfigSource<'_>) -> Result<(kube::Config, Option<String>), String> {
    match source {
        ConfigSource::Infer => {
            let context = kube::config::Kubeconfig::read()
                .ok()
                .and_then(|c| c.current_context);
            kube::Config::infer()
                .await
                .map(|config| (config, context))
                .map_err(|err| {
                    format!(
                        "no Kubernetes configuration found ({err}); set KUBECONFIG to a kubeconfig \
                         file or run inside a cluster"
                    )
                })
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
                .map(|config| (config, context))
                .map_err(|err| format!("the kubeconfig {} cannot be used: {err}", path.display()))
        }
    }
}

/// Loads the configuration the way the executors will and asks the API server for its
/// version, within `timeout`.
pub async fn probe(source: ConfigSource<'_>, timeout: Duration) -> ClusterStatus {
    let (config, context) = match load(source).await {
        Ok(loaded) => loaded,
        Err(message) => {
            return ClusterStatus {
                reachable: false,
                context: None,
                server: None,
                version: None,
                message,
            };
        }
    };
    let server = Some(config.cluster_url.to_string());
    let client = match kube::Client::try_from(config) {
        Ok(client) => client,
        Err(err) => {
            return ClusterStatus {
                reachable: false,
                context,
                server,
                version: None,
                message: format!("the Kubernetes configuration cannot be used: {err}"),
            };
        }
    };
    match tokio::time::timeout(timeout, client.apiserver_version()).await {
        Ok(Ok(info)) => ClusterStatus {
            reachable: true,
            message: format!("Kubernetes {} reachable", info.git_version),
            version: Some(info.git_version),
            context,
            server,
        },
        Ok(Err(err)) => ClusterStatus {
            reachable: false,
            message: format!("the Kubernetes API server did not answer: {err}"),
            context,
            server,
            version: None,
        },
        Err(_) => ClusterStatus {
            reachable: false,
            message: format!(
                "the Kubernetes API server did not answer within {} s",
                timeout.as_secs()
            ),
            context,
            server,
            version: None,
        },
    }
}
