//! Kubernetes steps: namespaces and readiness, through the real kube-rs client.
//!
//! Input contract (every store run): `{"store_id", "namespace", "engine", "tenant"}`.
//! The client comes from the worker ([`storeflow_engine::Worker::with_resource`]), so tests
//! hand steps a client for a fake API server and production one for the configured cluster.
//!
//! # Guarantees
//! - Every step is idempotent: re-running it after a crash converges to the same state.
//! - A cluster that cannot be reached is a retryable failure; a refusal (403, invalid object)
//!   is permanent and says what was refused.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storeflow_engine::{StepContext, StepOutcome, humantime_duration};

/// Label every namespace storeflow manages carries (what the orphan reaper looks for).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "storeflow");

fn default_recheck() -> Duration {
    Duration::from_secs(5)
}

fn input_str<'a>(cx: &'a StepContext<'_>, field: &str) -> Result<&'a str, StepOutcome> {
    cx.input
        .get(field)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| StepOutcome::fatal(format!("the run input has no `{field}` (a store run needs store_id, namespace, engine, tenant)")))
}

fn client(cx: &StepContext<'_>) -> Result<kube::Client, StepOutcome> {
    cx.resource::<kube::Client>()
        .cloned()
        .map_err(StepOutcome::Fatal)
}

/// Turns a kube error into an outcome: unreachable or overloaded → retry; refused → fatal.
pub fn classify(err: kube::Error, doing: &str) -> StepOutcome {
    match &err {
        kube::Error::Api(status) if status.code == 429 || status.code >= 500 => {
            StepOutcome::retry(format!(
                "{doing}: the Kubernetes API answered {}: {}",
                status.code, status.message
            ))
        }
        kube::Error::Api(status) => StepOutcome::fatal(format!(
            "{doing}: the Kubernetes API refused ({} {}): {}",
            status.code, status.reason, status.message
        )),
        _ => StepOutcome::retry(format!("{doing}: cannot reach the Kubernetes API: {err}")),
    }
}

/// Creates (server-side apply) the store's namespace with storeflow's labels. A namespace of
/// the same name that is still terminating is waited for, never reused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnsureNamespace {
    #[serde(with = "humantime_duration", default = "default_recheck")]
    pub recheck: Duration,
}

impl Default for EnsureNamespace {
    fn default() -> Self {
        EnsureNamespace {
            recheck: default_recheck(),
        }
    }
}

#[typetag::serde(name = "ensure-namespace")]
#[async_trait::async_trait]
impl storeflow_engine::Step for EnsureNamespace {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let (client, namespace, store, engine, tenant) = match (|| {
            Ok::<_, StepOutcome>((
                client(cx)?,
                input_str(cx, "namespace")?,
                input_str(cx, "store_id")?,
                input_str(cx, "engine")?,
                input_str(cx, "tenant")?,
            ))
        })() {
            Ok(values) => values,
            Err(outcome) => return outcome,
        };
        let api: Api<Namespace> = Api::all(client);
        match api.get_opt(namespace).await {
            Ok(Some(existing))
                if existing.metadata.deletion_timestamp.is_some()
                    || existing.status.as_ref().and_then(|s| s.phase.as_deref())
                        == Some("Terminating") =>
            {
                return StepOutcome::pending_on(
                    self.recheck,
                    format!(
                        "namespace {namespace} is still terminating; waiting until it is gone before creating it again"
                    ),
                );
            }
            Ok(_) => {}
            Err(err) => return classify(err, &format!("reading namespace {namespace}")),
        }
        let desired = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {
                    MANAGED_BY.0: MANAGED_BY.1,
                    "storeflow.io/store-id": store,
                    "storeflow.io/engine": engine,
                    "storeflow.io/tenant": tenant,
                }
            }
        });
        match api
            .patch(
                namespace,
                &PatchParams::apply("storeflow").force(),
                &Patch::Apply(&desired),
            )
            .await
        {
            Ok(_) => StepOutcome::Done(json!({ "namespace": namespace })),
            Err(err) => classify(err, &format!("applying namespace {namespace}")),
        }
    }
}

/// Durable polling until every Deployment and StatefulSet in the namespace is available;
/// fails at once on what waiting cannot fix (image pull errors, crash loops, pods that
/// cannot be scheduled), naming the pod, container and reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitReady {
    #[serde(with = "humantime_duration", default = "default_recheck")]
    pub recheck: Duration,
}

impl Default for WaitReady {
    fn default() -> Self {
        WaitReady {
            recheck: default_recheck(),
        }
    }
}

/// Waiting reasons that mean the pod will not become ready by itself.
const HOPELESS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CrashLoopBackOff",
];

fn pod_problem(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    for condition in status.conditions.iter().flatten() {
        if condition.type_ == "PodScheduled"
            && condition.status == "False"
            && condition.reason.as_deref() == Some("Unschedulable")
        {
            return Some(format!(
                "pod {name} cannot be scheduled: {}",
                condition.message.as_deref().unwrap_or("no node fits")
            ));
        }
    }
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or("");
        if HOPELESS.contains(&reason) {
            let detail = waiting.message.as_deref().unwrap_or("");
            let restarts = if reason == "CrashLoopBackOff" {
                format!(" (restarted {} times)", container.restart_count)
            } else {
                String::new()
            };
            return Some(
                format!(
                    "pod {name} container {} cannot start: {reason}{restarts} {detail}",
                    container.name
                )
                .trim_end()
                .to_owned(),
            );
        }
    }
    None
}

#[typetag::serde(name = "wait-ready")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WaitReady {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let (client, namespace) = match (client(cx), input_str(cx, "namespace")) {
            (Ok(client), Ok(namespace)) => (client, namespace.to_owned()),
            (Err(outcome), _) | (_, Err(outcome)) => return outcome,
        };
        let list = ListParams::default();
        let pods = match Api::<Pod>::namespaced(client.clone(), &namespace)
            .list(&list)
            .await
        {
            Ok(pods) => pods,
            Err(err) => return classify(err, &format!("listing pods in {namespace}")),
        };
        if let Some(problem) = pods.items.iter().find_map(pod_problem) {
            return StepOutcome::fatal(format!(
                "{problem}; fix the image or configuration, then retry this step"
            ));
        }
        let deployments = match Api::<Deployment>::namespaced(client.clone(), &namespace)
            .list(&list)
            .await
        {
            Ok(list) => list.items,
            Err(err) => return classify(err, &format!("listing deployments in {namespace}")),
        };
        let statefulsets = match Api::<StatefulSet>::namespaced(client, &namespace)
            .list(&list)
            .await
        {
            Ok(list) => list.items,
            Err(err) => return classify(err, &format!("listing statefulsets in {namespace}")),
        };
        if deployments.is_empty() && statefulsets.is_empty() {
            return StepOutcome::pending_on(
                self.recheck,
                format!("no deployments or statefulsets in {namespace} yet"),
            );
        }
        let mut waiting = Vec::new();
        let mut ready = Vec::new();
        for deployment in &deployments {
            let name = deployment.metadata.name.clone().unwrap_or_default();
            let want = deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            let have = deployment
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            if have >= want {
                ready.push(format!("deployment/{name}"));
            } else {
                waiting.push(format!("deployment {name}: {have}/{want} available"));
            }
        }
        for statefulset in &statefulsets {
            let name = statefulset.metadata.name.clone().unwrap_or_default();
            let want = statefulset
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            let have = statefulset
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            if have >= want {
                ready.push(format!("statefulset/{name}"));
            } else {
                waiting.push(format!("statefulset {name}: {have}/{want} ready"));
            }
        }
        if waiting.is_empty() {
            StepOutcome::Done(json!({ "ready": ready }))
        } else {
            StepOutcome::pending_on(self.recheck, waiting.join("; "))
        }
    }
}

/// Deletes the store's namespace (already gone or terminating counts as done).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteNamespace {}

#[typetag::serde(name = "delete-namespace")]
#[async_trait::async_trait]
impl storeflow_engine::Step for DeleteNamespace {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let (client, namespace) = match (client(cx), input_str(cx, "namespace")) {
            (Ok(client), Ok(namespace)) => (client, namespace.to_owned()),
            (Err(outcome), _) | (_, Err(outcome)) => return outcome,
        };
        match Api::<Namespace>::all(client)
            .delete(&namespace, &DeleteParams::default())
            .await
        {
            Ok(_) => StepOutcome::Done(json!({ "deleted": namespace })),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                StepOutcome::Done(json!({ "deleted": namespace, "already_gone": true }))
            }
            Err(err) => classify(err, &format!("deleting namespace {namespace}")),
        }
    }
}

/// Durable polling until the namespace no longer exists; while it terminates, says which
/// finalizers hold it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitNamespaceGone {
    #[serde(with = "humantime_duration", default = "default_recheck")]
    pub recheck: Duration,
}

impl Default for WaitNamespaceGone {
    fn default() -> Self {
        WaitNamespaceGone {
            recheck: default_recheck(),
        }
    }
}

#[typetag::serde(name = "wait-namespace-gone")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WaitNamespaceGone {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let (client, namespace) = match (client(cx), input_str(cx, "namespace")) {
            (Ok(client), Ok(namespace)) => (client, namespace.to_owned()),
            (Err(outcome), _) | (_, Err(outcome)) => return outcome,
        };
        match Api::<Namespace>::all(client).get_opt(&namespace).await {
            Ok(None) => StepOutcome::Done(json!({ "gone": namespace })),
            Ok(Some(existing)) => {
                let mut finalizers: Vec<String> =
                    existing.metadata.finalizers.clone().unwrap_or_default();
                finalizers.extend(existing.spec.and_then(|s| s.finalizers).unwrap_or_default());
                let held_by = if finalizers.is_empty() {
                    "no finalizers listed".to_owned()
                } else {
                    format!("finalizers: {}", finalizers.join(", "))
                };
                StepOutcome::pending_on(
                    self.recheck,
                    format!("namespace {namespace} is terminating ({held_by})"),
                )
            }
            Err(err) => classify(err, &format!("reading namespace {namespace}")),
        }
    }
}
