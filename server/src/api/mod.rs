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
mod layers;
mod ops;
pub mod page_cache;
pub mod request_limit;
mod rollouts;
pub mod route;
mod runs;
mod state;
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
use layers::*;
pub use layers::{ClientIp, MAX_URI_BYTES, client_ip, current_request_id};
pub(crate) use layers::{database_down, method_not_allowed, not_found};
pub use route::{Access, Answer, RequestId, Route, SchemaFn, inline_schema, schema};
pub use state::{ApiConfig, AppState, StoreSettings};

use crate::auth::TokenKeys;
use crate::error::ApiError;

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
