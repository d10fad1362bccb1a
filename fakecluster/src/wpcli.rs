//! A simulated WordPress + WooCommerce site as WP-CLI (in the `wp-cli` container) and the
//! WooCommerce Store API (through the service proxy) see it: enough state and the exact
//! output formats for storeflow's setup and verification steps, so their command sequences,
//! guards and idempotency are exercised as they would be against a real site.
//!
//! Facts followed: `wp core is-installed` exits 1 before `wp core install`; `--prompt=<arg>`
//! reads that argument's value from standard input; every `wp wc` command needs `--user`
//! (else 401-style error, exit 1); `wp wc product create --porcelain` prints the new id;
//! `wp wc product list --sku=… --format=ids` prints matching ids; unknown commands exit 1.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The result of one command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn ok(stdout: impl Into<String>) -> Output {
    Output {
        stdout: stdout.into(),
        ..Output::default()
    }
}

fn fail(message: impl Into<String>) -> Output {
    Output {
        stderr: format!("Error: {}\n", message.into()),
        code: 1,
        ..Output::default()
    }
}

/// One product of the catalogue.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub sku: String,
    pub regular_price: String,
    pub sale_price: Option<String>,
    pub status: String,
    pub stock: Option<u64>,
}

/// One order.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub id: u64,
    pub status: String,
    pub payment_method: String,
    pub items: Vec<(u64, u64)>,
    pub email: String,
}

/// The site's state: what its MariaDB database holds (`mariadb-dump` writes it as JSON, and
/// `mariadb` reads it back, in the simulated sites).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Site {
    pub installed: bool,
    pub url: String,
    pub title: String,
    pub admin_user: String,
    pub admin_password: String,
    pub admin_email: String,
    /// plugin → (version, active)
    pub plugins: BTreeMap<String, (String, bool)>,
    pub themes: Vec<String>,
    /// theme → installed version (`latest` when installed without `--version`).
    pub theme_versions: BTreeMap<String, String>,
    pub active_theme: String,
    pub options: BTreeMap<String, String>,
    pub rewrite_structure: String,
    pub pages_installed: bool,
    pub shipping_zone_methods: BTreeMap<u64, Vec<String>>,
    pub products: Vec<Product>,
    pub orders: Vec<Order>,
    /// Runs of `wp core update-db` and `wp wc update` (data migrations after upgrades).
    pub db_updates: u32,
    next_id: u64,
}

/// WordPress 6.7's database schema version (`db_version`).
const WP_DB_VERSION: &str = "58975";

/// Splits argv after `wp` into positional arguments and `--flag[=value]` options.
fn parse(args: &[String]) -> (Vec<&str>, BTreeMap<&str, &str>) {
    let mut positional = Vec::new();
    let mut flags = BTreeMap::new();
    for arg in args {
        if let Some(flag) = arg.strip_prefix("--") {
            match flag.split_once('=') {
                Some((key, value)) => flags.insert(key, value),
                None => flags.insert(flag, ""),
            };
        } else {
            positional.push(arg.as_str());
        }
    }
    (positional, flags)
}

impl Site {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id + 100
    }

    /// Runs `argv` (starting with `wp`) with `stdin`.
    pub fn run(&mut self, argv: &[String], stdin: &[u8]) -> Output {
        let Some((first, rest)) = argv.split_first() else {
            return fail("no command");
        };
        if first != "wp" {
            return Output {
                stderr: format!("sh: {first}: not found\n"),
                code: 127,
                ..Output::default()
            };
        }
        let (mut positional, mut flags) = parse(rest);
        // `--prompt=a,b` reads those arguments from stdin, one per line.
        let prompted: Vec<String> = String::from_utf8_lossy(stdin)
            .lines()
            .map(str::to_owned)
            .collect();
        let prompt_list: Vec<String> = flags
            .get("prompt")
            .map(|p| p.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let mut owned: Vec<(String, String)> = Vec::new();
        for (i, name) in prompt_list.iter().enumerate() {
            owned.push((name.clone(), prompted.get(i).cloned().unwrap_or_default()));
        }
        for (name, value) in &owned {
            flags.insert(name.as_str(), value.as_str());
        }
        if flags.get("path") != Some(&"/var/www/html") {
            return fail(
                "This does not seem to be a WordPress installation. Pass --path=`path/to/wordpress`",
            );
        }
        let command: Vec<&str> = positional.drain(..positional.len().min(3)).collect();
        let args = positional;
        match command.as_slice() {
            ["core", "is-installed", ..] => Output {
                code: if self.installed { 0 } else { 1 },
                ..Output::default()
            },
            ["core", "install", ..] => self.core_install(&flags),
            _ if !self.installed => fail(
                "The site you have requested is not installed. Run `wp core install` to create database tables.",
            ),
            ["option", "update", name] => {
                let value = args.first().copied().unwrap_or("");
                if flags.get("format") == Some(&"json")
                    && serde_json::from_str::<Value>(value).is_err()
                {
                    return fail("Invalid JSON: ".to_owned() + value);
                }
                let changed = self.options.insert((*name).to_owned(), value.to_owned())
                    != Some(value.to_owned());
                ok(if changed {
                    format!("Success: Updated '{name}' option.\n")
                } else {
                    format!("Success: Value passed for '{name}' option is unchanged.\n")
                })
            }
            ["search-replace", old, new] if flags.contains_key("all-tables") => {
                let (old, new) = (*old, *new);
                let mut replaced = 0;
                let mut swap = |text: &mut String| {
                    if text.contains(old) {
                        replaced += text.matches(old).count();
                        *text = text.replace(old, new);
                    }
                };
                swap(&mut self.url);
                swap(&mut self.title);
                for value in self.options.values_mut() {
                    swap(value);
                }
                ok(format!("Success: Made {replaced} replacements.\n"))
            }
            ["option", "get", name] => match self.options.get(*name) {
                Some(value) => ok(format!("{value}\n")),
                None => Output {
                    code: 1,
                    ..Output::default()
                },
            },
            ["rewrite", "structure", structure] => {
                self.rewrite_structure = (*structure).to_owned();
                ok("Success: Rewrite structure set.\nSuccess: Rewrite rules flushed.\n")
            }
            ["rewrite", "flush", ..] => ok("Success: Rewrite rules flushed.\n"),
            ["transient", "delete", name] => {
                ok(format!("Success: Transient with key '{name}' deleted.\n"))
            }
            ["plugin", "is-active", name] => Output {
                code: if self.plugins.get(*name).is_some_and(|p| p.1) {
                    0
                } else {
                    1
                },
                ..Output::default()
            },
            ["plugin", "get", name] => match self.plugins.get(*name) {
                Some((version, _)) if flags.get("field") == Some(&"version") => {
                    ok(format!("{version}\n"))
                }
                Some(_) => ok(format!("{name}\n")),
                None => fail(format!("The '{name}' plugin could not be found.")),
            },
            ["plugin", "install", name] => {
                let version = flags.get("version").copied().unwrap_or("latest").to_owned();
                let activate = flags.contains_key("activate");
                if self.plugins.contains_key(*name) && !flags.contains_key("force") {
                    if activate && let Some(plugin) = self.plugins.get_mut(*name) {
                        plugin.1 = true;
                    }
                    return ok(format!(
                        "Warning: {name}: Plugin already installed.\nSuccess: Plugin already installed.\n"
                    ));
                }
                self.plugins.insert((*name).to_owned(), (version, activate));
                ok("Success: Installed 1 of 1 plugins.\n")
            }
            ["theme", "install", name] => {
                let installed = self.themes.iter().any(|t| t == name);
                // As WP-CLI: an installed theme is kept unless --force replaces it.
                if !installed || flags.contains_key("force") {
                    if !installed {
                        self.themes.push((*name).to_owned());
                    }
                    let version = flags.get("version").copied().unwrap_or("latest");
                    self.theme_versions
                        .insert((*name).to_owned(), version.to_owned());
                }
                if flags.contains_key("activate") {
                    self.active_theme = (*name).to_owned();
                }
                if installed && !flags.contains_key("force") {
                    ok(format!(
                        "Warning: {name}: Theme already installed.\nSuccess: Theme already installed.\n"
                    ))
                } else {
                    ok("Success: Installed 1 of 1 themes.\n")
                }
            }
            ["theme", "get", name] if flags.get("field") == Some(&"version") => {
                match self.theme_versions.get(*name) {
                    Some(version) => ok(format!("{version}\n")),
                    None if self.themes.iter().any(|t| t == name) => ok("latest\n"),
                    None => fail(format!("Error: The '{name}' theme could not be found.")),
                }
            }
            ["theme", "list", ..] => {
                if flags.get("status") == Some(&"active") && flags.get("field") == Some(&"name") {
                    ok(format!("{}\n", self.active_theme))
                } else {
                    ok(self.themes.join("\n") + "\n")
                }
            }
            ["core", "update-db", ..] => {
                // WordPress 6.7's schema version; a site installed by the fake has it.
                let current = self.options.get("db_version").cloned();
                self.options
                    .insert("db_version".into(), WP_DB_VERSION.into());
                self.db_updates += 1;
                match current.as_deref() {
                    Some(WP_DB_VERSION) | None => ok(format!(
                        "Success: WordPress database already at latest db version {WP_DB_VERSION}.\n"
                    )),
                    Some(old) => ok(format!(
                        "Success: WordPress database upgraded successfully from db version {old} to {WP_DB_VERSION}.\n"
                    )),
                }
            }
            // WooCommerce's own CLI command (not the REST-backed ones): no --user needed.
            ["wc", "update"] if self.plugins.get("woocommerce").is_some_and(|p| p.1) => {
                self.db_updates += 1;
                let version = self
                    .plugins
                    .get("woocommerce")
                    .map(|p| p.0.clone())
                    .unwrap_or_default();
                ok(format!(
                    "Success: No updates required. Database version is {version}\n"
                ))
            }
            ["wc", ..] if !flags.contains_key("user") => fail(
                "Sorry, you cannot list resources. {\"status\":401} (pass --user=<admin> to every wp wc command)",
            ),
            ["wc", ..] if !self.plugins.get("woocommerce").is_some_and(|p| p.1) => {
                fail("'wc' is not a registered wp command. See 'wp help' for available commands.")
            }
            ["wc", "tool", "run"] => {
                if args.first() == Some(&"install_pages") {
                    if !self.pages_installed {
                        self.pages_installed = true;
                        for (option, id) in [
                            ("woocommerce_shop_page_id", 5),
                            ("woocommerce_cart_page_id", 6),
                            ("woocommerce_checkout_page_id", 7),
                            ("woocommerce_myaccount_page_id", 8),
                        ] {
                            self.options.insert(option.into(), id.to_string());
                        }
                    }
                    ok("Success: Updated install_pages.\n")
                } else {
                    fail("Invalid tool")
                }
            }
            ["wc", "product", "list"] => {
                let matching: Vec<&Product> = self
                    .products
                    .iter()
                    .filter(|p| flags.get("sku").is_none_or(|sku| p.sku == *sku))
                    .collect();
                if flags.get("format") == Some(&"ids") {
                    ok(matching
                        .iter()
                        .map(|p| p.id.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                        + "\n")
                } else {
                    ok(serde_json::to_string(
                        &matching
                            .iter()
                            .map(|p| json!({ "id": p.id, "sku": p.sku, "name": p.name }))
                            .collect::<Vec<_>>(),
                    )
                    .unwrap_or_default())
                }
            }
            ["wc", "product", "create"] => {
                let sku = flags.get("sku").copied().unwrap_or("");
                if !sku.is_empty() && self.products.iter().any(|p| p.sku == sku) {
                    return fail(format!(
                        "Invalid or duplicated SKU. {{\"status\":400,\"unique_sku\":\"{sku}\"}}"
                    ));
                }
                let id = self.id();
                self.products.push(Product {
                    id,
                    name: flags.get("name").copied().unwrap_or("").to_owned(),
                    sku: sku.to_owned(),
                    regular_price: flags
                        .get("regular_price")
                        .copied()
                        .unwrap_or("0")
                        .to_owned(),
                    sale_price: flags.get("sale_price").map(|s| (*s).to_owned()),
                    status: flags.get("status").copied().unwrap_or("draft").to_owned(),
                    stock: flags.get("stock_quantity").and_then(|s| s.parse().ok()),
                });
                if flags.contains_key("porcelain") {
                    ok(format!("{id}\n"))
                } else {
                    ok(format!("Success: Created product {id}.\n"))
                }
            }
            ["wc", "payment_gateway", "update"] => {
                let id = args.first().copied().unwrap_or("");
                if id != "cod" {
                    return fail("Invalid ID.");
                }
                let enabled = flags.get("enabled") == Some(&"true");
                self.options.insert(
                    "woocommerce_cod_settings".into(),
                    json!({ "enabled": if enabled { "yes" } else { "no" }, "title": "Cash on delivery" })
                        .to_string(),
                );
                ok("Success: Updated payment_gateway cod.\n")
            }
            ["wc", "shipping_zone_method", "list"] => {
                let zone: u64 = flags
                    .get("zone_id")
                    .and_then(|z| z.parse().ok())
                    .unwrap_or(0);
                let methods = self
                    .shipping_zone_methods
                    .get(&zone)
                    .cloned()
                    .unwrap_or_default();
                if flags.get("field") == Some(&"method_id") || flags.get("format") == Some(&"ids") {
                    ok(methods.join("\n") + if methods.is_empty() { "" } else { "\n" })
                } else {
                    ok(serde_json::to_string(&methods).unwrap_or_default())
                }
            }
            ["wc", "shipping_zone_method", "create"] => {
                let zone: u64 = flags
                    .get("zone_id")
                    .and_then(|z| z.parse().ok())
                    .unwrap_or(0);
                let method = flags.get("method_id").copied().unwrap_or("").to_owned();
                self.shipping_zone_methods
                    .entry(zone)
                    .or_default()
                    .push(method);
                ok("Success: Created shipping_zone_method.\n")
            }
            ["wc", "shop_order", "list"] => {
                // `--search` matches the billing e-mail; `--status` is a comma list.
                let search = flags.get("search").copied().unwrap_or("");
                let statuses: Vec<&str> = flags
                    .get("status")
                    .map(|s| s.split(',').collect())
                    .unwrap_or_default();
                let ids: Vec<String> = self
                    .orders
                    .iter()
                    .filter(|o| search.is_empty() || o.email.contains(search))
                    .filter(|o| statuses.is_empty() || statuses.contains(&o.status.as_str()))
                    .map(|o| o.id.to_string())
                    .collect();
                match flags.get("format").copied() {
                    Some("ids") => ok(ids.join(" ")),
                    _ => fail("the fake answers `wc shop_order list` with --format=ids only"),
                }
            }
            ["wc", "shop_order", "update"] => {
                let id: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
                let status = flags.get("status").copied().unwrap_or("").to_owned();
                match self.orders.iter_mut().find(|o| o.id == id) {
                    Some(order) => {
                        order.status = status;
                        ok(format!("Success: Updated shop_order {id}.\n"))
                    }
                    None => fail("Invalid ID. {\"status\":400}"),
                }
            }
            ["user", "update", who] => {
                if *who != self.admin_user && *who != "1" {
                    return fail(format!("Invalid user ID, email or login: '{who}'"));
                }
                if let Some(password) = flags.get("user_pass") {
                    self.admin_password = (*password).to_owned();
                }
                ok("Success: Updated user 1.\n")
            }
            ["user", "check-password", who] => {
                let given = flags.get("user_pass").copied().unwrap_or("");
                Output {
                    code: if *who == self.admin_user && given == self.admin_password {
                        0
                    } else {
                        1
                    },
                    ..Output::default()
                }
            }
            other => fail(format!(
                "'{}' is not a registered wp command. See 'wp help' for available commands.",
                other.join(" ")
            )),
        }
    }

    fn core_install(&mut self, flags: &BTreeMap<&str, &str>) -> Output {
        if self.installed {
            return ok("WordPress is already installed.\n");
        }
        for required in ["url", "title", "admin_user", "admin_email"] {
            if flags.get(required).is_none_or(|v| v.is_empty()) {
                return fail(format!("missing --{required} parameter"));
            }
        }
        let Some(password) = flags.get("admin_password").filter(|p| !p.is_empty()) else {
            return fail("missing --admin_password parameter");
        };
        self.installed = true;
        self.url = flags["url"].to_owned();
        self.title = flags["title"].to_owned();
        self.admin_user = flags["admin_user"].to_owned();
        self.admin_email = flags["admin_email"].to_owned();
        self.admin_password = (*password).to_owned();
        self.themes.push("twentytwentyfive".into());
        self.active_theme = "twentytwentyfive".into();
        ok("Success: WordPress installed successfully.\n")
    }

    /// Whether shoppers see the shop (not the coming-soon page).
    pub fn open_to_shoppers(&self) -> bool {
        self.installed
            && self.plugins.get("woocommerce").is_some_and(|p| p.1)
            && self
                .options
                .get("woocommerce_coming_soon")
                .map(String::as_str)
                == Some("no")
    }

    /// The WooCommerce Store API (`/wp-json/wc/store/v1/...`): products, cart, checkout.
    /// Returns (status, headers, body).
    pub fn store_api(
        &mut self,
        method: &str,
        path: &str,
        cart_token: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Value) {
        if !self.installed {
            return (
                302,
                vec![("location".into(), "/wp-admin/install.php".into())],
                Value::Null,
            );
        }
        if !self.plugins.get("woocommerce").is_some_and(|p| p.1) {
            return (
                404,
                vec![],
                json!({ "code": "rest_no_route", "message": "No route was found matching the URL and request method." }),
            );
        }
        if !self.open_to_shoppers() {
            return (
                503,
                vec![],
                json!({ "code": "coming_soon", "message": "This store is coming soon." }),
            );
        }
        let path = path.trim_end_matches('/');
        match (method, path) {
            ("GET", "/wp-json/wc/store/v1/products") => {
                let products: Vec<Value> = self
                    .products
                    .iter()
                    .filter(|p| p.status == "publish")
                    .map(|p| {
                        json!({ "id": p.id, "name": p.name, "sku": p.sku, "is_purchasable": true,
                                "prices": { "price": p.sale_price.clone().unwrap_or(p.regular_price.clone()).replace('.', ""), "currency_code": self.options.get("woocommerce_currency").cloned().unwrap_or("USD".into()) } })
                    })
                    .collect();
                (200, vec![], Value::Array(products))
            }
            ("GET", "/wp-json/wc/store/v1/cart") => {
                let token = format!("cart-{}", self.id());
                (
                    200,
                    vec![("cart-token".into(), token)],
                    json!({ "items": [], "totals": { "total_price": "0" } }),
                )
            }
            ("POST", "/wp-json/wc/store/v1/cart/add-item") => {
                if cart_token.is_none() {
                    return (
                        401,
                        vec![],
                        json!({ "code": "woocommerce_rest_missing_nonce", "message": "Missing the Nonce header or Cart-Token." }),
                    );
                }
                let request: Value = serde_json::from_slice(body).unwrap_or_default();
                let id = request["id"].as_u64().unwrap_or(0);
                if !self
                    .products
                    .iter()
                    .any(|p| p.id == id && p.status == "publish")
                {
                    return (
                        400,
                        vec![],
                        json!({ "code": "woocommerce_rest_cart_invalid_product", "message": "This product cannot be added to the cart." }),
                    );
                }
                (
                    201,
                    vec![],
                    json!({ "items": [{ "id": id, "quantity": request["quantity"] }] }),
                )
            }
            ("POST", "/wp-json/wc/store/v1/checkout") => {
                if cart_token.is_none() {
                    return (
                        401,
                        vec![],
                        json!({ "code": "woocommerce_rest_missing_nonce", "message": "Missing the Nonce header or Cart-Token." }),
                    );
                }
                let request: Value = serde_json::from_slice(body).unwrap_or_default();
                let method = request["payment_method"].as_str().unwrap_or("");
                let cod_enabled = self
                    .options
                    .get("woocommerce_cod_settings")
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .is_some_and(|s| s["enabled"] == "yes");
                if method != "cod" || !cod_enabled {
                    return (
                        400,
                        vec![],
                        json!({ "code": "woocommerce_rest_checkout_invalid_payment_method", "message": "The selected payment method is not available." }),
                    );
                }
                let email = request["billing_address"]["email"].as_str().unwrap_or("");
                if email.is_empty() {
                    return (
                        400,
                        vec![],
                        json!({ "code": "rest_invalid_param", "message": "Invalid parameter(s): billing_address" }),
                    );
                }
                let id = self.id();
                let first = self.products.first().map(|p| p.id).unwrap_or(0);
                self.orders.push(Order {
                    id,
                    status: "processing".into(),
                    payment_method: "cod".into(),
                    items: vec![(first, 1)],
                    email: email.to_owned(),
                });
                (
                    200,
                    vec![],
                    json!({ "order_id": id, "status": "processing", "payment_method": "cod" }),
                )
            }
            _ => (
                404,
                vec![],
                json!({ "code": "rest_no_route", "message": "No route was found matching the URL and request method." }),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wp(site: &mut Site, args: &[&str], stdin: &str) -> Output {
        let mut argv = vec!["wp".to_owned()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv.push("--path=/var/www/html".into());
        site.run(&argv, stdin.as_bytes())
    }

    #[test]
    fn install_reads_prompted_values_and_wc_needs_a_user() {
        let mut site = Site::default();
        assert_eq!(wp(&mut site, &["core", "is-installed"], "").code, 1);
        let out = wp(
            &mut site,
            &[
                "core",
                "install",
                "--url=http://s.localhost",
                "--title=Shop",
                "--admin_user=admin",
                "--admin_email=a@b.c",
                "--skip-email",
                "--prompt=admin_password",
            ],
            "s3cret\n",
        );
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(site.admin_password, "s3cret");
        assert_eq!(wp(&mut site, &["core", "is-installed"], "").code, 0);
        wp(
            &mut site,
            &[
                "plugin",
                "install",
                "woocommerce",
                "--version=9.5.2",
                "--activate",
            ],
            "",
        );
        assert_eq!(
            wp(&mut site, &["wc", "product", "list", "--format=ids"], "").code,
            1
        );
        let id = wp(
            &mut site,
            &[
                "wc",
                "product",
                "create",
                "--name=T",
                "--sku=T-1",
                "--porcelain",
                "--user=admin",
            ],
            "",
        );
        assert_eq!(id.code, 0);
        let ids = wp(
            &mut site,
            &[
                "wc",
                "product",
                "list",
                "--sku=T-1",
                "--format=ids",
                "--user=admin",
            ],
            "",
        );
        assert_eq!(ids.stdout.trim(), id.stdout.trim());
        let dup = wp(
            &mut site,
            &[
                "wc",
                "product",
                "create",
                "--name=T",
                "--sku=T-1",
                "--user=admin",
            ],
            "",
        );
        assert_eq!(dup.code, 1);
    }
}
