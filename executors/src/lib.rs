//! Step implementations for store engines and the clients they use (Kubernetes, Helm,
//! WP-CLI, Medusa Admin API).
//!
//! The store-engine executors arrive with the store-engines issue; until then this crate
//! holds no steps. The engine's built-in `selftest` step lives in `storeflow-engine`.
//!
//! Architecture Invariant: executors never write engine tables and never hold a database
//! transaction across an external call.
