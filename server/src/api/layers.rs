//! The cross-cutting layers every request passes: request ids and logging, route tagging,
//! security headers, CORS, target checks, the database gate, timeouts, rate limits, and the
//! client address.

use super::*;

pub(super) fn cors(config: &ApiConfig) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served ("" outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

pub(super) fn acceptable_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub(super) fn new_request_id() -> String {
    let bytes: [u8; 6] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("req_{hex}")
}

/// Gives every request an id (the client's `X-Request-ID` if sane), echoes it on the
/// response, and logs the request in a span that carries it.
pub(super) async fn request_context(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let mut response = REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.run(request), span.clone()),
        )
        .await;
    let status = response.status();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::debug!(
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request served"
            );
        }
    });
    let method_label = match method {
        Method::GET
        | Method::POST
        | Method::PATCH
        | Method::PUT
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => method.to_string(),
        _ => "OTHER".to_owned(),
    };
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map_or("unmatched", |route| route.0);
    let status_label = status.as_u16().to_string();
    metrics::counter!(crate::metric_names::HTTP_REQUESTS, "method" => method_label.clone(), "route" => route, "status" => status_label.clone())
        .increment(1);
    metrics::histogram!(crate::metric_names::HTTP_REQUEST_DURATION, "method" => method_label, "route" => route, "status" => status_label)
        .record(started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The route template that served a response (`/api/v1/stores/{id}`), for metrics.
#[derive(Debug, Clone, Copy)]
pub(super) struct MatchedRoute(&'static str);

/// Records which of [`routes`] matched (the template, never the raw path: ids would make a
/// label value per store).
pub(super) async fn tag_route(request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|matched| {
            routes()
                .find(|(_, route)| route.path == matched.as_str())
                .map(|(_, route)| route.path)
        });
    let mut response = next.run(request).await;
    if let Some(template) = template {
        response.extensions_mut().insert(MatchedRoute(template));
    }
    response
}

/// The longest request target (path and query) accepted: above it, 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// PostgreSQL text cannot hold NUL: refuse it in the path or query up front (400), so no
/// route can turn it into a database error. Overlong targets are refused here too (414).
pub(super) async fn reject_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path().len() + uri.query().map_or(0, str::len) > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("The request target is longer than {MAX_URI_BYTES} bytes."),
        )
        .suggestion("Shorten the URL; filters belong in a few short query parameters.")
        .into_response();
    }
    let has_nul = |s: &str| s.to_ascii_lowercase().contains("%00");
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        return ApiError::validation(
            "The path or query contains a NUL character (%00).",
            serde_json::json!([]),
        )
        .into_response();
    }
    next.run(request).await
}

pub(super) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("cross-origin-opener-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// The answer while the database is down.
pub(crate) fn database_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
        "The database is not answering.",
    )
    .suggestion(
        "Try again in a few seconds. Operators: check that PostgreSQL is running and reachable.",
    )
    .retryable()
    .retry_after(2)
}

/// Answers 503 at once while the database is down, and ends a request still waiting for
/// it when it goes down (its work is dropped, like a request whose client went away), so
/// nobody waits out the pool's acquire timeout. Routes that need no database pass; the
/// health routes answer in their own format (see `ops`).
pub(super) async fn database_gate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/")
        || matches!(
            path,
            "/api/v1/health"
                | "/api/v1/health/live"
                | "/api/v1/health/ready"
                | "/api/v1/openapi.json"
        )
    {
        return next.run(request).await;
    }
    let health = state.database_health().clone();
    if !health.is_up() {
        return database_down().into_response();
    }
    tokio::select! {
        response = next.run(request) => response,
        _ = health.down() => database_down().into_response(),
    }
}

/// Answers 408 when a handler takes longer than the configured time. Streaming bodies
/// (server-sent events) are not cut: the limit covers producing the response head.
pub(super) async fn request_timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!(
                "The request timed out after {}.",
                humantime::format_duration(limit)
            ),
        )
        .suggestion("Try again. If it keeps happening, the server is overloaded.")
        .retryable()
        .into_response(),
    }
}

pub(crate) async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        "NOT_FOUND",
        format!("Route {method} {} not found.", uri.path()),
    )
    .suggestion("See GET /api/v1/openapi.json for the routes this API serves.")
}

pub(crate) async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {}.", uri.path()),
    )
    .suggestion("See GET /api/v1/openapi.json for the methods this route accepts.")
}

/// The global limit per client network (IPv4 address or IPv6 /64), one budget across all
/// API replicas (see [`request_limit`]). Health probes are not counted.
pub(super) async fn rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        request.uri().path(),
        "/api/v1/health/live" | "/api/v1/health/ready"
    ) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let network = crate::auth::client_network(&client_ip(&parts, state.config().trust_proxy));
    let request = Request::from_parts(parts, body);
    let limiter = state.request_limiter();
    limiter.start_sync(state.pool());
    let retry_after = limiter.check(&network);
    match retry_after {
        Some(seconds) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_EXCEEDED",
            "Too many requests from this address.",
        )
        .suggestion("Slow down and retry after the indicated time.")
        .retry_after(seconds)
        .into_response(),
        None => next.run(request).await,
    }
}

/// The client's address: the peer, or — behind a trusted proxy — the right-most
/// `X-Forwarded-For` hop (the one that proxy appended; hops to its left are whatever the
/// client sent). Always a parsed IP address, so it is bounded and cannot be forged freely.
pub fn client_ip(parts: &axum::http::request::Parts, trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(forwarded) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|hop| hop.trim().parse::<std::net::IpAddr>().ok())
    {
        return forwarded.to_string();
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The caller's address as an extractor.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state.config().trust_proxy)))
    }
}
