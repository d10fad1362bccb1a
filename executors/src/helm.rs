//! Helm steps: install (upgrade --install) and uninstall a store's release with the helm
//! CLI.
//!
//! # Guarantees
//! - Values go to helm in a file created with mode 0600 and removed afterwards; nothing
//!   secret is ever put in argv (store secrets live in the store's own Kubernetes Secret,
//!   which the chart references).
//! - A release stuck in `pending-*` (a helm process died mid-operation) is repaired before
//!   installing: a pending first install is uninstalled, a pending upgrade or rollback is
//!   rolled back.
//! - `install-chart` does not `--wait`: readiness is awaited by `wait-ready` with durable
//!   polling, so no worker slot is held for minutes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{StepContext, StepOutcome};

/// Where helm and the chart are; given to workers with `Worker::with_resource`.
#[derive(Debug, Clone)]
pub struct HelmSettings {
    pub bin: PathBuf,
    pub chart: PathBuf,
    /// Extra values files applied before the store's own values (e.g. values-local.yaml).
    pub values_files: Vec<PathBuf>,
    /// Passed to helm as `--timeout` (its own API calls; readiness is not awaited).
    pub timeout: Duration,
}

impl HelmSettings {
    /// From `HELM_BIN` (default `helm`), `HELM_CHART_PATH` (default `charts/ecommerce-store`),
    /// `HELM_VALUES_FILE` (optional) and `HELM_TIMEOUT` (default `5m`).
    pub fn from_env() -> Result<HelmSettings, String> {
        let timeout = match std::env::var("HELM_TIMEOUT") {
            Ok(text) if !text.is_empty() => humantime::parse_duration(&text)
                .map_err(|err| format!("HELM_TIMEOUT `{text}` is not a duration: {err}"))?,
            _ => Duration::from_secs(300),
        };
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
    let output = tokio::process::Command::new(&settings.bin)
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
/// (template errors, invalid values, refused objects) are permanent.
fn helm_failure(doing: &str, stderr: &str) -> StepOutcome {
    let transient = [
        "connection refused",
        "i/o timeout",
        "timeout",
        "kubernetes cluster unreachable",
        "another operation (install/upgrade/rollback) is in progress",
        "tls handshake",
        "service unavailable",
        "too many requests",
    ];
    let lower = stderr.to_lowercase();
    let message = format!("{doing} failed: {stderr}");
    if transient.iter().any(|t| lower.contains(t)) {
        StepOutcome::retry(message)
    } else {
        StepOutcome::fatal(format!(
            "{message}; fix the chart or its values, then retry this step"
        ))
    }
}

/// A values file that exists (mode 0600) for as long as this value lives.
struct ValuesFile(PathBuf);

impl ValuesFile {
    fn write(values: &Value) -> std::io::Result<ValuesFile> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = std::env::temp_dir().join(format!("storeflow-values-{}.json", uuid_like()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(values.to_string().as_bytes())?;
        Ok(ValuesFile(path))
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

fn store_input<'a>(cx: &'a StepContext<'_>) -> Result<(&'a str, &'a str, &'a str), StepOutcome> {
    let field = |name: &str| {
        cx.input
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| StepOutcome::fatal(format!("the run input has no `{name}`")))
    };
    Ok((field("store_id")?, field("namespace")?, field("engine")?))
}

/// `helm upgrade --install` of the store's release (release = namespace = store id).
/// Values: the `values` object in the output of the step named `values_from` (if any),
/// plus `storeId` and `engine`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstallChart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_from: Option<String>,
}

#[typetag::serde(name = "install-chart")]
#[async_trait::async_trait]
impl storeflow_engine::Step for InstallChart {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let settings = match cx.resource::<HelmSettings>() {
            Ok(settings) => settings.clone(),
            Err(err) => return StepOutcome::Fatal(err),
        };
        let (store, namespace, engine) = match store_input(cx) {
            Ok(values) => values,
            Err(outcome) => return outcome,
        };
        let mut values = match &self.values_from {
            Some(step) => match cx.output_of(step).and_then(|o| o.get("values")) {
                Some(values) => values.clone(),
                None => {
                    return StepOutcome::fatal(format!(
                        "step `{step}` produced no `values` for the chart"
                    ));
                }
            },
            None => json!({}),
        };
        values["storeId"] = json!(store);
        values["engine"] = json!(engine);

        // Repair a release left pending by a helm process that died mid-operation.
        let status = match helm(
            &settings,
            &["status", namespace, "--namespace", namespace, "-o", "json"],
        )
        .await
        {
            Ok(output) => output,
            Err(outcome) => return outcome,
        };
        if status.success {
            let state = serde_json::from_str::<Value>(&status.stdout)
                .ok()
                .and_then(|v| v["info"]["status"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let repair: Option<Vec<&str>> = match state.as_str() {
                "pending-install" => Some(vec!["uninstall", namespace, "--namespace", namespace]),
                "pending-upgrade" | "pending-rollback" => {
                    Some(vec!["rollback", namespace, "--namespace", namespace])
                }
                _ => None,
            };
            if let Some(args) = repair {
                match helm(&settings, &args).await {
                    Ok(output) if output.success => {}
                    Ok(output) => {
                        return helm_failure(
                            &format!("repairing release {namespace} ({state})"),
                            &output.stderr,
                        );
                    }
                    Err(outcome) => return outcome,
                }
            }
        } else if !status.stderr.to_lowercase().contains("not found") {
            return helm_failure(&format!("reading release {namespace}"), &status.stderr);
        }

        let file = match ValuesFile::write(&values) {
            Ok(file) => file,
            Err(err) => return StepOutcome::retry(format!("writing the values file: {err}")),
        };
        let chart = settings.chart.to_string_lossy().into_owned();
        let timeout = format!("{}s", settings.timeout.as_secs().max(1));
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
        let output = match helm(&settings, &args).await {
            Ok(output) => output,
            Err(outcome) => return outcome,
        };
        drop(file);
        if !output.success {
            return helm_failure(&format!("installing release {namespace}"), &output.stderr);
        }
        let revision = serde_json::from_str::<Value>(&output.stdout)
            .ok()
            .and_then(|v| v["version"].as_i64());
        StepOutcome::Done(json!({ "release": namespace, "revision": revision }))
    }
}

/// `helm uninstall` of the store's release; a release that is already gone counts as done.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UninstallChart {}

#[typetag::serde(name = "uninstall-chart")]
#[async_trait::async_trait]
impl storeflow_engine::Step for UninstallChart {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let settings = match cx.resource::<HelmSettings>() {
            Ok(settings) => settings.clone(),
            Err(err) => return StepOutcome::Fatal(err),
        };
        let namespace = match store_input(cx) {
            Ok((_, namespace, _)) => namespace,
            Err(outcome) => return outcome,
        };
        match helm(
            &settings,
            &["uninstall", namespace, "--namespace", namespace],
        )
        .await
        {
            Ok(output) if output.success => StepOutcome::Done(json!({ "release": namespace })),
            Ok(output) if output.stderr.to_lowercase().contains("not found") => {
                StepOutcome::Done(json!({ "release": namespace, "already_gone": true }))
            }
            Ok(output) => {
                helm_failure(&format!("uninstalling release {namespace}"), &output.stderr)
            }
            Err(outcome) => outcome,
        }
    }
}
