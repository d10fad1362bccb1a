//! Kubernetes steps: namespaces and readiness, through the real kube-rs client.
//!
//! Input contract (every store run): `{"store_id", "namespace", "engine", "tenant"}`.
//! The client comes from the worker ([`storeflow_engine::Worker::with_resource`]), so tests
//! hand steps a client for a fake API server and production one for the configured cluster.
//!
//! # Guarantees
//! - Every step is idempotent: re-running it after a crash converges to the same state.
//! - A namespace is only created, relabelled or deleted if it is this store's (labelled by
//!   storeflow with this store id); anything else is refused.
//! - A cluster that cannot be reached is a retryable failure; a refusal (403, invalid object)
//!   is permanent and says what was refused.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storeflow_engine::{StepContext, StepOutcome, StepResult, humantime_duration};

use crate::breaker::{Breakers, guarded};
use crate::store::StoreRunInput;

/// Label every namespace storeflow manages carries (what the orphan reaper looks for).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "storeflow");
/// Label naming the store a namespace belongs to.
pub const STORE_ID_LABEL: &str = "storeflow.io/store-id";

/// Waiting reasons that mean a container will not start by itself.
const HOPELESS: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
];
/// A crash loop counts as one only after this many restarts (an app that exits once while
/// its database starts is normal).
const CRASH_LOOP_RESTARTS: i32 = 3;
/// An unschedulable pod counts as stuck only after this many seconds (an autoscaler may be
/// adding a node).
const UNSCHEDULABLE_GRACE_SECONDS: i64 = 120;

fn default_recheck() -> Duration {
    Duration::from_secs(5)
}

/// A worker without a Kubernetes client cannot do the step yet: wait (no attempt is spent;
/// a worker that has a cluster may take the run, and the step timeout bounds the wait).
pub(crate) fn client(cx: &StepContext<'_>) -> Result<kube::Client, StepOutcome> {
    cx.resource::<kube::Client>().cloned().map_err(|_| {
        // Waiting costs no attempt; the step's timeout bounds it.
        StepOutcome::pending_on(
            Duration::from_secs(15),
            "no Kubernetes cluster is configured for this worker (set KUBECONFIG, or run it in the cluster)",
        )
    })
}

/// `?` for Kubernetes calls in step bodies: the error becomes the outcome [`classify`] gives it.
pub(crate) trait OrClassify<T> {
    /// The call's value, or its error classified as the failure of `doing`.
    fn or_classify(self, doing: &str) -> StepResult<T>;
}

impl<T> OrClassify<T> for Result<T, kube::Error> {
    fn or_classify(self, doing: &str) -> StepResult<T> {
        self.map_err(|err| classify(err, doing))
    }
}

/// Turns a kube error into an outcome: unreachable or overloaded → retry; refused → fatal.
pub fn classify(err: kube::Error, doing: &str) -> StepOutcome {
    match &err {
        kube::Error::Api(status) if status.code == 429 || status.code >= 500 => {
            crate::breaker::unavailable(format!(
                "{doing}: the Kubernetes API answered {}: {}",
                status.code, status.message
            ))
        }
        kube::Error::Api(status) => StepOutcome::fatal(format!(
            "{doing}: the Kubernetes API refused ({} {}): {}",
            status.code, status.reason, status.message
        )),
        _ => {
            crate::breaker::unavailable(format!("{doing}: cannot reach the Kubernetes API: {err}"))
        }
    }
}

/// Whether an existing namespace is this store's (labelled by storeflow for this store id).
fn owned_by(namespace: &Namespace, store: &str) -> bool {
    let label = |key: &str| {
        namespace
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(key))
            .map(String::as_str)
    };
    label(MANAGED_BY.0) == Some(MANAGED_BY.1) && label(STORE_ID_LABEL) == Some(store)
}

fn foreign_namespace(namespace: &str) -> StepOutcome {
    StepOutcome::fatal(format!(
        "namespace {namespace} exists but is not this store's (it lacks storeflow's labels for this \
         store id); refusing to take it over or delete it"
    ))
}

fn terminating(namespace: &Namespace) -> bool {
    namespace.metadata.deletion_timestamp.is_some()
        || namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}

/// Creates (server-side apply) the store's namespace with storeflow's labels. A namespace of
/// the same name that is still terminating is waited for, never reused; one that belongs to
/// something else is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnsureNamespace {
    /// How long to wait before looking again while a namespace of the same name terminates
    /// (default 5s); waiting spends no attempt.
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
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl EnsureNamespace {
    async fn body(&self, cx: &StepContext<'_>) -> StepResult<StepOutcome> {
        let client = client(cx)?;
        let input = StoreRunInput::read(cx)?;
        let (namespace, store) = (input.namespace.as_str(), input.store_id.as_str());
        let (engine, tenant) = (input.engine()?, input.tenant()?);
        let api: Api<Namespace> = Api::all(client);
        match api
            .get_opt(namespace)
            .await
            .or_classify(&format!("reading namespace {namespace}"))?
        {
            Some(existing) if terminating(&existing) => {
                return Ok(StepOutcome::pending_on(
                    self.recheck,
                    format!(
                        "namespace {namespace} is still terminating; waiting until it is gone before creating it again"
                    ),
                ));
            }
            Some(existing) if !owned_by(&existing, store) => {
                return Err(foreign_namespace(namespace));
            }
            _ => {}
        }
        let desired = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {
                    MANAGED_BY.0: MANAGED_BY.1,
                    STORE_ID_LABEL: store,
                    "storeflow.io/engine": engine,
                    "storeflow.io/tenant": tenant,
                }
            }
        });
        api.patch(
            namespace,
            &PatchParams::apply("storeflow").force(),
            &Patch::Apply(&desired),
        )
        .await
        .or_classify(&format!("applying namespace {namespace}"))?;
        Ok(StepOutcome::Done(json!({ "namespace": namespace })))
    }
}

/// Durable polling until every Deployment and StatefulSet in the namespace has rolled out its
/// current revision and is available; fails at once on what waiting cannot fix (image pull
/// errors, persistent crash loops, pods that stay unschedulable), naming the pod, container
/// and reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitReady {
    /// How long to wait between polls while something is not ready yet (default 5s); waiting
    /// spends no attempt.
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

fn pod_problem(pod: &Pod, now_seconds: i64) -> Option<String> {
    // Pods being deleted (replaced, old revisions) say nothing about the new ones.
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    for condition in status.conditions.iter().flatten() {
        if condition.type_ == "PodScheduled"
            && condition.status == "False"
            && condition.reason.as_deref() == Some("Unschedulable")
        {
            let stuck_for = condition
                .last_transition_time
                .as_ref()
                .map(|t| now_seconds - t.0.as_second())
                .unwrap_or(i64::MAX);
            if stuck_for >= UNSCHEDULABLE_GRACE_SECONDS {
                return Some(format!(
                    "pod {name} cannot be scheduled: {}",
                    condition.message.as_deref().unwrap_or("no node fits")
                ));
            }
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
        let crash_looping =
            reason == "CrashLoopBackOff" && container.restart_count >= CRASH_LOOP_RESTARTS;
        if HOPELESS.contains(&reason) || crash_looping {
            let detail = waiting.message.as_deref().unwrap_or("");
            let restarts = if crash_looping {
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

/// Whether a pod runs its workload's current template, judged by its containers' images
/// (what upgrades and rollbacks change). A pod no workload selects counts (its problems are
/// real).
/// A workload's pod selector (`matchLabels`) and its pod template.
type Template<'a> = (
    std::collections::BTreeMap<String, String>,
    &'a k8s_openapi::api::core::v1::PodTemplateSpec,
);

fn of_current_template(pod: &Pod, templates: &[Template<'_>]) -> bool {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let images = |containers: &[k8s_openapi::api::core::v1::Container]| -> Vec<Option<String>> {
        containers.iter().map(|c| c.image.clone()).collect()
    };
    let pod_images = pod
        .spec
        .as_ref()
        .map(|spec| images(&spec.containers))
        .unwrap_or_default();
    let owner = templates.iter().find(|(selector, _)| {
        !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    });
    match owner {
        Some((_, template)) => template
            .spec
            .as_ref()
            .is_none_or(|spec| images(&spec.containers) == pod_images),
        None => true,
    }
}

/// What keeps a Deployment from being rolled out and available (see [`Rollout::gap`]).
fn deployment_gap(name: &str, deployment: &Deployment) -> Option<String> {
    let status = deployment.status.clone().unwrap_or_default();
    Rollout {
        kind: "deployment",
        name,
        generation: deployment.metadata.generation,
        observed_generation: status.observed_generation,
        want: deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1),
        // The API server leaves a zero out of the status: absent is 0, not unknown (right
        // after an upgrade no replica is updated yet, while the old one is still available).
        updated: Some(status.updated_replicas.unwrap_or(0)),
        total: status.replicas,
        ready: status.available_replicas.unwrap_or(0),
        ready_word: "available",
    }
    .gap()
}

/// A workload's observed rollout.
struct Rollout<'a> {
    kind: &'a str,
    name: &'a str,
    generation: Option<i64>,
    observed_generation: Option<i64>,
    want: i32,
    updated: Option<i32>,
    total: Option<i32>,
    ready: i32,
    ready_word: &'a str,
}

impl Rollout<'_> {
    /// What keeps the workload from being ready: the current generation must be observed and
    /// rolled out (no old replicas left) and enough replicas ready.
    fn gap(&self) -> Option<String> {
        let Rollout {
            kind,
            name,
            want,
            ready,
            ready_word,
            ..
        } = self;
        if let Some(generation) = self.generation
            && self.observed_generation.unwrap_or(0) < generation
        {
            return Some(format!("{kind} {name}: new revision not observed yet"));
        }
        if let Some(updated) = self.updated
            && updated < *want
        {
            return Some(format!("{kind} {name}: {updated}/{want} updated"));
        }
        if let Some(total) = self.total
            && total > *want
        {
            return Some(format!(
                "{kind} {name}: {} old replica(s) still terminating",
                total - want
            ));
        }
        (ready < want).then(|| format!("{kind} {name}: {ready}/{want} {ready_word}"))
    }
}

#[typetag::serde(name = "wait-ready")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WaitReady {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl WaitReady {
    async fn body(&self, cx: &StepContext<'_>) -> StepResult<StepOutcome> {
        let client = client(cx)?;
        let namespace = StoreRunInput::read(cx)?.namespace;
        let list = ListParams::default();
        let pods = Api::<Pod>::namespaced(client.clone(), &namespace)
            .list(&list)
            .await
            .or_classify(&format!("listing pods in {namespace}"))?;
        let deployments = Api::<Deployment>::namespaced(client.clone(), &namespace)
            .list(&list)
            .await
            .or_classify(&format!("listing deployments in {namespace}"))?
            .items;
        let statefulsets = Api::<StatefulSet>::namespaced(client, &namespace)
            .list(&list)
            .await
            .or_classify(&format!("listing statefulsets in {namespace}"))?
            .items;
        // Only pods of a workload's current template count: after an upgrade or a rollback
        // the previous revision's pods (a crash-looping bad release among them) linger until
        // the controller has scaled them down.
        let templates: Vec<Template<'_>> = deployments
            .iter()
            .filter_map(|d| d.spec.as_ref())
            .map(|spec| {
                (
                    spec.selector.match_labels.clone().unwrap_or_default(),
                    &spec.template,
                )
            })
            .chain(
                statefulsets
                    .iter()
                    .filter_map(|s| s.spec.as_ref())
                    .map(|spec| {
                        (
                            spec.selector.match_labels.clone().unwrap_or_default(),
                            &spec.template,
                        )
                    }),
            )
            .collect();
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        if let Some(problem) = pods
            .items
            .iter()
            .filter(|pod| of_current_template(pod, &templates))
            .find_map(|pod| pod_problem(pod, now))
        {
            return Err(StepOutcome::fatal(format!(
                "{problem}; fix the image or configuration, then retry this step"
            )));
        }
        if deployments.is_empty() && statefulsets.is_empty() {
            return Ok(StepOutcome::pending_on(
                self.recheck,
                format!("no deployments or statefulsets in {namespace} yet"),
            ));
        }
        let mut waiting = Vec::new();
        let mut ready = Vec::new();
        for deployment in &deployments {
            let name = deployment.metadata.name.clone().unwrap_or_default();
            match deployment_gap(&name, deployment) {
                Some(gap) => waiting.push(gap),
                None => ready.push(format!("deployment/{name}")),
            }
        }
        for statefulset in &statefulsets {
            let name = statefulset.metadata.name.clone().unwrap_or_default();
            let status = statefulset.status.clone().unwrap_or_default();
            let revisions_differ = matches!(
                (&status.current_revision, &status.update_revision),
                (Some(current), Some(update)) if current != update
            );
            let rollout = Rollout {
                kind: "statefulset",
                name: &name,
                generation: statefulset.metadata.generation,
                observed_generation: status.observed_generation,
                want: statefulset
                    .spec
                    .as_ref()
                    .and_then(|s| s.replicas)
                    .unwrap_or(1),
                // The API server leaves a zero out of the status: absent is 0, not unknown
                // (right after an upgrade no replica is updated yet).
                updated: Some(status.updated_replicas.unwrap_or(0)),
                total: Some(status.replicas),
                ready: status.ready_replicas.unwrap_or(0),
                ready_word: "ready",
            };
            let gap = if revisions_differ {
                Some(format!("statefulset {name}: update not rolled out yet"))
            } else {
                rollout.gap()
            };
            match gap {
                Some(gap) => waiting.push(gap),
                None => ready.push(format!("statefulset/{name}")),
            }
        }
        Ok(if waiting.is_empty() {
            StepOutcome::Done(json!({ "ready": ready }))
        } else {
            StepOutcome::pending_on(self.recheck, waiting.join("; "))
        })
    }
}

/// Deletes the store's namespace; one already gone or terminating counts as done, one that
/// is not this store's is refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteNamespace {}

#[typetag::serde(name = "delete-namespace")]
#[async_trait::async_trait]
impl storeflow_engine::Step for DeleteNamespace {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl DeleteNamespace {
    async fn body(&self, cx: &StepContext<'_>) -> StepResult {
        let client = client(cx)?;
        let StoreRunInput {
            namespace,
            store_id,
            ..
        } = StoreRunInput::read(cx)?;
        let store = store_id.as_str();
        let api = Api::<Namespace>::all(client);
        match api
            .get_opt(&namespace)
            .await
            .or_classify(&format!("reading namespace {namespace}"))?
        {
            None => return Ok(json!({ "deleted": namespace, "already_gone": true })),
            Some(existing) if !owned_by(&existing, store) => {
                return Err(foreign_namespace(&namespace));
            }
            Some(existing) if terminating(&existing) => {
                return Ok(json!({ "deleted": namespace, "already_terminating": true }));
            }
            Some(_) => {}
        }
        match api.delete(&namespace, &DeleteParams::default()).await {
            Ok(_) => Ok(json!({ "deleted": namespace })),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                Ok(json!({ "deleted": namespace, "already_gone": true }))
            }
            // A namespace already being deleted: 409 ("ensuring all content is removed") from
            // older API servers; 1.37 answers 200 with the Terminating namespace.
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Ok(json!({ "deleted": namespace, "already_terminating": true }))
            }
            Err(err) => Err(classify(err, &format!("deleting namespace {namespace}"))),
        }
    }
}

/// Durable polling until the namespace no longer exists; while it terminates, says which
/// finalizers hold it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitNamespaceGone {
    /// How long to wait between polls while the namespace terminates (default 5s); waiting
    /// spends no attempt.
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
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl WaitNamespaceGone {
    async fn body(&self, cx: &StepContext<'_>) -> StepResult<StepOutcome> {
        let client = client(cx)?;
        let namespace = StoreRunInput::read(cx)?.namespace;
        let found = Api::<Namespace>::all(client)
            .get_opt(&namespace)
            .await
            .or_classify(&format!("reading namespace {namespace}"))?;
        Ok(match found {
            None => StepOutcome::Done(json!({ "gone": namespace })),
            Some(existing) => {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(generation: i64, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": { "name": "wordpress", "generation": generation },
            "spec": { "replicas": 1, "selector": {}, "template": {} },
            "status": status,
        }))
        .expect("deployment")
    }

    #[test]
    fn a_deployment_just_upgraded_is_not_ready_while_its_old_replica_is_available() {
        // The controller observed the new spec but updated nothing yet: the API server
        // leaves `updatedReplicas: 0` out, and the old replica still counts as available.
        let upgraded = deployment(
            2,
            json!({ "observedGeneration": 2, "replicas": 1, "availableReplicas": 1, "readyReplicas": 1 }),
        );
        assert_eq!(
            deployment_gap("wordpress", &upgraded).as_deref(),
            Some("deployment wordpress: 0/1 updated")
        );
        let rolled_out = deployment(
            2,
            json!({ "observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1 }),
        );
        assert_eq!(deployment_gap("wordpress", &rolled_out), None);
        let unobserved = deployment(3, json!({ "observedGeneration": 2, "updatedReplicas": 1 }));
        assert!(
            deployment_gap("wordpress", &unobserved)
                .is_some_and(|gap| gap.contains("not observed")),
        );
    }
}
