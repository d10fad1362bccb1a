//! Store lifecycle workflows: provisioning per engine and teardown.
//!
//! Run input (written by the API when it creates the store): `store_id`, `namespace`,
//! `engine`, `tenant`, `name`, `theme` (WooCommerce), `host`, `urls {storefront, admin}` and
//! `ingress {className, controller, tlsSecretName}`. No secret is ever part of the input.

use std::time::Duration;

use storeflow_engine::{Definition, RetryPolicy, StepDef};
use storeflow_executors::chart::StoreValues;
use storeflow_executors::helm::{InstallChart, UninstallChart};
use storeflow_executors::kubernetes::{
    DeleteNamespace, EnsureNamespace, WaitNamespaceGone, WaitReady,
};
use storeflow_executors::store_state::{MarkDeleted, MarkProvisioning, MarkReady};

pub const PROVISION_WOOCOMMERCE: &str = "provision-woocommerce";
pub const PROVISION_MEDUSA: &str = "provision-medusa";
pub const TEARDOWN_STORE: &str = "teardown-store";

/// The provisioning workflow for an engine name (`woocommerce`, `medusa`).
pub fn provision_workflow(engine: &str) -> Option<&'static str> {
    match engine {
        "woocommerce" => Some(PROVISION_WOOCOMMERCE),
        "medusa" => Some(PROVISION_MEDUSA),
        _ => None,
    }
}

/// Calls to the cluster or helm: a few quick retries; outages are parked by the circuit
/// breakers instead of consuming these.
fn cluster_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(60),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

fn provision(name: &str) -> Definition {
    Definition::new(name, 1)
        .deadline(Duration::from_secs(45 * 60))
        .step(StepDef::new("mark-provisioning", MarkProvisioning {}))
        .step(
            StepDef::new("ensure-namespace", EnsureNamespace::default())
                .retry(cluster_retry())
                .timeout(Duration::from_secs(5 * 60)),
        )
        .step(StepDef::new("chart-values", StoreValues { expose: true }))
        .step(
            StepDef::new(
                "install-chart",
                InstallChart {
                    values_from: Some("chart-values".into()),
                },
            )
            .retry(cluster_retry())
            .timeout(Duration::from_secs(15 * 60)),
        )
        .step(
            StepDef::new("wait-ready", WaitReady::default())
                .retry(cluster_retry())
                .timeout(Duration::from_secs(15 * 60)),
        )
        .step(StepDef::new("mark-ready", MarkReady {}))
}

pub fn provision_woocommerce_v1() -> Definition {
    provision(PROVISION_WOOCOMMERCE)
}

pub fn provision_medusa_v1() -> Definition {
    provision(PROVISION_MEDUSA)
}

pub fn teardown_store_v1() -> Definition {
    Definition::new(TEARDOWN_STORE, 1)
        .deadline(Duration::from_secs(30 * 60))
        .step(
            StepDef::new("uninstall-chart", UninstallChart {})
                .retry(cluster_retry())
                .timeout(Duration::from_secs(10 * 60)),
        )
        .step(
            StepDef::new("delete-namespace", DeleteNamespace {})
                .retry(cluster_retry())
                .timeout(Duration::from_secs(5 * 60)),
        )
        .step(
            StepDef::new("wait-namespace-gone", WaitNamespaceGone::default())
                .retry(cluster_retry())
                .timeout(Duration::from_secs(15 * 60)),
        )
        .step(StepDef::new("mark-deleted", MarkDeleted {}))
}
