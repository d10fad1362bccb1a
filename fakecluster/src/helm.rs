//! A fake `helm` (the `storeflow-fakecluster` binary run under the name `helm`): it speaks
//! the subset of the helm CLI that storeflow uses — `upgrade --install`, `status`, `history`,
//! `rollback`, `get values`, `get metadata`, `uninstall`, `version` — against the API server named by `HELM_KUBEAPISERVER`
//! (with `HELM_KUBECAFILE` and `HELM_KUBETOKEN`, as helm reads them) or by `KUBECONFIG`, and
//! creates the objects the store chart would create (names, labels, containers and secret
//! references as in `charts/ecommerce-store/README.md`), keeping release records as Secrets
//! the way helm does. Every invocation's argv is appended to `$FAKE_HELM_LOG` (one JSON array
//! per line) so tests can check what storeflow ran.

use std::path::Path;

use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// What one invocation prints and returns.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn error(message: impl Into<String>) -> Outcome {
    Outcome {
        stderr: format!("Error: {}\n", message.into()),
        code: 1,
        ..Outcome::default()
    }
}

/// How to reach the API server, found the way helm finds it: the `HELM_KUBEAPISERVER`,
/// `HELM_KUBECAFILE` and `HELM_KUBETOKEN` environment variables first (what storeflow sets
/// when it runs in a pod), else the `server`, `certificate-authority` and `token` of the
/// kubeconfig named by `KUBECONFIG`.
struct Api {
    base: String,
    /// PEM of the CA to trust for `https://` servers.
    ca_pem: Option<Vec<u8>>,
    token: Option<String>,
}

impl Api {
    fn from_environment() -> Result<Api, String> {
        if let Some(server) = std::env::var("HELM_KUBEAPISERVER")
            .ok()
            .filter(|s| !s.is_empty())
        {
            let ca_pem = match std::env::var("HELM_KUBECAFILE") {
                Ok(path) if !path.is_empty() => Some(std::fs::read(&path).map_err(|err| {
                    format!("Kubernetes cluster unreachable: reading {path}: {err}")
                })?),
                _ => None,
            };
            return Ok(Api {
                base: server,
                ca_pem,
                token: std::env::var("HELM_KUBETOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
            });
        }
        let path = std::env::var("KUBECONFIG")
            .map_err(|_| "Kubernetes cluster unreachable: KUBECONFIG is not set".to_owned())?;
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("Kubernetes cluster unreachable: reading {path}: {err}"))?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|s| s.trim().to_owned())
        };
        let server = field("server:")
            .ok_or_else(|| format!("Kubernetes cluster unreachable: no server in {path}"))?;
        let ca_pem =
            match field("certificate-authority:") {
                Some(ca) => Some(std::fs::read(&ca).map_err(|err| {
                    format!("Kubernetes cluster unreachable: reading {ca}: {err}")
                })?),
                None => None,
            };
        Ok(Api {
            base: server,
            ca_pem,
            token: field("token:"),
        })
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let bytes = match body {
            Some(body) => {
                request = request.header(
                    "content-type",
                    if method == "PATCH" {
                        "application/apply-patch+yaml"
                    } else {
                        "application/json"
                    },
                );
                body.to_string()
            }
            None => String::new(),
        };
        let request = request
            .body(http_body_util::Full::new(axum::body::Bytes::from(bytes)))
            .map_err(|err| err.to_string())?;
        let response = if self.base.starts_with("https://") {
            let tls = self.tls_config()?;
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_only()
                .enable_http1()
                .build();
            Client::builder(TokioExecutor::new())
                .build(connector)
                .request(request)
                .await
        } else {
            Client::builder(TokioExecutor::new())
                .build_http()
                .request(request)
                .await
        }
        .map_err(|err| {
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            format!("Kubernetes cluster unreachable: {message}")
        })?;
        let status = response.status().as_u16();
        if status == 401 {
            // What helm prints when the API server refuses its credentials.
            return Err(
                "Kubernetes cluster unreachable: the server has asked for the client \
                        to provide credentials"
                    .into(),
            );
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Trusts only the configured CA, as helm does with a CA file.
    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let pem = self.ca_pem.as_deref().ok_or_else(|| {
            "Kubernetes cluster unreachable: x509: certificate signed by unknown authority \
             (no CA file configured)"
                .to_owned()
        })?;
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate = certificate
                .map_err(|err| format!("Kubernetes cluster unreachable: reading the CA: {err}"))?;
            roots
                .add(certificate)
                .map_err(|err| format!("Kubernetes cluster unreachable: the CA: {err}"))?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| err.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

fn api_path(resource: &str, namespace: &str, name: Option<&str>) -> String {
    let group = match resource {
        "deployments" | "statefulsets" => "/apis/apps/v1",
        "ingresses" | "networkpolicies" => "/apis/networking.k8s.io/v1",
        _ => "/api/v1",
    };
    match name {
        Some(name) => format!("{group}/namespaces/{namespace}/{resource}/{name}"),
        None => format!("{group}/namespaces/{namespace}/{resource}"),
    }
}

/// Parsed flags and positional arguments.
struct Args {
    positional: Vec<String>,
    namespace: Option<String>,
    values: Vec<String>,
    output_json: bool,
}

fn parse(args: &[String]) -> Args {
    let mut parsed = Args {
        positional: Vec::new(),
        namespace: None,
        values: Vec::new(),
        output_json: false,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--namespace" | "-n" => parsed.namespace = iter.next().cloned(),
            "--values" | "-f" => parsed.values.extend(iter.next().cloned()),
            "-o" | "--output" => parsed.output_json = iter.next().is_some_and(|o| o == "json"),
            "--timeout" => {
                iter.next();
            }
            flag if flag.starts_with("--") => {}
            _ => parsed.positional.push(arg.clone()),
        }
    }
    parsed
}

/// Runs one helm invocation.
pub async fn run(argv: &[String]) -> Outcome {
    if let Ok(log) = std::env::var("FAKE_HELM_LOG") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(file, "{}", json!(argv));
        }
    }
    let args = parse(argv);
    let command: Vec<&str> = args.positional.iter().map(String::as_str).collect();
    if command.first() == Some(&"version") {
        return Outcome {
            stdout: "version.BuildInfo{Version:\"v3.16.0-fake\"}\n".into(),
            ..Outcome::default()
        };
    }
    let api = match Api::from_environment() {
        Ok(api) => api,
        Err(message) => return error(message),
    };
    let namespace = args.namespace.clone().unwrap_or_else(|| "default".into());
    let result = match command.as_slice() {
        ["upgrade", release, chart] => upgrade(&api, release, chart, &namespace, &args).await,
        ["status", release] => status(&api, release, &namespace).await,
        ["history", release] => history(&api, release, &namespace).await,
        ["rollback", release, revision] => rollback(&api, release, revision, &namespace).await,
        ["get", "values", release] => get_values(&api, release, &namespace).await,
        ["get", "metadata", release] => get_metadata(&api, release, &namespace).await,
        ["uninstall", release] => uninstall(&api, release, &namespace).await,
        _ => Err(format!(
            "unknown command {:?} for \"helm\" (the fake knows upgrade --install, status, history, rollback, get values, get metadata, uninstall, version)",
            args.positional
        )),
    };
    result.unwrap_or_else(error)
}

async fn releases(api: &Api, release: &str, namespace: &str) -> Result<Vec<Value>, String> {
    let path = format!(
        "{}?labelSelector=owner%3Dhelm,name%3D{release}",
        api_path("secrets", namespace, None)
    );
    let (status, list) = api.call("GET", &path, None).await?;
    if status != 200 {
        return Ok(Vec::new());
    }
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(version_of);
    Ok(items)
}

fn version_of(secret: &Value) -> i64 {
    secret["metadata"]["labels"]["version"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A JSON document kept in an annotation of a release record (helm keeps the release,
/// gzipped, in the Secret's data; the fake keeps what it needs readable).
fn annotation_json(secret: &Value, name: &str) -> Value {
    secret["metadata"]["annotations"][name]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

/// `helm status -o json` / `helm upgrade -o json`: the release with its chart's metadata
/// and the values it was given (`config`), as helm prints them.
fn summary(release: &str, namespace: &str, secret: &Value) -> Value {
    json!({
        "name": release,
        "namespace": namespace,
        "version": version_of(secret),
        "info": {
            "status": secret["metadata"]["labels"]["status"],
            "last_deployed": secret["metadata"]["annotations"]["last-deployed"],
            "description": secret["metadata"]["annotations"]["description"],
        },
        "chart": { "metadata": annotation_json(secret, "chart") },
        "config": annotation_json(secret, "values"),
    })
}

/// What one revision of a release was made of.
struct Revision<'a> {
    status: &'a str,
    /// `resource/name` of every object, for deletion.
    objects: &'a [String],
    /// The rendered objects as `[resource, object]` pairs, re-applied by a rollback to this
    /// revision.
    manifest: &'a Value,
    /// The chart's `name`, `version` and `appVersion`.
    chart: &'a Value,
    /// The values it was given.
    values: &'a Value,
    description: &'a str,
}

async fn record(
    api: &Api,
    release: &str,
    namespace: &str,
    version: i64,
    revision: Revision<'_>,
) -> Result<(), String> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": format!("sh.helm.release.v1.{release}.v{version}"),
            "labels": { "owner": "helm", "name": release, "status": revision.status, "version": version.to_string() },
            "annotations": {
                "last-deployed": now,
                "objects": revision.objects.join(","),
                "manifest": revision.manifest.to_string(),
                "chart": revision.chart.to_string(),
                "values": revision.values.to_string(),
                "description": revision.description,
            },
        },
        "type": "helm.sh/release.v1",
    });
    let name = format!("sh.helm.release.v1.{release}.v{version}");
    let (code, body) = api
        .call(
            "PATCH",
            &api_path("secrets", namespace, Some(&name)),
            Some(&secret),
        )
        .await?;
    if code >= 300 {
        return Err(format!(
            "create: failed to create: {}",
            body["message"].as_str().unwrap_or("?")
        ));
    }
    Ok(())
}

async fn set_status(
    api: &Api,
    namespace: &str,
    secret: &Value,
    status: &str,
) -> Result<(), String> {
    let name = secret["metadata"]["name"].as_str().unwrap_or_default();
    let mut patch = json!({ "metadata": { "labels": { "status": status } } });
    patch["apiVersion"] = json!("v1");
    patch["kind"] = json!("Secret");
    api.call(
        "PATCH",
        &api_path("secrets", namespace, Some(name)),
        Some(&patch),
    )
    .await
    .map(|_| ())
}

fn merged_values(files: &[String]) -> Result<Value, String> {
    let mut values = json!({});
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|err| format!("open {file}: {err}"))?;
        // storeflow writes its values as JSON; other values files (YAML) only set defaults
        // the fake does not model.
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) {
            for (k, v) in map {
                values[k] = v;
            }
        }
    }
    Ok(values)
}

/// The scalars of a simple YAML document (nested maps, as the store chart's values.yaml),
/// by dotted path: enough for the fake to read the chart's image defaults.
fn yaml_scalars(text: &str) -> std::collections::HashMap<String, String> {
    let mut found = std::collections::HashMap::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let Some((key, rest)) = trimmed.split_once(':') else {
            continue;
        };
        while path.last().is_some_and(|(i, _)| *i >= indent) {
            path.pop();
        }
        let value = rest.split(" #").next().unwrap_or("").trim();
        if value.is_empty() {
            path.push((indent, key.trim().to_owned()));
            continue;
        }
        let mut dotted: Vec<&str> = path.iter().map(|(_, k)| k.as_str()).collect();
        dotted.push(key.trim());
        found.insert(dotted.join("."), value.trim_matches('"').to_owned());
    }
    found
}

/// The chart's `name`, `version` and `appVersion` from its Chart.yaml.
fn chart_metadata(chart: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(Path::new(chart).join("Chart.yaml"))
        .map_err(|_| format!("path \"{chart}\" not found"))?;
    let fields = yaml_scalars(&text);
    Ok(json!({
        "name": fields.get("name"),
        "version": fields.get("version"),
        "appVersion": fields.get("appVersion"),
    }))
}

/// The chart's default values the fake renders from (its values.yaml scalars, dotted),
/// under the values given on the command line.
fn with_chart_defaults(chart: &str, values: &Value) -> Value {
    let defaults = std::fs::read_to_string(Path::new(chart).join("values.yaml"))
        .map(|text| yaml_scalars(&text))
        .unwrap_or_default();
    let mut merged = values.clone();
    for (path, value) in defaults {
        let keys: Vec<&str> = path.split('.').collect();
        let mut target = &mut merged;
        let mut present = true;
        for key in &keys[..keys.len() - 1] {
            if !target[*key].is_object() {
                if !target[*key].is_null() {
                    present = false;
                    break;
                }
                target[*key] = json!({});
            }
            target = &mut target[*key];
        }
        let last = keys[keys.len() - 1];
        if present && target[last].is_null() {
            target[last] = json!(value);
        }
    }
    merged
}

/// `repository:tag` of an image in the values, or the default.
fn image(values: &Value, path: &[&str], default: &str) -> String {
    let mut at = values;
    for key in path {
        at = &at[*key];
    }
    match (at["repository"].as_str(), at["tag"].as_str()) {
        (Some(repository), Some(tag)) => format!("{repository}:{tag}"),
        _ => default.to_owned(),
    }
}

fn labels(release: &str, name: &str, component: &str, values: &Value) -> Value {
    json!({
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "storeflow",
        "storeflow.io/store-id": values["storeId"],
        "storeflow.io/engine": values["engine"],
    })
}

fn secret_env(env: &str, secret: &str, key: &str) -> Value {
    json!({ "name": env, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

fn workload(
    kind: &str,
    release: &str,
    name: &str,
    component: &str,
    values: &Value,
    containers: Value,
) -> (String, Value) {
    let selector = json!({
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
    });
    let resource = if kind == "Deployment" {
        "deployments"
    } else {
        "statefulsets"
    };
    (
        resource.into(),
        json!({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": { "name": name, "labels": labels(release, name, component, values) },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": selector },
                "template": {
                    "metadata": { "labels": labels(release, name, component, values) },
                    "spec": { "containers": containers },
                },
            },
        }),
    )
}

fn service(
    release: &str,
    name: &str,
    component: &str,
    port: u16,
    values: &Value,
) -> (String, Value) {
    (
        "services".into(),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": name, "labels": labels(release, name, component, values) },
            "spec": {
                "selector": { "app.kubernetes.io/instance": release, "app.kubernetes.io/name": name, "app.kubernetes.io/component": component },
                "ports": [{ "name": "http", "port": port, "targetPort": "http" }],
            },
        }),
    )
}

fn ingress(release: &str, name: &str, values: &Value, paths: Value) -> (String, Value) {
    let host = values["ingress"]["host"].as_str().unwrap_or_default();
    let mut spec = json!({
        "ingressClassName": values["ingress"]["className"],
        "rules": [{ "host": host, "http": { "paths": paths } }],
    });
    if values["ingress"]["tls"]["enabled"] == true {
        spec["tls"] =
            json!([{ "hosts": [host], "secretName": values["ingress"]["tls"]["secretName"] }]);
    }
    (
        "ingresses".into(),
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": { "name": name, "labels": labels(release, name, "ingress", values) },
            "spec": spec,
        }),
    )
}

fn backend(service: &str, path: &str) -> Value {
    json!({ "path": path, "pathType": "Prefix", "backend": { "service": { "name": service, "port": { "name": "http" } } } })
}

/// What the store chart renders for `values` (the objects the executors depend on).
fn render(release: &str, values: &Value) -> Result<Vec<(String, Value)>, String> {
    let secret = values["existingSecret"].as_str().unwrap_or_default();
    if secret.is_empty() {
        return Err("execution error at (ecommerce-store/templates/_helpers.tpl): existingSecret is required: the Secret holding this store's generated passwords".into());
    }
    if values["storeId"].as_str() != Some(release) {
        return Err("execution error at (ecommerce-store/templates/_helpers.tpl): storeId must equal the release name".into());
    }
    let exposed = values["ingress"]["enabled"] == true;
    if exposed && values["ingress"]["host"].as_str().is_none_or(str::is_empty) {
        return Err("execution error at (ecommerce-store/templates/_helpers.tpl): ingress.host is required when ingress.enabled is true".into());
    }
    let mut objects = Vec::new();
    match values["engine"].as_str() {
        Some("woocommerce") => {
            let db_env = json!([
                { "name": "WORDPRESS_DB_HOST", "value": "mariadb" },
                { "name": "WORDPRESS_DB_USER", "value": "wordpress" },
                secret_env("WORDPRESS_DB_PASSWORD", secret, "mariadb-password"),
                { "name": "WORDPRESS_DB_NAME", "value": "wordpress" },
            ]);
            objects.push(workload("Deployment", release, "wordpress", "frontend", values, json!([
                { "name": "wordpress", "image": image(values, &["wordpress", "image"], "wordpress:6.7-php8.2-apache"), "ports": [{ "name": "http", "containerPort": 80 }], "env": db_env },
                { "name": "wp-cli", "image": image(values, &["wordpress", "cli", "image"], "wordpress:cli-2.11-php8.2"), "env": db_env },
            ])));
            objects.push(workload(
                "StatefulSet",
                release,
                "mariadb",
                "database",
                values,
                json!([
                    { "name": "mariadb", "image": image(values, &["mariadb", "image"], "mariadb:11.4"), "env": [
                        secret_env("MARIADB_ROOT_PASSWORD", secret, "mariadb-root-password"),
                        secret_env("MARIADB_PASSWORD", secret, "mariadb-password"),
                    ] },
                ]),
            ));
            objects.push(service(release, "wordpress", "frontend", 80, values));
            objects.push(service(release, "mariadb", "database", 3306, values));
            if exposed {
                objects.push(ingress(
                    release,
                    "wordpress",
                    values,
                    json!([backend("wordpress", "/")]),
                ));
            }
        }
        Some("medusa") => {
            objects.push(workload("Deployment", release, "medusa", "backend", values, json!([
                { "name": "medusa", "image": image(values, &["medusa", "image"], "storeflow/medusa-backend:1.20.10-2"), "ports": [{ "name": "http", "containerPort": 9000 }], "env": [
                    secret_env("POSTGRES_PASSWORD", secret, "postgres-password"),
                    secret_env("JWT_SECRET", secret, "jwt-secret"),
                    secret_env("COOKIE_SECRET", secret, "cookie-secret"),
                ] },
            ])));
            objects.push(workload("StatefulSet", release, "medusa-postgres", "database", values, json!([
                { "name": "postgres", "image": image(values, &["medusa", "postgresql", "image"], "postgres:15.10-alpine"), "env": [secret_env("POSTGRES_PASSWORD", secret, "postgres-password")] },
            ])));
            objects.push(service(release, "medusa", "backend", 9000, values));
            objects.push(service(
                release,
                "medusa-postgres",
                "database",
                5432,
                values,
            ));
            let storefront = values["medusa"]["storefront"]["enabled"] == true;
            if storefront {
                objects.push(workload("Deployment", release, "storefront", "storefront", values, json!([
                    { "name": "storefront", "image": image(values, &["medusa", "storefront", "image"], "storeflow/storefront-medusa:1.0.0"), "ports": [{ "name": "http", "containerPort": 8080 }], "env": [
                        { "name": "STORE_NAME", "value": values["storeName"] },
                        { "name": "MEDUSA_PUBLISHABLE_KEY", "value": values["medusa"]["storefront"]["publishableKey"] },
                        { "name": "MEDUSA_UPSTREAM", "value": "http://medusa:9000" },
                    ] },
                ])));
                objects.push(service(release, "storefront", "storefront", 80, values));
            }
            if exposed {
                let paths = if storefront {
                    json!([backend("medusa", "/store"), backend("storefront", "/")])
                } else {
                    json!([backend("medusa", "/store")])
                };
                objects.push(ingress(release, "medusa", values, paths));
            }
        }
        other => {
            return Err(format!(
                "execution error at (ecommerce-store/templates/_helpers.tpl): engine must be woocommerce or medusa (got {other:?})"
            ));
        }
    }
    Ok(objects)
}

async fn upgrade(
    api: &Api,
    release: &str,
    chart: &str,
    namespace: &str,
    args: &Args,
) -> Result<Outcome, String> {
    let chart_meta = chart_metadata(chart)?;
    let (code, _) = api
        .call("GET", &format!("/api/v1/namespaces/{namespace}"), None)
        .await?;
    if code == 404 {
        return Err(format!(
            "create: failed to create: namespaces \"{namespace}\" not found"
        ));
    }
    let history = releases(api, release, namespace).await?;
    if let Some(last) = history.last() {
        let status = last["metadata"]["labels"]["status"].as_str().unwrap_or("");
        if status.starts_with("pending-") {
            return Err("another operation (install/upgrade/rollback) is in progress".into());
        }
    }
    let values = merged_values(&args.values)?;
    let objects = render(release, &with_chart_defaults(chart, &values))?;
    let version = history.last().map(version_of).unwrap_or(0) + 1;
    let names: Vec<String> = objects
        .iter()
        .map(|(resource, object)| {
            format!(
                "{resource}/{}",
                object["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let manifest = Value::Array(objects.iter().map(|(r, o)| json!([r, o])).collect());
    let description = if history.is_empty() {
        "Install complete"
    } else {
        "Upgrade complete"
    };
    // As helm does: the new revision is recorded pending first, so a helm killed while it
    // applies the objects leaves the release `pending-*` (which storeflow must repair).
    let pending = if history.is_empty() {
        "pending-install"
    } else {
        "pending-upgrade"
    };
    record(
        api,
        release,
        namespace,
        version,
        Revision {
            status: pending,
            objects: &names,
            manifest: &manifest,
            chart: &chart_meta,
            values: &values,
            description,
        },
    )
    .await?;
    let this =
        json!({ "metadata": { "name": format!("sh.helm.release.v1.{release}.v{version}") } });
    for (resource, object) in &objects {
        let name = object["metadata"]["name"].as_str().unwrap_or("");
        let (code, body) = api
            .call(
                "PATCH",
                &api_path(resource, namespace, Some(name)),
                Some(object),
            )
            .await?;
        if code >= 300 {
            set_status(api, namespace, &this, "failed").await?;
            return Err(format!(
                "failed to create resource: {}",
                body["message"].as_str().unwrap_or("refused")
            ));
        }
    }
    // Objects of the previous revision that this one no longer renders are deleted.
    if let Some(last) = history.last() {
        delete_stale(api, namespace, last, &names).await?;
        set_status(api, namespace, last, "superseded").await?;
    }
    set_status(api, namespace, &this, "deployed").await?;
    let latest = releases(api, release, namespace).await?;
    let summary = latest
        .last()
        .map(|s| summary(release, namespace, s))
        .unwrap_or(Value::Null);
    Ok(Outcome {
        stdout: if args.output_json {
            summary.to_string()
        } else {
            format!("Release \"{release}\" has been upgraded. Happy Helming!\n")
        },
        ..Outcome::default()
    })
}

async fn status(api: &Api, release: &str, namespace: &str) -> Result<Outcome, String> {
    match releases(api, release, namespace).await?.last() {
        Some(last) => Ok(Outcome {
            stdout: summary(release, namespace, last).to_string(),
            ..Outcome::default()
        }),
        None => Err("release: not found".into()),
    }
}

async fn history(api: &Api, release: &str, namespace: &str) -> Result<Outcome, String> {
    let all = releases(api, release, namespace).await?;
    if all.is_empty() {
        return Err("release: not found".into());
    }
    let entries: Vec<Value> = all
        .iter()
        .map(|s| {
            let chart = annotation_json(s, "chart");
            json!({
                "revision": version_of(s),
                "updated": s["metadata"]["annotations"]["last-deployed"],
                "status": s["metadata"]["labels"]["status"],
                "chart": format!(
                    "{}-{}",
                    chart["name"].as_str().unwrap_or("?"),
                    chart["version"].as_str().unwrap_or("?")
                ),
                "app_version": chart["appVersion"],
                "description": s["metadata"]["annotations"]["description"],
            })
        })
        .collect();
    Ok(Outcome {
        stdout: Value::Array(entries).to_string(),
        ..Outcome::default()
    })
}

async fn rollback(
    api: &Api,
    release: &str,
    revision: &str,
    namespace: &str,
) -> Result<Outcome, String> {
    let all = releases(api, release, namespace).await?;
    let Some(last) = all.last() else {
        return Err("release: not found".into());
    };
    let version = version_of(last) + 1;
    let Some(target) = all.iter().find(|s| version_of(s).to_string() == revision) else {
        return Err(format!("release has no {revision} version"));
    };
    let names: Vec<String> = target["metadata"]["annotations"]["objects"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    // The target revision's objects are applied again; objects only the newer revision
    // had are deleted (as helm's three-way merge does). Recorded pending first, as helm does.
    let manifest = annotation_json(target, "manifest");
    let description = format!("Rollback to {revision}");
    record(
        api,
        release,
        namespace,
        version,
        Revision {
            status: "pending-rollback",
            objects: &names,
            manifest: &manifest,
            chart: &annotation_json(target, "chart"),
            values: &annotation_json(target, "values"),
            description: &description,
        },
    )
    .await?;
    let this =
        json!({ "metadata": { "name": format!("sh.helm.release.v1.{release}.v{version}") } });
    for entry in manifest.as_array().into_iter().flatten() {
        let (resource, object) = (entry[0].as_str().unwrap_or(""), &entry[1]);
        let name = object["metadata"]["name"].as_str().unwrap_or("");
        let (code, body) = api
            .call(
                "PATCH",
                &api_path(resource, namespace, Some(name)),
                Some(object),
            )
            .await?;
        if code >= 300 {
            return Err(format!(
                "failed to replace object: {}",
                body["message"].as_str().unwrap_or("refused")
            ));
        }
    }
    delete_stale(api, namespace, last, &names).await?;
    set_status(api, namespace, last, "superseded").await?;
    set_status(api, namespace, &this, "deployed").await?;
    Ok(Outcome {
        stdout: "Rollback was a success! Happy Helming!\n".into(),
        ..Outcome::default()
    })
}

/// Deletes the objects revision `previous` had that the new one (`names`, `resource/name`)
/// no longer has, as helm's three-way merge does.
async fn delete_stale(
    api: &Api,
    namespace: &str,
    previous: &Value,
    names: &[String],
) -> Result<(), String> {
    let before = previous["metadata"]["annotations"]["objects"]
        .as_str()
        .unwrap_or("");
    for stale in before
        .split(',')
        .filter(|o| !o.is_empty() && !names.contains(&o.to_string()))
    {
        if let Some((resource, name)) = stale.split_once('/') {
            api.call("DELETE", &api_path(resource, namespace, Some(name)), None)
                .await?;
        }
    }
    Ok(())
}

/// `helm get values <release> -o json`: the values the current revision was given.
async fn get_values(api: &Api, release: &str, namespace: &str) -> Result<Outcome, String> {
    match releases(api, release, namespace).await?.last() {
        Some(last) => Ok(Outcome {
            stdout: match annotation_json(last, "values") {
                Value::Null => "{}".into(),
                values => values.to_string(),
            },
            ..Outcome::default()
        }),
        None => Err("release: not found".into()),
    }
}

/// `helm get metadata <release> -o json`: the current revision's chart and versions.
async fn get_metadata(api: &Api, release: &str, namespace: &str) -> Result<Outcome, String> {
    match releases(api, release, namespace).await?.last() {
        Some(last) => {
            let chart = annotation_json(last, "chart");
            Ok(Outcome {
                stdout: json!({
                    "name": release,
                    "chart": chart["name"],
                    "version": chart["version"],
                    "appVersion": chart["appVersion"],
                    "namespace": namespace,
                    "revision": version_of(last),
                    "status": last["metadata"]["labels"]["status"],
                    "deployedAt": last["metadata"]["annotations"]["last-deployed"],
                })
                .to_string(),
                ..Outcome::default()
            })
        }
        None => Err("release: not found".into()),
    }
}

async fn uninstall(api: &Api, release: &str, namespace: &str) -> Result<Outcome, String> {
    let all = releases(api, release, namespace).await?;
    let Some(last) = all.last() else {
        return Err(format!(
            "uninstall: Release not loaded: {release}: release: not found"
        ));
    };
    let objects = last["metadata"]["annotations"]["objects"]
        .as_str()
        .unwrap_or("");
    for object in objects.split(',').filter(|o| !o.is_empty()) {
        if let Some((resource, name)) = object.split_once('/') {
            api.call("DELETE", &api_path(resource, namespace, Some(name)), None)
                .await?;
        }
    }
    for secret in &all {
        let name = secret["metadata"]["name"].as_str().unwrap_or("");
        api.call("DELETE", &api_path("secrets", namespace, Some(name)), None)
            .await?;
    }
    Ok(Outcome {
        stdout: format!("release \"{release}\" uninstalled\n"),
        ..Outcome::default()
    })
}
