//! The store chart's values, computed from the run input (contract in
//! `charts/ecommerce-store/README.md`). No secret is ever a value: the chart reads them from
//! the store's own Secret, [`STORE_SECRET`].

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storeflow_engine::{StepContext, StepOutcome};

/// The Secret in each store namespace that holds the store's generated passwords.
pub const STORE_SECRET: &str = "store-secrets";

/// Produces `{"values": …}` for `install-chart`. With `expose` false the store's Ingress is
/// off: a WordPress installer must not be public before `wp core install` ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoreValues {
    #[serde(default)]
    pub expose: bool,
}

/// The values for one store, from the run input.
pub fn store_values(input: &Value, expose: bool) -> Result<Value, String> {
    let text = |field: &str| {
        input
            .get(field)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the run input has no `{field}`"))
    };
    let engine = text("engine")?;
    let ingress = input.get("ingress").cloned().unwrap_or_else(|| json!({}));
    let setting = |key: &str| ingress.get(key).and_then(Value::as_str).unwrap_or("");
    let tls_secret = setting("tlsSecretName");
    let mut values = json!({
        "storeId": text("store_id")?,
        "engine": engine,
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
    if engine == "woocommerce"
        && let Some(theme) = input.get("theme").and_then(Value::as_str)
    {
        values["wordpress"] = json!({ "theme": theme });
    }
    Ok(values)
}

#[typetag::serde(name = "store-values")]
#[async_trait::async_trait]
impl storeflow_engine::Step for StoreValues {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        match store_values(cx.input, self.expose) {
            Ok(values) => StepOutcome::Done(json!({ "values": values })),
            Err(message) => StepOutcome::fatal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_input_and_hold_no_secret() {
        let input = json!({
            "store_id": "store-0a1b2c3d", "namespace": "store-0a1b2c3d", "engine": "woocommerce",
            "name": "shop", "theme": "astra", "host": "store-0a1b2c3d.example.com",
            "ingress": { "className": "traefik", "controller": "traefik", "tlsSecretName": "wildcard-tls" }
        });
        let values = store_values(&input, false).expect("values");
        assert_eq!(values["ingress"]["enabled"], false);
        assert_eq!(values["ingress"]["tls"]["secretName"], "wildcard-tls");
        assert_eq!(values["ingress"]["className"], "traefik");
        assert_eq!(values["existingSecret"], STORE_SECRET);
        assert_eq!(values["wordpress"]["theme"], "astra");
        assert_eq!(
            store_values(&input, true).expect("values")["ingress"]["enabled"],
            true
        );
        let text = values.to_string().to_lowercase();
        assert!(!text.contains("password"), "{text}");

        let bare = json!({ "store_id": "store-0a1b2c3d", "engine": "medusa", "name": "shop", "host": "h" });
        let values = store_values(&bare, true).expect("values");
        assert_eq!(values["ingress"]["tls"]["enabled"], false);
        assert_eq!(values["ingress"]["className"], "nginx");
        assert!(values.get("wordpress").is_none());
        let err = store_values(&json!({ "engine": "medusa" }), true).expect_err("incomplete");
        assert!(err.contains("store_id"), "{err}");
    }
}
