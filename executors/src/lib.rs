//! Step implementations for store engines and the clients they use (Kubernetes, Helm,
//! WP-CLI, Medusa Admin API).
//!
//! So far this crate holds the cluster probe; the store-engine steps arrive with the
//! store-engines issue. The engine's built-in `selftest` step lives in `storeflow-engine`.
//!
//! Architecture Invariant: executors never write engine tables and never hold a database
//! transaction across an external call.

pub mod cluster;
