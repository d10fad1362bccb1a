//! A fake Kubernetes API server over HTTP, for tests that run the real kube-rs client.
//!
//! It keeps objects as JSON and answers the way the API server does for what storeflow's
//! executors use: get, list (with equality label selectors), create, server-side apply,
//! replace and delete of namespaces, secrets, services, pods, deployments, statefulsets and
//! ingresses; `Status` errors with reasons; namespaces that stay `Terminating` while the test
//! holds their deletion. Tests drive object status (pods becoming Ready, image-pull errors)
//! through [`FakeCluster::update`].
//!
//! Beyond storage it fakes what storeflow reaches through the API server: `pods/exec` over
//! WebSocket ([`exec`]), with a simulated WordPress site answering WP-CLI ([`wpcli`]); the
//! service proxy ([`proxy`]) to real HTTP servers or the simulated site; and, when started with
//! [`Options::auto_ready`], controllers that roll workloads out (pods Ready) after a delay,
//! unless a failure such as an image-pull back-off was injected for the namespace.
//!
//! # Caveats
//! - Server-side apply merges labels and annotations and replaces the other top-level fields;
//!   it does not track field managers.

pub mod exec;
pub mod helm;
pub mod local_medusa;
pub mod proxy;
pub mod sites;
pub mod tls;
pub mod wpcli;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// (resource, namespace or "", name)
type Key = (String, String, String);

/// The stored objects, ordered by (resource, namespace, name) so that a list of one resource in
/// one namespace is a range, not a scan; every write marks its key for the watch history.
///
/// Why not a plain map: the fake serves hundreds of stores in the rollout figures, and a
/// history found by comparing every object after every request made each request cost as
/// much as the whole cluster (the fake, not storeflow, was what those figures measured).
#[derive(Default)]
struct Objects {
    map: BTreeMap<Key, Value>,
    /// Keys written or removed since the last [`sync_history`].
    dirty: std::collections::BTreeSet<Key>,
}

impl Objects {
    fn get(&self, key: &Key) -> Option<&Value> {
        self.map.get(key)
    }

    fn contains_key(&self, key: &Key) -> bool {
        self.map.contains_key(key)
    }

    fn get_mut(&mut self, key: &Key) -> Option<&mut Value> {
        let object = self.map.get_mut(key)?;
        self.dirty.insert(key.clone());
        Some(object)
    }

    fn insert(&mut self, key: Key, object: Value) {
        self.dirty.insert(key.clone());
        self.map.insert(key, object);
    }

    fn remove(&mut self, key: &Key) -> Option<Value> {
        let removed = self.map.remove(key);
        if removed.is_some() {
            self.dirty.insert(key.clone());
        }
        removed
    }

    /// Keeps the objects for which `keep` is true.
    fn retain(&mut self, mut keep: impl FnMut(&Key, &Value) -> bool) {
        let dirty = &mut self.dirty;
        self.map.retain(|key, object| {
            let kept = keep(key, object);
            if !kept {
                dirty.insert(key.clone());
            }
            kept
        });
    }

    /// Every object of `resource` (in every namespace).
    fn of_resource<'a>(&'a self, resource: &'a str) -> impl Iterator<Item = (&'a Key, &'a Value)> {
        self.map
            .range((resource.to_owned(), String::new(), String::new())..)
            .take_while(move |((r, _, _), _)| r == resource)
    }

    /// The objects of `resource` in `namespace` ("": in every namespace).
    fn listed<'a>(
        &'a self,
        resource: &'a str,
        namespace: &'a str,
    ) -> Box<dyn Iterator<Item = (&'a Key, &'a Value)> + 'a> {
        if namespace.is_empty() {
            return Box::new(self.of_resource(resource));
        }
        Box::new(
            self.map
                .range((resource.to_owned(), namespace.to_owned(), String::new())..)
                .take_while(move |((r, ns, _), _)| r == resource && ns == namespace),
        )
    }
}

#[derive(Default)]
struct Store {
    objects: Objects,
    resource_version: u64,
    /// Namespaces are deleted at once unless this is set; then they stay Terminating until
    /// [`FakeCluster::finish_namespace_deletion`].
    hold_namespace_deletion: bool,
    requests: Vec<String>,
    exec_handler: Option<exec::ExecHandler>,
    exec_log: Vec<exec::ExecRequest>,
    /// The simulated WordPress site of each namespace (created by its first `wp` command).
    sites: BTreeMap<String, wpcli::Site>,
    /// (namespace, service) → base URL of a real server behind the service proxy.
    proxies: BTreeMap<(String, String), String>,
    /// Roll workloads out this long after they are written (simulated controllers).
    auto_ready: Option<Duration>,
    /// Failures injected per namespace, and one waiting for the next namespace created.
    failures: BTreeMap<String, Failure>,
    /// `verb resource[/subresource]` the identity is not allowed (answered by
    /// SelfSubjectAccessReview only: the fake does not enforce RBAC on other requests).
    denied: std::collections::BTreeSet<String>,
    fail_next: Option<Failure>,
    /// Workloads (by name, in every namespace) whose containers stay `ContainerCreating` until
    /// the namespace's start of them is reported ([`FakeCluster::hold_workloads_named`]).
    held_workloads: std::collections::BTreeSet<String>,
    /// (namespace, workload) → how its held start ended: running, or crash-looping with
    /// this message.
    workload_starts: BTreeMap<(String, String), Result<(), String>>,
    /// What watches replay: every change since the start (ADDED, MODIFIED, DELETED with the
    /// object at that resourceVersion), in resourceVersion order, found by comparing the
    /// written objects with what `seen` last recorded of them.
    history: Vec<Change>,
    seen: BTreeMap<Key, Value>,
    /// Wakes watches after a change.
    changed: Arc<tokio::sync::Notify>,
}

/// One entry of the watch history.
struct Change {
    resource_version: u64,
    kind: &'static str,
    key: Key,
    object: Value,
}

/// How long the simulated namespace controller takes to empty and remove a deleted namespace
/// (a real one takes seconds; the fast tests need only the Terminating phase to exist).
const NAMESPACE_FINALIZE_DELAY: Duration = Duration::from_millis(100);

/// What can go wrong with a store's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Every pod's first container waits in `ImagePullBackOff`.
    ImagePull,
}

/// How the fake behaves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Simulated controllers: Deployments and StatefulSets become available (with Ready pods)
    /// this long after they are written. `None`: tests set status themselves.
    pub auto_ready: Option<Duration>,
    /// Serve HTTPS with a CA generated for this fake and accept only API requests carrying
    /// this bearer token, as the API server does for a pod's service account (see
    /// [`FakeCluster::write_service_account`]). `None`: plain HTTP, no authentication.
    pub service_account_token: Option<String>,
}

/// A running fake API server on loopback.
#[derive(Clone)]
pub struct FakeCluster {
    store: Arc<Mutex<Store>>,
    addr: SocketAddr,
    /// With [`Options::service_account_token`]: the CA certificate (PEM) and the token.
    secure: Option<Arc<(String, String)>>,
}

impl std::fmt::Debug for FakeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCluster")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// apiVersion and kind of a resource name.
fn type_of(resource: &str) -> (&'static str, &'static str) {
    match resource {
        "namespaces" => ("v1", "Namespace"),
        "secrets" => ("v1", "Secret"),
        "services" => ("v1", "Service"),
        "pods" => ("v1", "Pod"),
        "configmaps" => ("v1", "ConfigMap"),
        "deployments" => ("apps/v1", "Deployment"),
        "statefulsets" => ("apps/v1", "StatefulSet"),
        "ingresses" => ("networking.k8s.io/v1", "Ingress"),
        "networkpolicies" => ("networking.k8s.io/v1", "NetworkPolicy"),
        _ => ("v1", "Unknown"),
    }
}

fn status_error(code: StatusCode, reason: &str, message: String) -> Response {
    (
        code,
        axum::Json(json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code.as_u16()
        })),
    )
        .into_response()
}

/// A `Status` error about one object, with the `details` the API server gives (`kind` is the
/// resource, e.g. `configmaps`).
pub(crate) fn object_error(
    code: StatusCode,
    reason: &str,
    message: String,
    resource: &str,
    name: &str,
) -> Response {
    (
        code,
        axum::Json(json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code.as_u16(),
            "details": { "name": name, "kind": resource }
        })),
    )
        .into_response()
}

/// Records what was written since the last call in the watch history and wakes the watches.
fn sync_history(store: &mut Store) {
    let dirty = std::mem::take(&mut store.objects.dirty);
    if dirty.is_empty() {
        return;
    }
    let mut changes: Vec<Change> = Vec::new();
    let mut deleted: Vec<(Key, Value)> = Vec::new();
    for key in dirty {
        let Some(object) = store.objects.get(&key) else {
            if let Some(last) = store.seen.remove(&key) {
                deleted.push((key, last));
            }
            continue;
        };
        let kind = match store.seen.get(&key) {
            None => "ADDED",
            Some(old)
                if old["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"] =>
            {
                "MODIFIED"
            }
            Some(_) => continue,
        };
        let resource_version = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(store.resource_version);
        let object = object.clone();
        store.seen.insert(key.clone(), object.clone());
        changes.push(Change {
            resource_version,
            kind,
            key,
            object,
        });
    }
    if changes.is_empty() && deleted.is_empty() {
        return;
    }
    changes.sort_by_key(|change| change.resource_version);
    for (key, mut object) in deleted {
        store.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(store.resource_version.to_string());
        changes.push(Change {
            resource_version: store.resource_version,
            kind: "DELETED",
            key,
            object,
        });
    }
    store.history.extend(changes);
    store.changed.notify_waiters();
}

/// The changes after `version`: the history is in resourceVersion order, so this is a search,
/// not a scan of everything that ever happened.
fn history_after(history: &[Change], version: u64) -> &[Change] {
    &history[history.partition_point(|change| change.resource_version <= version)..]
}

/// `GET <collection>?watch=1`: the changes since `resourceVersion` (all objects as ADDED
/// without one), then live changes until `timeoutSeconds` (at most 30 minutes), one JSON
/// event per line, as the API server streams them.
fn watch(
    store: Arc<Mutex<Store>>,
    resource: String,
    namespace: String,
    query: &BTreeMap<String, String>,
) -> Response {
    let selector = query.get("labelSelector").cloned();
    if selector.is_some() && matches_selector(&json!({}), selector.as_ref()).is_none() {
        return status_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "set-based label selectors are not supported by the fake".into(),
        );
    }
    let since = match query.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(text) => match text.parse::<u64>() {
            Ok(version) => Some(version),
            Err(_) => {
                return status_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("invalid resource version: {text}"),
                );
            }
        },
    };
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800)
        .min(1800);
    let (resource_name, namespace_name) = (resource.clone(), namespace.clone());
    let wanted = move |key: &Key, object: &Value| {
        key.0 == resource
            && (namespace.is_empty() || key.1 == namespace)
            && matches_selector(object, selector.as_ref()) == Some(true)
    };
    let event = |kind: &str, object: &Value| {
        let mut line = json!({ "type": kind, "object": object }).to_string();
        line.push('\n');
        axum::body::Bytes::from(line)
    };
    let (initial, mut cursor, changed) = {
        let mut guard = lock(&store);
        sync_history(&mut guard);
        let initial: Vec<axum::body::Bytes> = match since {
            None => {
                let mut objects: Vec<&Value> = guard
                    .objects
                    .listed(&resource_name, &namespace_name)
                    .filter(|(key, object)| wanted(key, object))
                    .map(|(_, object)| object)
                    .collect();
                objects.sort_by_key(|o| {
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .and_then(|v| v.parse::<u64>().ok())
                });
                objects.into_iter().map(|o| event("ADDED", o)).collect()
            }
            Some(version) => history_after(&guard.history, version)
                .iter()
                .filter(|c| wanted(&c.key, &c.object))
                .map(|c| event(c.kind, &c.object))
                .collect(),
        };
        (initial, guard.resource_version, guard.changed.clone())
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<axum::body::Bytes>(64);
    tokio::spawn(async move {
        for line in initial {
            if sender.send(line).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        while tokio::time::Instant::now() < deadline {
            // A missed wake-up costs at most this long.
            let _ = tokio::time::timeout(Duration::from_millis(100), changed.notified()).await;
            let lines: Vec<axum::body::Bytes> = {
                let guard = lock(&store);
                let lines = history_after(&guard.history, cursor)
                    .iter()
                    .filter(|c| wanted(&c.key, &c.object))
                    .map(|c| event(c.kind, &c.object))
                    .collect();
                cursor = guard.resource_version;
                lines
            };
            for line in lines {
                if sender.send(line).await.is_err() {
                    return;
                }
            }
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(line), receiver))
    });
    Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeCluster {
    /// Starts the server on a free loopback port.
    pub async fn start() -> FakeCluster {
        FakeCluster::start_with(Options::default()).await
    }

    /// Starts the server with `options`, on `port` (0: a free one).
    pub async fn start_with(options: Options) -> FakeCluster {
        FakeCluster::start_on(options, 0).await
    }

    /// Starts the server with `options` on loopback `port` (0: a free one).
    pub async fn start_on(options: Options, port: u16) -> FakeCluster {
        let store = Arc::new(Mutex::new(Store {
            auto_ready: options.auto_ready,
            ..Store::default()
        }));
        let app = Router::new()
            .route(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                axum::routing::post(access_review),
            )
            .route(
                "/api/v1/namespaces/{namespace}/pods/{pod}/exec",
                axum::routing::any(exec::exec),
            )
            .route(
                "/api/v1/namespaces/{namespace}/services/{service}/proxy",
                axum::routing::any(proxy::proxy_root),
            )
            .route(
                "/api/v1/namespaces/{namespace}/services/{service}/proxy/",
                axum::routing::any(proxy::proxy_root),
            )
            .route(
                "/api/v1/namespaces/{namespace}/services/{service}/proxy/{*rest}",
                axum::routing::any(proxy::proxy_path),
            )
            .fallback(handle)
            .with_state(store.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|err| panic!("binding the fake API server: {err}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("fake API server address: {err}"));
        let secure = match options.service_account_token {
            Some(token) => {
                let authority = tls::authority();
                let app = tls::require_token(app, token.clone());
                tokio::spawn(tls::serve(listener, app, authority.server_config));
                Some(Arc::new((authority.ca_pem, token)))
            }
            None => {
                tokio::spawn(async move { axum::serve(listener, app).await });
                None
            }
        };
        FakeCluster {
            store,
            addr,
            secure,
        }
    }

    /// `http://127.0.0.1:port`, or `https://` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.secure.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The CA certificate (PEM) a client must trust, when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.secure.as_deref().map(|(ca, _)| ca.as_str())
    }

    /// Writes what the kubelet mounts into a pod at
    /// `/var/run/secrets/kubernetes.io/serviceaccount` — `token`, `ca.crt`, `namespace` —
    /// into `dir`. A pod reaches the API server at `KUBERNETES_SERVICE_HOST` = `127.0.0.1`
    /// and `KUBERNETES_SERVICE_PORT` = [`FakeCluster::port`]. Panics unless the fake was
    /// started with [`Options::service_account_token`].
    pub fn write_service_account(&self, dir: &Path, namespace: &str) {
        let (ca, token) = self
            .secure
            .as_deref()
            .expect("a service account needs a fake started with service_account_token");
        std::fs::create_dir_all(dir).unwrap_or_else(|err| panic!("creating {dir:?}: {err}"));
        for (name, content) in [
            ("token", token.as_str()),
            ("ca.crt", ca),
            ("namespace", namespace),
        ] {
            std::fs::write(dir.join(name), content)
                .unwrap_or_else(|err| panic!("writing the service account's {name}: {err}"));
        }
    }

    /// Writes a kubeconfig whose current context is this cluster; returns its path.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let (authority, token) = match self.secure.as_deref() {
            Some((ca, token)) => {
                let ca_file = dir.join("fake-cluster-ca.crt");
                std::fs::write(&ca_file, ca)
                    .unwrap_or_else(|err| panic!("writing the CA certificate: {err}"));
                (
                    format!("\n    certificate-authority: {}", ca_file.display()),
                    token.as_str(),
                )
            }
            None => (String::new(), "fake-token"),
        };
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: {}{authority}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
             users:\n- name: fake\n  user:\n    token: {token}\n",
            self.url()
        );
        std::fs::write(&path, text).unwrap_or_else(|err| panic!("writing the kubeconfig: {err}"));
        path
    }

    /// The object, if it exists. `namespace` is "" for cluster-scoped resources.
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        lock(&self.store)
            .objects
            .get(&(resource.into(), namespace.into(), name.into()))
            .cloned()
    }

    /// Creates or replaces an object as a controller would (fills in metadata).
    pub fn put(&self, resource: &str, namespace: &str, mut object: Value) {
        let mut store = lock(&self.store);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        fill_metadata(&mut store, resource, namespace, &mut object);
        store
            .objects
            .insert((resource.into(), namespace.into(), name), object);
        sync_history(&mut store);
    }

    /// Changes an object in place (e.g. its status); returns false if it does not exist.
    pub fn update(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> bool {
        let mut store = lock(&self.store);
        store.resource_version += 1;
        let version = store.resource_version.to_string();
        match store
            .objects
            .get_mut(&(resource.into(), namespace.into(), name.into()))
        {
            Some(object) => {
                change(object);
                object["metadata"]["resourceVersion"] = json!(version);
                sync_history(&mut store);
                true
            }
            None => false,
        }
    }

    /// Keeps deleted namespaces Terminating (as finalizers would) until released.
    pub fn hold_namespace_deletion(&self, hold: bool) {
        lock(&self.store).hold_namespace_deletion = hold;
    }

    /// Completes the deletion of a Terminating namespace and everything in it.
    pub fn finish_namespace_deletion(&self, name: &str) {
        remove_namespace(&mut lock(&self.store), name);
    }

    /// Method and path of every request served, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.store).requests.clone()
    }

    /// Scripts exec answers; the handler returns `None` to leave a call to the built-in
    /// behaviour (WP-CLI against the simulated site).
    pub fn set_exec_handler(&self, handler: exec::ExecHandler) {
        lock(&self.store).exec_handler = Some(handler);
    }

    /// Every exec call served, in order.
    pub fn exec_log(&self) -> Vec<exec::ExecRequest> {
        lock(&self.store).exec_log.clone()
    }

    /// Sends the service proxy of `namespace/service` to a real server at `base_url`.
    pub fn route_service(&self, namespace: &str, service: &str, base_url: &str) {
        lock(&self.store)
            .proxies
            .insert((namespace.into(), service.into()), base_url.into());
    }

    /// The simulated WordPress site of `namespace`, if a `wp` command created it.
    pub fn site(&self, namespace: &str) -> Option<wpcli::Site> {
        lock(&self.store).sites.get(namespace).cloned()
    }

    /// Injects `failure` into `namespace`'s pods (applied at the next rollout or at once).
    pub fn fail_workloads(&self, namespace: &str, failure: Failure) {
        lock(&self.store).failures.insert(namespace.into(), failure);
        reconcile(&self.store, namespace);
    }

    /// Injects `failure` into the next namespace that is created.
    pub fn fail_next_namespace(&self, failure: Failure) {
        lock(&self.store).fail_next = Some(failure);
    }

    /// Removes injected failures from `namespace` and rolls its workloads out.
    pub fn heal(&self, namespace: &str) {
        lock(&self.store).failures.remove(namespace);
        reconcile(&self.store, namespace);
    }

    /// Rolls every workload of `namespace` out now (as the controllers would).
    pub fn roll_out(&self, namespace: &str) {
        reconcile(&self.store, namespace);
    }

    /// From now on, workloads named `name` (in every namespace) are not rolled out when
    /// written: their pods wait in `ContainerCreating` until [`FakeCluster::workload_started`]
    /// or [`FakeCluster::workload_crashed`] is called for their namespace — for backends that
    /// take time to start outside the fake (a local Medusa per store).
    pub fn hold_workloads_named(&self, name: &str) {
        lock(&self.store).held_workloads.insert(name.into());
    }

    /// The held workload `name` of `namespace` runs now: rolled out at once.
    pub fn workload_started(&self, namespace: &str, name: &str) {
        lock(&self.store)
            .workload_starts
            .insert((namespace.into(), name.into()), Ok(()));
        reconcile(&self.store, namespace);
    }

    /// The held workload `name` of `namespace` cannot start: its first container crash-loops
    /// with `message` (what the kubelet would show as the container's last output).
    pub fn workload_crashed(&self, namespace: &str, name: &str, message: &str) {
        lock(&self.store)
            .workload_starts
            .insert((namespace.into(), name.into()), Err(message.into()));
        reconcile(&self.store, namespace);
    }

    /// From now on SelfSubjectAccessReview answers `allowed: false` for `verb` on `resource`
    /// (`pods/exec` for a subresource), in any namespace, as RBAC without that grant would.
    pub fn deny(&self, verb: &str, resource: &str) {
        lock(&self.store)
            .denied
            .insert(format!("{verb} {resource}"));
    }

    /// Every object of `resource` with its namespace ("" for cluster-scoped ones).
    pub fn list(&self, resource: &str) -> Vec<(String, Value)> {
        lock(&self.store)
            .objects
            .of_resource(resource)
            .map(|((_, namespace, _), object)| (namespace.clone(), object.clone()))
            .collect()
    }

    /// Names of the namespaces that exist.
    pub fn namespaces(&self) -> Vec<String> {
        lock(&self.store)
            .objects
            .of_resource("namespaces")
            .map(|((_, _, name), _)| name.clone())
            .collect()
    }
}

/// What the controllers do: pods for every Deployment and StatefulSet of `namespace`, Ready
/// unless a failure is injected, and the workloads' status to match.
fn reconcile(store: &Mutex<Store>, namespace: &str) {
    let mut store = lock(store);
    reconcile_locked(&mut store, namespace);
    sync_history(&mut store);
}

fn reconcile_locked(store: &mut Store, namespace: &str) {
    let failure = store.failures.get(namespace).copied();
    let workloads: Vec<(String, Value)> = store
        .objects
        .listed("deployments", namespace)
        .chain(store.objects.listed("statefulsets", namespace))
        .map(|((resource, _, _), object)| (resource.clone(), object.clone()))
        .collect();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (resource, workload) in workloads {
        let name = workload["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let want = workload["spec"]["replicas"].as_i64().unwrap_or(1);
        let template = &workload["spec"]["template"];
        let containers: Vec<Value> = template["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // A referenced Secret (or key) that does not exist keeps the container from starting,
        // as the kubelet does.
        let missing_secret = containers.iter().find_map(|c| {
            c["env"].as_array().into_iter().flatten().find_map(|env| {
                let reference = &env["valueFrom"]["secretKeyRef"];
                let secret = reference["name"].as_str()?;
                let key = reference["key"].as_str().unwrap_or("");
                let object =
                    store
                        .objects
                        .get(&("secrets".into(), namespace.into(), secret.into()));
                match object {
                    None => Some(format!("secret \"{secret}\" not found")),
                    Some(object)
                        if object["data"].get(key).is_none()
                            && object["stringData"].get(key).is_none() =>
                    {
                        Some(format!(
                            "couldn't find key {key} in Secret {namespace}/{secret}"
                        ))
                    }
                    Some(_) => None,
                }
            })
        });
        // A held workload waits for its start to be reported; a failed start crash-loops.
        let (starting, crashed) = if store.held_workloads.contains(&name) {
            match store
                .workload_starts
                .get(&(namespace.to_owned(), name.clone()))
            {
                None => (true, None),
                Some(Ok(())) => (false, None),
                Some(Err(message)) => (false, Some(message.clone())),
            }
        } else {
            (false, None)
        };
        // Fault injection by image, for bad releases in tests: a container whose image tag
        // ends in `-crashloop` exits at once, as a broken build would (the real-cluster tests
        // do the same with an admission policy and kwok stages).
        let crashed = crashed.or_else(|| {
            containers
                .iter()
                .filter_map(|c| c["image"].as_str())
                .find(|image| image.ends_with(CRASH_LOOP_IMAGE_SUFFIX))
                .map(|image| format!("back-off 40s restarting failed container (image {image})"))
        });
        let ready = failure.is_none() && missing_secret.is_none() && !starting && crashed.is_none();
        let statuses: Vec<Value> = containers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut restarts = 0;
                let state = if let Some(problem) = &missing_secret {
                    json!({ "waiting": { "reason": "CreateContainerConfigError", "message": problem } })
                } else if failure.is_some() && i == 0 {
                    json!({ "waiting": { "reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{}\"", c["image"].as_str().unwrap_or("")) } })
                } else if let (Some(message), 0) = (&crashed, i) {
                    restarts = 5;
                    json!({ "waiting": { "reason": "CrashLoopBackOff", "message": message } })
                } else if starting {
                    json!({ "waiting": { "reason": "ContainerCreating" } })
                } else {
                    json!({ "running": { "startedAt": now } })
                };
                json!({ "name": c["name"], "image": c["image"], "ready": ready, "restartCount": restarts, "state": state })
            })
            .collect();
        for index in 0..want {
            let pod_name = if resource == "statefulsets" {
                format!("{name}-{index}")
            } else {
                format!("{name}-7d9f8b6c4-{index:05}")
            };
            let mut pod = json!({
                "metadata": { "name": pod_name, "labels": template["metadata"]["labels"].clone() },
                "spec": template["spec"].clone(),
                "status": {
                    "phase": if ready { "Running" } else { "Pending" },
                    "conditions": [
                        { "type": "PodScheduled", "status": "True" },
                        { "type": "Ready", "status": if ready { "True" } else { "False" } }
                    ],
                    "containerStatuses": statuses.clone(),
                }
            });
            fill_metadata(store, "pods", namespace, &mut pod);
            store
                .objects
                .insert(("pods".into(), namespace.into(), pod_name), pod);
        }
        let ready_count = if ready { want } else { 0 };
        // The controller has seen the workload's current spec.
        let generation = workload["metadata"]["generation"].as_i64().unwrap_or(1);
        let status = if resource == "statefulsets" {
            json!({ "observedGeneration": generation, "replicas": want, "updatedReplicas": want,
                    "readyReplicas": ready_count, "availableReplicas": ready_count,
                    "currentRevision": format!("{name}-1"), "updateRevision": format!("{name}-1") })
        } else {
            json!({ "observedGeneration": generation, "replicas": want, "updatedReplicas": want,
                    "readyReplicas": ready_count, "availableReplicas": ready_count })
        };
        if let Some(object) = store
            .objects
            .get_mut(&(resource.clone(), namespace.into(), name))
        {
            object["status"] = status;
        }
    }
}

/// After a write: roll workloads out later, as controllers would; give a new namespace the
/// failure waiting for it.
fn after_write(store: &Arc<Mutex<Store>>, resource: &str, namespace: &str, name: &str) {
    let delay = {
        let mut guard = lock(store);
        if resource == "namespaces"
            && let Some(failure) = guard.fail_next.take()
        {
            guard.failures.insert(name.to_owned(), failure);
        }
        guard.auto_ready
    };
    if let Some(delay) = delay
        && (resource == "deployments" || resource == "statefulsets")
    {
        let store = store.clone();
        let namespace = namespace.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            reconcile(&store, &namespace);
        });
    }
}

/// Containers whose image tag ends with this crash-loop (see `reconcile_locked`).
pub const CRASH_LOOP_IMAGE_SUFFIX: &str = "-crashloop";

fn fill_metadata(store: &mut Store, resource: &str, namespace: &str, object: &mut Value) {
    store.resource_version += 1;
    let (api_version, kind) = type_of(resource);
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    let metadata = &mut object["metadata"];
    if metadata.get("uid").is_none() {
        metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
        metadata["creationTimestamp"] =
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    metadata["resourceVersion"] = json!(store.resource_version.to_string());
    if !namespace.is_empty() {
        metadata["namespace"] = json!(namespace);
    }
    if resource == "namespaces" {
        // What the API server adds to every namespace.
        let name = object["metadata"]["name"].clone();
        object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        if object["spec"]["finalizers"].is_null() {
            object["spec"]["finalizers"] = json!(["kubernetes"]);
        }
        if object.get("status").is_none() {
            object["status"] = json!({ "phase": "Active" });
        }
    }
}

/// Removes a namespace and everything in it (the namespace controller's work done).
fn remove_namespace(store: &mut Store, name: &str) {
    store.objects.retain(|(resource, namespace, object), _| {
        !(namespace == name || (resource == "namespaces" && object == name))
    });
    store
        .workload_starts
        .retain(|(namespace, _), _| namespace != name);
    // A service's endpoints go with its namespace.
    store.proxies.retain(|(namespace, _), _| namespace != name);
    sync_history(store);
}

/// Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`); `None` for the
/// set-based forms this fake does not support (the caller answers 400, not a silent
/// mismatch).
fn matches_selector(object: &Value, selector: Option<&String>) -> Option<bool> {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return Some(true);
    };
    let labels = &object["metadata"]["labels"];
    let mut all = true;
    for term in selector.split(',').map(str::trim) {
        if term.contains(" in ") || term.contains(" notin ") || term.contains('(') {
            return None;
        }
        let matched = if let Some((key, value)) = term.split_once("!=") {
            labels[key].as_str() != Some(value)
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels[key].as_str() == Some(value)
        } else if let Some(key) = term.strip_prefix('!') {
            labels.get(key).is_none()
        } else {
            labels.get(term).is_some()
        };
        all &= matched;
    }
    Some(all)
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` into (namespace, resource, name).
fn route(path: &str) -> Option<(String, String, Option<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match segments.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        ["namespaces"] => Some((String::new(), "namespaces".into(), None)),
        ["namespaces", name] => Some((String::new(), "namespaces".into(), Some((*name).into()))),
        ["namespaces", ns, resource] => Some(((*ns).into(), (*resource).into(), None)),
        ["namespaces", ns, resource, name] => {
            Some(((*ns).into(), (*resource).into(), Some((*name).into())))
        }
        [resource] => Some((String::new(), (*resource).into(), None)),
        _ => None,
    }
}

async fn handle(
    State(store): State<Arc<Mutex<Store>>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let response = serve(&store, method, uri, headers, query, body);
    sync_history(&mut lock(&store));
    response
}

fn serve(
    store: &Arc<Mutex<Store>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    query: BTreeMap<String, String>,
    body: Bytes,
) -> Response {
    lock(store)
        .requests
        .push(format!("{method} {}", uri.path()));
    if let Some(control) = uri.path().strip_prefix("/fake/") {
        return control_request(store, control, &body);
    }
    if uri.path() == "/version" {
        return axum::Json(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "gitCommit": "fake",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24",
            "compiler": "gc", "platform": "linux/amd64"
        }))
        .into_response();
    }
    let Some((namespace, resource, name)) = route(uri.path()) else {
        return status_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "the server could not find the requested resource ({})",
                uri.path()
            ),
        );
    };
    if type_of(&resource).1 == "Unknown" {
        return status_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("the fake cluster does not serve {resource}"),
        );
    }
    if method == Method::GET
        && name.is_none()
        && matches!(query.get("watch").map(String::as_str), Some("1" | "true"))
    {
        return watch(store.clone(), resource, namespace, &query);
    }
    let shared = store.clone();
    let mut store = lock(store);
    let key = |name: &str| (resource.clone(), namespace.clone(), name.to_owned());
    let namespace_missing = !namespace.is_empty()
        && !store
            .objects
            .contains_key(&("namespaces".into(), String::new(), namespace.clone()));
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let server_side_apply = content_type.starts_with("application/apply-patch");
    let merge_patch =
        method == Method::PATCH && content_type.starts_with("application/merge-patch");
    let body_object = || -> Result<Value, Box<Response>> {
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) if value.is_object() => Ok(value),
            _ => Err(Box::new(status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the body is not a JSON object".into(),
            ))),
        }
    };
    // Writing into a namespace that does not exist is refused, as by the real API server.
    if namespace_missing && matches!(method, Method::POST | Method::PATCH | Method::PUT) {
        return object_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
            "namespaces",
            &namespace,
        );
    }
    match (method, name) {
        (Method::GET, None) => {
            let selector = query.get("labelSelector");
            let mut items = Vec::new();
            for (_, object) in store.objects.listed(&resource, &namespace) {
                match matches_selector(object, selector) {
                    Some(true) => items.push(object.clone()),
                    Some(false) => {}
                    None => {
                        return status_error(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            "set-based label selectors are not supported by the fake".into(),
                        );
                    }
                }
            }
            let (api_version, kind) = type_of(&resource);
            axum::Json(json!({
                "apiVersion": api_version, "kind": format!("{kind}List"),
                "metadata": { "resourceVersion": store.resource_version.to_string() },
                "items": items
            }))
            .into_response()
        }
        (Method::GET, Some(name)) => match store.objects.get(&key(&name)) {
            Some(object) => axum::Json(object.clone()).into_response(),
            None => object_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{resource} \"{name}\" not found"),
                &resource,
                &name,
            ),
        },
        (Method::POST, None) => {
            let mut object = match body_object() {
                Ok(object) => object,
                Err(response) => return *response,
            };
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(existing) = store.objects.get(&key(&name)) {
                let _ = existing;
                return object_error(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    format!("{resource} \"{name}\" already exists"),
                    &resource,
                    &name,
                );
            }
            if !namespace.is_empty() && terminating(&store, &namespace) {
                return object_error(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    ),
                    &resource,
                    &name,
                );
            }
            if resource == "deployments" || resource == "statefulsets" {
                object["metadata"]["generation"] = json!(1);
            }
            fill_metadata(&mut store, &resource, &namespace, &mut object);
            store.objects.insert(key(&name), object.clone());
            drop(store);
            after_write(&shared, &resource, &namespace, &name);
            (StatusCode::CREATED, axum::Json(object)).into_response()
        }
        (Method::PATCH | Method::PUT, Some(name)) => {
            let patch = match body_object() {
                Ok(patch) => patch,
                Err(response) => return *response,
            };
            let exists = store.objects.contains_key(&key(&name));
            if !exists && !server_side_apply {
                return object_error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{resource} \"{name}\" not found"),
                    &resource,
                    &name,
                );
            }
            // Only creating new objects is forbidden in a terminating namespace.
            if !exists && !namespace.is_empty() && terminating(&store, &namespace) {
                return object_error(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    ),
                    &resource,
                    &name,
                );
            }
            // A resourceVersion in the request is a precondition, as on the API server.
            if let (Some(wanted), Some(existing)) = (
                patch["metadata"]["resourceVersion"].as_str(),
                store.objects.get(&key(&name)),
            ) && existing["metadata"]["resourceVersion"].as_str() != Some(wanted)
            {
                return object_error(
                    StatusCode::CONFLICT,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    ),
                    &resource,
                    &name,
                );
            }
            let mut object = match store.objects.get(&key(&name)) {
                Some(existing) if merge_patch => {
                    let mut merged = existing.clone();
                    json_merge_patch(&mut merged, &patch);
                    merged
                }
                Some(existing) => {
                    let mut merged = existing.clone();
                    for (field, value) in patch.as_object().into_iter().flatten() {
                        match field.as_str() {
                            "metadata" => {
                                for part in ["labels", "annotations"] {
                                    if let Some(map) = value.get(part).and_then(Value::as_object) {
                                        for (k, v) in map {
                                            merged["metadata"][part][k] = v.clone();
                                        }
                                    }
                                }
                            }
                            "status" | "apiVersion" | "kind" => {}
                            _ => merged[field] = value.clone(),
                        }
                    }
                    merged
                }
                None => patch,
            };
            object["metadata"]["name"] = json!(name);
            if resource == "deployments" || resource == "statefulsets" {
                // metadata.generation counts spec changes, as on the API server; the status
                // observes it only when the controller (reconcile) has acted on it.
                let previous = store.objects.get(&key(&name));
                let generation = match previous {
                    None => 1,
                    Some(previous) => {
                        let last = previous["metadata"]["generation"].as_i64().unwrap_or(1);
                        if previous["spec"] == object["spec"] {
                            last
                        } else {
                            last + 1
                        }
                    }
                };
                object["metadata"]["generation"] = json!(generation);
            }
            fill_metadata(&mut store, &resource, &namespace, &mut object);
            store.objects.insert(key(&name), object.clone());
            drop(store);
            after_write(&shared, &resource, &namespace, &name);
            // Server-side apply that creates answers 201, as the API server does.
            let code = if exists {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            (code, axum::Json(object)).into_response()
        }
        (Method::DELETE, Some(name)) => {
            let Some(object) = store.objects.get(&key(&name)).cloned() else {
                return object_error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{resource} \"{name}\" not found"),
                    &resource,
                    &name,
                );
            };
            if resource == "namespaces" {
                // A namespace is Terminating until the namespace controller has emptied it
                // (its `kubernetes` finalizer); deleting it again answers the same object.
                if object["status"]["phase"] == "Terminating" {
                    return axum::Json(object).into_response();
                }
                let mut terminating = object;
                terminating["status"]["phase"] = json!("Terminating");
                terminating["metadata"]["deletionTimestamp"] =
                    json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                fill_metadata(&mut store, "namespaces", "", &mut terminating);
                store.objects.insert(key(&name), terminating.clone());
                drop(store);
                let controller = shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(NAMESPACE_FINALIZE_DELAY).await;
                    let mut store = lock(&controller);
                    let only_ours = store
                        .objects
                        .get(&("namespaces".into(), String::new(), name.clone()))
                        .is_some_and(|ns| {
                            ns["spec"]["finalizers"]
                                .as_array()
                                .is_none_or(|f| f.iter().all(|f| f == "kubernetes"))
                        });
                    // Held by the test, or by a finalizer no controller here removes.
                    if !store.hold_namespace_deletion && only_ours {
                        remove_namespace(&mut store, &name);
                    }
                });
                return axum::Json(terminating).into_response();
            }
            store.objects.remove(&key(&name));
            // The garbage collector removes a workload's pods with it.
            if resource == "deployments" || resource == "statefulsets" {
                let owned = &object["spec"]["template"]["metadata"]["labels"];
                store.objects.retain(|(r, ns, _), pod| {
                    !(r == "pods"
                        && ns == &namespace
                        && pod["metadata"]["labels"]["app.kubernetes.io/name"]
                            == owned["app.kubernetes.io/name"]
                        && pod["metadata"]["labels"]["app.kubernetes.io/instance"]
                            == owned["app.kubernetes.io/instance"])
                });
            }
            axum::Json(object).into_response()
        }
        (method, _) => status_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        ),
    }
}

/// `/fake/...`: the control interface of a fake started as a process (tests in the same
/// process call [`FakeCluster`] directly).
fn control_request(store: &Arc<Mutex<Store>>, path: &str, body: &[u8]) -> Response {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let namespace = request["namespace"].as_str().unwrap_or("").to_owned();
    let failure = match request["failure"].as_str() {
        Some("image-pull") | None => Failure::ImagePull,
        Some(other) => {
            return status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("unknown failure `{other}` (known: image-pull)"),
            );
        }
    };
    match path {
        "fail-next" => {
            lock(store).fail_next = Some(failure);
            axum::Json(json!({ "ok": true })).into_response()
        }
        "fail" if !namespace.is_empty() => {
            lock(store).failures.insert(namespace.clone(), failure);
            reconcile(store, &namespace);
            axum::Json(json!({ "ok": true })).into_response()
        }
        "heal" if !namespace.is_empty() => {
            lock(store).failures.remove(&namespace);
            reconcile(store, &namespace);
            axum::Json(json!({ "ok": true })).into_response()
        }
        "state" => {
            let store = lock(store);
            let namespaces: Vec<&String> = store
                .objects
                .of_resource("namespaces")
                .map(|((_, _, n), _)| n)
                .collect();
            axum::Json(json!({
                "namespaces": namespaces,
                "failures": store.failures.keys().collect::<Vec<_>>(),
                "execCalls": store.exec_log.len(),
            }))
            .into_response()
        }
        _ => status_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("unknown control /fake/{path} (known: fail-next, fail, heal, state)"),
        ),
    }
}

fn terminating(store: &Store, namespace: &str) -> bool {
    store
        .objects
        .get(&("namespaces".into(), String::new(), namespace.into()))
        .is_some_and(|ns| ns["status"]["phase"] == "Terminating")
}

/// `POST selfsubjectaccessreviews`: "may I?" for the caller's own identity, answered from
/// [`FakeCluster::deny`] (everything else is allowed, as for a cluster-admin).
async fn access_review(
    State(store): State<Arc<Mutex<Store>>>,
    axum::Json(mut review): axum::Json<Value>,
) -> Response {
    let attributes = &review["spec"]["resourceAttributes"];
    let (Some(verb), Some(resource)) =
        (attributes["verb"].as_str(), attributes["resource"].as_str())
    else {
        return status_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "spec.resourceAttributes.verb and .resource are required".into(),
        );
    };
    let resource = match attributes["subresource"].as_str() {
        Some(sub) if !sub.is_empty() => format!("{resource}/{sub}"),
        _ => resource.to_owned(),
    };
    let denied = lock(&store).denied.contains(&format!("{verb} {resource}"));
    review["status"] = if denied {
        json!({ "allowed": false, "reason": "no RBAC policy matched" })
    } else {
        json!({ "allowed": true, "reason": "fake cluster: allowed" })
    };
    (StatusCode::CREATED, axum::Json(review)).into_response()
}

/// RFC 7386 JSON merge patch: objects merge recursively, `null` removes, anything else
/// replaces.
fn json_merge_patch(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (field, value) in fields {
        if value.is_null() {
            if let Some(map) = target.as_object_mut() {
                map.remove(field);
            }
        } else {
            json_merge_patch(&mut target[field], value);
        }
    }
}
