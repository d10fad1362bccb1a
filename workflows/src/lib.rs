//! The versioned workflow definitions storeflow runs, and the registry that lists them.
//!
//! Definitions are data built from executor steps; this crate contains no I/O. Every
//! process (server, worker, CLI) registers [`registry`] at start-up, so they all agree on
//! the definitions and their content hashes.
//!
//! Architecture Invariant: a definition's `(name, version)` never changes content once
//! released; a change is a new version added beside the old one, which stays registered
//! so runs pinned to it can finish.

mod store;

use storeflow_engine::{Definition, selftest};

pub use store::{PROVISION_MEDUSA, PROVISION_WOOCOMMERCE, TEARDOWN_STORE, provision_workflow};

/// Every workflow definition of this build, all versions.
pub fn registry() -> Vec<Definition> {
    vec![
        selftest::definition(),
        store::provision_woocommerce_v1(),
        store::provision_medusa_v1(),
        store::teardown_store_v1(),
    ]
}
