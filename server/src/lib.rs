//! storeflow's control plane: the HTTP API (this library, so tests call it in process) and
//! the `storeflow` binary built on it.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod metric_names;
pub mod openapi;
pub mod passwords;
pub mod store_rules;
pub mod tenancy;

pub use api::{ApiConfig, AppState, app};
