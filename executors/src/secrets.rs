//! The store's own Secret (`store-secrets`): the passwords its apps use (database passwords,
//! Medusa's JWT and cookie secrets), generated once and kept. A retry or a reinstall finds the
//! Secret and reuses it, so an app never meets an old volume with a new password. Values never
//! leave the cluster: not in helm values, run state, events or logs.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storeflow_engine::{StepContext, StepOutcome, StepResult};

use crate::breaker::{Breakers, guarded};
use crate::chart::STORE_SECRET;
use crate::kubernetes::{MANAGED_BY, OrClassify, STORE_ID_LABEL, classify, client};
use crate::store::StoreRunInput;
use crate::store::credentials::random_password;

/// Creates `store-secrets` with `keys` (the engine's [`crate::engines::StoreEngine::secret_keys`]),
/// or adds the keys an existing one lacks; existing values are never changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnsureStoreSecret {
    /// Data keys of the Secret; each missing one gets a fresh 32-character random value.
    /// Empty is a fatal misconfiguration.
    pub keys: Vec<String>,
}

#[typetag::serde(name = "ensure-store-secret")]
#[async_trait::async_trait]
impl storeflow_engine::Step for EnsureStoreSecret {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        guarded(breakers.map(|b| &b.kubernetes), body(cx, &self.keys)).await
    }
}

async fn body(cx: &StepContext<'_>, keys: &[String]) -> StepResult {
    let client = client(cx)?;
    let input = StoreRunInput::read(cx)?;
    let (namespace, store) = (input.namespace.as_str(), input.store_id.as_str());
    if keys.is_empty() {
        return Err(StepOutcome::fatal(
            "ensure-store-secret needs at least one key",
        ));
    }
    let api: Api<Secret> = Api::namespaced(client, namespace);
    for _ in 0..3 {
        let existing = api
            .get_opt(STORE_SECRET)
            .await
            .or_classify(&format!("reading secret {namespace}/{STORE_SECRET}"))?;
        match existing {
            Some(secret) => {
                let data = secret.data.clone().unwrap_or_default();
                let missing: Vec<&str> = keys
                    .iter()
                    .map(String::as_str)
                    .filter(|k| !data.contains_key(*k))
                    .collect();
                if missing.is_empty() {
                    return Ok(json!({ "secret": STORE_SECRET, "keys": keys, "created": false }));
                }
                // A merge patch that adds only the missing keys, on the condition that the
                // Secret is still the version read: an attempt racing this one (after a lost
                // lease) makes it fail with a conflict, and the loop reads again instead of
                // overwriting a key the other attempt generated.
                let added: BTreeMap<&str, ByteString> = missing
                    .iter()
                    .map(|key| (*key, ByteString(random_password(32).into_bytes())))
                    .collect();
                // Without a version there is no precondition (`null` would drop it): read again.
                let Some(version) = secret.metadata.resource_version.as_deref() else {
                    continue;
                };
                let patch = json!({
                    "metadata": { "resourceVersion": version },
                    "data": added,
                });
                match api
                    .patch(STORE_SECRET, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {
                        return Ok(
                            json!({ "secret": STORE_SECRET, "keys": keys, "added": missing }),
                        );
                    }
                    Err(kube::Error::Api(status)) if status.code == 409 => continue,
                    Err(err) => {
                        return Err(classify(
                            err,
                            &format!("adding keys to secret {namespace}/{STORE_SECRET}"),
                        ));
                    }
                }
            }
            None => {
                let data: BTreeMap<String, ByteString> = keys
                    .iter()
                    .map(|k| {
                        (
                            (*k).to_owned(),
                            ByteString(random_password(32).into_bytes()),
                        )
                    })
                    .collect();
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(STORE_SECRET.into()),
                        labels: Some(
                            labels(store)
                                .as_object()
                                .into_iter()
                                .flatten()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                                .collect(),
                        ),
                        ..ObjectMeta::default()
                    },
                    type_: Some("Opaque".into()),
                    data: Some(data),
                    ..Secret::default()
                };
                match api.create(&PostParams::default(), &secret).await {
                    Ok(_) => {
                        return Ok(
                            json!({ "secret": STORE_SECRET, "keys": keys, "created": true }),
                        );
                    }
                    // Created by an attempt that raced this one: read it again.
                    Err(kube::Error::Api(status)) if status.code == 409 => continue,
                    Err(err) => {
                        return Err(classify(
                            err,
                            &format!("creating secret {namespace}/{STORE_SECRET}"),
                        ));
                    }
                }
            }
        }
    }
    Err(StepOutcome::retry(format!(
        "secret {namespace}/{STORE_SECRET} keeps changing under us"
    )))
}

fn labels(store: &str) -> serde_json::Value {
    json!({ MANAGED_BY.0: MANAGED_BY.1, STORE_ID_LABEL: store })
}
