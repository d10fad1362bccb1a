//! WooCommerce (WordPress + MariaDB): setup through WP-CLI in the `wp-cli` container of the
//! WordPress pod (the official `wordpress:cli` image, sharing the document root), and
//! verification through the WooCommerce Store API behind the service proxy.
//!
//! Every command is an argv with `--path=/var/www/html`; every `wp wc` command carries
//! `--user=<admin>`. The admin password reaches WP-CLI on standard input (`--prompt=`), never
//! in argv. Each step is idempotent: state is read before it is changed (is-installed,
//! is-active, products by SKU), so a retried or re-run step changes nothing twice.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{RetryPolicy, StepContext, StepDef, StepOutcome};

use crate::backup::{BackupPart, shell};
use crate::breaker::{Breakers, guarded};
use crate::engines::{EngineValues, StoreEngine};
use crate::kubernetes::client;
use crate::pod_exec::{self, ExecOutput, Target};
use crate::service_proxy::{self, Service};
use crate::store::StoreRunInput;
use crate::store::credentials;

/// WordPress's document root in both containers of the pod.
pub const DOCROOT: &str = "/var/www/html";
/// The pinned WooCommerce release.
pub const WOOCOMMERCE_VERSION: &str = "9.5.2";

/// The WooCommerce engine.
#[derive(Debug, Clone, Copy)]
pub struct WooCommerce;

fn setup_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_secs(3),
        max_backoff: Duration::from_secs(60),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

impl StoreEngine for WooCommerce {
    fn name(&self) -> &'static str {
        "woocommerce"
    }

    fn label(&self) -> &'static str {
        "WooCommerce"
    }

    /// The WordPress themes setup installs at a pinned version ([`THEME_VERSIONS`]).
    fn themes(&self) -> Vec<&'static str> {
        THEME_VERSIONS.iter().map(|(theme, _)| *theme).collect()
    }

    fn admin_path(&self) -> Option<&'static str> {
        Some("/wp-admin/")
    }

    fn provision_workflow(&self) -> &'static str {
        "provision-woocommerce"
    }

    fn upgrade_workflow(&self) -> Option<&'static str> {
        Some("upgrade-woocommerce")
    }

    fn secret_keys(&self) -> &'static [&'static str] {
        &["mariadb-root-password", "mariadb-password"]
    }

    fn chart_values(&self, _published: bool) -> EngineValues {
        EngineValues {
            values: json!({}),
            copies: vec![("input.theme".into(), "wordpress.theme".into())],
        }
    }

    fn setup_steps(&self) -> Vec<StepDef> {
        self.setup_steps_for(1)
    }

    /// v2 installs the store's theme at its pinned version ([`THEME_VERSIONS`]).
    fn provision_versions(&self) -> &'static [i32] {
        &[1, 2]
    }

    fn setup_steps_for(&self, version: i32) -> Vec<StepDef> {
        let configure = if version >= 2 {
            WooConfigure::pinned()
        } else {
            WooConfigure::default()
        };
        vec![
            StepDef::new("wp-core-install", WpCoreInstall {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
            StepDef::new("woocommerce-configure", configure)
                .retry(setup_retry())
                .timeout(Duration::from_secs(10 * 60)),
            StepDef::new("woocommerce-products", WooProducts::default())
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
        ]
    }

    fn migration_steps(&self) -> Vec<StepDef> {
        vec![
            StepDef::new("wp-core-update-db", WpDataMigration::core())
                .retry(setup_retry())
                .timeout(Duration::from_secs(10 * 60)),
            StepDef::new("wc-update", WpDataMigration::woocommerce())
                .retry(setup_retry())
                .timeout(Duration::from_secs(15 * 60)),
        ]
    }

    fn verify_steps(&self) -> Vec<StepDef> {
        vec![
            StepDef::new("verify-storefront", WooVerify {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
        ]
    }

    fn set_admin_password(&self) -> Box<dyn storeflow_engine::Step> {
        Box::new(WpSetAdminPassword {})
    }

    fn backup_workflow(&self) -> Option<&'static str> {
        Some("backup-woocommerce")
    }

    fn backup_contents(&self) -> &'static str {
        "the store's database and uploaded files"
    }

    fn restore_workflow(&self) -> Option<&'static str> {
        Some("restore-woocommerce")
    }

    fn restore_in_place_workflow(&self) -> Option<&'static str> {
        Some("restore-in-place-woocommerce")
    }

    /// The database from the MariaDB container (the root password from the container's own
    /// environment, which the chart fills from the store Secret), and `wp-content/uploads`
    /// from the `wp-cli` container, whose working directory the chart sets to the document
    /// root. Restores stream exactly the part's size into the client (`head -c`).
    fn backup_parts(&self) -> Vec<BackupPart> {
        vec![
            BackupPart {
                name: "database".into(),
                app: "mariadb".into(),
                container: "mariadb".into(),
                dump: shell(
                    "MYSQL_PWD=\"$MARIADB_ROOT_PASSWORD\" exec mariadb-dump --user=root \
                          --single-transaction --quick --routines --triggers --add-drop-table \
                          \"$MARIADB_DATABASE\"",
                ),
                restore: shell(
                    "head -c \"$1\" | MYSQL_PWD=\"$MARIADB_ROOT_PASSWORD\" mariadb --user=root \
                             \"$MARIADB_DATABASE\"",
                ),
            },
            BackupPart {
                name: "uploads".into(),
                app: "wordpress".into(),
                container: "wp-cli".into(),
                dump: shell("mkdir -p wp-content/uploads && exec tar -cf - wp-content/uploads"),
                restore: shell("rm -rf wp-content/uploads && head -c \"$1\" | tar -xf -"),
            },
        ]
    }

    fn after_restore_steps(&self) -> Vec<StepDef> {
        vec![
            StepDef::new("wp-rehome", WpRehome {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(10 * 60)),
            StepDef::new("set-admin-password", WpSetAdminPassword {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
        ]
    }
}

/// Moves a restored site to this store's URL: `wp search-replace` of the backed-up store's
/// URL (from the verified manifest) in every table (GUIDs excepted, as WordPress advises),
/// then `home` and `siteurl`. Running it again changes nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WpRehome {}

#[typetag::serde(name = "wp-rehome")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WpRehome {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        let body = async {
            let input = StoreRunInput::read(cx)?;
            let new = input.storefront_url()?.trim_end_matches('/').to_owned();
            let old = cx.state["verify-backup"]["manifest"]["store"]["storefrontUrl"]
                .as_str()
                .map(|u| u.trim_end_matches('/').to_owned());
            let cli = WpCli::new(cx)?;
            let mut replaced = Value::Null;
            if let Some(old) = old.filter(|old| !old.is_empty() && *old != new) {
                let output = cli
                    .must(&wp(&[
                        "search-replace",
                        &old,
                        &new,
                        "--all-tables",
                        "--skip-columns=guid",
                    ]))
                    .await?;
                replaced = json!({ "from": old, "output": output.summary() });
            }
            for option in ["home", "siteurl"] {
                cli.must(&wp(&["option", "update", option, &new])).await?;
            }
            Ok::<_, StepOutcome>(json!({ "url": new, "replaced": replaced }))
        };
        let outcome = async { StepOutcome::from_result(body.await, StepOutcome::Done) };
        guarded(breakers.map(|b| &b.kubernetes), outcome).await
    }
}

/// `wp <args…> --path=/var/www/html`.
pub fn wp(args: &[&str]) -> Vec<String> {
    let mut argv = vec!["wp".to_owned()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    argv.push(format!("--path={DOCROOT}"));
    argv
}

/// Runs WP-CLI commands in the store's `wp-cli` container.
struct WpCli<'a> {
    client: kube::Client,
    target: Target<'a>,
    time_left: Duration,
}

impl<'a> WpCli<'a> {
    fn new(cx: &'a StepContext<'_>) -> Result<WpCli<'a>, StepOutcome> {
        Ok(WpCli {
            client: client(cx)?,
            target: pod_exec::store_target(cx, "wordpress", "wp-cli")?,
            time_left: cx.time_left,
        })
    }

    async fn run(&self, argv: &[String], stdin: Option<&[u8]>) -> Result<ExecOutput, StepOutcome> {
        pod_exec::run(
            self.client.clone(),
            &self.target,
            argv,
            stdin,
            self.time_left,
        )
        .await
    }

    /// Runs a command that must succeed; a failure says which command and what it printed.
    async fn must(&self, argv: &[String]) -> Result<ExecOutput, StepOutcome> {
        let output = self.run(argv, None).await?;
        if output.success() {
            Ok(output)
        } else {
            Err(StepOutcome::retry(format!(
                "`{}` exited with {}: {}",
                argv.join(" "),
                output.code,
                output.summary()
            )))
        }
    }
}

// ---------------------------------------------------------------------------------------

/// A data migration after an upgrade, as WP-CLI runs it: `wp core update-db` (WordPress's
/// schema for the new core) or `wp wc update` (WooCommerce's pending database updates).
/// Both do nothing when the database is current, so a repeated attempt is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WpDataMigration {
    /// The WP-CLI command words (`["core", "update-db"]`).
    pub command: Vec<String>,
}

impl WpDataMigration {
    /// `wp core update-db`: WordPress's schema for the new core.
    pub fn core() -> WpDataMigration {
        WpDataMigration {
            command: vec!["core".into(), "update-db".into()],
        }
    }

    /// `wp wc update`: WooCommerce's pending database updates.
    pub fn woocommerce() -> WpDataMigration {
        WpDataMigration {
            command: vec!["wc".into(), "update".into()],
        }
    }

    /// The full WP-CLI argv, with `--path`.
    pub fn argv(&self) -> Vec<String> {
        let words: Vec<&str> = self.command.iter().map(String::as_str).collect();
        wp(&words)
    }
}

#[typetag::serde(name = "wp-data-migration")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WpDataMigration {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        let body = async {
            let cli = WpCli::new(cx)?;
            let output = cli.must(&self.argv()).await?;
            Ok::<_, StepOutcome>(output)
        };
        let outcome = async {
            StepOutcome::from_result(body.await, |output| {
                StepOutcome::Done(
                    json!({ "command": self.command.join(" "), "output": output.summary() }),
                )
            })
        };
        guarded(breakers.map(|b| &b.kubernetes), outcome).await
    }
}

/// `wp core install` unless WordPress is installed; the admin password on stdin.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WpCoreInstall {}

#[typetag::serde(name = "wp-core-install")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WpCoreInstall {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), core_install(cx)).await
    }
}

/// The argv of the install (no secret in it; the password comes on stdin).
pub fn core_install_argv(
    url: &str,
    title: &str,
    admin_user: &str,
    admin_email: &str,
) -> Vec<String> {
    wp(&[
        "core",
        "install",
        &format!("--url={url}"),
        &format!("--title={title}"),
        &format!("--admin_user={admin_user}"),
        &format!("--admin_email={admin_email}"),
        "--skip-email",
        "--prompt=admin_password",
    ])
}

async fn core_install(cx: &StepContext<'_>) -> StepOutcome {
    StepOutcome::from_result(
        async {
            let wp_cli = WpCli::new(cx)?;
            let installed = wp_cli.run(&wp(&["core", "is-installed"]), None).await?;
            if installed.success() {
                return Ok(json!({ "installed": false, "already": true }));
            }
            let credentials = credentials::load(cx).await?;
            let input = StoreRunInput::read(cx)?;
            let url = input.storefront_url()?.trim_end_matches('/').to_owned();
            let title = input.name()?;
            let argv = core_install_argv(&url, title, &credentials.username, &credentials.email);
            let stdin = format!("{}\n", credentials.password);
            let output = wp_cli.run(&argv, Some(stdin.as_bytes())).await?;
            if !output.success() {
                return Err(StepOutcome::retry(format!(
                    "`wp core install` exited with {}: {}",
                    output.code,
                    output.summary()
                )));
            }
            Ok(json!({ "installed": true, "url": url }))
        }
        .await,
        StepOutcome::Done,
    )
}

// ---------------------------------------------------------------------------------------

/// WooCommerce itself and the store's settings: the pinned plugin, the theme, permalinks,
/// the shop pages, store options (currency, country, guest checkout, no tracking, no setup
/// wizard, **coming-soon off**), cash on delivery, and a flat-rate shipping method.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WooConfigure {
    /// The WooCommerce plugin version installed when it is not active yet (default
    /// [`WOOCOMMERCE_VERSION`]); an active plugin is left at its version.
    pub woocommerce_version: String,
    /// ISO 4217 code of the store's currency (default `USD`).
    pub currency: String,
    /// `COUNTRY:STATE`, e.g. `US:CA`.
    pub default_country: String,
    /// (theme, version) pins: a store's theme is installed at its pinned version (v2). Left
    /// out of the serialized form when empty, so version 1's content is unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub theme_versions: Vec<(String, String)>,
}

/// The themes a store may have, at the versions provisioning v2 installs: the releases
/// current with WooCommerce 9.x when they were pinned (a new pin is a new provisioning version).
pub const THEME_VERSIONS: &[(&str, &str)] = &[("storefront", "4.6.2"), ("astra", "4.13.11")];

impl Default for WooConfigure {
    fn default() -> Self {
        WooConfigure {
            woocommerce_version: WOOCOMMERCE_VERSION.into(),
            currency: "USD".into(),
            default_country: "US:CA".into(),
            theme_versions: Vec::new(),
        }
    }
}

impl WooConfigure {
    /// Provisioning v2's: the themes pinned ([`THEME_VERSIONS`]).
    pub fn pinned() -> WooConfigure {
        WooConfigure {
            theme_versions: THEME_VERSIONS
                .iter()
                .map(|(theme, version)| ((*theme).to_owned(), (*version).to_owned()))
                .collect(),
            ..WooConfigure::default()
        }
    }
}

#[typetag::serde(name = "woocommerce-configure")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WooConfigure {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl WooConfigure {
    /// The option updates, in order (each idempotent).
    pub fn option_commands(&self, admin: &str) -> Vec<Vec<String>> {
        let user = format!("--user={admin}");
        let mut commands: Vec<Vec<String>> = [
            ("woocommerce_currency", self.currency.as_str()),
            ("woocommerce_default_country", self.default_country.as_str()),
            ("woocommerce_calc_taxes", "no"),
            ("woocommerce_enable_guest_checkout", "yes"),
            ("woocommerce_allow_tracking", "no"),
            ("woocommerce_store_address", "123 Main St"),
            ("woocommerce_store_city", "Anytown"),
            ("woocommerce_store_postcode", "90210"),
            // Off, or shoppers (and verification) see a placeholder page (WooCommerce ≥ 9.1).
            ("woocommerce_coming_soon", "no"),
        ]
        .iter()
        .map(|(name, value)| wp(&["option", "update", name, value]))
        .collect();
        commands.push(wp(&[
            "option",
            "update",
            "woocommerce_onboarding_profile",
            r#"{"skipped":true}"#,
            "--format=json",
        ]));
        commands.push(wp(&["transient", "delete", "_wc_activation_redirect"]));
        commands.push(wp(&[
            "wc",
            "payment_gateway",
            "update",
            "cod",
            "--enabled=true",
            &user,
        ]));
        commands
    }

    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        StepOutcome::from_result(
            async {
                let wp_cli = WpCli::new(cx)?;
                let admin = credentials::load(cx).await?.username;
                let user = format!("--user={admin}");
                let mut changed = Vec::new();
                if !wp_cli
                    .run(&wp(&["plugin", "is-active", "woocommerce"]), None)
                    .await?
                    .success()
                {
                    wp_cli
                        .must(&wp(&[
                            "plugin",
                            "install",
                            "woocommerce",
                            &format!("--version={}", self.woocommerce_version),
                            "--activate",
                        ]))
                        .await?;
                    changed.push("woocommerce");
                }
                let input = StoreRunInput::read(cx)?;
                let theme = input.theme.as_deref().unwrap_or("storefront");
                let active = wp_cli
                    .must(&wp(&["theme", "list", "--status=active", "--field=name"]))
                    .await?;
                let pinned = self
                    .theme_versions
                    .iter()
                    .find(|(name, _)| name == theme)
                    .map(|(_, version)| version.as_str());
                match pinned {
                    None if active.stdout.trim() != theme => {
                        wp_cli
                            .must(&wp(&["theme", "install", theme, "--activate"]))
                            .await?;
                        changed.push("theme");
                    }
                    None => {}
                    Some(version) => {
                        let installed = wp_cli
                            .run(&wp(&["theme", "get", theme, "--field=version"]), None)
                            .await?;
                        let at_pin = installed.success() && installed.stdout.trim() == version;
                        if !at_pin || active.stdout.trim() != theme {
                            wp_cli
                                .must(&wp(&[
                                    "theme",
                                    "install",
                                    theme,
                                    &format!("--version={version}"),
                                    "--force",
                                    "--activate",
                                ]))
                                .await?;
                            changed.push("theme");
                        }
                    }
                }
                wp_cli
                    .must(&wp(&["rewrite", "structure", "/%postname%/"]))
                    .await?;
                wp_cli.must(&wp(&["rewrite", "flush"])).await?;
                wp_cli
                    .must(&wp(&["wc", "tool", "run", "install_pages", &user]))
                    .await?;
                for command in self.option_commands(&admin) {
                    wp_cli.must(&command).await?;
                }
                // Zone 0 ("Locations not covered by your other zones"): one flat rate.
                let methods = wp_cli
                    .must(&wp(&[
                        "wc",
                        "shipping_zone_method",
                        "list",
                        "0",
                        "--field=method_id",
                        &user,
                    ]))
                    .await?;
                if !methods.stdout.lines().any(|m| m.trim() == "flat_rate") {
                    wp_cli
                        .must(&wp(&[
                            "wc",
                            "shipping_zone_method",
                            "create",
                            "0",
                            "--method_id=flat_rate",
                            &user,
                        ]))
                        .await?;
                    changed.push("shipping");
                }
                Ok(json!({
                    "woocommerce": self.woocommerce_version, "theme": theme,
                    "themeVersion": pinned, "changed": changed,
                }))
            }
            .await,
            StepOutcome::Done,
        )
    }
}

// ---------------------------------------------------------------------------------------

/// One product of the starter catalogue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductSeed {
    /// The product's title in the shop.
    pub name: String,
    /// Identifies the product: setup looks it up by SKU before creating it, so it must be
    /// unique within the catalogue.
    pub sku: String,
    /// Decimal price in the store's currency, as WooCommerce takes it (`"24.99"`).
    pub regular_price: String,
    /// Discounted price, same form; `None`: not on sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_price: Option<String>,
    /// Units in stock (stock is managed).
    pub stock: u32,
}

/// The starter catalogue, created once: each product is looked up by SKU first, so a retry
/// or a re-run never duplicates one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WooProducts {
    /// The products, created in this order.
    pub products: Vec<ProductSeed>,
}

impl Default for WooProducts {
    fn default() -> Self {
        let product = |name: &str, sku: &str, price: &str, sale: Option<&str>, stock| ProductSeed {
            name: name.into(),
            sku: sku.into(),
            regular_price: price.into(),
            sale_price: sale.map(str::to_owned),
            stock,
        };
        WooProducts {
            products: vec![
                product("Classic T-Shirt", "TSHIRT-001", "24.99", None, 50),
                product(
                    "Wireless Headphones",
                    "HEADPHONES-001",
                    "79.99",
                    Some("59.99"),
                    30,
                ),
                product("Leather Wallet", "WALLET-001", "39.99", None, 100),
            ],
        }
    }
}

impl WooProducts {
    /// The create command of one product.
    pub fn create_argv(product: &ProductSeed, admin: &str) -> Vec<String> {
        let mut args = vec![
            "wc".to_owned(),
            "product".into(),
            "create".into(),
            format!("--name={}", product.name),
            "--type=simple".into(),
            format!("--regular_price={}", product.regular_price),
        ];
        if let Some(sale) = &product.sale_price {
            args.push(format!("--sale_price={sale}"));
        }
        args.extend([
            format!("--sku={}", product.sku),
            "--manage_stock=true".into(),
            format!("--stock_quantity={}", product.stock),
            "--status=publish".into(),
            format!("--user={admin}"),
            "--porcelain".into(),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        wp(&refs)
    }
}

#[typetag::serde(name = "woocommerce-products")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WooProducts {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl WooProducts {
    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        StepOutcome::from_result(
            async {
                let wp_cli = WpCli::new(cx)?;
                let admin = credentials::load(cx).await?.username;
                let user = format!("--user={admin}");
                let mut ids = Vec::new();
                let mut created = 0;
                for product in &self.products {
                    let sku = format!("--sku={}", product.sku);
                    let found = wp_cli
                        .must(&wp(&["wc", "product", "list", &sku, "--format=ids", &user]))
                        .await?;
                    let existing = found.stdout.split_whitespace().next().map(str::to_owned);
                    let id = match existing {
                        Some(id) => id,
                        None => {
                            created += 1;
                            wp_cli
                                .must(&Self::create_argv(product, &admin))
                                .await?
                                .stdout
                                .trim()
                                .to_owned()
                        }
                    };
                    ids.push(json!({ "sku": product.sku, "id": id }));
                }
                Ok(json!({ "products": ids, "created": created }))
            }
            .await,
            StepOutcome::Done,
        )
    }
}

// ---------------------------------------------------------------------------------------

/// Through the cluster (service proxy → WordPress): the catalogue is visible, a cash-on-
/// delivery order goes through the public Store API, and is then cancelled with WP-CLI so the
/// tenant never sees it. Records when the first order went through.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WooVerify {}

#[typetag::serde(name = "woocommerce-verify")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WooVerify {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), verify(cx)).await
    }
}

async fn verify(cx: &StepContext<'_>) -> StepOutcome {
    StepOutcome::from_result(
        async {
            let input = StoreRunInput::read(cx)?;
            let (namespace, host) = (input.namespace.as_str(), input.host()?);
            let site = Service {
                client: client(cx)?,
                namespace: namespace.to_owned(),
                name: "wordpress".into(),
                port: 80,
            };
            let base = "/wp-json/wc/store/v1";
            let products = site.call("GET", &format!("{base}/products"), &[], None).await?;
            if !products.ok() {
                return Err(service_proxy::failure("listing the catalogue", &products));
            }
            // An earlier attempt may have placed its test order and then lost the worker or
            // the cancel: cancel what it left before placing another, so a retried step never
            // leaves a live order in the tenant's shop.
            let wp_cli = WpCli::new(cx)?;
            let admin = credentials::load(cx).await?.username;
            let email = format!("verify@{host}");
            let leftovers = wp_cli
                .must(&wp(&[
                    "wc",
                    "shop_order",
                    "list",
                    &format!("--search={email}"),
                    "--status=pending,processing,on-hold",
                    // WooCommerce answers 10 per page by default.
                    "--per_page=100",
                    "--format=ids",
                    &format!("--user={admin}"),
                ]))
                .await?;
            for leftover in leftovers.stdout.split_whitespace() {
                wp_cli
                    .must(&wp(&[
                        "wc",
                        "shop_order",
                        "update",
                        leftover,
                        "--status=cancelled",
                        &format!("--user={admin}"),
                    ]))
                    .await?;
            }
            let catalogue = products.body.as_array().cloned().unwrap_or_default();
            let Some(first) = catalogue.first().and_then(|p| p["id"].as_u64()) else {
                return Err(StepOutcome::retry(
                    "the catalogue is empty through the Store API (products not published yet?)",
                ));
            };
            let cart = site.call("GET", &format!("{base}/cart"), &[], None).await?;
            let Some(token) = cart.header("cart-token").map(str::to_owned) else {
                return Err(service_proxy::failure("opening a cart (no Cart-Token)", &cart));
            };
            let added = site
                .call(
                    "POST",
                    &format!("{base}/cart/add-item"),
                    &[("cart-token", &token)],
                    Some(&json!({ "id": first, "quantity": 1 })),
                )
                .await?;
            if !added.ok() {
                return Err(service_proxy::failure("adding a product to the cart", &added));
            }
            let address = json!({
                "first_name": "Storeflow", "last_name": "Verification", "address_1": "123 Main St",
                "city": "Anytown", "state": "CA", "postcode": "90210", "country": "US",
                "email": email, "phone": "5550100",
            });
            let order = site
                .call(
                    "POST",
                    &format!("{base}/checkout"),
                    &[("cart-token", &token)],
                    Some(&json!({ "billing_address": address, "shipping_address": address, "payment_method": "cod" })),
                )
                .await?;
            if !order.ok() {
                return Err(service_proxy::failure("placing the test order", &order));
            }
            let ordered_at = chrono_now();
            let Some(order_id) = order.body["order_id"].as_u64().map(|id| id.to_string()) else {
                return Err(StepOutcome::fatal(format!(
                    "the checkout succeeded but named no order_id: {}",
                    order.text.chars().take(300).collect::<String>()
                )));
            };
            wp_cli
                .must(&wp(&[
                    "wc",
                    "shop_order",
                    "update",
                    &order_id,
                    "--status=cancelled",
                    &format!("--user={admin}"),
                ]))
                .await?;
            Ok(json!({
                "catalogue": catalogue.len(),
                "orderId": order_id,
                "orderedAt": ordered_at,
                "cancelled": true,
            }))
        }
        .await,
        StepOutcome::Done,
    )
}

fn chrono_now() -> Value {
    json!(k8s_openapi::jiff::Timestamp::now().to_string())
}

// ---------------------------------------------------------------------------------------

/// Sets the WordPress admin's password to the one sealed on the store row (after
/// rotate-credentials sealed a new one): on stdin, never in argv.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WpSetAdminPassword {}

#[typetag::serde(name = "wp-set-admin-password")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WpSetAdminPassword {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), async {
            StepOutcome::from_result(
                async {
                    let wp_cli = WpCli::new(cx)?;
                    let credentials = credentials::load(cx).await?;
                    let argv = wp(&[
                        "user",
                        "update",
                        &credentials.username,
                        "--skip-email",
                        "--prompt=user_pass",
                    ]);
                    let stdin = format!("{}\n", credentials.password);
                    let output = wp_cli.run(&argv, Some(stdin.as_bytes())).await?;
                    if !output.success() {
                        return Err(StepOutcome::retry(format!(
                            "`wp user update` exited with {}: {}",
                            output.code,
                            output.summary()
                        )));
                    }
                    Ok(json!({ "user": credentials.username, "updated": true }))
                }
                .await,
                StepOutcome::Done,
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn every_wp_cli_command_is_an_exact_argv_with_the_docroot_and_no_secret() {
        assert_eq!(
            core_install_argv(
                "http://store-1.localhost",
                "My Shop",
                "admin",
                "a@b.example"
            ),
            argv(&[
                "wp",
                "core",
                "install",
                "--url=http://store-1.localhost",
                "--title=My Shop",
                "--admin_user=admin",
                "--admin_email=a@b.example",
                "--skip-email",
                "--prompt=admin_password",
                "--path=/var/www/html",
            ])
        );
        let configure = WooConfigure::default().option_commands("admin");
        let expected: Vec<Vec<String>> = vec![
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_currency",
                "USD",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_default_country",
                "US:CA",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_calc_taxes",
                "no",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_enable_guest_checkout",
                "yes",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_allow_tracking",
                "no",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_store_address",
                "123 Main St",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_store_city",
                "Anytown",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_store_postcode",
                "90210",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_coming_soon",
                "no",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "option",
                "update",
                "woocommerce_onboarding_profile",
                r#"{"skipped":true}"#,
                "--format=json",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "transient",
                "delete",
                "_wc_activation_redirect",
                "--path=/var/www/html",
            ]),
            argv(&[
                "wp",
                "wc",
                "payment_gateway",
                "update",
                "cod",
                "--enabled=true",
                "--user=admin",
                "--path=/var/www/html",
            ]),
        ];
        assert_eq!(configure, expected);
        let products = WooProducts::default();
        assert_eq!(
            WooProducts::create_argv(&products.products[1], "admin"),
            argv(&[
                "wp",
                "wc",
                "product",
                "create",
                "--name=Wireless Headphones",
                "--type=simple",
                "--regular_price=79.99",
                "--sale_price=59.99",
                "--sku=HEADPHONES-001",
                "--manage_stock=true",
                "--stock_quantity=30",
                "--status=publish",
                "--user=admin",
                "--porcelain",
                "--path=/var/www/html",
            ])
        );
        let skus: Vec<&str> = products.products.iter().map(|p| p.sku.as_str()).collect();
        assert_eq!(skus, ["TSHIRT-001", "HEADPHONES-001", "WALLET-001"]);
    }
}
