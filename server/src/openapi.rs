//! The OpenAPI 3.1 document, generated from the route tables the router is built from: every
//! request body, query parameter and answer schema is generated (by schemars, JSON Schema
//! 2020-12 — OpenAPI 3.1's own dialect) from the Rust types the handlers parse and answer
//! with, so the document cannot drift from what the server does. `storeflow openapi` prints
//! it; the dashboard's API types are generated from it.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::api::{Access, Answer, Route, routes};
use crate::error::ErrorEnvelope;

/// Where the document's schemas live, as `$ref`s name them.
const COMPONENTS: &str = "/components/schemas";

fn generator(settings: SchemaSettings) -> SchemaGenerator {
    settings
        .with(|s| {
            s.definitions_path = COMPONENTS.into();
            s.meta_schema = None;
        })
        .into_generator()
}

/// Path parameters, from the template: a store's `{id}` has the store id's shape, every
/// other `{id}` (runs, backups, rollouts, users) is a UUID; a run's `{step}` is a step's name
/// or 1-based number, a schedule's `{name}` its name.
fn path_parameters(route: &Route) -> Vec<Value> {
    route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = match name {
                "id" if route.path.starts_with("/api/v1/stores/") => {
                    json!({ "type": "string", "pattern": crate::store_rules::STORE_ID_PATTERN })
                }
                "id" => json!({ "type": "string", "format": "uuid" }),
                _ => json!({ "type": "string", "minLength": 1 }),
            };
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect()
}

/// The query parameters: the properties of the query type's (inline) object schema.
fn query_parameters(schema: &Schema) -> Vec<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            let description = property
                .as_object_mut()
                .and_then(|p| p.remove("description"));
            // A query string has no null: a parameter is there or not.
            if let Some(types) = property.get_mut("type").and_then(Value::as_array_mut) {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    property["type"] = types[0].clone();
                }
            }
            let mut parameter = json!({
                "name": name, "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": property,
            });
            if let Some(description) = description {
                parameter["description"] = description;
            }
            parameter
        })
        .collect()
}

fn success_content(answer: Option<Answer>, answers: &mut SchemaGenerator) -> Value {
    match answer {
        Some(Answer::Json(schema)) => {
            json!({ "application/json": { "schema": schema(answers) } })
        }
        Some(Answer::EventStream(data)) => json!({
            "text/event-stream": { "schema": {
                "type": "object",
                "description": "One Server-Sent Event (keep-alive comments aside): its `id` \
                                (send it back as Last-Event-ID to resume), its `event` (the \
                                kind) and its `data`, a JSON object",
                "required": ["id", "event", "data"],
                "properties": {
                    "id": { "type": "string" },
                    "event": { "type": "string" },
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": data(answers),
                    },
                },
            } }
        }),
        Some(Answer::PrometheusText) => json!({
            "text/plain": { "schema": { "type": "string", "description": "Prometheus text exposition format" } }
        }),
        None => json!({}),
    }
}

fn operation(
    tag: &str,
    route: &Route,
    requests: &mut SchemaGenerator,
    answers: &mut SchemaGenerator,
) -> Value {
    let mut parameters = path_parameters(route);
    if let Some(query) = route.query {
        parameters.extend(query_parameters(&query(requests)));
    }
    let success = json!({
        "description": "Success",
        "content": success_content(route.answer, answers),
    });
    let mut op = json!({
        "operationId": format!(
            "{}{}",
            route.method.to_lowercase(),
            route.path.replace(['/', '{', '}', '.', '-'], "_")
        ),
        "summary": route.summary,
        "tags": [tag],
        "parameters": parameters,
        "responses": {
            route.success.to_string(): success,
            "default": { "$ref": "#/components/responses/Error" },
        },
    });
    if route.unavailable_too {
        op["responses"]["503"] = json!({
            "description": "What is down, in the success answer's shape",
            "content": success_content(route.answer, answers),
        });
    }
    if route.no_content_too {
        op["responses"]["204"] = json!({ "description": "Nothing (more) to send" });
    }
    if route.access != Access::Public {
        op["security"] = json!([{ "bearer": [] }]);
    }
    if route.access == Access::Admin {
        op["x-required-role"] = json!("admin");
    }
    if let Some(body) = route.body {
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body(requests) } },
        });
    }
    op
}

/// The whole document.
///
/// Request schemas describe what the server accepts (optional fields may be left out);
/// answer schemas what it sends (a field it always sends is required, even when null). The
/// two are generated separately and share the components; a type documented both ways must
/// come out the same both ways.
pub fn document() -> Value {
    let mut requests = generator(SchemaSettings::draft2020_12().for_deserialize());
    let mut answers = generator(SchemaSettings::draft2020_12().for_serialize());
    let mut paths = Map::new();
    for (tag, route) in routes() {
        let entry = paths.entry(route.path).or_insert_with(|| json!({}));
        entry[route.method.to_lowercase()] = operation(tag, route, &mut requests, &mut answers);
    }
    let error = answers.subschema_for::<ErrorEnvelope<'static>>();
    let mut schemas = requests.take_definitions(true);
    for (name, schema) in answers.take_definitions(true) {
        match schemas.get(&name) {
            Some(existing) if *existing != schema => {
                // A programming error that every test building the document catches.
                #[allow(clippy::panic)]
                {
                    panic!("schema {name} differs between requests and answers")
                }
            }
            _ => {
                schemas.insert(name, schema);
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "storeflow control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Provision isolated e-commerce stores with durable workflows. Every \
                            answer carries the request's id (`requestId`, also the X-Request-Id \
                            header); every error is {requestId, error: {code, message, \
                            suggestion?, retryable, details?, retryAfterSeconds?}}."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "responses": {
                "Error": {
                    "description": "An error, in the envelope every route uses",
                    "content": { "application/json": { "schema": error } }
                }
            },
            "schemas": schemas,
        }
    })
}
