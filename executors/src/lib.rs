//! Step implementations for store engines and the clients they use (Kubernetes, Helm,
//! WP-CLI, Medusa Admin API).
//!
//! [`engines::StoreEngine`] is what an engine author implements ([`woocommerce`], [`medusa`]);
//! the other modules are the step kinds every engine's workflows are built from (namespaces,
//! the store Secret, helm, readiness, exec, the service proxy, store status) and the clients
//! they use.
//!
//! Architecture Invariant: executors write engine tables only through the engine's API
//! (enqueueing runs), and never hold a database transaction across an external call.

#![warn(missing_docs)]

pub mod backup;
pub mod breaker;
pub mod chart;
pub mod cleanup;
pub mod cluster;
pub mod engines;
pub mod helm;
pub mod kubernetes;
pub mod medusa;
pub mod metrics;
pub mod pod_exec;
pub mod rollout;
pub mod scratch;
pub mod secrets;
pub mod service_proxy;
pub mod store;
pub mod store_state;
pub mod woocommerce;

/// An error and its causes, `a: b: c`, each cause once. kube's, sqlx's and rustls' errors keep
/// the useful part (a refused connection, an unknown certificate issuer) in their sources.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
