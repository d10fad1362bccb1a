//! The versioned workflow definitions storeflow runs, and the registry that lists them.
//!
//! Definitions are data built from executor steps; this crate contains no I/O. Every
//! process (server, worker, CLI) registers [`registry`] at start-up, so they all agree on
//! the definitions and their content hashes.
//!
//! Architecture Invariant: a definition's `(name, version)` never changes content once
//! released; a change is a new version added beside the old one, which stays registered
//! so runs pinned to it can finish.

pub mod cleanup;
pub mod store;

use storeflow_engine::{Definition, selftest};

pub use cleanup::default_schedules;
pub use store::{
    ROTATE_CREDENTIALS, TEARDOWN_STORE, backup_workflows, provision_workflow, upgrade_workflows,
};

/// Every workflow definition of this build, all versions.
pub fn registry() -> Vec<Definition> {
    let mut definitions = vec![
        selftest::definition(),
        store::teardown_store_v1(),
        store::rotate_credentials_v1(),
        store::reap_orphan_namespace_v1(),
        store::fleet_rollout_v1(),
        cleanup::reap_failed_stores_v1(),
        cleanup::reap_orphans_v1(),
        cleanup::prune_history_v1(),
        cleanup::scheduled_backups_v1(),
    ];
    for engine in storeflow_executors::engines::registry() {
        for version in engine.provision_versions() {
            definitions.push(store::provision(engine, *version));
        }
        definitions.extend(store::upgrade_v1(engine));
        definitions.extend(store::backup_v1(engine));
        definitions.extend(store::restore_v1(engine));
        definitions.extend(store::restore_in_place_v1(engine));
    }
    definitions
}
