//! HTTP to a store's app through the Kubernetes API server's service proxy
//! (`/api/v1/namespaces/{ns}/services/http:{service}:{port}/proxy/{path}`): setup and
//! verification reach Medusa's Admin API and the stores' public APIs without an Ingress,
//! port-forward or any network path other than the one to the API server.

use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;
use storeflow_engine::StepOutcome;

/// One answer from the app.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status, the app's or the proxy's own (502/503 when the app is not reachable).
    pub status: u16,
    /// Headers with a value that is valid text, in the order received; look them up with
    /// [`Reply::header`].
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Null` when it is empty or not JSON.
    pub body: Value,
    /// The raw body as text (lossy UTF-8), for error messages and non-JSON answers.
    pub text: String,
}

impl Reply {
    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A service of one store namespace.
#[derive(Clone)]
pub struct Service {
    /// The Kubernetes client whose API server proxies the requests.
    pub client: kube::Client,
    /// The store's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// The Service's port number (not the container's target port).
    pub port: u16,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.name, self.port)
    }
}

impl Service {
    /// Sends a request; `headers` are (name, value) pairs (values may be secrets such as a
    /// bearer token: they are never part of an error message).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, StepOutcome> {
        let uri = format!(
            "/api/v1/namespaces/{}/services/http:{}:{}/proxy{}",
            self.namespace, self.name, self.port, path
        );
        let doing = format!("{method} {path} on {}/{}", self.namespace, self.name);
        let mut request = http::Request::builder().method(method).uri(&uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                body.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let request = request
            .body(kube::client::Body::from(bytes))
            .map_err(|err| StepOutcome::fatal(format!("{doing}: building the request: {err}")))?;
        let response = tokio::time::timeout(Duration::from_secs(60), self.client.send(request))
            .await
            .map_err(|_| StepOutcome::retry(format!("{doing}: no answer within 60 s")))?
            .map_err(|err| {
                crate::breaker::unavailable(format!(
                    "{doing}: cannot reach the Kubernetes API: {err}"
                ))
            })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|err| StepOutcome::retry(format!("{doing}: reading the answer: {err}")))?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        })
    }
}

/// An app answer that is not a success, as an outcome: unreachable (the proxy's 502/503, or
/// the app's 5xx) is retried, a refusal is fatal. Says what was called and what came back
/// (at most 300 characters of the body, which never echoes our credentials).
pub fn failure(doing: &str, reply: &Reply) -> StepOutcome {
    let shown: String = reply.text.chars().take(300).collect();
    let message = format!("{doing}: HTTP {}: {shown}", reply.status);
    if reply.status >= 500
        || reply.status == 429
        || reply.status == 404 && reply.text.contains("no endpoints")
    {
        StepOutcome::retry(message)
    } else {
        StepOutcome::fatal(message)
    }
}
