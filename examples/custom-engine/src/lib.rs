//! How an engine author adds a store engine — here a static site served by nginx — and a new
//! step kind, without changing the workflow engine:
//!
//! 1. a step kind: a struct with its parameters, `#[typetag::serde(name = "...")]` and
//!    `storeflow_engine::Step` ([`WriteWelcomePage`]: writes the site's page through the
//!    Kubernetes exec API, content on stdin, never in argv);
//! 2. the engine: [`StaticSite`] implements `StoreEngine` (its name, the keys of its store
//!    Secret, its chart values, setup, verification and password steps);
//! 3. its provisioning workflow comes from the shared builder,
//!    `storeflow_workflows::store::provision_v1(&StaticSite)`.
//!
//! To ship it, add it to `storeflow_executors::engines::registry()` (the one place engines are
//! registered: the API, `GET /engines` and the dashboard follow it, and the server's migrate adds
//! its name to the database's `store_engine` type) and give the store chart templates for
//! `engine: static-site`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use storeflow_engine::{StepContext, StepDef, StepOutcome};
use storeflow_executors::engines::{EngineValues, StoreEngine};
use storeflow_executors::pod_exec;

/// Writes the site's welcome page (`/usr/share/nginx/html/index.html` in the `nginx`
/// container of the `site` pod). Idempotent: writing the same page twice leaves one page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteWelcomePage {
    /// Shown as the page's heading; `{name}` is replaced by the store's name.
    pub heading: String,
}

/// A fixed script: the page arrives on stdin; nothing is spliced into the command.
pub const WRITE_PAGE: &str = "cat > /usr/share/nginx/html/index.html";

impl WriteWelcomePage {
    /// The page for a store named `name` (HTML-escaped).
    pub fn page(&self, name: &str) -> String {
        let escaped: String = name
            .chars()
            .map(|c| match c {
                '<' => "&lt;".to_owned(),
                '>' => "&gt;".to_owned(),
                '&' => "&amp;".to_owned(),
                '"' => "&quot;".to_owned(),
                c => c.to_string(),
            })
            .collect();
        format!(
            "<!doctype html><title>{escaped}</title><h1>{}</h1>\n",
            self.heading.replace("{name}", &escaped)
        )
    }
}

#[typetag::serde(name = "write-welcome-page")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WriteWelcomePage {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let Some(name) = cx.input["name"].as_str() else {
            return StepOutcome::fatal("the run input has no `name`");
        };
        let Some(namespace) = cx.input["namespace"].as_str() else {
            return StepOutcome::fatal("the run input has no `namespace`");
        };
        let client = match cx.resource::<kube::Client>() {
            Ok(client) => client.clone(),
            Err(_) => {
                return StepOutcome::pending_on(
                    Duration::from_secs(15),
                    "no Kubernetes cluster is configured for this worker",
                );
            }
        };
        let target = pod_exec::Target {
            namespace,
            instance: namespace,
            app: "site",
            container: "nginx",
        };
        let argv = vec!["sh".to_owned(), "-c".to_owned(), WRITE_PAGE.to_owned()];
        let page = self.page(name);
        match pod_exec::run(client, &target, &argv, Some(page.as_bytes()), cx.time_left).await {
            Ok(output) if output.success() => StepOutcome::Done(json!({ "bytes": page.len() })),
            Ok(output) => StepOutcome::retry(format!(
                "writing the welcome page exited with {}: {}",
                output.code,
                output.summary()
            )),
            Err(outcome) => outcome,
        }
    }
}

/// A static site: nginx and one page.
#[derive(Debug, Clone, Copy)]
pub struct StaticSite;

impl StoreEngine for StaticSite {
    fn name(&self) -> &'static str {
        "static-site"
    }

    fn provision_workflow(&self) -> &'static str {
        "provision-static-site"
    }

    fn secret_keys(&self) -> &'static [&'static str] {
        // Nothing of its own to keep secret; the store Secret still exists for the chart.
        &["site-token"]
    }

    fn chart_values(&self, published: bool) -> EngineValues {
        EngineValues {
            values: json!({ "site": { "cache": published } }),
            copies: vec![("input.name".into(), "site.title".into())],
        }
    }

    fn setup_steps(&self) -> Vec<StepDef> {
        vec![
            StepDef::new(
                "write-welcome-page",
                WriteWelcomePage {
                    heading: "Welcome to {name}".into(),
                },
            )
            .timeout(Duration::from_secs(60)),
        ]
    }

    fn verify_steps(&self) -> Vec<StepDef> {
        Vec::new()
    }

    fn set_admin_password(&self) -> Box<dyn storeflow_engine::Step> {
        Box::new(NoAdminToUpdate {})
    }
}

/// A static site has no admin who signs in: a rotation has nothing to apply in the store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NoAdminToUpdate {}

#[typetag::serde(name = "static-site-no-admin")]
#[async_trait::async_trait]
impl storeflow_engine::Step for NoAdminToUpdate {
    async fn run(&self, _cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::Done(json!({ "applied": false, "reason": "a static site has no admin user" }))
    }
}
