//! Helm steps: install (upgrade --install) and uninstall a store's release with the helm
//! CLI.
//!
//! # Guarantees
//! - Values go to helm in a file created with mode 0600 and removed afterwards, never in
//!   argv. Values must not carry secrets at all (they come from a step's output, which is
//!   stored with the run): store secrets live in the store's own Kubernetes Secret, which the
//!   chart references by name.
//! - A release stuck in `pending-*` or `uninstalling` for longer than helm could still be
//!   working on it is repaired before installing: a pending first install is uninstalled, a
//!   pending upgrade or rollback is rolled back to the newest deployed revision.
//! - helm's `--timeout` is kept below the attempt's remaining time, so helm finishes and
//!   records its outcome instead of being killed mid-operation.
//! - `install-chart` does not `--wait`: readiness is awaited by `wait-ready` with durable
//!   polling, so no worker slot is held for minutes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{OrOutcome, StepContext, StepOutcome, StepResult};

use crate::breaker::{Breakers, guarded};
use crate::store::StoreRunInput;

/// Where helm and the chart are; given to workers with `Worker::with_resource`.
#[derive(Debug, Clone)]
pub struct HelmSettings {
    /// The helm 3 binary (`HELM_BIN`); a missing binary fails the step, it is not retried.
    pub bin: PathBuf,
    /// The ecommerce-store chart directory (`HELM_CHART_PATH`).
    pub chart: PathBuf,
    /// Extra values files applied before the store's own values (e.g. values-local.yaml).
    pub values_files: Vec<PathBuf>,
    /// Passed to helm as `--timeout` (its own API calls; readiness is not awaited).
    pub timeout: Duration,
    /// How long after its last change a `pending-*` release is taken for abandoned (plus
    /// `timeout`): a helm still running elsewhere must not be interrupted
    /// (`HELM_PENDING_GRACE`, default 10m).
    pub pending_grace: Duration,
    /// When storeflow reaches the cluster through its pod's service account, helm is pointed
    /// at the same API server with the same CA and token (`HELM_KUBEAPISERVER`,
    /// `HELM_KUBECAFILE`, `HELM_KUBETOKEN`), so both always act on one cluster as one
    /// identity. `None`: helm reads `KUBECONFIG` like storeflow did.
    pub in_cluster: Option<crate::cluster::InClusterCredentials>,
    /// The kubeconfig helm reads (`KUBECONFIG` in its environment), when storeflow was given
    /// one other than its own environment's (`storeflow up --simulated-cluster`). `None`:
    /// helm inherits storeflow's environment.
    pub kubeconfig: Option<PathBuf>,
}

impl HelmSettings {
    /// From `HELM_BIN` (default `helm`), `HELM_CHART_PATH` (default `charts/ecommerce-store`),
    /// `HELM_VALUES_FILE` (optional), `HELM_TIMEOUT` (default `5m`) and `HELM_PENDING_GRACE`
    /// (default `10m`).
    pub fn from_env() -> Result<HelmSettings, String> {
        let duration = |name: &str, default: Duration| match std::env::var(name) {
            Ok(text) if !text.is_empty() => humantime::parse_duration(&text)
                .map_err(|err| format!("{name} `{text}` is not a duration: {err}")),
            _ => Ok(default),
        };
        let timeout = duration("HELM_TIMEOUT", Duration::from_secs(300))?;
        let pending_grace = duration("HELM_PENDING_GRACE", PENDING_GRACE)?;
        Ok(HelmSettings {
            bin: std::env::var_os("HELM_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| "helm".into()),
            chart: std::env::var_os("HELM_CHART_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| "charts/ecommerce-store".into()),
            values_files: std::env::var_os("HELM_VALUES_FILE")
                .map(PathBuf::from)
                .into_iter()
                .collect(),
            timeout,
            pending_grace,
            in_cluster: None,
            kubeconfig: None,
        })
    }
}

/// A helm invocation's result.
struct HelmOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn helm(settings: &HelmSettings, args: &[&str]) -> Result<HelmOutput, StepOutcome> {
    let mut command = tokio::process::Command::new(&settings.bin);
    if let Some(kubeconfig) = &settings.kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    if let Some(credentials) = &settings.in_cluster {
        // Read for every invocation: the kubelet rotates projected tokens. The token goes to
        // helm in its environment (readable only by this user), never in argv.
        let token = std::fs::read_to_string(&credentials.token_file).map_err(|err| {
            StepOutcome::retry(format!(
                "cannot read the service-account token {} for helm: {err}",
                credentials.token_file.display()
            ))
        })?;
        command
            .env_remove("KUBECONFIG")
            .env("HELM_KUBEAPISERVER", &credentials.server)
            .env("HELM_KUBECAFILE", &credentials.ca_file)
            .env("HELM_KUBETOKEN", token.trim());
    }
    let output = command
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|err| {
            StepOutcome::fatal(format!(
                "cannot run helm at {}: {err}; install Helm 3 or set HELM_BIN",
                settings.bin.display()
            ))
        })?;
    Ok(HelmOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

/// Helm failures caused by the cluster being unreachable or busy are retried; the rest
/// (template errors, invalid values, refused objects) are permanent. The message keeps at
/// most the first 1,000 characters of helm's stderr.
fn helm_failure(doing: &str, stderr: &str) -> StepOutcome {
    let transient = [
        "connection refused",
        "connection reset",
        "i/o timeout",
        "context deadline exceeded",
        "timed out waiting",
        "request timed out",
        "unexpected eof",
        "no such host",
        "client connection lost",
        "kubernetes cluster unreachable",
        "the server is currently unable to handle the request",
        "another operation (install/upgrade/rollback) is in progress",
        "tls handshake",
        "service unavailable",
        "too many requests",
    ];
    let lower = stderr.to_lowercase();
    let shown: String = stderr.chars().take(1000).collect();
    let message = format!("{doing} failed: {shown}");
    if lower.contains("another operation") {
        // The release is busy, not helm or the cluster: retry without counting an outage.
        StepOutcome::retry(message)
    } else if transient.iter().any(|t| lower.contains(t)) {
        crate::breaker::unavailable(message)
    } else {
        StepOutcome::fatal(format!(
            "{message}; fix the chart or its values, then retry this step"
        ))
    }
}

/// The values the store's release (release = namespace) was last installed with
/// (`helm get values -o json`).
pub async fn release_values(
    settings: &HelmSettings,
    namespace: &str,
) -> Result<Value, StepOutcome> {
    let output = helm(
        settings,
        &[
            "get",
            "values",
            namespace,
            "--namespace",
            namespace,
            "-o",
            "json",
        ],
    )
    .await?;
    if output.success {
        Ok(serde_json::from_str::<Value>(&output.stdout).unwrap_or_else(|_| json!({})))
    } else {
        Err(helm_failure(
            &format!("reading the values of release {namespace}"),
            &output.stderr,
        ))
    }
}

/// helm's answer when the release does not exist.
fn release_not_found(stderr: &str) -> bool {
    stderr.to_lowercase().contains("release: not found")
}

/// A values file that exists (mode 0600) for as long as this value lives; the files of
/// SIGKILLed workers are swept by the next one written ([`crate::scratch`]).
struct ValuesFile(PathBuf);

const VALUES_PREFIX: &str = "storeflow-values-";

impl ValuesFile {
    fn write(values: &Value) -> std::io::Result<ValuesFile> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::env::temp_dir();
        // A helm call lasts at most its timeout (15 min by default).
        crate::scratch::sweep(&dir, VALUES_PREFIX, std::time::Duration::from_secs(60 * 60));
        let path = crate::scratch::path(&dir, VALUES_PREFIX, &format!("{}.json", uuid_like()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        // From here on the file is removed however this ends (a failed write included).
        let guard = ValuesFile(path);
        file.write_all(values.to_string().as_bytes())?;
        Ok(guard)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ValuesFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn uuid_like() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `helm upgrade --install` of the store's release (release = namespace = store id).
/// Values: the `values` object in the output of the step named `values_from` (if any),
/// plus `storeId` and `engine`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstallChart {
    /// The step whose output holds the chart's `values` (a [`crate::chart::StoreValues`]
    /// step); one that produced none fails the install. `None`: only `storeId` and `engine`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_from: Option<String>,
}

/// The worker's helm settings (a missing resource is a deployment error: the run fails).
fn helm_settings(cx: &StepContext<'_>) -> StepResult<HelmSettings> {
    Ok(cx
        .resource::<HelmSettings>()
        .map_err(StepOutcome::Fatal)?
        .clone())
}

#[typetag::serde(name = "install-chart")]
#[async_trait::async_trait]
impl storeflow_engine::Step for InstallChart {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.helm), self.body(cx)).await
    }
}

impl InstallChart {
    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.attempt(cx).await)
    }

    async fn attempt(&self, cx: &StepContext<'_>) -> StepResult {
        let settings = helm_settings(cx)?;
        let input = StoreRunInput::read(cx)?;
        let (store, namespace) = (input.store_id.as_str(), input.namespace.as_str());
        let engine = input.engine()?;
        let mut values = match &self.values_from {
            Some(step) => match cx.output_of(step).and_then(|o| o.get("values")) {
                Some(values) => values.clone(),
                None => {
                    return Err(StepOutcome::fatal(format!(
                        "step `{step}` produced no `values` for the chart"
                    )));
                }
            },
            None => json!({}),
        };
        let Some(object) = values.as_object_mut() else {
            return Err(StepOutcome::fatal("the chart values must be a JSON object"));
        };
        object.insert("storeId".into(), json!(store));
        object.insert("engine".into(), json!(engine));

        // Repair a release left pending by a helm process that died mid-operation.
        repair_pending(&settings, namespace).await?;
        // Waiting for a pending release to be repairable can use up most of this attempt;
        // helm with a minute left would be killed mid-operation and leave it pending again.
        // A fresh attempt gets the step's whole timeout.
        let needed = settings.timeout.min(Duration::from_secs(120));
        if cx.time_left < needed {
            return Err(StepOutcome::retry(format!(
                "only {} s of this attempt are left, too little for helm; installing in a fresh attempt",
                cx.time_left.as_secs()
            )));
        }

        let file = ValuesFile::write(&values).or_retry("writing the values file")?;
        let chart = settings.chart.to_string_lossy().into_owned();
        // helm must finish (and record the outcome) before this attempt's time runs out,
        // or it would be killed mid-operation and leave the release pending.
        let budget = cx
            .time_left
            .saturating_sub(Duration::from_secs(15))
            .max(Duration::from_secs(1));
        let timeout = format!("{}s", settings.timeout.min(budget).as_secs().max(1));
        let mut args: Vec<String> = vec![
            "upgrade".into(),
            "--install".into(),
            namespace.into(),
            chart,
            "--namespace".into(),
            namespace.into(),
        ];
        for extra in &settings.values_files {
            args.push("--values".into());
            args.push(extra.to_string_lossy().into_owned());
        }
        args.push("--values".into());
        args.push(file.path().to_string_lossy().into_owned());
        args.extend(["--timeout".into(), timeout, "-o".into(), "json".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = helm(&settings, &args).await?;
        drop(file);
        if !output.success {
            return Err(helm_failure(
                &format!("installing release {namespace}"),
                &output.stderr,
            ));
        }
        let release = serde_json::from_str::<Value>(&output.stdout).unwrap_or_default();
        let mut done = json!({ "release": namespace, "revision": release["version"].as_i64() });
        add_versions(&mut done, &release);
        Ok(done)
    }
}

/// Copies the chart and app version of a release as helm prints it (`-o json`) into a
/// step's output (`chartVersion`, `appVersion`), where the store's versions are read from.
fn add_versions(output: &mut Value, release: &Value) {
    let metadata = &release["chart"]["metadata"];
    for (key, field) in [("chartVersion", "version"), ("appVersion", "appVersion")] {
        if let Some(version) = metadata[field].as_str() {
            output[key] = json!(version);
        }
    }
}

/// The store's release as it is before an upgrade: its revision, chart and app version, and
/// the values it was given (an upgrade keeps those no step of its own can compute, e.g.
/// Medusa's publishable key). A release left pending by a dead helm is repaired first; one
/// that is not `deployed` is not upgraded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecordRelease {}

#[typetag::serde(name = "record-release")]
#[async_trait::async_trait]
impl storeflow_engine::Step for RecordRelease {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.helm), self.body(cx)).await
    }
}

impl RecordRelease {
    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.attempt(cx).await)
    }

    async fn attempt(&self, cx: &StepContext<'_>) -> StepResult {
        let settings = helm_settings(cx)?;
        let namespace = StoreRunInput::read(cx)?.namespace;
        let namespace = namespace.as_str();
        repair_pending(&settings, namespace).await?;
        let release = release_status(&settings, namespace).await?;
        let state = release["info"]["status"].as_str().unwrap_or("unknown");
        if state != "deployed" {
            return Err(StepOutcome::fatal(format!(
                "release {namespace} is {state}, not deployed, so there is no working revision \
                 to come back to; repair it (helm history / helm rollback) and upgrade again"
            )));
        }
        let values = release_values(&settings, namespace).await?;
        // `helm status` leaves the chart out; `helm get metadata` names its versions.
        let metadata = match helm(
            &settings,
            &[
                "get",
                "metadata",
                namespace,
                "--namespace",
                namespace,
                "-o",
                "json",
            ],
        )
        .await
        {
            Ok(output) if output.success => {
                serde_json::from_str::<Value>(&output.stdout).unwrap_or_default()
            }
            Ok(output) => {
                return Err(helm_failure(
                    &format!("reading the chart of release {namespace}"),
                    &output.stderr,
                ));
            }
            Err(outcome) => return Err(outcome),
        };
        let mut done = json!({
            "release": namespace,
            "revision": release["version"].as_i64(),
            "values": if values.is_object() { values } else { json!({}) },
        });
        add_versions(
            &mut done,
            &json!({ "chart": { "metadata": {
                "version": metadata["version"], "appVersion": metadata["appVersion"] } } }),
        );
        Ok(done)
    }
}

/// `helm status -o json` of a release.
async fn release_status(settings: &HelmSettings, release: &str) -> Result<Value, StepOutcome> {
    let status = helm(
        settings,
        &["status", release, "--namespace", release, "-o", "json"],
    )
    .await?;
    if !status.success {
        return Err(helm_failure(
            &format!("reading release {release}"),
            &status.stderr,
        ));
    }
    serde_json::from_str(&status.stdout).map_err(|err| {
        StepOutcome::retry(format!(
            "helm printed no release for {release} ({err}); is HELM_BIN helm 3?"
        ))
    })
}

/// Compensation of an upgrade: `helm rollback` of the store's release to the revision the
/// step `to` recorded ([`RecordRelease`]). Nothing to do when that step never finished (the
/// release was not touched) or the release is still at that revision. Like install, it does
/// not `--wait`: readiness is awaited by the next step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackChart {
    /// The name of the `record-release` step whose revision to go back to.
    pub to: String,
}

#[typetag::serde(name = "rollback-chart")]
#[async_trait::async_trait]
impl storeflow_engine::Step for RollbackChart {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.helm), self.body(cx)).await
    }
}

impl RollbackChart {
    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.attempt(cx).await)
    }

    async fn attempt(&self, cx: &StepContext<'_>) -> StepResult {
        let settings = helm_settings(cx)?;
        let namespace = StoreRunInput::read(cx)?.namespace;
        let namespace = namespace.as_str();
        let recorded = cx.output_of(&self.to).cloned().unwrap_or(Value::Null);
        let Some(target) = recorded["revision"].as_i64() else {
            return Ok(json!({
                "rolledBack": false,
                "reason": format!("`{}` did not record a revision: the release was not changed", self.to),
            }));
        };
        repair_pending(&settings, namespace).await?;
        let current = release_status(&settings, namespace).await?;
        let mut done = json!({ "release": namespace, "revision": target });
        done["chartVersion"] = recorded["chartVersion"].clone();
        done["appVersion"] = recorded["appVersion"].clone();
        if current["version"].as_i64() == Some(target)
            && current["info"]["status"].as_str() == Some("deployed")
        {
            done["rolledBack"] = json!(false);
            done["reason"] = json!(format!("release {namespace} is still at revision {target}"));
            return Ok(done);
        }
        let budget = cx
            .time_left
            .saturating_sub(Duration::from_secs(15))
            .max(Duration::from_secs(1));
        let timeout = format!("{}s", settings.timeout.min(budget).as_secs().max(1));
        let revision = target.to_string();
        let output = helm(
            &settings,
            &[
                "rollback",
                namespace,
                &revision,
                "--namespace",
                namespace,
                "--timeout",
                &timeout,
            ],
        )
        .await?;
        if !output.success {
            return Err(helm_failure(
                &format!("rolling release {namespace} back to revision {target}"),
                &output.stderr,
            ));
        }
        done["rolledBack"] = json!(true);
        done["from"] = current["version"].clone();
        Ok(done)
    }
}

/// How long after its last change a pending release is taken for abandoned (a helm process
/// still running elsewhere must not be interrupted), by default.
const PENDING_GRACE: Duration = Duration::from_secs(600);

/// Brings a release out of `pending-*` / `uninstalling` if the operation that left it there
/// is dead: a pending first install is uninstalled; a pending upgrade or rollback is rolled
/// back to the newest revision that was deployed (or uninstalled if there is none).
async fn repair_pending(settings: &HelmSettings, release: &str) -> Result<(), StepOutcome> {
    let status = helm(
        settings,
        &["status", release, "--namespace", release, "-o", "json"],
    )
    .await?;
    if !status.success {
        if release_not_found(&status.stderr) {
            return Ok(());
        }
        return Err(helm_failure(
            &format!("reading release {release}"),
            &status.stderr,
        ));
    }
    let parsed: Value = serde_json::from_str(&status.stdout).unwrap_or_default();
    let state = parsed["info"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !(state.starts_with("pending-") || state == "uninstalling") {
        return Ok(());
    }
    let changed = parsed["info"]["last_deployed"]
        .as_str()
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
    let age = changed.map(|t| k8s_openapi::jiff::Timestamp::now().as_second() - t.as_second());
    let grace = settings.pending_grace.as_secs() + settings.timeout.as_secs();
    if let Some(age) = age.filter(|age| *age >= 0 && (*age as u64) < grace) {
        // Waiting, not failing: after a worker was killed mid-helm the release stays pending
        // for the whole grace period, longer than the retry budget would last. The step's
        // timeout bounds the wait.
        let remaining = grace - age as u64;
        return Err(StepOutcome::pending_on(
            Duration::from_secs(remaining.clamp(1, 30)),
            format!(
                "release {release} is {state} since {age} s; another helm operation may still be \
                 running, so it is repaired only after {grace} s ({remaining} s from now)"
            ),
        ));
    }
    let target = if state == "pending-install" || state == "uninstalling" {
        None
    } else {
        let history = helm(
            settings,
            &["history", release, "--namespace", release, "-o", "json"],
        )
        .await?;
        if !history.success {
            return Err(helm_failure(
                &format!("reading the history of release {release}"),
                &history.stderr,
            ));
        }
        serde_json::from_str::<Vec<Value>>(&history.stdout)
            .unwrap_or_default()
            .iter()
            .filter(|r| matches!(r["status"].as_str(), Some("deployed" | "superseded")))
            .filter_map(|r| r["revision"].as_i64())
            .max()
    };
    let revision;
    let args: Vec<&str> = match target {
        Some(found) => {
            revision = found.to_string();
            vec!["rollback", release, &revision, "--namespace", release]
        }
        None => vec!["uninstall", release, "--namespace", release],
    };
    let output = helm(settings, &args).await?;
    if output.success || (args[0] == "uninstall" && release_not_found(&output.stderr)) {
        Ok(())
    } else {
        Err(helm_failure(
            &format!("repairing release {release} ({state})"),
            &output.stderr,
        ))
    }
}

/// `helm uninstall` of the store's release; a release that is already gone counts as done.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UninstallChart {}

#[typetag::serde(name = "uninstall-chart")]
#[async_trait::async_trait]
impl storeflow_engine::Step for UninstallChart {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.helm), self.body(cx)).await
    }
}

impl UninstallChart {
    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.attempt(cx).await)
    }

    async fn attempt(&self, cx: &StepContext<'_>) -> StepResult {
        let settings = helm_settings(cx)?;
        // Only the namespace (= release) is needed: orphan namespaces have no store row.
        let namespace = StoreRunInput::read(cx)?.namespace;
        let namespace = namespace.as_str();
        match helm(
            &settings,
            &["uninstall", namespace, "--namespace", namespace],
        )
        .await
        {
            Ok(output) if output.success => Ok(json!({ "release": namespace })),
            Ok(output) if release_not_found(&output.stderr) => {
                Ok(json!({ "release": namespace, "already_gone": true }))
            }
            Ok(output) => Err(helm_failure(
                &format!("uninstalling release {namespace}"),
                &output.stderr,
            )),
            Err(outcome) => Err(outcome),
        }
    }
}
