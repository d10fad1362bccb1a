//! MedusaJS v1 (Node + PostgreSQL): the admin user through a fixed script in the `medusa`
//! container (password and API token on its standard input, never in argv), then the store's
//! region, shipping, collection, products and publishable key through the Admin API reached via
//! the Kubernetes service proxy; verification is a guest checkout through the public Store
//! API, cancelled afterwards through the Admin API.
//!
//! The Admin API is called with the admin user's API token (`x-medusa-access-token`), not a
//! bearer token: the API server consumes the `Authorization` header of proxied requests (it
//! authenticates the caller to Kubernetes), so it never reaches the app. The token is a store
//! secret, generated once in the store's Secret (`medusa-admin-token`).
//!
//! Every object is looked up before it is created (region and shipping option by name,
//! collection and products by handle, publishable key by title), so setup can run any number
//! of times and creates each thing once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{RetryPolicy, StepContext, StepDef, StepOutcome};

use crate::backup::{BackupPart, shell};
use crate::breaker::{Breakers, guarded};
use crate::engines::{EngineValues, StoreEngine};
use crate::kubernetes::client;
use crate::pod_exec;
use crate::service_proxy::{self, Reply, Service};
use crate::store::StoreRunInput;
use crate::store::credentials::{self, StoreCredentials};

/// The Medusa engine.
#[derive(Debug, Clone, Copy)]
pub struct Medusa;

/// Creates the admin user if it does not exist (with `medusa user` and a throwaway password),
/// then sets its password hash (scrypt, as Medusa does) and API token — both read from stdin,
/// the e-mail is `$1`. A fixed script: no input is ever spliced into it. Also what rotation
/// runs to set a new password.
pub const ADMIN_USER_SCRIPT: &str = r#"IFS= read -r password && IFS= read -r token && STOREFLOW_ADMIN_PASSWORD="$password" STOREFLOW_ADMIN_TOKEN="$token" exec node -e '
const { execFileSync } = require("child_process");
const { randomBytes } = require("crypto");
const { Client } = require("pg");
const Scrypt = require("scrypt-kdf");
(async () => {
  const email = process.argv[1];
  const password = process.env.STOREFLOW_ADMIN_PASSWORD;
  const token = process.env.STOREFLOW_ADMIN_TOKEN;
  if (!email || !password || !token) throw new Error("e-mail, password and token are required");
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  const found = await db.query(`SELECT id FROM "user" WHERE email = $1 AND deleted_at IS NULL`, [email]);
  if (found.rowCount === 0) {
    execFileSync("./node_modules/.bin/medusa", ["user", "-e", email, "-p", randomBytes(24).toString("hex")], { stdio: ["ignore", "ignore", "inherit"], timeout: 120000 });
  }
  const hash = (await Scrypt.kdf(password, { logN: 1, r: 1, p: 1 })).toString("base64");
  const updated = await db.query(`UPDATE "user" SET password_hash = $1, api_token = $2, updated_at = now() WHERE email = $3 AND deleted_at IS NULL`, [hash, token, email]);
  await db.end();
  if (updated.rowCount !== 1) throw new Error("no admin user " + email);
  console.log("admin user ready: " + email);
})().catch((err) => { console.error(err.message); process.exit(1); });
' "$1""#;

/// The key of the store Secret holding the admin user's Admin API token.
pub const ADMIN_TOKEN_KEY: &str = "medusa-admin-token";

const REGION_NAME: &str = "North America";
const SHIPPING_NAME: &str = "Standard Shipping";
const KEY_TITLE: &str = "Storefront";

fn setup_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_secs(3),
        max_backoff: Duration::from_secs(60),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

impl StoreEngine for Medusa {
    fn name(&self) -> &'static str {
        "medusa"
    }

    fn label(&self) -> &'static str {
        "MedusaJS"
    }

    /// The store image serves `@medusajs/admin` under `/app` (Admin API under `/admin`), and
    /// the store Ingress routes both (`medusa.admin.enabled`, on by default). Setup,
    /// verification and rotation still reach the Admin API through the service proxy.
    fn admin_path(&self) -> Option<&'static str> {
        Some("/app")
    }

    /// Medusa 1.20 in production marks its session cookie `Secure` (no setting changes it):
    /// over plain HTTP a sign-in answers 200 and the admin falls back to its login page.
    fn admin_needs_https(&self) -> bool {
        true
    }

    fn provision_workflow(&self) -> &'static str {
        "provision-medusa"
    }

    fn upgrade_workflow(&self) -> Option<&'static str> {
        Some("upgrade-medusa")
    }

    fn secret_keys(&self) -> &'static [&'static str] {
        &[
            "postgres-password",
            "jwt-secret",
            "cookie-secret",
            ADMIN_TOKEN_KEY,
        ]
    }

    fn chart_values(&self, published: bool) -> EngineValues {
        EngineValues {
            values: json!({ "medusa": { "storefront": { "enabled": published } } }),
            copies: vec![
                ("input.urls.storefront".into(), "medusa.storeCors".into()),
                (
                    "output.medusa-setup.publishableKey".into(),
                    "medusa.storefront.publishableKey".into(),
                ),
            ],
        }
    }

    fn setup_steps(&self) -> Vec<StepDef> {
        self.setup_steps_for(1)
    }

    /// v1: three products in one collection; v2: the old platform's catalogue
    /// ([`MedusaSetup::catalogue_v2`]).
    fn provision_versions(&self) -> &'static [i32] {
        &[1, 2]
    }

    fn setup_steps_for(&self, version: i32) -> Vec<StepDef> {
        let setup = if version >= 2 {
            MedusaSetup::catalogue_v2()
        } else {
            MedusaSetup::default()
        };
        vec![
            StepDef::new("medusa-admin-user", MedusaAdminUser {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
            StepDef::new("medusa-setup", setup)
                .retry(setup_retry())
                .timeout(Duration::from_secs(10 * 60)),
        ]
    }

    fn verify_steps(&self) -> Vec<StepDef> {
        vec![
            StepDef::new("verify-storefront", MedusaVerify {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
        ]
    }

    fn migration_steps(&self) -> Vec<StepDef> {
        vec![
            StepDef::new("medusa-migrations", MedusaMigrations {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(10 * 60)),
        ]
    }

    /// The publishable key comes from `medusa-setup`, which runs once, at provisioning.
    fn kept_values(&self) -> &'static [&'static str] {
        &["medusa.storefront.publishableKey"]
    }

    fn set_admin_password(&self) -> Box<dyn storeflow_engine::Step> {
        Box::new(MedusaSetAdminPassword {})
    }

    fn backup_workflow(&self) -> Option<&'static str> {
        Some("backup-medusa")
    }

    fn backup_contents(&self) -> &'static str {
        "the store's database (a MedusaJS store keeps its images as links there)"
    }

    fn restore_workflow(&self) -> Option<&'static str> {
        Some("restore-medusa")
    }

    fn restore_in_place_workflow(&self) -> Option<&'static str> {
        Some("restore-in-place-medusa")
    }

    /// The database, from the `postgres` container of `medusa-postgres` (the password from
    /// the container's own environment, which the chart fills from the store Secret). Medusa
    /// stores have no uploaded files: the backend has no file-service plugin, so product
    /// images are URLs in the database.
    ///
    /// The restore empties the `public` schema first, in the same transaction as the load
    /// (`--single-transaction`, `ON_ERROR_STOP`: a dump that fails halfway changes nothing):
    /// `pg_dump --clean` would drop only what the dump holds, and tables a newer Medusa
    /// created after the backup would stay and break the next `medusa migrations run`.
    fn backup_parts(&self) -> Vec<BackupPart> {
        vec![BackupPart {
            name: "database".into(),
            app: "medusa-postgres".into(),
            container: "postgres".into(),
            dump: shell(
                "PGPASSWORD=\"$POSTGRES_PASSWORD\" exec pg_dump --username=\"$POSTGRES_USER\" \
                 --dbname=\"$POSTGRES_DB\" --format=plain --no-owner --no-privileges \
                 --lock-wait-timeout=120000",
            ),
            restore: shell(
                "{ printf 'SET lock_timeout = 60000; DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;\\n'; \
                   head -c \"$1\"; } \
                 | PGPASSWORD=\"$POSTGRES_PASSWORD\" psql --no-psqlrc --quiet \
                   --username=\"$POSTGRES_USER\" --dbname=\"$POSTGRES_DB\" \
                   --set=ON_ERROR_STOP=1 --single-transaction --file=-",
            ),
        }]
    }

    /// The restored schema brought up to this Medusa first (the next steps read it), then
    /// the store's own admin (its password and API token; other users' tokens cleared), then
    /// the store's own publishable key in the restored database, linked to one sales channel.
    fn after_restore_steps(&self) -> Vec<StepDef> {
        vec![
            StepDef::new("medusa-restore-migrations", MedusaMigrations {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(10 * 60)),
            StepDef::new("set-admin-password", MedusaRestoreAdmin {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
            StepDef::new("medusa-rehome", MedusaRehome {})
                .retry(setup_retry())
                .timeout(Duration::from_secs(5 * 60)),
        ]
    }
}

/// argv of Medusa's migrations in the `medusa` container (working directory /app, as the
/// image's start command runs them).
pub fn migrations_argv() -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        "exec ./node_modules/.bin/medusa migrations run".into(),
    ]
}

/// `medusa migrations run` in the store's `medusa` container: the schema of the Medusa the
/// upgraded image runs. The image runs them on start too; as a step of its own a failed
/// migration is named as such, and one that was already applied is a no-op.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MedusaMigrations {}

#[typetag::serde(name = "medusa-migrations")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MedusaMigrations {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), self.body(cx)).await
    }
}

impl MedusaMigrations {
    async fn body(&self, cx: &StepContext<'_>) -> StepOutcome {
        let run = async {
            let target = pod_exec::store_target(cx, "medusa", "medusa")?;
            pod_exec::run(client(cx)?, &target, &migrations_argv(), None, cx.time_left).await
        };
        match run.await {
            Ok(output) if output.success() => {
                StepOutcome::Done(json!({ "output": output.summary() }))
            }
            Ok(output) => StepOutcome::retry(format!(
                "`medusa migrations run` exited with {}: {}",
                output.code,
                output.summary()
            )),
            Err(outcome) => outcome,
        }
    }
}

/// The Medusa backend of the store, through the service proxy.
pub fn backend(cx: &StepContext<'_>) -> Result<Service, StepOutcome> {
    Ok(Service {
        client: client(cx)?,
        namespace: StoreRunInput::read(cx)?.namespace,
        name: "medusa".into(),
        port: 9000,
    })
}

/// An Admin API client authenticated with the admin user's API token.
#[derive(Clone)]
pub struct Admin {
    service: Service,
    token: String,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// The store's Admin API token, from its Secret (through the Kubernetes API).
pub async fn admin_token(cx: &StepContext<'_>) -> Result<String, StepOutcome> {
    use k8s_openapi::api::core::v1::Secret;
    let namespace = StoreRunInput::read(cx)?.namespace;
    let api: kube::Api<Secret> = kube::Api::namespaced(client(cx)?, &namespace);
    let secret = api
        .get_opt(crate::chart::STORE_SECRET)
        .await
        .map_err(|err| {
            crate::kubernetes::classify(err, &format!("reading the store secret of {namespace}"))
        })?
        .ok_or_else(|| {
            StepOutcome::fatal(format!(
                "the store secret of {namespace} is missing; retry from ensure-store-secret"
            ))
        })?;
    secret
        .data
        .as_ref()
        .and_then(|data| data.get(ADMIN_TOKEN_KEY))
        .and_then(|value| String::from_utf8(value.0.clone()).ok())
        .ok_or_else(|| {
            StepOutcome::fatal(format!(
                "the store secret of {namespace} has no {ADMIN_TOKEN_KEY}; retry from ensure-store-secret"
            ))
        })
}

impl Admin {
    /// A client for `service` (usually [`backend`]) sending `token` as
    /// `x-medusa-access-token`; the token is left out of `Debug` and of error messages.
    pub fn new(service: Service, token: String) -> Admin {
        Admin { service, token }
    }

    /// Whether Medusa accepts the token (the admin user exists with it).
    pub async fn works(&self) -> Result<bool, StepOutcome> {
        let reply = self
            .service
            .call(
                "GET",
                "/admin/users",
                &[("x-medusa-access-token", &self.token)],
                None,
            )
            .await?;
        match reply.status {
            200 => Ok(true),
            401 | 403 => Ok(false),
            _ => Err(service_proxy::failure(
                "checking the Medusa admin token",
                &reply,
            )),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, StepOutcome> {
        let reply = self
            .service
            .call(
                method,
                path,
                &[("x-medusa-access-token", &self.token)],
                body,
            )
            .await?;
        if reply.ok() {
            Ok(reply)
        } else {
            Err(service_proxy::failure(&format!("{method} {path}"), &reply))
        }
    }

    /// `GET path` (e.g. `/admin/regions?limit=100`), the answer's JSON body. A non-2xx answer
    /// is an outcome, retried or fatal as [`service_proxy::failure`] decides.
    pub async fn get(&self, path: &str) -> Result<Value, StepOutcome> {
        Ok(self.call("GET", path, None).await?.body)
    }

    /// `POST path` with a JSON `body`; the answer's JSON body, errors as for [`Admin::get`].
    /// Not idempotent by itself: callers look the object up first.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, StepOutcome> {
        Ok(self.call("POST", path, Some(&body)).await?.body)
    }
}

fn find_by<'a>(list: &'a Value, key: &str, field: &str, value: &str) -> Option<&'a Value> {
    list[key]
        .as_array()?
        .iter()
        .find(|item| item[field] == value)
}

fn id_of(value: &Value) -> Result<String, StepOutcome> {
    value["id"].as_str().map(str::to_owned).ok_or_else(|| {
        StepOutcome::fatal(format!("Medusa answered an object without an id: {value}"))
    })
}

// ---------------------------------------------------------------------------------------

/// The store's admin user with the store's password and API token, unless the token already
/// works.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MedusaAdminUser {}

/// argv of the admin-user script (the e-mail is `$1`; password and token come on stdin).
pub fn admin_user_argv(email: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        ADMIN_USER_SCRIPT.into(),
        "medusa-admin-user".into(),
        email.into(),
    ]
}

/// Runs the admin-user script in the store's `medusa` container.
async fn apply_admin_user(
    cx: &StepContext<'_>,
    credentials: &StoreCredentials,
    token: &str,
) -> Result<(), StepOutcome> {
    let target = pod_exec::store_target(cx, "medusa", "medusa")?;
    let stdin = format!("{}\n{}\n", credentials.password, token);
    let output = pod_exec::run(
        client(cx)?,
        &target,
        &admin_user_argv(&credentials.email),
        Some(stdin.as_bytes()),
        cx.time_left,
    )
    .await?;
    if output.success() {
        Ok(())
    } else {
        Err(StepOutcome::retry(format!(
            "setting up the Medusa admin user exited with {}: {}",
            output.code,
            output.summary()
        )))
    }
}

#[typetag::serde(name = "medusa-admin-user")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MedusaAdminUser {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), async {
            StepOutcome::from_result(
                async {
                    let credentials = credentials::load(cx).await?;
                    let admin = Admin::new(backend(cx)?, admin_token(cx).await?);
                    if admin.works().await? {
                        return Ok(json!({ "email": credentials.email, "created": false }));
                    }
                    apply_admin_user(cx, &credentials, &admin.token).await?;
                    if !admin.works().await? {
                        return Err(StepOutcome::retry(
                            "Medusa does not accept the admin token yet",
                        ));
                    }
                    Ok(json!({ "email": credentials.email, "created": true }))
                }
                .await,
                StepOutcome::Done,
            )
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------

/// One starter product with its variants (one option, e.g. Size).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MedusaProduct {
    /// The product's name in the shop.
    pub title: String,
    /// Its URL slug, unique in the store: setup finds an existing product by it and then
    /// leaves that product as it is.
    pub handle: String,
    /// The title of the one option its variants differ in (`Size`, `Color`).
    pub option: String,
    /// (option value, sku, price in cents)
    pub variants: Vec<(String, String, u64)>,
    /// The handle of the collection it belongs to; `None`: the first collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// Region, shipping options, collections, products (published, in the default sales channel)
/// and a publishable key linked to that channel; with `store_name`, Medusa's store is named
/// after the store. Fields added after version 1 are left out of its serialized form when
/// unset, so released definitions keep their content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MedusaSetup {
    /// Lower-case ISO 4217 code of the region's currency and of every price (`usd`).
    pub currency: String,
    /// Lower-case ISO 3166-1 alpha-2 codes of the region's countries (`us`, `ca`).
    pub countries: Vec<String>,
    /// The amount, in cents, of the one `Standard Shipping` option when `shipping_options`
    /// is empty.
    pub shipping_amount: u64,
    /// The starter products; one whose handle exists already is skipped.
    pub products: Vec<MedusaProduct>,
    /// (name, amount in cents) of each flat-rate shipping option; empty: one `Standard
    /// Shipping` of `shipping_amount`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipping_options: Vec<(String, u64)>,
    /// (title, handle) of each collection; empty: one `Featured`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<(String, String)>,
    /// Name Medusa's store after the store (the run input's `name`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store_name: bool,
}

impl Default for MedusaSetup {
    fn default() -> Self {
        let sizes = |sku: &str, price| {
            ["S", "M", "L"]
                .iter()
                .map(|size| ((*size).to_owned(), format!("{sku}-{size}"), price))
                .collect()
        };
        MedusaSetup {
            currency: "usd".into(),
            countries: vec!["us".into(), "ca".into()],
            shipping_amount: 500,
            products: vec![
                MedusaProduct {
                    title: "Classic T-Shirt".into(),
                    handle: "classic-t-shirt".into(),
                    option: "Size".into(),
                    variants: sizes("TSHIRT", 2499),
                    collection: None,
                },
                MedusaProduct {
                    title: "Hoodie".into(),
                    handle: "hoodie".into(),
                    option: "Size".into(),
                    variants: sizes("HOODIE", 5999),
                    collection: None,
                },
                MedusaProduct {
                    title: "Leather Wallet".into(),
                    handle: "leather-wallet".into(),
                    option: "Color".into(),
                    variants: vec![
                        ("Brown".into(), "WALLET-BROWN".into(), 3999),
                        ("Black".into(), "WALLET-BLACK".into(), 3999),
                    ],
                    collection: None,
                },
            ],
            shipping_options: Vec::new(),
            collections: Vec::new(),
            store_name: false,
        }
    }
}

impl MedusaSetup {
    /// The catalogue of `provision-medusa` v2: the old platform's seed — one USD region for the
    /// US, Canada and the UK, Standard and Express shipping, three collections, eight products
    /// with their variants and prices — and Medusa's store named after the store.
    pub fn catalogue_v2() -> MedusaSetup {
        let product = |title: &str,
                       handle: &str,
                       option: &str,
                       collection: &str,
                       variants: &[(&str, &str, u64)]| {
            MedusaProduct {
                title: title.into(),
                handle: handle.into(),
                option: option.into(),
                variants: variants
                    .iter()
                    .map(|(value, sku, price)| ((*value).into(), (*sku).into(), *price))
                    .collect(),
                collection: Some(collection.into()),
            }
        };
        MedusaSetup {
            currency: "usd".into(),
            countries: vec!["us".into(), "ca".into(), "gb".into()],
            shipping_amount: 500,
            products: vec![
                product(
                    "Classic Cotton T-Shirt",
                    "classic-cotton-t-shirt",
                    "Size",
                    "best-sellers",
                    &[
                        ("S", "TSHIRT-S", 2999),
                        ("M", "TSHIRT-M", 2999),
                        ("L", "TSHIRT-L", 2999),
                    ],
                ),
                product(
                    "Slim Fit Denim Jeans",
                    "slim-fit-denim-jeans",
                    "Waist",
                    "best-sellers",
                    &[
                        ("30", "JEANS-30", 7999),
                        ("32", "JEANS-32", 7999),
                        ("34", "JEANS-34", 7999),
                    ],
                ),
                product(
                    "Leather Crossbody Bag",
                    "leather-crossbody-bag",
                    "Color",
                    "summer-collection",
                    &[("Black", "BAG-BLACK", 12999), ("Brown", "BAG-BROWN", 12999)],
                ),
                product(
                    "Wireless Bluetooth Headphones",
                    "wireless-bluetooth-headphones",
                    "Color",
                    "new-arrivals",
                    &[
                        ("Matte Black", "HEADPHONES-BLACK", 19999),
                        ("Silver", "HEADPHONES-SILVER", 19999),
                    ],
                ),
                product(
                    "Canvas Sneakers",
                    "canvas-sneakers",
                    "Size",
                    "summer-collection",
                    &[
                        ("8", "SNEAKERS-8", 5999),
                        ("9", "SNEAKERS-9", 5999),
                        ("10", "SNEAKERS-10", 5999),
                    ],
                ),
                product(
                    "Stainless Steel Watch",
                    "stainless-steel-watch",
                    "Band",
                    "new-arrivals",
                    &[
                        ("Steel Band", "WATCH-STEEL", 24999),
                        ("Leather Band", "WATCH-LEATHER", 22999),
                    ],
                ),
                product(
                    "Organic Cotton Hoodie",
                    "organic-cotton-hoodie",
                    "Size",
                    "best-sellers",
                    &[
                        ("S", "HOODIE-S", 6999),
                        ("M", "HOODIE-M", 6999),
                        ("L", "HOODIE-L", 6999),
                    ],
                ),
                product(
                    "Portable Power Bank",
                    "portable-power-bank",
                    "Capacity",
                    "new-arrivals",
                    &[
                        ("10000mAh", "POWERBANK-10K", 3499),
                        ("20000mAh", "POWERBANK-20K", 4999),
                    ],
                ),
            ],
            shipping_options: vec![
                ("Standard Shipping".into(), 500),
                ("Express Shipping".into(), 1500),
            ],
            collections: vec![
                ("Summer Collection".into(), "summer-collection".into()),
                ("Best Sellers".into(), "best-sellers".into()),
                ("New Arrivals".into(), "new-arrivals".into()),
            ],
            store_name: true,
        }
    }
}

#[typetag::serde(name = "medusa-setup")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MedusaSetup {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), async {
            StepOutcome::from_result(self.apply(cx).await, StepOutcome::Done)
        })
        .await
    }
}

impl MedusaSetup {
    async fn apply(&self, cx: &StepContext<'_>) -> Result<Value, StepOutcome> {
        let admin = Admin::new(backend(cx)?, admin_token(cx).await?);
        let name = StoreRunInput::read(cx)?.name;
        self.apply_with(&admin, name.as_deref()).await
    }

    /// Applies the setup with an Admin API session (also what tests against a real Medusa
    /// call); `store_name` names Medusa's store when the setup asks for it.
    pub async fn apply_with(
        &self,
        admin: &Admin,
        store_name: Option<&str>,
    ) -> Result<Value, StepOutcome> {
        let mut created = Vec::new();
        let regions = admin.get("/admin/regions?limit=100").await?;
        let region_id = match find_by(&regions, "regions", "name", REGION_NAME) {
            Some(region) => id_of(region)?,
            None => {
                created.push("region");
                let body = admin
                    .post(
                        "/admin/regions",
                        json!({
                            "name": REGION_NAME, "currency_code": self.currency, "tax_rate": 0,
                            "payment_providers": ["manual"], "fulfillment_providers": ["manual"],
                            "countries": self.countries,
                        }),
                    )
                    .await?;
                id_of(&body["region"])?
            }
        };
        let options = admin
            .get(&format!("/admin/shipping-options?region_id={region_id}"))
            .await?;
        let shipping = if self.shipping_options.is_empty() {
            vec![(SHIPPING_NAME.to_owned(), self.shipping_amount)]
        } else {
            self.shipping_options.clone()
        };
        for (name, amount) in &shipping {
            if find_by(&options, "shipping_options", "name", name).is_some() {
                continue;
            }
            created.push("shipping-option");
            admin
                .post(
                    "/admin/shipping-options",
                    json!({
                        "name": name, "region_id": region_id, "provider_id": "manual",
                        "data": { "id": "manual-fulfillment" }, "price_type": "flat_rate",
                        "amount": amount,
                    }),
                )
                .await?;
        }
        let wanted_collections = if self.collections.is_empty() {
            vec![("Featured".to_owned(), "featured".to_owned())]
        } else {
            self.collections.clone()
        };
        // handle → id, in the order given (the first is the default of products without one).
        let mut collection_ids: Vec<(String, String)> = Vec::new();
        for (title, handle) in &wanted_collections {
            let found = admin
                .get(&format!("/admin/collections?handle={handle}"))
                .await?;
            let id = match find_by(&found, "collections", "handle", handle) {
                Some(collection) => id_of(collection)?,
                None => {
                    created.push("collection");
                    let body = admin
                        .post(
                            "/admin/collections",
                            json!({ "title": title, "handle": handle }),
                        )
                        .await?;
                    id_of(&body["collection"])?
                }
            };
            collection_ids.push((handle.clone(), id));
        }
        let collection_of = |product: &MedusaProduct| -> Result<String, StepOutcome> {
            match &product.collection {
                None => Ok(collection_ids[0].1.clone()),
                Some(handle) => collection_ids
                    .iter()
                    .find(|(h, _)| h == handle)
                    .map(|(_, id)| id.clone())
                    .ok_or_else(|| {
                        StepOutcome::fatal(format!(
                            "product {} names the collection {handle}, which the setup does not create",
                            product.handle
                        ))
                    }),
            }
        };
        let channels = admin.get("/admin/sales-channels?limit=100").await?;
        let channel = channels["sales_channels"]
            .as_array()
            .and_then(|list| {
                list.iter()
                    .find(|c| c["name"] == "Default Sales Channel")
                    .or_else(|| list.first())
            })
            .ok_or_else(|| {
                StepOutcome::fatal("Medusa has no sales channel (migrations incomplete?)")
            })?;
        let channel_id = id_of(channel)?;
        for product in &self.products {
            let existing = admin
                .get(&format!("/admin/products?handle={}", product.handle))
                .await?;
            if find_by(&existing, "products", "handle", &product.handle).is_some() {
                continue;
            }
            created.push("product");
            let variants: Vec<Value> = product
                .variants
                .iter()
                .map(|(value, sku, amount)| {
                    json!({
                        "title": value, "sku": sku, "manage_inventory": false,
                        "inventory_quantity": 1000,
                        "prices": [{ "currency_code": self.currency, "amount": amount }],
                        "options": [{ "value": value }],
                    })
                })
                .collect();
            admin
                .post(
                    "/admin/products",
                    json!({
                        "title": product.title, "handle": product.handle, "status": "published",
                        "collection_id": collection_of(product)?,
                        "sales_channels": [{ "id": channel_id }],
                        "options": [{ "title": product.option }],
                        "variants": variants,
                    }),
                )
                .await?;
        }
        let keys = admin.get("/admin/publishable-api-keys?limit=100").await?;
        let key_id = match find_by(&keys, "publishable_api_keys", "title", KEY_TITLE) {
            Some(key) => id_of(key)?,
            None => {
                created.push("publishable-key");
                let body = admin
                    .post("/admin/publishable-api-keys", json!({ "title": KEY_TITLE }))
                    .await?;
                id_of(&body["publishable_api_key"])?
            }
        };
        // Linking is idempotent in Medusa (an existing link is kept).
        admin
            .post(
                &format!("/admin/publishable-api-keys/{key_id}/sales-channels/batch"),
                json!({ "sales_channel_ids": [{ "id": channel_id }] }),
            )
            .await?;
        if self.store_name
            && let Some(name) = store_name
        {
            let store = admin.get("/admin/store").await?;
            if store["store"]["name"].as_str() != Some(name) {
                created.push("store-name");
                admin.post("/admin/store", json!({ "name": name })).await?;
            }
        }
        Ok(json!({
            "regionId": region_id,
            "salesChannelId": channel_id,
            "publishableKey": key_id,
            "created": created,
        }))
    }
}

// ---------------------------------------------------------------------------------------

/// A guest checkout through the public Store API with the publishable key (manual payment),
/// then the order is cancelled through the Admin API.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MedusaVerify {}

#[typetag::serde(name = "medusa-verify")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MedusaVerify {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), async {
            StepOutcome::from_result(
                async {
                    let service = backend(cx)?;
                    let admin = Admin::new(service.clone(), admin_token(cx).await?);
                    // A restore in place has no setup: the key is the one medusa-rehome made
                    // sure the restored database holds.
                    let key = ["medusa-setup", "medusa-rehome"]
                        .iter()
                        .find_map(|step| cx.output_of(step)?["publishableKey"].as_str())
                        .unwrap_or("")
                        .to_owned();
                    let input = StoreRunInput::read(cx)?;
                    let host = input.host()?;
                    checkout_and_cancel(&service, &admin, &key, &format!("verify@{host}")).await
                }
                .await,
                StepOutcome::Done,
            )
        })
        .await
    }
}

/// The storefront's checkout, step by step; returns the order (cancelled afterwards). Test
/// orders an earlier attempt left live (it lost its worker or its cancel between checkout and
/// cancel) are cancelled first, so a retried step never leaves a live order in the shop.
pub async fn checkout_and_cancel(
    service: &Service,
    admin: &Admin,
    publishable_key: &str,
    email: &str,
) -> Result<Value, StepOutcome> {
    cancel_live_test_orders(admin, email).await?;
    let placed = place_test_order(service, publishable_key, email).await?;
    let order_id = placed["orderId"].as_str().unwrap_or_default().to_owned();
    admin
        .post(&format!("/admin/orders/{order_id}/cancel"), json!({}))
        .await?;
    let mut placed = placed;
    placed["cancelled"] = json!(true);
    Ok(placed)
}

/// Cancels the live (`pending`) orders placed with `email`, the verification's address.
pub async fn cancel_live_test_orders(admin: &Admin, email: &str) -> Result<(), StepOutcome> {
    let live = admin
        .get(&format!(
            "/admin/orders?email={}&status[]=pending&fields=id,status&limit=50",
            email.replace('@', "%40").replace('+', "%2B")
        ))
        .await?;
    for order in live["orders"].as_array().into_iter().flatten() {
        let order = id_of(order)?;
        admin
            .post(&format!("/admin/orders/{order}/cancel"), json!({}))
            .await?;
    }
    Ok(())
}

/// A guest checkout through the Store API as the storefront does it: the first variant of
/// the catalogue, the region's first country, its first shipping option, manual payment.
/// Returns `{catalogue, orderId, displayId, orderedAt}`; the order stays live.
pub async fn place_test_order(
    service: &Service,
    publishable_key: &str,
    email: &str,
) -> Result<Value, StepOutcome> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if !publishable_key.is_empty() {
        headers.push(("x-publishable-api-key", publishable_key));
    }
    let store = |method: &'static str, path: String, body: Option<Value>| {
        let headers = headers.clone();
        async move {
            let reply = service.call(method, &path, &headers, body.as_ref()).await?;
            if reply.ok() {
                Ok(reply.body)
            } else {
                Err(service_proxy::failure(&format!("{method} {path}"), &reply))
            }
        }
    };
    let regions = store("GET", "/store/regions".into(), None).await?;
    let region = regions["regions"]
        .as_array()
        .and_then(|r| r.first())
        .cloned()
        .ok_or_else(|| StepOutcome::retry("the Store API lists no region yet"))?;
    let country = region["countries"][0]["iso_2"]
        .as_str()
        .unwrap_or("us")
        .to_owned();
    let products = store("GET", "/store/products?limit=20".into(), None).await?;
    let catalogue = products["products"].as_array().cloned().unwrap_or_default();
    let variant = catalogue
        .iter()
        .flat_map(|p| p["variants"].as_array().cloned().unwrap_or_default())
        .next()
        .ok_or_else(|| StepOutcome::retry("the catalogue is empty through the Store API"))?;
    let cart = store(
        "POST",
        "/store/carts".into(),
        Some(json!({ "region_id": region["id"] })),
    )
    .await?;
    let cart_id = id_of(&cart["cart"])?;
    store(
        "POST",
        format!("/store/carts/{cart_id}/line-items"),
        Some(json!({ "variant_id": variant["id"], "quantity": 1 })),
    )
    .await?;
    let address = json!({
        "first_name": "Storeflow", "last_name": "Verification", "address_1": "123 Main St",
        "city": "Anytown", "postal_code": "90210", "country_code": country, "phone": "5550100",
    });
    store(
        "POST",
        format!("/store/carts/{cart_id}"),
        Some(json!({ "email": email, "shipping_address": address, "billing_address": address })),
    )
    .await?;
    let options = store("GET", format!("/store/shipping-options/{cart_id}"), None).await?;
    let option = options["shipping_options"]
        .as_array()
        .and_then(|o| o.first())
        .cloned()
        .ok_or_else(|| StepOutcome::fatal("no shipping option for the cart's region"))?;
    store(
        "POST",
        format!("/store/carts/{cart_id}/shipping-methods"),
        Some(json!({ "option_id": option["id"] })),
    )
    .await?;
    store(
        "POST",
        format!("/store/carts/{cart_id}/payment-sessions"),
        None,
    )
    .await?;
    store(
        "POST",
        format!("/store/carts/{cart_id}/payment-session"),
        Some(json!({ "provider_id": "manual" })),
    )
    .await?;
    let completed = store("POST", format!("/store/carts/{cart_id}/complete"), None).await?;
    if completed["type"] != "order" {
        return Err(StepOutcome::fatal(format!(
            "completing the cart did not produce an order (type {})",
            completed["type"]
        )));
    }
    let ordered_at = k8s_openapi::jiff::Timestamp::now().to_string();
    let order_id = id_of(&completed["data"])?;
    Ok(json!({
        "catalogue": catalogue.len(),
        "orderId": order_id,
        "displayId": completed["data"]["display_id"],
        "orderedAt": ordered_at,
    }))
}

// ---------------------------------------------------------------------------------------

/// Sets the Medusa admin's password to the one now sealed on the store row (the same script as
/// the admin user's creation: the previous password stops working).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MedusaSetAdminPassword {}

#[typetag::serde(name = "medusa-set-admin-password")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MedusaSetAdminPassword {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), async {
            StepOutcome::from_result(
                async {
                    let credentials = credentials::load(cx).await?;
                    let token = admin_token(cx).await?;
                    apply_admin_user(cx, &credentials, &token).await?;
                    Ok(json!({ "email": credentials.email, "updated": true }))
                }
                .await,
                StepOutcome::Done,
            )
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------
// After a restore

/// Clears the Admin API token of every user but the store's admin (`$1`): the restored
/// database holds the tokens of the store it was backed up from, which must not open this
/// one. A fixed script: no input is spliced into it.
pub const REVOKE_OTHER_TOKENS_SCRIPT: &str = r#"exec node -e '
const { Client } = require("pg");
(async () => {
  const email = process.argv[1];
  if (!email) throw new Error("the admin e-mail is required");
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  const revoked = await db.query(`UPDATE "user" SET api_token = NULL, updated_at = now() WHERE api_token IS NOT NULL AND NOT (email = $1 AND deleted_at IS NULL)`, [email]);
  await db.end();
  console.log(JSON.stringify({ revokedTokens: revoked.rowCount }));
})().catch((err) => { console.error(err.message); process.exit(1); });
' "$1""#;

/// Makes the restored database hold the store's own publishable key (`$1`, the one its
/// storefront is published with), not revoked and linked to one live sales channel — the
/// channel the backed-up store's storefront key used, else the default one — and names
/// Medusa's store after this store (`$3`) when it bore the backed-up one's name (`$4`). One
/// transaction; running it again changes nothing. Prints what it found as JSON.
///
/// Why insert the key rather than publish the restored one: Medusa v1 accepts an unknown
/// publishable key without an error (it then stops filtering by sales channel), so a
/// storefront with a key its database lacks would pass a test order and still be wrong.
pub const REHOME_SCRIPT: &str = r#"exec node -e '
const { Client } = require("pg");
const { randomBytes } = require("crypto");
(async () => {
  const [key, email, newName, oldName, title] = process.argv.slice(1);
  if (!/^pk_[0-9A-Za-z]+$/.test(key || "")) throw new Error("not a publishable key id: " + key);
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  await db.query("BEGIN");
  const user = await db.query(`SELECT id FROM "user" WHERE email = $1 AND deleted_at IS NULL`, [email]);
  await db.query(`INSERT INTO publishable_api_key (id, title, created_by) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET revoked_at = NULL, revoked_by = NULL, updated_at = now()`, [key, title, user.rows.length ? user.rows[0].id : null]);
  const linked = await db.query(`SELECT sales_channel_id FROM publishable_api_key_sales_channel WHERE publishable_key_id = $1`, [key]);
  let channel = linked.rows.length ? linked.rows[0].sales_channel_id : null;
  if (!channel) {
    const own = await db.query(`SELECT l.sales_channel_id FROM publishable_api_key_sales_channel l JOIN publishable_api_key k ON k.id = l.publishable_key_id JOIN sales_channel c ON c.id = l.sales_channel_id AND c.deleted_at IS NULL WHERE k.title = $1 AND k.id <> $2 AND k.revoked_at IS NULL ORDER BY k.created_at LIMIT 1`, [title, key]);
    const found = own.rows.length ? own : await db.query(`SELECT s.default_sales_channel_id AS sales_channel_id FROM store s JOIN sales_channel c ON c.id = s.default_sales_channel_id AND c.deleted_at IS NULL LIMIT 1`);
    if (!found.rows.length) throw new Error("the restored database has no sales channel for the storefront key");
    channel = found.rows[0].sales_channel_id;
    await db.query(`INSERT INTO publishable_api_key_sales_channel (id, publishable_key_id, sales_channel_id) VALUES ($1, $2, $3) ON CONFLICT (sales_channel_id, publishable_key_id) DO NOTHING`, ["pksc_" + randomBytes(13).toString("hex").toUpperCase(), key, channel]);
  }
  const renamed = newName && oldName && newName !== oldName ? (await db.query(`UPDATE store SET name = $1 WHERE name = $2`, [newName, oldName])).rowCount : 0;
  await db.query("COMMIT");
  await db.end();
  console.log(JSON.stringify({ publishableKey: key, salesChannelId: channel, renamed: renamed > 0 }));
})().catch((err) => { console.error(err.message); process.exit(1); });
' "$@""#;

/// Runs a fixed `sh -c` script in the store's `medusa` container with `args` as `$1`, ...;
/// its standard output on success.
async fn run_script(
    cx: &StepContext<'_>,
    doing: &str,
    script: &str,
    args: &[&str],
) -> Result<String, StepOutcome> {
    let target = pod_exec::store_target(cx, "medusa", "medusa")?;
    let mut argv: Vec<String> = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let output = pod_exec::run(client(cx)?, &target, &argv, None, cx.time_left).await?;
    if output.success() {
        Ok(output.stdout)
    } else {
        Err(StepOutcome::retry(format!(
            "{doing} exited with {}: {}",
            output.code,
            output.summary()
        )))
    }
}

/// After a restore: the store's own admin (the e-mail and password sealed on the store row,
/// the API token in its Secret), and no other user's API token left working.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MedusaRestoreAdmin {}

#[typetag::serde(name = "medusa-restore-admin")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MedusaRestoreAdmin {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), async {
            StepOutcome::from_result(
                async {
                    let credentials = credentials::load(cx).await?;
                    let admin = Admin::new(backend(cx)?, admin_token(cx).await?);
                    apply_admin_user(cx, &credentials, &admin.token).await?;
                    let revoked = run_script(
                        cx,
                        "clearing the other users' API tokens",
                        REVOKE_OTHER_TOKENS_SCRIPT,
                        &[&credentials.email],
                    )
                    .await?;
                    if !admin.works().await? {
                        return Err(StepOutcome::retry(
                            "Medusa does not accept the admin token yet",
                        ));
                    }
                    let revoked: Value = serde_json::from_str(revoked.trim()).unwrap_or_default();
                    Ok(json!({
                        "email": credentials.email,
                        "updated": true,
                        "revokedTokens": revoked["revokedTokens"],
                    }))
                }
                .await,
                StepOutcome::Done,
            )
        })
        .await
    }
}

/// After a restore: the store's publishable key — from this run's setup (a new store) or from
/// the deployed release (a restore in place) — is in the restored database, live and linked
/// to exactly one sales channel, as the Admin API confirms ([`REHOME_SCRIPT`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MedusaRehome {}

#[typetag::serde(name = "medusa-rehome")]
#[async_trait::async_trait]
impl storeflow_engine::Step for MedusaRehome {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), async {
            StepOutcome::from_result(self.body(cx).await, StepOutcome::Done)
        })
        .await
    }
}

impl MedusaRehome {
    async fn body(&self, cx: &StepContext<'_>) -> Result<Value, StepOutcome> {
        let key = match cx
            .output_of("medusa-setup")
            .and_then(|o| o["publishableKey"].as_str())
        {
            Some(key) => key.to_owned(),
            None => {
                let settings = cx
                    .resource::<crate::helm::HelmSettings>()
                    .map_err(StepOutcome::Fatal)?;
                let namespace = StoreRunInput::read(cx)?.namespace;
                let values = crate::helm::release_values(settings, &namespace).await?;
                values["medusa"]["storefront"]["publishableKey"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        if !key.starts_with("pk_") {
            return Err(StepOutcome::fatal(
                "the store has no publishable key (neither this run's setup nor its release                  names one), so its storefront cannot be connected to the restored shop",
            ));
        }
        let credentials = credentials::load(cx).await?;
        let new_name = StoreRunInput::read(cx)?.name.unwrap_or_default();
        let old_name = cx
            .output_of("verify-backup")
            .and_then(|o| o["manifest"]["store"]["name"].as_str())
            .unwrap_or_default()
            .to_owned();
        let printed = run_script(
            cx,
            "connecting the publishable key to the restored shop",
            REHOME_SCRIPT,
            &[&key, &credentials.email, &new_name, &old_name, KEY_TITLE],
        )
        .await?;
        let found: Value = serde_json::from_str(printed.trim()).map_err(|_| {
            StepOutcome::retry(format!("the rehome script printed no result: {printed}"))
        })?;
        // Medusa itself must see the key live and in one channel: it would accept a key it
        // does not know without a word.
        let admin = Admin::new(backend(cx)?, admin_token(cx).await?);
        let stored = admin
            .get(&format!("/admin/publishable-api-keys/{key}"))
            .await?;
        if !stored["publishable_api_key"]["revoked_at"].is_null() {
            return Err(StepOutcome::retry(format!(
                "Medusa still shows the publishable key {key} as revoked"
            )));
        }
        let channels = admin
            .get(&format!("/admin/publishable-api-keys/{key}/sales-channels"))
            .await?;
        let count = channels["sales_channels"].as_array().map_or(0, Vec::len);
        if count != 1 {
            return Err(StepOutcome::fatal(format!(
                "the publishable key {key} is linked to {count} sales channels in the restored                  shop; a storefront needs exactly one (unlink the others in Medusa's admin, then                  retry this step)"
            )));
        }
        Ok(json!({
            "publishableKey": key,
            "salesChannelId": found["salesChannelId"],
            "renamed": found["renamed"],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backup_commands_take_the_password_from_the_containers_environment() {
        let parts = Medusa.backup_parts();
        assert_eq!(
            parts.len(),
            1,
            "the database is the whole of a Medusa store"
        );
        let part = &parts[0];
        assert_eq!(
            (part.app.as_str(), part.container.as_str()),
            ("medusa-postgres", "postgres")
        );
        for argv in [&part.dump, &part.restore] {
            let text = argv.join(" ");
            assert!(text.contains("PGPASSWORD=\"$POSTGRES_PASSWORD\""), "{text}");
            assert!(!text.contains("--password"), "{text}");
        }
        // The restore reads exactly the part's size, empties the schema in the same
        // transaction, and stops at the first error.
        let restore = part.restore.join(" ");
        for wanted in [
            "head -c \"$1\"",
            "DROP SCHEMA IF EXISTS public CASCADE",
            "--single-transaction",
            "ON_ERROR_STOP=1",
        ] {
            assert!(restore.contains(wanted), "{wanted}: {restore}");
        }
    }

    #[test]
    fn the_restore_scripts_take_their_input_as_arguments_only() {
        for script in [REVOKE_OTHER_TOKENS_SCRIPT, REHOME_SCRIPT] {
            let program = script
                .split_once("node -e '")
                .and_then(|(_, rest)| rest.rsplit_once("' \""))
                .map(|(program, _)| program)
                .expect("a quoted program");
            assert!(!program.contains('\''), "no quote ends the program early");
            assert!(program.contains("process.argv"));
            assert!(!program.contains("${"), "nothing is spliced into SQL");
        }
        let names: Vec<String> = Medusa
            .after_restore_steps()
            .iter()
            .map(|step| step.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "medusa-restore-migrations",
                "set-admin-password",
                "medusa-rehome"
            ]
        );
    }

    #[test]
    fn the_admin_user_command_takes_only_the_email_as_an_argument() {
        let argv = admin_user_argv("owner@example.com");
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(argv[2], ADMIN_USER_SCRIPT);
        assert_eq!(argv[3..], ["medusa-admin-user", "owner@example.com"]);
        // The script reads the password and the token from stdin and never echoes them; it
        // has no single quote inside its single-quoted program.
        assert!(ADMIN_USER_SCRIPT.starts_with("IFS= read -r password && IFS= read -r token"));
        let program = ADMIN_USER_SCRIPT
            .split_once("node -e '")
            .and_then(|(_, rest)| rest.rsplit_once("' \"$1\""))
            .map(|(program, _)| program)
            .expect("a quoted program");
        assert!(!program.contains('\''));
        assert!(
            !ADMIN_USER_SCRIPT.contains("console.log(password")
                && !ADMIN_USER_SCRIPT.contains("console.log(token")
        );
    }
}
