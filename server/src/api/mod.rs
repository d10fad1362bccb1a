//! The HTTP API: state, router, the cross-cutting middleware, and the route table that the
//! router and the OpenAPI document are both built from.
//!
//! # Cancellation
//! A request's future is dropped wherever it is when its client goes away, when it runs out
//! of time (408) or when the database goes down (503): its work stops there, and a client
//! flood of abandoned requests costs no more than it got done. Every await point is safe to
//! stop at — a transaction dropped at any point rolls back (sqlx ≥ 0.9.1 also when dropped
//! during its `BEGIN`), the hottest reads are single statements outside any transaction,
//! and a connection that comes back inside a transaction anyway is closed, never handed to
//! the next request (`config::connect`). So nothing a request started — a transaction, the
//! tenant role, a tenant identity — reaches the next one.

pub mod auth_routes;
mod backups;
pub mod dashboard;
pub mod database_health;
mod engines;
mod events;
mod extract;
pub mod http_server;
mod ops;
pub mod page_cache;
pub mod request_limit;
mod rollouts;
pub mod route;
mod runs;
mod stores;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use storeflow_engine::Engine;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use http_server::serve;
pub use route::{Access, Answer, RequestId, Route, SchemaFn, inline_schema, schema};

use crate::auth::TokenKeys;
use crate::error::ApiError;

/// API settings (validated by `config::ApiSettings`).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub token_ttl: Duration,
    pub login_rate_max: u32,
    pub login_rate_window: Duration,
    pub register_rate_max: u32,
    pub register_rate_window: Duration,
    pub lockout_max_attempts: u32,
    pub lockout_duration: Duration,
    pub request_timeout: Duration,
    pub body_limit: usize,
    pub cors_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy: bool,
    /// The first account registered becomes an operator (`FIRST_USER_IS_ADMIN`, default
    /// true for `storeflow up`; the control-plane chart sets false: operators are created
    /// with `storeflow users create-admin`).
    pub first_user_is_admin: bool,
    /// Whether anyone may register (`REGISTRATION=open`, the default) or only people an
    /// operator invited (`closed`: `POST /invites` makes one-time links).
    pub registration_open: bool,
    /// Requests per client address per `rate_limit_window`, across all routes but health.
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
    /// Guardrails and addressing of stores.
    pub stores: StoreSettings,
    /// Seals store credentials at rest (`STOREFLOW_ENCRYPTION_KEY`).
    pub sealer: crate::sealing::Sealer,
    /// The dashboard's built files, served at `/` (same origin as the API) with history
    /// fallback to `index.html`.
    pub dashboard_dir: Option<std::path::PathBuf>,
    /// Renderings of store pages and list pages kept for answering unchanged pages
    /// (`API_PAGE_CACHE_ENTRIES`; 0 keeps none).
    pub page_cache_entries: usize,
    /// The kubeconfig of the cluster simulated inside this process (`storeflow up
    /// --simulated-cluster`): health probes it and tells every client (the dashboard's banner)
    /// that nothing is really deployed. `None`: stores go to the configured cluster.
    pub simulated_cluster: Option<std::path::PathBuf>,
}

/// How stores are limited and addressed.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Stores a user may have that are not deleted — failed ones count, they still hold
    /// cluster resources (`MAX_STORES_PER_USER`).
    pub max_per_user: u32,
    /// Stores not deleted on the whole platform (`MAX_STORES`); 0 = no cap.
    pub max_total: u32,
    /// Time a tenant waits between two store creations (`STORE_CREATION_COOLDOWN_MS`);
    /// admins are exempt.
    pub creation_cooldown: Duration,
    /// Retries of a failed store (`PROVISIONING_MAX_RETRIES`).
    pub max_retries: u32,
    /// Stores are reached at `<store id><suffix>` (`STORE_DOMAIN_SUFFIX`, e.g. `.localhost`).
    pub domain_suffix: String,
    /// Port in store URLs when the ingress does not listen on 80/443 (`INGRESS_PORT`).
    pub ingress_port: Option<u16>,
    /// `ingressClassName` of store Ingresses (`STORE_INGRESS_CLASS`).
    pub ingress_class: String,
    /// `nginx` or `traefik`: whom store NetworkPolicies admit (`STORE_INGRESS_CONTROLLER`).
    pub ingress_controller: String,
    /// Secret of a wildcard TLS certificate for the store domain (`STORE_TLS_SECRET`);
    /// with it store URLs are `https`.
    pub tls_secret: Option<String>,
    /// The chart and app version of the store chart this build ships (`HELM_CHART_PATH`):
    /// what an upgrade brings a store to. `None` when the chart cannot be read.
    pub release: Option<storeflow_executors::chart::ChartRelease>,
    /// Whether tenants may upgrade their own stores (`TENANT_UPGRADES`); operators always may.
    pub tenant_upgrades: bool,
    /// Whether the workers store backups in a bucket (`BACKUP_S3_BUCKET` is set): without one,
    /// backup requests are refused at once rather than left waiting for a bucket.
    pub backups_configured: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            max_per_user: 5,
            max_total: 0,
            creation_cooldown: Duration::from_secs(300),
            max_retries: 3,
            domain_suffix: ".localhost".into(),
            ingress_port: None,
            ingress_class: "nginx".into(),
            ingress_controller: "nginx".into(),
            tls_secret: None,
            release: None,
            tenant_upgrades: false,
            backups_configured: false,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            token_ttl: Duration::from_secs(24 * 3600),
            login_rate_max: 10,
            login_rate_window: Duration::from_secs(15 * 60),
            register_rate_max: 5,
            register_rate_window: Duration::from_secs(3600),
            lockout_max_attempts: 5,
            lockout_duration: Duration::from_secs(15 * 60),
            request_timeout: Duration::from_secs(30),
            body_limit: 256 * 1024,
            cors_origins: Vec::new(),
            trust_proxy: false,
            first_user_is_admin: true,
            registration_open: true,
            rate_limit_max: 1200,
            rate_limit_window: Duration::from_secs(60),
            stores: StoreSettings::default(),
            // A key for this process only; real deployments configure one (see config.rs).
            sealer: crate::sealing::Sealer::random(),
            dashboard_dir: None,
            page_cache_entries: 2048,
            simulated_cluster: None,
        }
    }
}

/// Shared state of the API: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    tokens: TokenKeys,
    config: ApiConfig,
    metrics: Option<PrometheusHandle>,
    started: Instant,
    /// Cancelled when the process shuts down: long-lived streams end.
    shutdown: tokio_util::sync::CancellationToken,
    /// The `LISTEN` feed of new events, started by the first stream.
    event_hub: std::sync::OnceLock<events::EventHub>,
    /// Whether the database answers (its monitor starts with the first request).
    database_health: std::sync::OnceLock<database_health::DatabaseHealth>,
    /// Renderings of unchanged store and list pages.
    pages: page_cache::PageCache,
    /// The global request limit, shared with the other replicas through PostgreSQL.
    request_limiter: Arc<request_limit::RequestLimiter>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(
        engine: Engine,
        jwt_secret: &str,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let pages = page_cache::PageCache::new(config.page_cache_entries);
        let request_limiter =
            request_limit::RequestLimiter::new(config.rate_limit_max, config.rate_limit_window);
        AppState {
            inner: Arc::new(Inner {
                tokens: TokenKeys::new(jwt_secret, config.token_ttl),
                engine,
                config,
                metrics,
                started: Instant::now(),
                request_limiter,
                event_hub: std::sync::OnceLock::new(),
                database_health: std::sync::OnceLock::new(),
                pages,
                shutdown: tokio_util::sync::CancellationToken::new(),
            }),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn pool(&self) -> &PgPool {
        self.inner.engine.pool()
    }

    pub fn tokens(&self) -> &TokenKeys {
        &self.inner.tokens
    }

    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> Option<&PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    /// The event feed (its `LISTEN` task starts on first use; call inside the runtime).
    pub fn event_hub(&self) -> &events::EventHub {
        self.inner
            .event_hub
            .get_or_init(|| events::EventHub::start(&self.inner.engine))
    }

    /// Whether the database answers (the monitor starts on first use; call inside the
    /// runtime).
    pub fn database_health(&self) -> &database_health::DatabaseHealth {
        self.inner
            .database_health
            .get_or_init(|| database_health::DatabaseHealth::start(self.pool().connect_options()))
    }

    /// Renderings of unchanged store and list pages.
    pub fn pages(&self) -> &page_cache::PageCache {
        &self.inner.pages
    }

    /// Ends long-lived answers (event streams) so a graceful shutdown can finish.
    pub fn shutdown_token(&self) -> tokio_util::sync::CancellationToken {
        self.inner.shutdown.clone()
    }

    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }
}

/// Every route the API serves, by tag (the OpenAPI document's sections). Each module declares
/// its routes next to their handlers; the router and the OpenAPI document are both built from
/// these tables, so a route cannot be served without being documented.
pub const ROUTE_GROUPS: &[(&str, &[Route])] = &[
    ("auth", auth_routes::ROUTES),
    ("users", users::ROUTES),
    ("stores", stores::ROUTES),
    ("engines", engines::ROUTES),
    ("backups", backups::ROUTES),
    ("rollouts", rollouts::ROUTES),
    ("runs", runs::ROUTES),
    ("runs", events::ROUTES),
    ("operations", ops::ROUTES),
];

/// Every route with its tag.
pub fn routes() -> impl Iterator<Item = (&'static str, &'static Route)> {
    ROUTE_GROUPS
        .iter()
        .flat_map(|(tag, routes)| routes.iter().map(move |route| (*tag, route)))
}

/// The API as a router; `main` serves it, tests call it in process.
pub fn app(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for (_, route) in routes() {
        router = router.route(route.path, (route.handler)());
    }
    // Only matched routes get their template recorded (metrics label by route, not by path).
    let router = router.route_layer(middleware::from_fn(tag_route));
    let config = state.config().clone();
    let router = match &config.dashboard_dir {
        Some(dir) => router.fallback(dashboard::handler(dir)),
        None => router.fallback(not_found),
    };
    router
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(config.body_limit))
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            request_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), database_gate))
        .layer(middleware::from_fn(reject_nul))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        // Outside the limiter and the panic catcher, so browsers can read those answers too.
        .layer(cors(&config))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

fn cors(config: &ApiConfig) -> CorsLayer {
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

fn acceptable_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn new_request_id() -> String {
    let bytes: [u8; 6] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("req_{hex}")
}

/// Gives every request an id (the client's `X-Request-ID` if sane), echoes it on the
/// response, and logs the request in a span that carries it.
async fn request_context(request: Request, next: Next) -> Response {
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
struct MatchedRoute(&'static str);

/// Records which of [`routes`] matched (the template, never the raw path: ids would make a
/// label value per store).
async fn tag_route(request: Request, next: Next) -> Response {
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
async fn reject_nul(request: Request, next: Next) -> Response {
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

async fn security_headers(request: Request, next: Next) -> Response {
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
async fn database_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
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
async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
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
async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        request.uri().path(),
        "/api/v1/health/live" | "/api/v1/health/ready"
    ) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let network = crate::auth::client_network(&client_ip(&parts, state.config().trust_proxy));
    let request = Request::from_parts(parts, body);
    let limiter = &state.inner.request_limiter;
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
