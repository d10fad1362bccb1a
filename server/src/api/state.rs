//! What every request handler shares: the API's settings and the application state (pool,
//! engine, token keys, caches, the event hub).

use super::*;

/// API settings (validated by `config::ApiSettings`).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub token_ttl: Duration,
    pub login_rate_max: u32,
    pub login_rate_window: Duration,
    pub register_rate_max: u32,
    pub register_rate_window: Duration,
    pub lockout_max_attempts: u32,
    pub lockout_duration: Duration,
    pub request_timeout: Duration,
    pub body_limit: usize,
    pub cors_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy: bool,
    /// The first account registered becomes an operator (`FIRST_USER_IS_ADMIN`, default
    /// true for `storeflow up`; the control-plane chart sets false: operators are created
    /// with `storeflow users create-admin`).
    pub first_user_is_admin: bool,
    /// Whether anyone may register (`REGISTRATION=open`, the default) or only people an
    /// operator invited (`closed`: `POST /invites` makes one-time links).
    pub registration_open: bool,
    /// Requests per client address per `rate_limit_window`, across all routes but health.
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
    /// Guardrails and addressing of stores.
    pub stores: StoreSettings,
    /// Seals store credentials at rest (`STOREFLOW_ENCRYPTION_KEY`).
    pub sealer: storeflow_executors::store::sealing::Sealer,
    /// The dashboard's built files, served at `/` (same origin as the API) with history
    /// fallback to `index.html`.
    pub dashboard_dir: Option<std::path::PathBuf>,
    /// Renderings of store pages and list pages kept for answering unchanged pages
    /// (`API_PAGE_CACHE_ENTRIES`; 0 keeps none).
    pub page_cache_entries: usize,
    /// The kubeconfig of the cluster simulated inside this process (`storeflow up
    /// --simulated-cluster`): health probes it and tells every client (the dashboard's banner)
    /// that nothing is really deployed. `None`: stores go to the configured cluster.
    pub simulated_cluster: Option<std::path::PathBuf>,
}

/// How stores are limited and addressed.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Stores a user may have that are not deleted — failed ones count, they still hold
    /// cluster resources (`MAX_STORES_PER_USER`).
    pub max_per_user: u32,
    /// Stores not deleted on the whole platform (`MAX_STORES`); 0 = no cap.
    pub max_total: u32,
    /// Time a tenant waits between two store creations (`STORE_CREATION_COOLDOWN_MS`);
    /// admins are exempt.
    pub creation_cooldown: Duration,
    /// Retries of a failed store (`PROVISIONING_MAX_RETRIES`).
    pub max_retries: u32,
    /// Stores are reached at `<store id><suffix>` (`STORE_DOMAIN_SUFFIX`, e.g. `.localhost`).
    pub domain_suffix: String,
    /// Port in store URLs when the ingress does not listen on 80/443 (`INGRESS_PORT`).
    pub ingress_port: Option<u16>,
    /// `ingressClassName` of store Ingresses (`STORE_INGRESS_CLASS`).
    pub ingress_class: String,
    /// `nginx` or `traefik`: whom store NetworkPolicies admit (`STORE_INGRESS_CONTROLLER`).
    pub ingress_controller: String,
    /// Secret of a wildcard TLS certificate for the store domain (`STORE_TLS_SECRET`);
    /// with it store URLs are `https`.
    pub tls_secret: Option<String>,
    /// The chart and app version of the store chart this build ships (`HELM_CHART_PATH`):
    /// what an upgrade brings a store to. `None` when the chart cannot be read.
    pub release: Option<storeflow_executors::chart::ChartRelease>,
    /// Whether tenants may upgrade their own stores (`TENANT_UPGRADES`); operators always may.
    pub tenant_upgrades: bool,
    /// Whether the workers store backups in a bucket (`BACKUP_S3_BUCKET` is set): without one,
    /// backup requests are refused at once rather than left waiting for a bucket.
    pub backups_configured: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            max_per_user: 5,
            max_total: 0,
            creation_cooldown: Duration::from_secs(300),
            max_retries: 3,
            domain_suffix: ".localhost".into(),
            ingress_port: None,
            ingress_class: "nginx".into(),
            ingress_controller: "nginx".into(),
            tls_secret: None,
            release: None,
            tenant_upgrades: false,
            backups_configured: false,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            token_ttl: Duration::from_secs(24 * 3600),
            login_rate_max: 10,
            login_rate_window: Duration::from_secs(15 * 60),
            register_rate_max: 5,
            register_rate_window: Duration::from_secs(3600),
            lockout_max_attempts: 5,
            lockout_duration: Duration::from_secs(15 * 60),
            request_timeout: Duration::from_secs(30),
            body_limit: 256 * 1024,
            cors_origins: Vec::new(),
            trust_proxy: false,
            first_user_is_admin: true,
            registration_open: true,
            rate_limit_max: 1200,
            rate_limit_window: Duration::from_secs(60),
            stores: StoreSettings::default(),
            // A key for this process only; real deployments configure one (see config.rs).
            sealer: storeflow_executors::store::sealing::Sealer::random(),
            dashboard_dir: None,
            page_cache_entries: 2048,
            simulated_cluster: None,
        }
    }
}

/// Shared state of the API: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    engine: Engine,
    tokens: TokenKeys,
    config: ApiConfig,
    metrics: Option<PrometheusHandle>,
    started: Instant,
    /// Cancelled when the process shuts down: long-lived streams end.
    shutdown: tokio_util::sync::CancellationToken,
    /// The `LISTEN` feed of new events, started by the first stream.
    event_hub: std::sync::OnceLock<events::EventHub>,
    /// Whether the database answers (its monitor starts with the first request).
    database_health: std::sync::OnceLock<database_health::DatabaseHealth>,
    /// Renderings of unchanged store and list pages.
    pages: page_cache::PageCache,
    /// The global request limit, shared with the other replicas through PostgreSQL.
    request_limiter: Arc<request_limit::RequestLimiter>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(
        engine: Engine,
        jwt_secret: &str,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let pages = page_cache::PageCache::new(config.page_cache_entries);
        let request_limiter =
            request_limit::RequestLimiter::new(config.rate_limit_max, config.rate_limit_window);
        AppState {
            inner: Arc::new(Inner {
                tokens: TokenKeys::new(jwt_secret, config.token_ttl),
                engine,
                config,
                metrics,
                started: Instant::now(),
                request_limiter,
                event_hub: std::sync::OnceLock::new(),
                database_health: std::sync::OnceLock::new(),
                pages,
                shutdown: tokio_util::sync::CancellationToken::new(),
            }),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn pool(&self) -> &PgPool {
        self.inner.engine.pool()
    }

    pub fn tokens(&self) -> &TokenKeys {
        &self.inner.tokens
    }

    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> Option<&PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    /// The event feed (its `LISTEN` task starts on first use; call inside the runtime).
    pub fn event_hub(&self) -> &events::EventHub {
        self.inner
            .event_hub
            .get_or_init(|| events::EventHub::start(&self.inner.engine))
    }

    /// Whether the database answers (the monitor starts on first use; call inside the
    /// runtime).
    pub fn database_health(&self) -> &database_health::DatabaseHealth {
        self.inner
            .database_health
            .get_or_init(|| database_health::DatabaseHealth::start(self.pool().connect_options()))
    }

    /// Renderings of unchanged store and list pages.
    /// The per-client request budget the rate-limit layer draws from.
    pub(super) fn request_limiter(&self) -> &Arc<request_limit::RequestLimiter> {
        &self.inner.request_limiter
    }

    pub fn pages(&self) -> &page_cache::PageCache {
        &self.inner.pages
    }

    /// Ends long-lived answers (event streams) so a graceful shutdown can finish.
    pub fn shutdown_token(&self) -> tokio_util::sync::CancellationToken {
        self.inner.shutdown.clone()
    }

    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }
}
