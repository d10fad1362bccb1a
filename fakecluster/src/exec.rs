//! `pods/exec` over WebSocket with the Kubernetes channel protocol (`v5.channel.k8s.io`):
//! binary frames whose first byte is the channel — 0 stdin, 1 stdout, 2 stderr, 3 the final
//! `Status`, 255 "close channel" (v5: `[255, 0]` ends stdin). What a command prints comes
//! from the simulated WordPress site (`wp` in the `wp-cli` container) or from a handler the
//! test installs.

use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::wpcli::Output;
use crate::{Store, lock, status_error};

/// One exec call as the API server received it.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub command: Vec<String>,
    /// What the client wrote to standard input (may hold secrets: never printed by the fake).
    pub stdin: Vec<u8>,
}

/// Answers exec calls a test wants to script; `None` falls through to the built-in behaviour.
/// Runs on a blocking thread, so it may block (e.g. hold a command "running").
pub type ExecHandler = Arc<dyn Fn(&ExecRequest) -> Option<Output> + Send + Sync>;

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(byte) => {
                    out.push(byte);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// (name, value) pairs of a query string, repeated names kept in order.
fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

pub(crate) async fn exec(
    State(store): State<Arc<Mutex<Store>>>,
    Path((namespace, pod)): Path<(String, String)>,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    lock(&store).requests.push(format!("EXEC {}", uri.path()));
    let pairs = query_pairs(&uri);
    let command: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let flag = |name: &str| pairs.iter().any(|(k, v)| k == name && v == "true");
    let container = pairs
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.clone());
    // The checks the API server makes before upgrading.
    let checked = {
        let store = lock(&store);
        let object = store
            .objects
            .get(&("pods".into(), namespace.clone(), pod.clone()))
            .cloned();
        match object {
            None => Err(crate::object_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("pods \"{pod}\" not found"),
                "pods",
                &pod,
            )),
            Some(object) => {
                let containers: Vec<String> = object["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect();
                match &container {
                    None if containers.len() > 1 => Err(status_error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!(
                            "a container name must be specified for pod {pod}, choose one of: [{}]",
                            containers.join(" ")
                        ),
                    )),
                    Some(name) if !containers.contains(name) => Err(status_error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!("container {name} is not valid for pod {pod}"),
                    )),
                    _ if object["status"]["phase"] != "Running" => Err(status_error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!(
                            "unable to upgrade connection: container not found (pod {pod} is not running)"
                        ),
                    )),
                    _ if command.is_empty() => Err(status_error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "you must specify at least 1 command".into(),
                    )),
                    _ => Ok(container
                        .clone()
                        .or_else(|| containers.first().cloned())
                        .unwrap_or_default()),
                }
            }
        }
    };
    let container = match checked {
        Ok(container) => container,
        Err(response) => return response,
    };
    let Ok(upgrade) = upgrade else {
        return status_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "exec needs a WebSocket upgrade".into(),
        );
    };
    let wants_stdin = flag("stdin");
    upgrade
        .protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"])
        .on_upgrade(move |socket| async move {
            let request = ExecRequest {
                namespace,
                pod,
                container,
                command,
                stdin: Vec::new(),
            };
            serve(socket, store, request, wants_stdin).await;
        })
        .into_response()
}

async fn serve(
    mut socket: WebSocket,
    store: Arc<Mutex<Store>>,
    mut request: ExecRequest,
    wants_stdin: bool,
) {
    if wants_stdin {
        // Until the client closes stdin ([255, 0]) or the connection.
        while let Some(Ok(message)) = socket.recv().await {
            match message {
                Message::Binary(data) if data.first() == Some(&0) => {
                    request.stdin.extend_from_slice(&data[1..])
                }
                Message::Binary(data) if data.as_ref() == [255, 0] => break,
                Message::Close(_) => return,
                _ => {}
            }
        }
    }
    // Handlers may block (scripted delays, running a real program): off the async threads.
    let output = {
        let (store, request) = (store.clone(), request.clone());
        tokio::task::spawn_blocking(move || run(&store, &request))
            .await
            .unwrap_or_else(|_| Output {
                stderr: "the fake's exec handler panicked\n".into(),
                code: 1,
                ..Output::default()
            })
    };
    lock(&store).exec_log.push(request.clone());
    for (channel, text) in [(1u8, &output.stdout), (2u8, &output.stderr)] {
        if !text.is_empty() {
            let mut frame = vec![channel];
            frame.extend_from_slice(text.as_bytes());
            if socket.send(Message::Binary(frame.into())).await.is_err() {
                return;
            }
        }
    }
    let status: Value = if output.code == 0 {
        json!({ "metadata": {}, "status": "Success" })
    } else {
        json!({
            "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {}", request.command.join(" "), output.code),
            "details": { "causes": [{ "reason": "ExitCode", "message": output.code.to_string() }] }
        })
    };
    let mut frame = vec![3u8];
    frame.extend_from_slice(status.to_string().as_bytes());
    let _ = socket.send(Message::Binary(frame.into())).await;
    let _ = socket.send(Message::Close(None)).await;
}

fn run(store: &Arc<Mutex<Store>>, request: &ExecRequest) -> Output {
    let handler = lock(store).exec_handler.clone();
    if let Some(handler) = handler
        && let Some(output) = handler(request)
    {
        return output;
    }
    if request.container == "wp-cli" {
        let mut store = lock(store);
        let site = store.sites.entry(request.namespace.clone()).or_default();
        return site.run(&request.command, &request.stdin);
    }
    Output {
        stderr: format!(
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{}\": executable file not found in $PATH\n",
            request.command.first().cloned().unwrap_or_default()
        ),
        code: 126,
        ..Output::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_repeated_commands() {
        let uri: Uri = "/api/v1/namespaces/s/pods/p/exec?command=wp&command=option%20get&command=a%2Bb&container=wp-cli&stdout=true"
            .parse()
            .expect("uri");
        let pairs = query_pairs(&uri);
        let commands: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == "command")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(commands, ["wp", "option get", "a+b"]);
    }
}
