//! Step implementations for store engines and the clients they use (Kubernetes, Helm,
//! WP-CLI, Medusa Admin API).
//!
//! So far: the cluster probe and the Kubernetes steps (namespaces, readiness); helm, the
//! engine setups and verification arrive with the rest of the store-engines issue. The engine's built-in `selftest` step lives in `storeflow-engine`.
//!
//! Architecture Invariant: executors never write engine tables and never hold a database
//! transaction across an external call.

pub mod breaker;
pub mod chart;
pub mod cluster;
pub mod credentials;
pub mod helm;
pub mod kubernetes;
pub mod sealing;
pub mod store_state;
