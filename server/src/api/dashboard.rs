//! The dashboard's static files at `/`, on the API's origin: hashed assets cached for a year,
//! `index.html` revalidated, and every other path that is not a file (a client-side route)
//! answered with `index.html`. `/api/…` never falls back to the page: unknown API routes stay
//! JSON 404s.

use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::MethodRouter;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use super::AppState;

/// The page may load only its own scripts, styles and images and talk only to this origin.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn handler(dir: &Path) -> MethodRouter<AppState> {
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .fallback(ServeFile::new(dir.join("index.html")));
    axum::routing::any(move |request: Request| {
        let files = files.clone();
        async move {
            let path = request.uri().path().to_owned();
            if path == "/api" || path.starts_with("/api/") {
                let uri = request.uri().clone();
                return super::not_found(request.method().clone(), uri)
                    .await
                    .into_response();
            }
            if request.method() != Method::GET && request.method() != Method::HEAD {
                return super::method_not_allowed(request.method().clone(), request.uri().clone())
                    .await
                    .into_response();
            }
            let (parts, _) = request.into_parts();
            let request = Request::from_parts(parts, Body::empty());
            let mut response = match files.oneshot(request).await {
                Ok(response) => response.map(Body::new),
                Err(never) => match never {},
            };
            let immutable = path.starts_with("/assets/") && response.status() == StatusCode::OK;
            let headers = response.headers_mut();
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(if immutable {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                }),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            );
            response
        }
    })
}

/// Whether `dir` holds a built dashboard.
pub fn is_built(dir: &Path) -> bool {
    dir.join("index.html").is_file()
}
