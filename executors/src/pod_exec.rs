//! Running a command in a store's pod through the Kubernetes exec API (WebSocket), and the
//! generic `exec` step engine authors can put in a workflow.
//!
//! # Guarantees
//! - The command is an argv, sent element by element; nothing is ever joined into a shell
//!   string. Secrets go through standard input (e.g. WP-CLI's `--prompt=`), never argv.
//! - The pod is chosen by the chart's labels (`app.kubernetes.io/name` + `instance`) among
//!   pods that are Running, Ready and not being deleted.
//! - Output is captured (at most [`MAX_OUTPUT`] bytes per stream) and the exit code checked.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storeflow_engine::{StepContext, StepOutcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::breaker::{Breakers, guarded};
use crate::kubernetes::{classify, client, input_str};

/// Bytes kept of each output stream.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The first lines of stderr (or stdout), for an error message.
    pub fn summary(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        text.trim().chars().take(500).collect()
    }
}

/// Where to run: the pod of `app` in the store's namespace, container `container`.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub namespace: &'a str,
    pub instance: &'a str,
    pub app: &'a str,
    pub container: &'a str,
}

async fn ready_pod(pods: &Api<Pod>, target: &Target<'_>) -> Result<String, StepOutcome> {
    let selector = format!(
        "app.kubernetes.io/name={},app.kubernetes.io/instance={}",
        target.app, target.instance
    );
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|err| {
            classify(
                err,
                &format!("listing the {} pods of {}", target.app, target.namespace),
            )
        })?;
    let ready = list.items.into_iter().find(|pod| {
        let status = pod.status.as_ref();
        pod.metadata.deletion_timestamp.is_none()
            && status.and_then(|s| s.phase.as_deref()) == Some("Running")
            && status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    });
    ready.and_then(|pod| pod.metadata.name).ok_or_else(|| {
        StepOutcome::pending_on(
            Duration::from_secs(5),
            format!("no ready {} pod in {} yet", target.app, target.namespace),
        )
    })
}

/// Runs `argv` in the target container, feeding `stdin` (then closing it) if given. Fails
/// with an outcome when the call itself fails (not when the command exits non-zero).
pub async fn run(
    client: kube::Client,
    target: &Target<'_>,
    argv: &[String],
    stdin: Option<&[u8]>,
    time_left: Duration,
) -> Result<ExecOutput, StepOutcome> {
    let pods: Api<Pod> = Api::namespaced(client, target.namespace);
    let pod = ready_pod(&pods, target).await?;
    let params = AttachParams::default()
        .container(target.container)
        .stdin(stdin.is_some())
        .stdout(true)
        .stderr(true);
    let program = argv.first().cloned().unwrap_or_default();
    let doing = format!(
        "running `{program}` in {}/{} ({})",
        target.namespace, pod, target.container
    );
    let call = async {
        let mut attached = pods
            .exec(&pod, argv.to_vec(), &params)
            .await
            .map_err(|err| classify(err, &doing))?;
        if let (Some(input), Some(mut writer)) = (stdin, attached.stdin()) {
            writer
                .write_all(input)
                .await
                .map_err(|err| StepOutcome::retry(format!("{doing}: writing stdin: {err}")))?;
            writer
                .shutdown()
                .await
                .map_err(|err| StepOutcome::retry(format!("{doing}: closing stdin: {err}")))?;
        }
        let read = |stream: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let mut chunk = [0u8; 8192];
                loop {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) if bytes.len() < MAX_OUTPUT => bytes.extend_from_slice(&chunk[..n]),
                        Ok(_) => {}
                    }
                }
            }
            bytes.truncate(MAX_OUTPUT);
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let status = attached.take_status();
        let (stdout, stderr) = tokio::join!(read(attached.stdout()), read(attached.stderr()));
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        let _ = attached.join().await;
        let code = match status {
            Some(status) if status.status.as_deref() == Some("Success") => 0,
            Some(status) => status
                .details
                .as_ref()
                .and_then(|d| d.causes.as_ref())
                .and_then(|causes| {
                    causes
                        .iter()
                        .find(|c| c.reason.as_deref() == Some("ExitCode"))
                        .and_then(|c| c.message.as_deref())
                        .and_then(|m| m.parse().ok())
                })
                .unwrap_or(1),
            None => {
                return Err(StepOutcome::retry(format!(
                    "{doing}: the connection ended without an exit status"
                )));
            }
        };
        Ok(ExecOutput {
            stdout,
            stderr,
            code,
        })
    };
    // Boxed: the exec machinery is a large future, and every step that runs commands holds it.
    match tokio::time::timeout(time_left.max(Duration::from_secs(1)), Box::pin(call)).await {
        Ok(result) => result,
        Err(_) => Err(StepOutcome::retry(format!(
            "{doing}: no answer within {} s",
            time_left.as_secs()
        ))),
    }
}

/// The target of a store step: the store's namespace and release from the run input.
pub fn store_target<'a>(
    cx: &'a StepContext<'_>,
    app: &'a str,
    container: &'a str,
) -> Result<Target<'a>, StepOutcome> {
    let namespace = input_str(cx, "namespace")?;
    Ok(Target {
        namespace,
        instance: namespace,
        app,
        container,
    })
}

/// Runs an argv in one of the store's containers and fails unless it exits 0. Parameters are
/// part of the definition (never secrets); for engine authors' own commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exec {
    /// `app.kubernetes.io/name` of the pod (e.g. `wordpress`).
    pub app: String,
    pub container: String,
    pub argv: Vec<String>,
}

#[typetag::serde(name = "exec")]
#[async_trait::async_trait]
impl storeflow_engine::Step for Exec {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl Exec {
    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        if self.argv.is_empty() {
            return StepOutcome::fatal("the exec step has an empty argv");
        }
        let (client, target) = match (client(cx), store_target(cx, &self.app, &self.container)) {
            (Ok(client), Ok(target)) => (client, target),
            (Err(outcome), _) | (_, Err(outcome)) => return outcome,
        };
        match run(client, &target, &self.argv, None, cx.time_left).await {
            Ok(output) if output.success() => StepOutcome::Done(json!({
                "stdout": output.stdout.chars().take(4096).collect::<String>(),
            })),
            Ok(output) => StepOutcome::retry(format!(
                "`{}` exited with {}: {}",
                self.argv.join(" "),
                output.code,
                output.summary()
            )),
            Err(outcome) => outcome,
        }
    }
}
