//! The store chart's values, computed from the run input and the engine's contribution
//! (contract in `charts/ecommerce-store/README.md`). No secret is ever a value: the chart
//! reads them from the store's own Secret, [`STORE_SECRET`].

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{StepContext, StepOutcome};

/// The Secret in each store namespace that holds the store's generated passwords.
pub const STORE_SECRET: &str = "store-secrets";

/// Produces `{"values": …}` for `install-chart`. With `expose` false the store's Ingress is
/// off: a WordPress installer must not be public before `wp core install` ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoreValues {
    /// Turns the store's Ingress on; false (the default) keeps the store private.
    #[serde(default)]
    pub expose: bool,
    /// The engine's own values, merged over the common ones.
    #[serde(default)]
    pub values: Value,
    /// `(from, to)` copies: `input.<path>` or `output.<step>.<path>` → a dotted values path.
    #[serde(default)]
    pub copies: Vec<(String, String)>,
}

fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                merge(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(root, |value, key| value.get(key))
        .filter(|v| !v.is_null())
}

fn set(root: &mut Value, path: &str, value: Value) {
    let mut target = root;
    for key in path.split('.') {
        if !target.is_object() {
            *target = json!({});
        }
        target = target
            .as_object_mut()
            .map(|map| map.entry(key.to_owned()).or_insert(Value::Null))
            .unwrap_or_else(|| unreachable_object());
    }
    *target = value;
}

#[allow(clippy::panic)]
fn unreachable_object() -> &'static mut Value {
    // `target` was made an object just above.
    panic!("values path target is not an object")
}

/// The values for one store: common ones from the run input, then the engine's.
pub fn store_values(
    input: &Value,
    expose: bool,
    engine_values: &Value,
    copies: &[(String, String)],
    outputs: &serde_json::Map<String, Value>,
) -> Result<Value, String> {
    let text = |field: &str| {
        input
            .get(field)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the run input has no `{field}`"))
    };
    let ingress = input.get("ingress").cloned().unwrap_or_else(|| json!({}));
    let setting = |key: &str| ingress.get(key).and_then(Value::as_str).unwrap_or("");
    let tls_secret = setting("tlsSecretName");
    let mut values = json!({
        "storeId": text("store_id")?,
        "engine": text("engine")?,
        "storeName": text("name")?,
        "existingSecret": STORE_SECRET,
        "ingress": {
            "enabled": expose,
            "host": text("host")?,
            "className": if setting("className").is_empty() { "nginx" } else { setting("className") },
            "controller": if setting("controller").is_empty() { "nginx" } else { setting("controller") },
            "tls": { "enabled": !tls_secret.is_empty(), "secretName": tls_secret },
        },
    });
    if engine_values.is_object() {
        merge(&mut values, engine_values);
    }
    let sources = json!({ "input": input, "output": Value::Object(outputs.clone()) });
    for (from, to) in copies {
        if let Some(value) = lookup(&sources, from) {
            set(&mut values, to, value.clone());
        }
    }
    Ok(values)
}

#[typetag::serde(name = "store-values")]
#[async_trait::async_trait]
impl storeflow_engine::Step for StoreValues {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        match store_values(cx.input, self.expose, &self.values, &self.copies, cx.state) {
            Ok(values) => StepOutcome::Done(json!({ "values": values })),
            Err(message) => StepOutcome::fatal(message),
        }
    }
}

/// The chart and app version of a store chart (`version`, `appVersion` in its Chart.yaml):
/// what an upgrade brings a store to, and what a store records once its release has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartRelease {
    /// The chart's own `version`.
    pub chart_version: String,
    /// The chart's `appVersion`: the version of the store software it deploys.
    pub app_version: String,
}

impl ChartRelease {
    /// Reads `<chart>/Chart.yaml`; the error says what is missing and where.
    pub fn read(chart: &std::path::Path) -> Result<ChartRelease, String> {
        let path = chart.join("Chart.yaml");
        let text = std::fs::read_to_string(&path).map_err(|err| {
            format!(
                "cannot read {}: {err}; set HELM_CHART_PATH to the ecommerce-store chart",
                path.display()
            )
        })?;
        ChartRelease::parse(&text).map_err(|missing| format!("{} has no {missing}", path.display()))
    }

    /// The top-level `version` and `appVersion` of a Chart.yaml text.
    pub fn parse(text: &str) -> Result<ChartRelease, &'static str> {
        let field = |name: &str| {
            text.lines()
                .filter(|line| !line.starts_with([' ', '\t', '#']))
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(|value| value.split(" #").next().unwrap_or("").trim())
                .map(|value| value.trim_matches(|c| c == '"' || c == '\'').to_owned())
                .filter(|value| !value.is_empty())
        };
        Ok(ChartRelease {
            chart_version: field("version").ok_or("`version`")?,
            app_version: field("appVersion").ok_or("`appVersion`")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chart_release_reads_top_level_version_and_app_version() {
        let text = "apiVersion: v2\nname: ecommerce-store\nversion: 2.1.0 # bumped\nappVersion: \"2.1.0\"\nkubeVersion: \">=1.25.0-0\"\ndependencies:\n  - name: x\n    version: 9.9.9\n";
        assert_eq!(
            super::ChartRelease::parse(text),
            Ok(super::ChartRelease {
                chart_version: "2.1.0".into(),
                app_version: "2.1.0".into()
            })
        );
        assert_eq!(
            super::ChartRelease::parse("name: x\nversion: 1.0.0\n"),
            Err("`appVersion`")
        );
        let shipped = super::ChartRelease::read(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/ecommerce-store"),
        )
        .expect("the shipped chart has versions");
        assert!(!shipped.chart_version.is_empty());
    }

    use super::*;

    #[test]
    fn values_follow_the_input_and_the_engine_and_hold_no_secret() {
        let input = json!({
            "store_id": "store-0a1b2c3d", "namespace": "store-0a1b2c3d", "engine": "woocommerce",
            "name": "shop", "theme": "astra", "host": "store-0a1b2c3d.example.com",
            "urls": { "storefront": "https://store-0a1b2c3d.example.com/" },
            "ingress": { "className": "traefik", "controller": "traefik", "tlsSecretName": "wildcard-tls" }
        });
        let copies = vec![("input.theme".to_owned(), "wordpress.theme".to_owned())];
        let outputs = serde_json::Map::new();
        let values = store_values(&input, false, &json!({}), &copies, &outputs).expect("values");
        assert_eq!(values["ingress"]["enabled"], false);
        assert_eq!(values["ingress"]["tls"]["secretName"], "wildcard-tls");
        assert_eq!(values["ingress"]["className"], "traefik");
        assert_eq!(values["existingSecret"], STORE_SECRET);
        assert_eq!(values["wordpress"]["theme"], "astra");
        assert!(!values.to_string().to_lowercase().contains("password"));

        let mut outputs = serde_json::Map::new();
        outputs.insert("medusa-setup".into(), json!({ "publishableKey": "pk_123" }));
        let medusa = json!({ "medusa": { "storefront": { "enabled": true } } });
        let copies = vec![
            (
                "output.medusa-setup.publishableKey".to_owned(),
                "medusa.storefront.publishableKey".to_owned(),
            ),
            (
                "input.urls.storefront".to_owned(),
                "medusa.storeCors".to_owned(),
            ),
            ("output.absent.value".to_owned(), "medusa.absent".to_owned()),
        ];
        let values = store_values(&input, true, &medusa, &copies, &outputs).expect("values");
        assert_eq!(values["medusa"]["storefront"]["enabled"], true);
        assert_eq!(values["medusa"]["storefront"]["publishableKey"], "pk_123");
        assert_eq!(
            values["medusa"]["storeCors"],
            "https://store-0a1b2c3d.example.com/"
        );
        assert!(
            values["medusa"].get("absent").is_none(),
            "missing sources are skipped"
        );
        let err = store_values(
            &json!({ "engine": "medusa" }),
            true,
            &json!({}),
            &[],
            &outputs,
        )
        .expect_err("incomplete");
        assert!(err.contains("store_id"), "{err}");
    }
}
