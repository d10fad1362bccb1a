//! The one place errors become HTTP responses: stable machine codes, a JSON envelope
//! `{requestId, error: {code, message, suggestion?, retryable, details?, retryAfterSeconds?}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::api::current_request_id;

/// An error answer. Build with the constructors; never carries secrets.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub suggestion: Option<String>,
    pub retryable: bool,
    pub details: Option<Value>,
    pub retry_after_seconds: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            suggestion: None,
            retryable: false,
            details: None,
            retry_after_seconds: None,
        }
    }

    /// The same error under another machine code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds.max(1));
        self.retryable = true;
        self
    }

    pub fn validation(message: impl Into<String>, details: Value) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
            .suggestion("Check the request parameters and try again.")
            .details(details)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message).suggestion(
            "Log in again to get a fresh token, then send it as `Authorization: Bearer <token>`.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// The server, not the client, failed: log the cause, answer without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "An unexpected error occurred.",
        )
        .suggestion(
            "Try again later. If the problem persists, contact support with the request id.",
        )
        .retryable()
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            message,
        )
        .suggestion("Try again in a few seconds.")
        .retryable()
    }

    fn body(&self) -> ErrorEnvelope<'_> {
        ErrorEnvelope {
            request_id: current_request_id(),
            error: ErrorBody {
                code: self.code,
                message: &self.message,
                suggestion: self.suggestion.as_deref(),
                retryable: self.retryable,
                details: self.details.as_ref(),
                retry_after_seconds: self.retry_after_seconds,
            },
        }
    }
}

/// Every error answer: `{requestId, error}`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ErrorEnvelope")]
pub struct ErrorEnvelope<'a> {
    /// The id of the request (also in the `X-Request-Id` header and the server's logs).
    pub request_id: String,
    pub error: ErrorBody<'a>,
}

/// What went wrong, and what to do about it.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    /// A stable machine code, e.g. `VALIDATION_ERROR`, `STORE_NOT_FOUND`.
    pub code: &'a str,
    /// What went wrong, for a person.
    pub message: &'a str,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<&'a str>,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// Field errors (`[{field, message}]`) or facts about the conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a Value>,
    /// Also sent as the `Retry-After` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after_seconds
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.code().as_deref() {
                // Raised by the store triggers: an action on a run that no longer drives its store.
                Some("SF409") => {
                    return ApiError::conflict("RUN_SUPERSEDED", db.message().to_owned())
                        .suggestion("Act on the store instead (retry or delete it).");
                }
                // Text PostgreSQL cannot store (NUL, invalid encoding) that got past validation.
                Some("22021") | Some("22P05") => {
                    return ApiError::validation(
                        "The request contains characters that cannot be stored (e.g. NUL).",
                        Value::Array(vec![]),
                    );
                }
                // The server is shutting down, restarting or refusing connections (class
                // 57: operator intervention; class 08: connection exceptions): the database
                // is unavailable, not the request wrong — a connection held across a restart
                // answers like this before it is replaced.
                Some(code) if code.starts_with("57P") || code.starts_with("08") => {
                    tracing::warn!(error = %err, "database unavailable");
                    return crate::api::database_down();
                }
                // A lock wait gave up (lock_timeout): busy, not broken.
                Some("55P03") => {
                    return ApiError::new(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "BUSY",
                        "Another request on the same records is still in progress.",
                    )
                    .suggestion("Retry in a few seconds.")
                    .retryable();
                }
                _ => {}
            }
        }
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %err, "database unavailable");
                crate::api::database_down()
            }
            _ => ApiError::internal(err),
        }
    }
}

impl From<storeflow_engine::Error> for ApiError {
    fn from(err: storeflow_engine::Error) -> Self {
        use storeflow_engine::Error as E;
        let message = err.to_string();
        match err {
            E::Database(db) => ApiError::from(db),
            E::RunNotFound(_) => ApiError::not_found("RUN_NOT_FOUND", message)
                .suggestion("Check the run id; list runs with GET /api/v1/runs."),
            E::StepNotFound { .. } => ApiError::not_found("STEP_NOT_FOUND", message).suggestion(
                "Name the step by its name or its 1-based number, as GET /api/v1/runs/{id} shows.",
            ),
            E::InvalidRunState { .. } => ApiError::conflict("INVALID_RUN_STATE", message),
            E::ScheduleNotFound(_) => ApiError::not_found("SCHEDULE_NOT_FOUND", message),
            E::UnknownWorkflow { .. } => ApiError::not_found("WORKFLOW_NOT_FOUND", message),
            E::InvalidInput { .. } => ApiError::validation(message, Value::Null),
            E::InvalidCron { .. } => {
                ApiError::validation(message, serde_json::json!([{ "field": "cron" }]))
                    .suggestion("Use 5 fields, minute hour day-of-month month day-of-week, in UTC: e.g. `0 3 * * *` is every day at 03:00.")
            }
            E::Migrate(_)
            | E::DefinitionConflict { .. }
            | E::InvalidDefinition { .. }
            | E::UnloadableDefinition { .. } => ApiError::internal(message),
        }
    }
}
