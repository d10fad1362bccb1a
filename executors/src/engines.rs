//! Store engines: what makes a WooCommerce store different from a Medusa store, behind one
//! trait. An engine author implements [`StoreEngine`] (name, the keys of the store Secret its
//! chart reads, its chart values, its setup, verification and credential-rotation steps) and
//! adds it to [`registry`]; the workflows crate builds the provisioning and rotation
//! workflows from it. Nothing in the workflow engine changes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use storeflow_engine::{Step, StepContext, StepDef, StepOutcome};

/// Chart values an engine adds to the common ones, and values copied in at run time.
#[derive(Debug, Clone, Default)]
pub struct EngineValues {
    /// Merged over the common values (`storeId`, `engine`, `ingress`, `existingSecret`, ...).
    pub values: Value,
    /// `(from, to)`: `from` is `input.<field>` (the run input) or `output.<step>.<field>` (a
    /// finished step's output); `to` a dotted path in the values. Missing sources are skipped.
    pub copies: Vec<(String, String)>,
}

/// One kind of store.
pub trait StoreEngine: Send + Sync + 'static {
    /// The engine's name in the API (`engine` of a store) and in chart values.
    fn name(&self) -> &'static str;

    /// The engine's name as people read it ("WooCommerce").
    fn label(&self) -> &'static str {
        self.name()
    }

    /// The themes a store of this engine may be created with, the default first; empty when
    /// the engine has none (the API then refuses a theme).
    fn themes(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The provisioning workflow's name.
    fn provision_workflow(&self) -> &'static str;

    /// The workflow that upgrades a store's release to the chart this build ships
    /// (`upgrade-<engine>`), or `None` when the engine's stores cannot be upgraded in place.
    fn upgrade_workflow(&self) -> Option<&'static str> {
        None
    }

    /// Where the engine's admin UI is on the store's host (`/wp-admin/`), if the store chart
    /// deploys one. `None`: the API shows no admin URL rather than one that answers 404.
    fn admin_path(&self) -> Option<&'static str> {
        None
    }

    /// Whether the admin UI signs in only over HTTPS (its session cookie is `Secure`): the API
    /// then shows no admin URL for stores served over plain HTTP, where it could not work.
    fn admin_needs_https(&self) -> bool {
        false
    }

    /// Keys of the store Secret (`store-secrets`) the chart reads; generated once per store.
    fn secret_keys(&self) -> &'static [&'static str];

    /// Chart values for a first install (`published` false: no Ingress yet) and for
    /// publication once setup is done (`published` true).
    fn chart_values(&self, published: bool) -> EngineValues;

    /// Steps run once the store's pods are ready, before it is reachable from outside.
    fn setup_steps(&self) -> Vec<StepDef>;

    /// The provisioning versions this engine has, oldest first; each is a released definition
    /// (runs pinned to it finish on it), and new stores get the newest.
    fn provision_versions(&self) -> &'static [i32] {
        &[1]
    }

    /// The setup steps of provisioning version `version` (version 1's are [`Self::setup_steps`]).
    fn setup_steps_for(&self, version: i32) -> Vec<StepDef> {
        let _ = version;
        self.setup_steps()
    }

    /// Steps that prove the published store works: the catalogue is visible and a test order
    /// goes through (then is cancelled).
    fn verify_steps(&self) -> Vec<StepDef>;

    /// Data migrations run after the store's release was upgraded and its pods are ready,
    /// before the store is verified again (WooCommerce: `wp core update-db`, `wp wc update`;
    /// Medusa: `medusa migrations run`). Each must be safe to run when nothing is pending.
    fn migration_steps(&self) -> Vec<StepDef> {
        Vec::new()
    }

    /// Dotted chart-values paths an upgrade keeps from the deployed release because no
    /// upgrade step can compute them again (they come from setup steps that run once, e.g.
    /// Medusa's publishable key).
    fn kept_values(&self) -> &'static [&'static str] {
        &[]
    }

    /// The parts of a backup of this engine's stores (the database, uploaded files), each
    /// dumped and restored through exec. Empty: the engine's stores cannot be backed up.
    fn backup_parts(&self) -> Vec<crate::backup::BackupPart> {
        Vec::new()
    }

    /// The workflow that backs a store up (`backup-<engine>`), if [`Self::backup_parts`] has any.
    fn backup_workflow(&self) -> Option<&'static str> {
        None
    }

    /// What a backup of this engine's stores holds, as people choosing to back up or restore
    /// read it: "the store's database and uploaded files".
    fn backup_contents(&self) -> &'static str {
        "the store's data"
    }

    /// The workflow that provisions a new store from a backup (`restore-<engine>`).
    fn restore_workflow(&self) -> Option<&'static str> {
        None
    }

    /// The workflow that brings a backup back into the store it is asked for, replacing that
    /// store's data (`restore-in-place-<engine>`).
    fn restore_in_place_workflow(&self) -> Option<&'static str> {
        None
    }

    /// Steps after a backup's parts were restored into a store, before its data migrations:
    /// what makes the restored data this store's (its URL, its admin's password).
    fn after_restore_steps(&self) -> Vec<StepDef> {
        Vec::new()
    }

    /// The step that sets the store admin's password to the one sealed on the store row (the
    /// rotation's previous credentials are available to it). Run by `set-admin-password`.
    fn set_admin_password(&self) -> Box<dyn Step>;
}

/// Every engine of this build. The one place engines are registered.
pub fn registry() -> Vec<&'static dyn StoreEngine> {
    vec![&crate::woocommerce::WooCommerce, &crate::medusa::Medusa]
}

/// The engine named `name`.
pub fn find(name: &str) -> Option<&'static dyn StoreEngine> {
    registry().into_iter().find(|engine| engine.name() == name)
}

/// The engines' names, in registry order (`woocommerce, medusa`): what the API accepts.
pub fn names() -> Vec<&'static str> {
    registry().iter().map(|engine| engine.name()).collect()
}

/// Why the database could not be brought to the registry's engines.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Engine names are what stores and backups carry and what the chart switches on.
    #[error("engine name `{0}` must be 1 to 40 lower-case letters, digits and dashes")]
    BadName(String),
    /// The enum could not be read or extended.
    #[error("adding the registry's engines to the database's store_engine type failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// Makes the database's `store_engine` enum (the type of `stores.engine` and
/// `store_backups.engine`) name every engine of `names` — the registry's, [`names()`], when
/// the server migrates — so an engine added to [`registry()`] needs no migration of its own.
/// Returns the names it added. Values are only ever added: PostgreSQL cannot drop one that a
/// row may still use. Concurrent callers (a worker and the API starting together) serialize on
/// an advisory lock.
pub async fn register_in_database(
    pool: &sqlx::PgPool,
    names: &[&str],
) -> Result<Vec<String>, RegisterError> {
    if let Some(bad) = names.iter().find(|name| {
        name.is_empty()
            || name.len() > 40
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }) {
        return Err(RegisterError::BadName((*bad).to_owned()));
    }
    let missing = |present: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|name| !present.iter().any(|p| p == *name))
            .map(|name| (*name).to_owned())
            .collect()
    };
    let (present,): (Vec<String>,) =
        sqlx::query_as("SELECT enum_range(NULL::store_engine)::text[]")
            .fetch_one(pool)
            .await?;
    if missing(&present).is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('storeflow store_engine', 0))")
        .execute(&mut *tx)
        .await?;
    let (present,): (Vec<String>,) =
        sqlx::query_as("SELECT enum_range(NULL::store_engine)::text[]")
            .fetch_one(&mut *tx)
            .await?;
    let added = missing(&present);
    for name in &added {
        // DDL takes no parameters; the name was checked above to be [a-z0-9-] only.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TYPE store_engine ADD VALUE IF NOT EXISTS '{name}'"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(added)
}

/// Sets the admin password of the store's engine (the engine is in the run input), so one
/// `rotate-credentials` workflow serves every engine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetAdminPassword {}

#[typetag::serde(name = "set-admin-password")]
#[async_trait::async_trait]
impl Step for SetAdminPassword {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let name = crate::store::StoreRunInput::read(cx)
            .ok()
            .and_then(|input| input.engine)
            .unwrap_or_default();
        match find(&name) {
            Some(engine) => engine.set_admin_password().run(cx).await,
            None => StepOutcome::fatal(format!("no store engine named `{name}` is registered")),
        }
    }
}
