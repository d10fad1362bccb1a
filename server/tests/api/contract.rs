//! Every answer of every API test is checked against the OpenAPI document the server
//! publishes: its status must be documented for the route (or fall to the error envelope),
//! its content type must be the documented one, and its JSON body must match the schema
//! generated from the Rust types — so a handler that answers something its contract does
//! not say fails whichever test happened to call it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, header};
use serde_json::Value;

struct Contract {
    document: Value,
    /// Compiled schemas by their JSON pointer in the document.
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract {
    document: storeflow::openapi::document(),
    validators: Mutex::new(HashMap::new()),
});

/// The documented path template `path` falls under: the one with the most literal segments
/// in common (`/api/v1/health/live` before a `{name}`).
fn template_of<'a>(paths: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    paths
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

fn validator(pointer: &str, schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
    let contract = &*CONTRACT;
    let mut cache = contract.validators.lock().expect("validators");
    cache
        .entry(pointer.to_owned())
        .or_insert_with(|| {
            // The schema with the document's components beside it, so its `$ref`s resolve.
            let mut root = serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": contract.document["components"],
            });
            root["allOf"] = serde_json::json!([schema]);
            std::sync::Arc::new(
                jsonschema::options()
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|err| panic!("schema {pointer} does not compile: {err}")),
            )
        })
        .clone()
}

/// Panics when the answer breaks the published contract.
pub fn check(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    // Preflights and the dashboard are not API operations.
    if method == Method::OPTIONS || !path.starts_with("/api/") {
        return;
    }
    let document = &CONTRACT.document;
    let paths = document["paths"].as_object().expect("paths");
    let operation = template_of(paths, path)
        .and_then(|template| paths[template].get(method.as_str().to_lowercase()));
    let (response, pointer) = match operation
        .and_then(|op| op["responses"].get(status.as_str()))
        .filter(|_| !status.is_client_error() && !status.is_server_error() || status == 503)
    {
        Some(documented) => (documented, format!("{method} {path} {status}")),
        // Every error, and anything not routed, is the envelope.
        None => (
            &document["components"]["responses"]["Error"],
            "error envelope".to_owned(),
        ),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        assert!(
            body.is_empty(),
            "{method} {path} answered {status} with a body the contract does not document"
        );
        return;
    };
    let (media, described) = content
        .iter()
        .find(|(media, _)| content_type.starts_with(media.as_str()))
        .unwrap_or_else(|| {
            panic!(
                "{method} {path} answered {status} as `{content_type}`; the contract says {:?}",
                content.keys().collect::<Vec<_>>()
            )
        });
    if media != "application/json" {
        return;
    }
    let instance: Value = serde_json::from_slice(body).unwrap_or_else(|err| {
        panic!("{method} {path} answered {status} with JSON that does not parse: {err}")
    });
    let validator = validator(&pointer, &described["schema"]);
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .take(5)
        .collect();
    assert!(
        problems.is_empty(),
        "{method} {path} answered {status} outside its contract: {problems:#?}\nbody: {instance:#}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("header"),
        );
        headers
    }

    #[test]
    fn an_answer_that_matches_its_schema_passes() {
        let body = br#"{"requestId":"r1","user":{"id":"0190a0e4-4a7c-7d1e-9c1b-1f2e3d4c5b6a","email":"a@example.com","username":"ann","role":"tenant","createdAt":"2026-12-04T10:00:00Z"}}"#;
        check(
            &Method::GET,
            "/api/v1/auth/me",
            StatusCode::OK,
            &json_headers(),
            body,
        );
    }

    #[test]
    #[should_panic(expected = "outside its contract")]
    fn an_answer_that_breaks_its_schema_fails_the_test() {
        let body = br#"{"requestId":"r1","user":{"id":"not-a-uuid","email":"a@example.com","username":"ann","role":"owner","createdAt":"2026-12-04T10:00:00Z"}}"#;
        check(
            &Method::GET,
            "/api/v1/auth/me",
            StatusCode::OK,
            &json_headers(),
            body,
        );
    }

    #[test]
    #[should_panic(expected = "outside its contract")]
    fn an_error_without_the_envelope_fails_the_test() {
        check(
            &Method::GET,
            "/api/v1/auth/me",
            StatusCode::UNAUTHORIZED,
            &json_headers(),
            br#"{"message":"no"}"#,
        );
    }
}
