//! The input of a store's runs — provision, teardown, upgrade, restore, rotation, backup: one
//! type that the API writes and the steps read, so the two cannot drift apart.
//!
//! Only `store_id` and `namespace` are in every store run (the orphan reaper's teardown has
//! nothing else); a step that needs another field asks for it and fails its run with a
//! message naming the field when the input lacks it. Workflow definitions still name input
//! paths in their chart copies (`input.urls.storefront`): those are the JSON names here.

use serde::{Deserialize, Serialize};
use storeflow_engine::{StepContext, StepOutcome, StepResult};
use uuid::Uuid;

/// What a store's runs know about the store. Serialized as the run's input; unknown fields
/// (a backup run's own, say) are left to whoever reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRunInput {
    /// The store's id (`store-…`), also its runs' subject.
    pub store_id: String,
    /// The store's namespace.
    pub namespace: String,
    /// The store engine's name (`woocommerce`, `medusa`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The owner's user id: namespace labels and the runs' tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The store's name, shown as its site title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The store's theme, for engines that have themes.
    #[serde(default)]
    pub theme: Option<String>,
    /// The store's host name under the store domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Where the store answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<StoreUrls>,
    /// How the store's Ingress is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressInput>,
    /// The backup a restore brings back (a store created from a backup, or restored in place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_backup_id: Option<Uuid>,
    /// The backup a backup run takes (backup runs only; their subject is this id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<Uuid>,
}

/// A store's URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreUrls {
    /// The storefront, with a trailing slash.
    pub storefront: String,
    /// The admin UI, for engines that have one reachable from outside.
    #[serde(default)]
    pub admin: Option<String>,
}

/// The Ingress settings of the installation, as the store chart takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressInput {
    /// `ingressClassName` of the store's Ingress.
    pub class_name: String,
    /// The ingress controller (`nginx`, `traefik`), for its annotations.
    pub controller: String,
    /// The TLS Secret for the store domain; empty for plain HTTP.
    pub tls_secret_name: String,
}

impl StoreRunInput {
    /// The run's input as a store run's: a run whose input is not one (or lacks its store id
    /// or namespace) fails, since no retry can change its input.
    pub fn read(cx: &StepContext<'_>) -> StepResult<StoreRunInput> {
        let input: StoreRunInput = serde_json::from_value(cx.input.clone())
            .map_err(|err| StepOutcome::fatal(format!("the run input is not a store's: {err}")))?;
        for (field, value) in [
            ("store_id", &input.store_id),
            ("namespace", &input.namespace),
        ] {
            if value.is_empty() {
                return Err(missing(field));
            }
        }
        Ok(input)
    }

    /// The engine's name, or the run's failure when the input has none.
    pub fn engine(&self) -> StepResult<&str> {
        present(&self.engine, "engine")
    }

    /// The owner's id, or the run's failure when the input has none.
    pub fn tenant(&self) -> StepResult<&str> {
        present(&self.tenant, "tenant")
    }

    /// The store's name, or the run's failure when the input has none.
    pub fn name(&self) -> StepResult<&str> {
        present(&self.name, "name")
    }

    /// The store's host, or the run's failure when the input has none.
    pub fn host(&self) -> StepResult<&str> {
        present(&self.host, "host")
    }

    /// The storefront URL, or the run's failure when the input has none.
    pub fn storefront_url(&self) -> StepResult<&str> {
        self.urls
            .as_ref()
            .map(|urls| urls.storefront.as_str())
            .filter(|url| !url.is_empty())
            .ok_or_else(|| missing("urls.storefront"))
    }

    /// The backup this backup run takes, or the run's failure when the input has none.
    pub fn backup_id(&self) -> StepResult<Uuid> {
        self.backup_id.ok_or_else(|| missing("backup_id"))
    }

    /// The backup this restore brings back, or the run's failure when the input has none.
    pub fn restore_backup_id(&self) -> StepResult<Uuid> {
        self.restore_backup_id
            .ok_or_else(|| missing("restore_backup_id"))
    }

    /// The store's namespace, borrowed from the run input (what exec targets borrow); the
    /// run's failure when the input has none. [`StoreRunInput::read`] reads the same field.
    pub fn namespace_of<'a>(cx: &'a StepContext<'_>) -> StepResult<&'a str> {
        cx.input
            .get("namespace")
            .and_then(|value| value.as_str())
            .filter(|namespace| !namespace.is_empty())
            .ok_or_else(|| missing("namespace"))
    }

    /// As the run input (a JSON object).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn present<'a>(value: &'a Option<String>, field: &str) -> StepResult<&'a str> {
    value
        .as_deref()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| missing(field))
}

fn missing(field: &str) -> StepOutcome {
    StepOutcome::fatal(format!(
        "the run input has no `{field}` (the API writes it when it starts the store's run)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_input_keeps_the_json_names_workflow_definitions_use() {
        let input = StoreRunInput {
            store_id: "store-1".into(),
            namespace: "store-1".into(),
            engine: Some("medusa".into()),
            tenant: Some("0190a0b0-0000-7000-8000-000000000001".into()),
            name: Some("Shop".into()),
            theme: None,
            host: Some("store-1.example.test".into()),
            urls: Some(StoreUrls {
                storefront: "http://store-1.example.test/".into(),
                admin: None,
            }),
            ingress: Some(IngressInput {
                class_name: "nginx".into(),
                controller: "nginx".into(),
                tls_secret_name: String::new(),
            }),
            restore_backup_id: None,
            backup_id: None,
        };
        let value = input.to_value();
        assert_eq!(value["urls"]["storefront"], "http://store-1.example.test/");
        assert_eq!(value["ingress"]["className"], "nginx");
        assert_eq!(value["ingress"]["tlsSecretName"], "");
        assert_eq!(value["theme"], json!(null));
        assert!(value.get("restore_backup_id").is_none());
        assert!(value.get("backup_id").is_none());
        let back: StoreRunInput = serde_json::from_value(value).expect("reads back");
        assert_eq!(back, input);
    }

    #[test]
    fn a_backup_run_reads_its_backup_and_a_restore_its_source() {
        let backup = "0190a0b0-0000-7000-8000-00000000000b";
        let input: StoreRunInput = serde_json::from_value(json!({
            "store_id": "store-9", "namespace": "store-9", "backup_id": backup,
        }))
        .expect("a backup run's input");
        assert_eq!(input.backup_id().expect("backup").to_string(), backup);
        let Err(StepOutcome::Fatal(failure)) = input.restore_backup_id() else {
            panic!("a backup run restores nothing");
        };
        assert!(
            failure.to_string().contains("`restore_backup_id`"),
            "{failure}"
        );
    }

    #[test]
    fn a_teardown_of_an_orphan_needs_only_the_store_and_its_namespace() {
        let input: StoreRunInput =
            serde_json::from_value(json!({ "store_id": "store-9", "namespace": "store-9" }))
                .expect("an orphan's input");
        assert!(input.engine().is_err());
        let Err(StepOutcome::Fatal(failure)) = input.host() else {
            panic!("a missing host fails the run");
        };
        assert!(failure.to_string().contains("`host`"), "{failure}");
    }
}
