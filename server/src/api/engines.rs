//! `GET /engines`: the store engines of this build and what each offers, from the executors'
//! registry — what clients (the dashboard's create form, its backup and restore actions) read
//! instead of keeping their own lists.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use storeflow_executors::engines;

use super::AppState;
use crate::auth::AuthUser;
use crate::error::ApiResult;

/// Every engine: its name (the API's `engine`), its label, its themes (the default first; none
/// when the engine has no themes), and which day-2 operations its stores have.
pub async fn list_engines(
    State(_state): State<AppState>,
    AuthUser(_user): AuthUser,
) -> ApiResult<Response> {
    let engines: Vec<_> = engines::registry()
        .into_iter()
        .map(|engine| {
            let themes = engine.themes();
            json!({
                "name": engine.name(),
                "label": engine.label(),
                "themes": themes,
                "defaultTheme": themes.first(),
                "upgrades": engine.upgrade_workflow().is_some(),
                "backups": engine.backup_workflow().is_some(),
                "restoreIntoNewStore": engine.restore_workflow().is_some(),
                "restoreInPlace": engine.restore_in_place_workflow().is_some(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "engines": engines })).into_response())
}
