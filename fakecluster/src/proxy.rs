//! The service proxy, `/api/v1/namespaces/{ns}/services/[scheme:]{name}[:port]/proxy/{path}`:
//! what storeflow uses to reach a store's apps through the API server. A service answers if
//! the test routed it to a real HTTP server (e.g. a real Medusa) or, for `wordpress`, from the
//! simulated site; otherwise the API server's "no endpoints available" 503.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::{Store, lock, status_error};

/// Headers the proxy does not pass on: hop-by-hop ones, and `Authorization`, which the real
/// API server consumes to authenticate the caller (so a proxied app never sees it).
const DROPPED: &[&str] = &[
    "authorization",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
];

fn passed(name: &axum::http::HeaderName) -> bool {
    !DROPPED.contains(&name.as_str())
}

/// `[scheme:]name[:port]` → name.
fn service_name(spec: &str) -> &str {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [name] => name,
        [first, second] if *first == "http" || *first == "https" => second,
        [name, _port] => name,
        [_, name, _] => name,
        _ => spec,
    }
}

pub(crate) async fn proxy_root(
    state: State<Arc<Mutex<Store>>>,
    Path((namespace, service)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forward(
        state,
        namespace,
        service,
        String::new(),
        method,
        uri,
        headers,
        body,
    )
    .await
}

pub(crate) async fn proxy_path(
    state: State<Arc<Mutex<Store>>>,
    Path((namespace, service, rest)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forward(state, namespace, service, rest, method, uri, headers, body).await
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    State(store): State<Arc<Mutex<Store>>>,
    namespace: String,
    service: String,
    rest: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let name = service_name(&service).to_owned();
    lock(&store)
        .requests
        .push(format!("PROXY {method} {namespace}/{name}/{rest}"));
    let path = format!("/{rest}");
    let (backend, has_service, site) = {
        let store = lock(&store);
        (
            store
                .proxies
                .get(&(namespace.clone(), name.clone()))
                .cloned(),
            store
                .objects
                .contains_key(&("services".into(), namespace.clone(), name.clone())),
            store.sites.contains_key(&namespace),
        )
    };
    // The API server answers 503 for a missing service too (it finds no endpoints).
    if !has_service {
        return status_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("services \"{name}\" not found"),
        );
    }
    if let Some(base) = backend {
        let target = format!(
            "{}{}{}",
            base.trim_end_matches('/'),
            path,
            uri.query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        let mut request = axum::http::Request::builder().method(method).uri(&target);
        for (name, value) in headers.iter().filter(|(name, _)| passed(name)) {
            request = request.header(name, value);
        }
        let Ok(request) = request.body(http_body_util::Full::new(body)) else {
            return status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "bad proxy request".into(),
            );
        };
        let client = Client::builder(TokioExecutor::new()).build_http();
        return match client.request(request).await {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let mut answer = Response::builder().status(parts.status);
                for (name, value) in parts.headers.iter().filter(|(name, _)| passed(name)) {
                    answer = answer.header(name, value);
                }
                answer
                    .body(Body::from(bytes))
                    .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
            }
            Err(err) => status_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("error trying to reach service: {err}"),
            ),
        };
    }
    if name == "wordpress" && site && path.starts_with("/wp-json/") {
        let token = headers
            .get("cart-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (status, extra, value) = {
            let mut store = lock(&store);
            let Some(site) = store.sites.get_mut(&namespace) else {
                return StatusCode::BAD_GATEWAY.into_response();
            };
            site.store_api(method.as_str(), &path, token.as_deref(), &body)
        };
        let mut answer = Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("content-type", "application/json");
        for (name, value) in extra {
            answer = answer.header(name, value);
        }
        return answer
            .body(Body::from(value.to_string()))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
    }
    status_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        format!("no endpoints available for service \"{name}\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_specs_name_the_service() {
        for (spec, name) in [
            ("medusa", "medusa"),
            ("medusa:9000", "medusa"),
            ("http:medusa:9000", "medusa"),
            ("http:medusa", "medusa"),
            ("https:wordpress:443", "wordpress"),
        ] {
            assert_eq!(service_name(spec), name, "{spec}");
        }
    }
}
