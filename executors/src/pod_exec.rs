//! Running a command in a store's pod through the Kubernetes exec API (WebSocket), and the
//! generic `exec` step engine authors can put in a workflow.
//!
//! # Guarantees
//! - The command is an argv, sent element by element; nothing is ever joined into a shell
//!   string. Secrets go through standard input (e.g. WP-CLI's `--prompt=`), never argv.
//! - The pod is chosen by the chart's labels (`app.kubernetes.io/name` + `instance`) among
//!   pods that are Running, Ready and not being deleted.
//! - Output is captured (at most [`MAX_OUTPUT`] bytes per stream) and the exit code checked,
//!   or, with [`run_piped`], streamed in and out without being held in memory.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, ListParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storeflow_engine::{StepContext, StepOutcome, StepResult};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use crate::breaker::{Breakers, guarded};
use crate::kubernetes::{classify, client};
use crate::store::StoreRunInput;

const STDIN_CHANNEL: u8 = 0;
const STDOUT_CHANNEL: u8 = 1;
const STDERR_CHANNEL: u8 = 2;
const STATUS_CHANNEL: u8 = 3;
const CLOSE_CHANNEL: u8 = 255;

/// Bytes kept of each output stream.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The first [`MAX_OUTPUT`] bytes of standard output (lossy UTF-8).
    pub stdout: String,
    /// The first [`MAX_OUTPUT`] bytes of standard error (lossy UTF-8).
    pub stderr: String,
    /// The exit code; 1 when the command failed without reporting one.
    pub code: i32,
}

impl ExecOutput {
    /// Exited 0.
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
    /// The store's namespace.
    pub namespace: &'a str,
    /// The pod's `app.kubernetes.io/instance` label: the helm release (the store's namespace).
    pub instance: &'a str,
    /// The pod's `app.kubernetes.io/name` label (e.g. `wordpress`, `medusa`).
    pub app: &'a str,
    /// The container in that pod to run in.
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
    let mut stdout = CappedBuffer::default();
    let ended = run_piped(client, target, argv, stdin, Some(&mut stdout), time_left).await?;
    Ok(ExecOutput {
        stdout: String::from_utf8_lossy(&stdout.bytes).into_owned(),
        stderr: ended.stderr,
        code: ended.code,
    })
}

/// How a piped command ended: its exit code and the start of what it wrote to stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The first [`MAX_OUTPUT`] bytes of standard error (lossy UTF-8).
    pub stderr: String,
    /// The exit code; 1 when the command failed without reporting one.
    pub code: i32,
}

/// Keeps the first [`MAX_OUTPUT`] bytes written to it and drops the rest.
#[derive(Debug, Default)]
struct CappedBuffer {
    bytes: Vec<u8>,
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let room = MAX_OUTPUT.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&buf[..buf.len().min(room)]);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Runs `argv` in the target container with its standard streams piped: `stdin` is copied
/// in (then closed), stdout is copied into `stdout` as it arrives (never held whole: backups
/// stream gigabytes through here), stderr is kept up to [`MAX_OUTPUT`]. Fails with an
/// outcome when the call itself fails, or when `stdout` refuses a write (its error is the
/// reason); a command that exits non-zero is an `Ok` with its code.
pub async fn run_piped<I, O>(
    client: kube::Client,
    target: &Target<'_>,
    argv: &[String],
    stdin: Option<I>,
    stdout: Option<&mut O>,
    time_left: Duration,
) -> Result<Ended, StepOutcome>
where
    I: tokio::io::AsyncRead + Unpin + Send,
    O: tokio::io::AsyncWrite + Unpin + Send + ?Sized,
{
    // Boxed: the exec machinery is a large future, and every step that runs commands holds it.
    Box::pin(exec_piped(client, target, argv, stdin, stdout, time_left)).await
}

async fn exec_piped<I, O>(
    client: kube::Client,
    target: &Target<'_>,
    argv: &[String],
    stdin: Option<I>,
    stdout: Option<&mut O>,
    time_left: Duration,
) -> Result<Ended, StepOutcome>
where
    I: tokio::io::AsyncRead + Unpin + Send,
    O: tokio::io::AsyncWrite + Unpin + Send + ?Sized,
{
    let pods: Api<Pod> = Api::namespaced(client.clone(), target.namespace);
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
        // Our own reader of the exec protocol rather than kube's `AttachedProcess`: that stops
        // at the status frame, and the API server's websocket translation may still send
        // stdout after it (seen on a real API server: a 48 MiB tar arrived 4 MiB short).
        // This one reads until the server closes the connection.
        let request =
            kube::core::Request::new(format!("/api/v1/namespaces/{}/pods", target.namespace))
                .exec(&pod, argv.to_vec(), &params)
                .map_err(|err| StepOutcome::fatal(format!("{doing}: {err}")))?;
        let connection = client
            .connect(request)
            .await
            .map_err(|err| classify(err, &doing))?;
        let closes_stdin = connection.supports_stream_close();
        let (mut send, mut receive) = futures::StreamExt::split(connection.into_stream());
        let feed = async {
            use futures::SinkExt;
            if let Some(mut input) = stdin {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let read = tokio::io::AsyncReadExt::read(&mut input, &mut buffer[1..])
                        .await
                        .map_err(|err| format!("reading stdin: {err}"))?;
                    if read == 0 {
                        break;
                    }
                    let mut frame = Vec::with_capacity(read + 1);
                    frame.push(STDIN_CHANNEL);
                    frame.extend_from_slice(&buffer[1..=read]);
                    send.send(Message::binary(frame))
                        .await
                        .map_err(|err| format!("writing stdin: {err}"))?;
                }
                if closes_stdin {
                    send.send(Message::binary(vec![CLOSE_CHANNEL, STDIN_CHANNEL]))
                        .await
                        .map_err(|err| format!("closing stdin: {err}"))?;
                }
            }
            Ok::<_, String>(send)
        };
        let drain = async {
            let mut stdout = stdout;
            let mut kept = CappedBuffer::default();
            let mut status: Option<Status> = None;
            loop {
                // After the status, what is still coming comes at once; a server that never
                // closes is not waited on for long.
                let next = match status {
                    Some(_) => match tokio::time::timeout(
                        Duration::from_secs(10),
                        futures::StreamExt::next(&mut receive),
                    )
                    .await
                    {
                        Ok(next) => next,
                        Err(_) => break,
                    },
                    None => futures::StreamExt::next(&mut receive).await,
                };
                let bytes = match next {
                    None | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => return Err(format!("reading the output: {err}")),
                };
                let Some((&channel, data)) = bytes.split_first() else {
                    continue;
                };
                match channel {
                    STDOUT_CHANNEL => {
                        if let Some(out) = stdout.as_mut() {
                            out.write_all(data).await.map_err(|err| err.to_string())?;
                        }
                    }
                    STDERR_CHANNEL => {
                        let _ = kept.write_all(data).await;
                    }
                    STATUS_CHANNEL => {
                        status = serde_json::from_slice(data).ok();
                    }
                    _ => {}
                }
            }
            if let Some(out) = stdout.as_mut() {
                out.flush().await.map_err(|err| err.to_string())?;
            }
            Ok((status, String::from_utf8_lossy(&kept.bytes).into_owned()))
        };
        let (fed, drained) = tokio::join!(feed, drain);
        let (status, stderr) =
            drained.map_err(|err| StepOutcome::retry(format!("{doing}: {err}")))?;
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
        if code == 0 {
            let _sender = fed.map_err(|err| StepOutcome::retry(format!("{doing}: {err}")))?;
        }
        Ok(Ended { stderr, code })
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
    let namespace = StoreRunInput::namespace_of(cx)?;
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
    /// The container to run in.
    pub container: String,
    /// The command, one element per argument; must not be empty. Shown in error messages,
    /// so never a secret.
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
    async fn body(&self, cx: &StepContext<'_>) -> StepResult {
        if self.argv.is_empty() {
            return Err(StepOutcome::fatal("the exec step has an empty argv"));
        }
        let client = client(cx)?;
        let target = store_target(cx, &self.app, &self.container)?;
        let output = run(client, &target, &self.argv, None, cx.time_left).await?;
        if !output.success() {
            return Err(StepOutcome::retry(format!(
                "`{}` exited with {}: {}",
                self.argv.join(" "),
                output.code,
                output.summary()
            )));
        }
        Ok(json!({ "stdout": output.stdout.chars().take(4096).collect::<String>() }))
    }
}
