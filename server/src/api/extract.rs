//! Extractors whose rejections use the API's error envelope: malformed JSON is a 400, a
//! body over the limit a 413, a wrong content type a 415 — never a 500.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::ApiError;

/// `Json<T>` with envelope rejections.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => ApiError::validation(
            format!(
                "The request body does not match what this route expects: {}",
                err.body_text()
            ),
            json!([{ "message": err.body_text() }]),
        ),
        JsonRejection::JsonSyntaxError(err) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("The request body is not valid JSON: {}", err.body_text()),
        )
        .suggestion("Send a JSON object with Content-Type: application/json."),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Expected a JSON body with Content-Type: application/json.",
        )
        .suggestion("Set the Content-Type header to application/json."),
        JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The request body is larger than this API accepts.",
            )
            .suggestion("Send a smaller body.")
        }
        other => ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", other.body_text()),
    }
}

/// `Query<T>` with envelope rejections.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(err)) => Err(ApiError::validation(
                format!("Invalid query parameters: {}", err.body_text()),
                json!([{ "message": err.body_text() }]),
            )),
            Err(other) => Err(ApiError::validation(other.body_text(), json!([]))),
        }
    }
}

/// `Path<T>` with envelope rejections (e.g. a path segment that is not valid UTF-8).
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => Err(ApiError::validation(
                format!("Invalid path: {}", err.body_text()),
                json!([{ "message": err.body_text() }]),
            )),
            Err(other) => Err(ApiError::validation(other.body_text(), json!([]))),
        }
    }
}
