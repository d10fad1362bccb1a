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
use storeflow_engine::{StepContext, StepDef, StepOutcome, StepResult};
use storeflow_executors::engines::{EngineValues, StoreEngine};
use storeflow_executors::pod_exec;
use storeflow_executors::store::StoreRunInput;

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
        StepOutcome::of(self.write(cx).await)
    }
}

impl WriteWelcomePage {
    /// The step's body: `?` turns a missing input field (fatal), a worker without a cluster
    /// (pending) or a failed exec (retry or fatal, as classified) into the step's outcome.
    async fn write(&self, cx: &StepContext<'_>) -> StepResult {
        let input = StoreRunInput::read(cx)?;
        let page = self.page(input.name()?);
        let client = cx.resource::<kube::Client>().cloned().map_err(|_| {
            StepOutcome::pending_on(
                Duration::from_secs(15),
                "no Kubernetes cluster is configured for this worker",
            )
        })?;
        let target = pod_exec::store_target(cx, "site", "nginx")?;
        let argv = vec!["sh".to_owned(), "-c".to_owned(), WRITE_PAGE.to_owned()];
        let output =
            pod_exec::run(client, &target, &argv, Some(page.as_bytes()), cx.time_left).await?;
        if !output.success() {
            return Err(StepOutcome::retry(format!(
                "writing the welcome page exited with {}: {}",
                output.code,
                output.summary()
            )));
        }
        Ok(json!({ "bytes": page.len() }))
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
