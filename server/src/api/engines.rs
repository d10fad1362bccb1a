//! `GET /engines`: the store engines of this build and what each offers, from the executors'
//! registry — what clients (the dashboard's create form, its backup and restore actions) read
//! instead of keeping their own lists.

use axum::extract::State;
use axum::routing::get;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use storeflow_executors::engines;

use super::{AppState, RequestId, Route, schema};
use crate::auth::AuthUser;
use crate::error::ApiResult;

pub(super) const ROUTES: &[Route] = &[Route::get(
    "/api/v1/engines",
    "The store engines of this build: name, label, themes (the default first) and which of \
     upgrades, backups and restores their stores offer",
    || get(list_engines),
)
.answer(schema::<EngineList>)];

/// The schema of an engine name: one of the registry's.
pub fn engine_name(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "type": "string", "enum": engines::names() })
}

/// [`engine_name`], or null / left out.
pub fn optional_engine_name(_: &mut SchemaGenerator) -> Schema {
    let mut names: Vec<serde_json::Value> = engines::names().into_iter().map(Into::into).collect();
    names.push(serde_json::Value::Null);
    schemars::json_schema!({ "enum": names })
}

/// The store engines of this build.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngineList {
    request_id: RequestId,
    engines: Vec<EngineOffer>,
}

/// A store engine and what its stores offer.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngineOffer {
    /// What `engine` says in the API (`woocommerce`, `medusa`, …).
    #[schemars(schema_with = "engine_name")]
    name: &'static str,
    label: &'static str,
    /// The default first; empty when the engine has no themes.
    themes: Vec<&'static str>,
    default_theme: Option<&'static str>,
    upgrades: bool,
    backups: bool,
    /// What a backup of the engine's stores holds ("the store's database and uploaded
    /// files"); null when its stores have no backups.
    backup_contents: Option<&'static str>,
    restore_into_new_store: bool,
    restore_in_place: bool,
}

/// Every engine: its name (the API's `engine`), its label, its themes (the default first; none
/// when the engine has no themes), and which day-2 operations its stores have.
pub async fn list_engines(
    State(_state): State<AppState>,
    AuthUser(_user): AuthUser,
) -> ApiResult<axum::Json<EngineList>> {
    let engines = engines::registry()
        .into_iter()
        .map(|engine| {
            let themes = engine.themes();
            EngineOffer {
                name: engine.name(),
                label: engine.label(),
                default_theme: themes.first().copied(),
                themes,
                upgrades: engine.upgrade_workflow().is_some(),
                backups: engine.backup_workflow().is_some(),
                backup_contents: engine.backup_workflow().map(|_| engine.backup_contents()),
                restore_into_new_store: engine.restore_workflow().is_some(),
                restore_in_place: engine.restore_in_place_workflow().is_some(),
            }
        })
        .collect();
    Ok(axum::Json(EngineList {
        request_id: RequestId::current(),
        engines,
    }))
}
