//! One route of the API: its handler and its contract, declared together in the module that
//! serves it. The router and the OpenAPI document are both built from these declarations, so
//! a route cannot be served undocumented, and its documented schemas are generated from the
//! very Rust types its handler parses and answers with.

use axum::routing::MethodRouter;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    User,
    Admin,
}

/// Adds a type's JSON Schema to the document's components and refers to it.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as a [`SchemaFn`]: `schema::<StoreAnswer>`.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The schema of `T` written out (not a reference): query strings are documented parameter by
/// parameter from its properties.
pub fn inline_schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    T::json_schema(generator)
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// `text/event-stream`: Server-Sent Events whose `data` is JSON of this schema.
    EventStream(SchemaFn),
    /// Prometheus' text exposition format.
    PrometheusText,
}

/// A route: method, path, who may call it, and what it takes and answers.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// axum path syntax, which is also OpenAPI's: `/api/v1/runs/{id}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// Status of a successful answer.
    pub success: u16,
    /// The handler, routed for `method` (a function so the tables stay constants).
    pub handler: fn() -> MethodRouter<AppState>,
    /// Schema of the JSON request body.
    pub body: Option<SchemaFn>,
    /// Schema of the query string: an object whose properties are the parameters
    /// ([`inline_schema`]).
    pub query: Option<SchemaFn>,
    pub answer: Option<Answer>,
    /// Also answers 503 with the success schema (health probes that report what is down).
    pub unavailable_too: bool,
    /// Also answers 204 without a body.
    pub no_content_too: bool,
}

impl Route {
    const fn new(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        handler: fn() -> MethodRouter<AppState>,
    ) -> Route {
        Route {
            method,
            path,
            summary,
            access: Access::User,
            success: 200,
            handler,
            body: None,
            query: None,
            answer: None,
            unavailable_too: false,
            no_content_too: false,
        }
    }

    pub const fn get(
        path: &'static str,
        summary: &'static str,
        handler: fn() -> MethodRouter<AppState>,
    ) -> Route {
        Route::new("GET", path, summary, handler)
    }

    pub const fn post(
        path: &'static str,
        summary: &'static str,
        handler: fn() -> MethodRouter<AppState>,
    ) -> Route {
        Route::new("POST", path, summary, handler)
    }

    pub const fn put(
        path: &'static str,
        summary: &'static str,
        handler: fn() -> MethodRouter<AppState>,
    ) -> Route {
        Route::new("PUT", path, summary, handler)
    }

    pub const fn patch(
        path: &'static str,
        summary: &'static str,
        handler: fn() -> MethodRouter<AppState>,
    ) -> Route {
        Route::new("PATCH", path, summary, handler)
    }

    pub const fn delete(
        path: &'static str,
        summary: &'static str,
        handler: fn() -> MethodRouter<AppState>,
    ) -> Route {
        Route::new("DELETE", path, summary, handler)
    }

    /// Anyone may call it, without a token.
    pub const fn public(mut self) -> Route {
        self.access = Access::Public;
        self
    }

    /// Operators only.
    pub const fn admin(mut self) -> Route {
        self.access = Access::Admin;
        self
    }

    /// The status of a successful answer, when it is not 200.
    pub const fn status(mut self, success: u16) -> Route {
        self.success = success;
        self
    }

    /// Answers 503 with the success schema when what it reports on is down.
    pub const fn unavailable_too(mut self) -> Route {
        self.unavailable_too = true;
        self
    }

    /// Answers 204 without a body when there is nothing (more) to send.
    pub const fn no_content_too(mut self) -> Route {
        self.no_content_too = true;
        self
    }

    pub const fn body(mut self, body: SchemaFn) -> Route {
        self.body = Some(body);
        self
    }

    pub const fn query(mut self, query: SchemaFn) -> Route {
        self.query = Some(query);
        self
    }

    /// A JSON answer of this schema.
    pub const fn answer(mut self, answer: SchemaFn) -> Route {
        self.answer = Some(Answer::Json(answer));
        self
    }

    /// Server-Sent Events whose `data` is JSON of this schema.
    pub const fn event_stream(mut self, data: SchemaFn) -> Route {
        self.answer = Some(Answer::EventStream(data));
        self
    }

    pub const fn prometheus_text(mut self) -> Route {
        self.answer = Some(Answer::PrometheusText);
        self
    }
}

/// The `requestId` every answer carries (also the `X-Request-Id` header and in the logs).
#[derive(Debug, Clone, serde::Serialize, JsonSchema)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    /// The id of the request being answered.
    pub fn current() -> RequestId {
        RequestId(super::current_request_id())
    }
}
