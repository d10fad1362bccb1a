//! The OpenAPI 3 document, generated from the route table the router is built from.

use serde_json::{Map, Value, json};

use crate::api::{Access, ROUTES, RouteDoc};

fn request_body(doc: &RouteDoc) -> Option<Value> {
    let schema = match (doc.method, doc.path) {
        ("POST", "/api/v1/auth/register") => json!({
            "type": "object", "required": ["email", "username", "password"],
            "properties": {
                "email": { "type": "string", "format": "email", "maxLength": 255 },
                "username": { "type": "string", "minLength": 3, "maxLength": 128, "pattern": "^[A-Za-z0-9_-]+$" },
                "password": { "type": "string", "minLength": 8, "maxLength": 128 }
            }
        }),
        ("POST", "/api/v1/auth/login") => json!({
            "type": "object", "required": ["email", "password"],
            "properties": { "email": { "type": "string" }, "password": { "type": "string" } }
        }),
        ("PATCH", "/api/v1/auth/password") => json!({
            "type": "object", "required": ["currentPassword", "newPassword"],
            "properties": {
                "currentPassword": { "type": "string" },
                "newPassword": { "type": "string", "minLength": 8, "maxLength": 128 }
            }
        }),
        ("PATCH", "/api/v1/schedules/{name}") => json!({
            "type": "object", "required": ["enabled"], "additionalProperties": false,
            "properties": { "enabled": { "type": "boolean" } }
        }),
        _ => return None,
    };
    Some(json!({ "required": true, "content": { "application/json": { "schema": schema } } }))
}

fn query_parameters(doc: &RouteDoc) -> Vec<Value> {
    let names: &[(&str, &str)] = match (doc.method, doc.path) {
        ("GET", "/api/v1/runs") => &[
            ("status", "string"),
            ("workflow", "string"),
            ("subject", "string"),
            ("limit", "integer"),
            ("offset", "integer"),
        ],
        ("GET", "/api/v1/audit") => &[
            ("category", "string"),
            ("action", "string"),
            ("subject", "string"),
            ("limit", "integer"),
            ("offset", "integer"),
        ],
        _ => &[],
    };
    names
        .iter()
        .map(|(name, kind)| json!({ "name": name, "in": "query", "required": false, "schema": { "type": kind } }))
        .collect()
}

fn operation(doc: &RouteDoc) -> Value {
    let mut parameters: Vec<Value> = doc
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    parameters.extend(query_parameters(doc));
    let mut responses = Map::new();
    responses.insert(
        doc.success.to_string(),
        json!({ "description": "Success", "content": { "application/json": { "schema": { "type": "object" } } } }),
    );
    responses.insert(
        "default".into(),
        json!({ "$ref": "#/components/responses/Error" }),
    );
    let mut op = json!({
        "operationId": format!("{}{}", doc.method.to_lowercase(), doc.path.replace(['/', '{', '}', '.'], "_")),
        "summary": doc.summary,
        "tags": [doc.tag],
        "parameters": parameters,
        "responses": responses,
    });
    if doc.access != Access::Public {
        op["security"] = json!([{ "bearer": [] }]);
    }
    if doc.access == Access::Admin {
        op["x-required-role"] = json!("admin");
    }
    if let Some(body) = request_body(doc) {
        op["requestBody"] = body;
    }
    op
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for doc in ROUTES {
        let entry = paths.entry(doc.path).or_insert_with(|| json!({}));
        entry[doc.method.to_lowercase()] = operation(doc);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "storeflow control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Provision isolated e-commerce stores with durable workflows. Every error \
                            answer is {requestId, error: {code, message, suggestion?, retryable, details?}}."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "responses": {
                "Error": {
                    "description": "An error, in the envelope every route uses",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } }
                }
            },
            "schemas": {
                "ErrorEnvelope": {
                    "type": "object", "required": ["requestId", "error"],
                    "properties": {
                        "requestId": { "type": "string" },
                        "error": {
                            "type": "object", "required": ["code", "message", "retryable"],
                            "properties": {
                                "code": { "type": "string" },
                                "message": { "type": "string" },
                                "suggestion": { "type": "string" },
                                "retryable": { "type": "boolean" },
                                "details": {},
                                "retryAfterSeconds": { "type": "integer" }
                            }
                        }
                    }
                }
            }
        }
    })
}
