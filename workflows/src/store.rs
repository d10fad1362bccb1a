//! Store lifecycle workflows, built from the store engines: provisioning per engine,
//! teardown, and credential rotation.
//!
//! Run input (written by the API when it creates the store): `store_id`, `namespace`,
//! `engine`, `tenant`, `name`, `theme` (WooCommerce), `host`, `urls {storefront, admin}` and
//! `ingress {className, controller, tlsSecretName}`. No secret is ever part of the input.

use std::time::Duration;

use storeflow_engine::children::AwaitChildren;
use storeflow_engine::{Definition, RetryPolicy, StepDef};
use storeflow_executors::backup::{
    DumpBackupPart, FailBackup, FinishBackup, PruneBackups, RestoreBackupPart, VerifyBackup,
    WriteBackupManifest,
};
use storeflow_executors::chart::StoreValues;
use storeflow_executors::engines::{SetAdminPassword, StoreEngine};
use storeflow_executors::helm::{InstallChart, RecordRelease, RollbackChart, UninstallChart};
use storeflow_executors::kubernetes::{
    DeleteNamespace, EnsureNamespace, WaitNamespaceGone, WaitReady,
};
use storeflow_executors::rollout::{CheckWave, FLEET_ROLLOUT, MAX_WAVES, StartWave, wave_steps};
use storeflow_executors::secrets::EnsureStoreSecret;
use storeflow_executors::store_state::{
    FinishRotation, MarkDeleted, MarkProvisioning, MarkReady, MarkRestored, MarkRolledBack,
    MarkUpgraded, RecordUpgradeFailure,
};

pub const TEARDOWN_STORE: &str = "teardown-store";
pub const ROTATE_CREDENTIALS: &str = "rotate-credentials";

/// The provisioning workflow for an engine name (`woocommerce`, `medusa`).
pub fn provision_workflow(engine: &str) -> Option<&'static str> {
    storeflow_executors::engines::find(engine).map(|e| e.provision_workflow())
}

/// Every engine's provisioning workflow: the runs that share the per-cluster cap on
/// provisioning in flight (`PROVISIONING_CONCURRENCY`).
pub fn provisioning_workflows() -> Vec<String> {
    storeflow_executors::engines::registry()
        .iter()
        .flat_map(|engine| {
            // A restore provisions a store too (and then some).
            std::iter::once(engine.provision_workflow()).chain(engine.restore_workflow())
        })
        .map(str::to_owned)
        .collect()
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

fn values_step(name: &str, engine: &dyn StoreEngine, published: bool) -> StepDef {
    let contribution = engine.chart_values(published);
    StepDef::new(
        name,
        StoreValues {
            expose: published,
            values: contribution.values,
            copies: contribution.copies,
        },
    )
}

/// Provisioning, version 1: the namespace and the store's Secret, a first install with no
/// Ingress, readiness, the engine's setup, then publication (the Ingress, and for Medusa the
/// storefront with its publishable key), readiness again, the engine's verification (a test
/// order through the public API), and `ready`.
pub fn provision_v1(engine: &dyn StoreEngine) -> Definition {
    provision(engine, 1)
}

/// Provisioning of `version`: the steps of version 1 with the engine's setup steps of that
/// version (Medusa's v2 seeds the old platform's catalogue).
pub fn provision(engine: &dyn StoreEngine, version: i32) -> Definition {
    let mut definition = Definition::new(engine.provision_workflow(), version)
        .deadline(Duration::from_secs(60 * 60))
        .step(StepDef::new("mark-provisioning", MarkProvisioning {}))
        .step(
            StepDef::new("ensure-namespace", EnsureNamespace::default())
                .retry(cluster_retry())
                .timeout(Duration::from_secs(5 * 60)),
        )
        .step(
            StepDef::new(
                "ensure-store-secret",
                EnsureStoreSecret {
                    keys: engine
                        .secret_keys()
                        .iter()
                        .map(|k| (*k).to_owned())
                        .collect(),
                },
            )
            .retry(cluster_retry())
            .timeout(Duration::from_secs(2 * 60)),
        )
        .step(values_step("chart-values", engine, false))
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
        );
    for step in engine.setup_steps_for(version) {
        definition = definition.step(step);
    }
    definition = definition
        .step(values_step("publish-values", engine, true))
        .step(
            StepDef::new(
                "publish-chart",
                InstallChart {
                    values_from: Some("publish-values".into()),
                },
            )
            .retry(cluster_retry())
            .timeout(Duration::from_secs(15 * 60)),
        )
        .step(
            StepDef::new("wait-published", WaitReady::default())
                .retry(cluster_retry())
                .timeout(Duration::from_secs(15 * 60)),
        );
    for step in engine.verify_steps() {
        definition = definition.step(step);
    }
    definition.step(StepDef::new(
        "mark-ready",
        MarkReady {
            first_order_from: Some("verify-storefront".into()),
        },
    ))
}

/// Every engine's backup workflow (`backup-<engine>`).
pub fn backup_workflows() -> Vec<String> {
    storeflow_executors::engines::registry()
        .iter()
        .filter_map(|engine| engine.backup_workflow().map(str::to_owned))
        .collect()
}

/// Dumping and storing a part: a store's database or files may take a while to stream; a
/// failure (the pod restarted, the bucket was unreachable) starts the part again from its
/// beginning, as a new upload.
fn backup_part_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_secs(5),
        max_backoff: Duration::from_secs(120),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

/// Backup, version 1 (`backup-<engine>`), of a store the API or the backup schedule recorded
/// as a running backup (`backup_id` in the input): each of the engine's parts dumped through
/// exec and streamed, encrypted, into the bucket; the manifest; the backup marked complete;
/// the store's scheduled backups pruned by its retention. If a part cannot be stored, the
/// on-failure step deletes what the backup stored and marks it failed with the reason. The
/// store itself is not touched: it stays `ready` and serves throughout.
pub fn backup_v1(engine: &dyn StoreEngine) -> Option<Definition> {
    let name = engine.backup_workflow()?;
    let parts = engine.backup_parts();
    if parts.is_empty() {
        return None;
    }
    let mut definition = Definition::new(name, 1).deadline(Duration::from_secs(6 * 60 * 60));
    let mut dumped = Vec::new();
    for part in parts {
        let step = format!("dump-{}", part.name);
        dumped.push(step.clone());
        definition = definition.step(
            StepDef::new(&step, DumpBackupPart { part })
                .retry(backup_part_retry())
                .timeout(Duration::from_secs(2 * 60 * 60)),
        );
    }
    Some(
        definition
            .step(
                StepDef::new("write-manifest", WriteBackupManifest { parts: dumped })
                    .retry(cluster_retry())
                    .timeout(Duration::from_secs(5 * 60)),
            )
            .step(StepDef::new(
                "finish-backup",
                FinishBackup {
                    manifest_from: "write-manifest".into(),
                },
            ))
            .step(
                StepDef::new("prune-backups", PruneBackups { all: false })
                    .retry(cluster_retry())
                    .timeout(Duration::from_secs(15 * 60)),
            )
            .on_failure(
                StepDef::new("fail-backup", FailBackup {})
                    .retry(cluster_retry())
                    .timeout(Duration::from_secs(15 * 60)),
            ),
    )
}

/// The backup read back whole and checked against its manifest (`verify-backup`), then each
/// part restored through exec (`restore-<part>`): what both restores do before the engine's
/// after-restore steps.
fn restore_parts(
    mut definition: Definition,
    parts: Vec<storeflow_executors::backup::BackupPart>,
) -> Definition {
    definition = definition.step(
        StepDef::new("verify-backup", VerifyBackup {})
            .retry(backup_part_retry())
            .timeout(Duration::from_secs(2 * 60 * 60)),
    );
    for part in parts {
        definition = definition.step(
            StepDef::new(format!("restore-{}", part.name), RestoreBackupPart { part })
                .retry(backup_part_retry())
                .timeout(Duration::from_secs(2 * 60 * 60)),
        );
    }
    definition
}

/// Restore into a new store, version 1 (`restore-<engine>`): provisioning as the engine's
/// newest version does it (namespace, Secret, chart, readiness, setup), then the backup
/// (`restore_backup_id` in the input) is verified whole against its manifest before anything
/// is restored, each part is restored through exec, the engine's after-restore steps make the
/// data this store's (URL, admin password), its data migrations bring an older backup's
/// schema up to date, and publication and verification with a real test order follow as in
/// provisioning.
pub fn restore_v1(engine: &dyn StoreEngine) -> Option<Definition> {
    let name = engine.restore_workflow()?;
    let parts = engine.backup_parts();
    if parts.is_empty() {
        return None;
    }
    let version = engine.provision_versions().last().copied().unwrap_or(1);
    let provisioning = provision(engine, version);
    let mut definition = Definition::new(name, 1).deadline(Duration::from_secs(6 * 60 * 60));
    let setup_ends = provisioning
        .steps
        .iter()
        .position(|step| step.name == "publish-values")
        .unwrap_or(provisioning.steps.len());
    let mut provisioning_steps = provisioning.steps.into_iter();
    for step in provisioning_steps.by_ref().take(setup_ends) {
        definition = definition.step(step);
    }
    definition = restore_parts(definition, parts);
    for step in engine
        .after_restore_steps()
        .into_iter()
        .chain(engine.migration_steps())
    {
        definition = definition.step(step);
    }
    for step in provisioning_steps {
        definition = definition.step(step);
    }
    Some(definition)
}

/// Restore into the same store, version 1 (`restore-in-place-<engine>`), of a ready store the
/// API made `restoring` after its owner confirmed with the store's name: the backup
/// (`restore_backup_id` in the input) is read back whole and checked against its manifest
/// before anything of the store is touched (a damaged backup leaves the store as it was, only
/// failed), then each part replaces the store's, the engine's after-restore steps make the
/// data this store's again (its URL, its current admin password), its data migrations bring
/// an older backup's schema up to date, the store is verified with a real test order, and it
/// is `ready` again. The release is not reinstalled: the store keeps its chart and versions.
pub fn restore_in_place_v1(engine: &dyn StoreEngine) -> Option<Definition> {
    let name = engine.restore_in_place_workflow()?;
    let parts = engine.backup_parts();
    if parts.is_empty() {
        return None;
    }
    let mut definition = restore_parts(
        Definition::new(name, 1).deadline(Duration::from_secs(6 * 60 * 60)),
        parts,
    );
    for step in engine
        .after_restore_steps()
        .into_iter()
        .chain(engine.migration_steps())
        .chain(engine.verify_steps())
    {
        definition = definition.step(step);
    }
    Some(definition.step(StepDef::new("mark-restored", MarkRestored {})))
}

/// Every engine's upgrade workflow (`upgrade-<engine>`, the "upgrade-store" family).
pub fn upgrade_workflows() -> Vec<String> {
    storeflow_executors::engines::registry()
        .iter()
        .filter_map(|engine| engine.upgrade_workflow().map(str::to_owned))
        .collect()
}

/// Waiting for an upgraded (or rolled back) release: a crash loop or an image that cannot
/// be pulled fails at once; a rollout that never becomes ready fails after 5 minutes, and
/// is looked at once more in case the API server was the problem.
fn rollout_wait(name: &str) -> StepDef {
    // Rechecked every 2 s (not 5): a bad release is recognised, and a good one is verified,
    // sooner; a store is upgraded rarely, so the few more reads cost little.
    StepDef::new(
        name,
        WaitReady {
            recheck: Duration::from_secs(2),
        },
    )
    .retry(RetryPolicy {
        max_attempts: 2,
        ..cluster_retry()
    })
    .timeout(Duration::from_secs(5 * 60))
}

/// Upgrade, version 1 (`upgrade-<engine>`), for a `ready` store the API has marked
/// `upgrading`: record the release as it is (revision, versions, values), upgrade it to the
/// chart this build ships with values computed again (secrets stay in the store's Secret;
/// values only setup could compute are kept from the release), wait for the rollout, run
/// the engine's data migrations, verify the store with a real test order, and mark it
/// `ready` on its new versions. If any of that fails for good, the on-failure steps record
/// why on the store, roll the release back to the recorded revision, wait for it, verify
/// the store again and mark it `ready` on its old versions; the run then ends failed with
/// the upgrade's error. Only a rollback that fails leaves the store `failed`.
pub fn upgrade_v1(engine: &dyn StoreEngine) -> Option<Definition> {
    let name = engine.upgrade_workflow()?;
    let contribution = engine.chart_values(true);
    let mut copies = contribution.copies;
    for kept in engine.kept_values() {
        copies.push((
            format!("output.record-release.values.{kept}"),
            (*kept).to_owned(),
        ));
    }
    let mut definition = Definition::new(name, 1)
        .deadline(Duration::from_secs(60 * 60))
        .step(
            StepDef::new("record-release", RecordRelease {})
                .retry(cluster_retry())
                .timeout(Duration::from_secs(15 * 60)),
        )
        .step(StepDef::new(
            "upgrade-values",
            StoreValues {
                expose: true,
                values: contribution.values,
                copies,
            },
        ))
        .step(
            StepDef::new(
                "upgrade-chart",
                InstallChart {
                    values_from: Some("upgrade-values".into()),
                },
            )
            .retry(cluster_retry())
            .timeout(Duration::from_secs(15 * 60)),
        )
        .step(rollout_wait("wait-upgraded"));
    for step in engine.migration_steps() {
        definition = definition.step(step);
    }
    for step in engine.verify_steps() {
        definition = definition.step(step);
    }
    definition = definition
        .step(StepDef::new(
            "mark-upgraded",
            MarkUpgraded {
                from: "record-release".into(),
                to: "upgrade-chart".into(),
            },
        ))
        .on_failure(StepDef::new(
            "record-upgrade-failure",
            RecordUpgradeFailure {
                from: "record-release".into(),
            },
        ))
        .on_failure(
            StepDef::new(
                "rollback-chart",
                RollbackChart {
                    to: "record-release".into(),
                },
            )
            .retry(cluster_retry())
            .timeout(Duration::from_secs(15 * 60)),
        )
        .on_failure(rollout_wait("wait-rolled-back"));
    for mut step in engine.verify_steps() {
        step.name = format!("{}-after-rollback", step.name);
        definition = definition.on_failure(step);
    }
    Some(definition.on_failure(StepDef::new(
        "mark-rolled-back",
        MarkRolledBack {
            from: "record-release".into(),
            attempted: "upgrade-chart".into(),
        },
    )))
}

/// Fleet rollout, version 1: for each of up to [`MAX_WAVES`] waves (the API's plan in the run
/// input; unused waves pass at once), start the wave's upgrades as child runs, wait for them
/// without holding a worker, and go on only if no more than `maxFailureShare` of them failed
/// (else the run fails: halted, later waves untouched; an operator's retry of that check
/// accepts the failures and goes on). At most `UPGRADE_CONCURRENCY` upgrades run at once.
pub fn fleet_rollout_v1() -> Definition {
    let mut definition = Definition::new(FLEET_ROLLOUT, 1);
    for wave in 0..MAX_WAVES {
        let [start, awaited, check] = wave_steps(wave);
        let started_by = start.clone();
        definition = definition
            .step(
                StepDef::new(start, StartWave { wave })
                    .retry(cluster_retry())
                    .timeout(Duration::from_secs(5 * 60)),
            )
            .step(
                StepDef::new(awaited, AwaitChildren::new(started_by))
                    .retry(cluster_retry())
                    // A wave of many stores waits its turn under the upgrade cap.
                    .timeout(Duration::from_secs(24 * 60 * 60)),
            )
            .step(StepDef::new(check, CheckWave { wave }).retry(RetryPolicy::no_retries()));
    }
    definition
}

/// Teardown, version 1: the release, then the namespace (and with it the store's Secret and
/// volumes), waiting until it is gone, then `deleted`.
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

/// Credential rotation, version 1: the API has sealed the new password on the store row
/// (keeping the previous one while this runs); the store's engine applies it; then the
/// previous one is forgotten.
pub fn rotate_credentials_v1() -> Definition {
    Definition::new(ROTATE_CREDENTIALS, 1)
        .deadline(Duration::from_secs(30 * 60))
        .step(
            StepDef::new("set-admin-password", SetAdminPassword {})
                .retry(cluster_retry())
                .timeout(Duration::from_secs(5 * 60)),
        )
        .step(StepDef::new("finish-rotation", FinishRotation {}))
}

/// Removing a namespace labelled as storeflow's that no live store owns (found by
/// `reap-orphans`): the release, then the namespace. No store row is touched.
pub fn reap_orphan_namespace_v1() -> Definition {
    Definition::new(storeflow_executors::cleanup::ORPHAN_WORKFLOW, 1)
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
}
