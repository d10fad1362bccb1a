//! The engine handle: registered definitions, the pool, enqueueing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::definition::{Definition, hash_json};
use crate::error::{Error, Result};
use crate::selftest;

type DefinitionKey = (String, i32);

/// A cheap, cloneable handle to the engine: the pool plus the definitions this build knows.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// Latest version of each workflow registered by this build.
    latest: BTreeMap<String, i32>,
    /// Registered by this build, plus stored versions loaded on demand.
    definitions: RwLock<HashMap<DefinitionKey, Arc<Definition>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("workflows", &self.inner.latest)
            .finish_non_exhaustive()
    }
}

/// A run to enqueue.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    /// The name of a workflow this build registered.
    pub workflow: String,
    /// `None` starts the latest version this build registered.
    pub version: Option<i32>,
    /// A JSON object (`null` is taken as `{}`); steps read it as [`crate::StepContext::input`].
    pub input: Value,
    /// What the run is about, e.g. a store id; runs can be listed by it.
    pub subject: Option<String>,
    /// Who the run works for (the control plane passes the store owner's user id); runs can
    /// be listed by it and steps read it. A label: it decides no access.
    pub tenant: Option<String>,
    /// Request id of the request that caused the run; carried into every step's log lines.
    pub request_id: Option<String>,
    /// A second enqueue with the same key returns the first run.
    pub idempotency_key: Option<String>,
    /// Do not start before this instant.
    pub run_at: Option<DateTime<Utc>>,
    /// The run and step that started this one (set by [`crate::StepContext::start_child`]).
    pub(crate) parent: Option<(Uuid, i32)>,
}

impl NewRun {
    /// A run of the latest registered version of `workflow`, startable at once.
    pub fn new(workflow: impl Into<String>, input: Value) -> Self {
        NewRun {
            workflow: workflow.into(),
            input,
            ..NewRun::default()
        }
    }

    /// Pins a version instead of the latest this build registered; it may be one only
    /// stored by another build.
    pub fn version(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets [`NewRun::subject`](#structfield.subject).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets [`NewRun::tenant`](#structfield.tenant).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets [`NewRun::request_id`](#structfield.request_id).
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets [`NewRun::idempotency_key`](#structfield.idempotency_key): enqueueing the same
    /// key again returns the first run (`created: false`) instead of starting another.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Delays the run's first claim until `at`; a past instant means now.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }
}

/// A workflow version as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDefinition {
    /// The workflow's name.
    pub name: String,
    /// Its version; a stored version never changes.
    pub version: i32,
    /// SHA-256 of the definition's canonical JSON.
    pub content_hash: String,
    /// When a build first registered this version.
    pub registered_at: DateTime<Utc>,
    /// Its steps in run order: main steps, then on-failure steps.
    pub steps: Vec<StoredStep>,
}

/// One step of a stored workflow version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStep {
    /// 0-based position in the run.
    pub index: i32,
    /// The step's name.
    pub name: String,
    /// Attempts the step gets, the first included.
    pub max_attempts: i32,
    /// Each attempt's time limit, in milliseconds.
    pub timeout_ms: i64,
}

/// What enqueue did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Enqueued {
    /// The run's id: the new run's, or the earlier run's when the idempotency key matched.
    pub run_id: Uuid,
    /// The workflow the run executes.
    pub workflow: String,
    /// The workflow version the run is pinned to.
    pub version: i32,
    /// False when an earlier run with the same idempotency key was returned.
    pub created: bool,
}

impl Engine {
    /// Registers `definitions` (plus the built-in `selftest`) and returns the handle.
    ///
    /// Fails when a definition is malformed, or when a `(name, version)` is already stored
    /// with different content — a registered version is immutable.
    pub async fn start(
        pool: PgPool,
        definitions: impl IntoIterator<Item = Definition>,
    ) -> Result<Engine> {
        let mut all: Vec<Definition> = definitions.into_iter().collect();
        if !all.iter().any(|d| d.name == selftest::WORKFLOW) {
            all.push(selftest::definition());
        }
        let mut latest = BTreeMap::new();
        let mut map = HashMap::new();
        for definition in all {
            definition.validate()?;
            register(&pool, &definition).await?;
            let entry = latest
                .entry(definition.name.clone())
                .or_insert(definition.version);
            *entry = (*entry).max(definition.version);
            map.insert(
                (definition.name.clone(), definition.version),
                Arc::new(definition),
            );
        }
        Ok(Engine {
            inner: Arc::new(Inner {
                pool,
                latest,
                definitions: RwLock::new(map),
            }),
        })
    }

    /// The connection pool the engine was started with.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Names and latest versions of the workflows this build registered.
    pub fn workflows(&self) -> &BTreeMap<String, i32> {
        &self.inner.latest
    }

    /// Every stored version of every workflow, by name then version, with its steps (main
    /// steps, then on-failure steps) — what operators list; versions an older build
    /// registered are there too.
    pub async fn stored_definitions(&self) -> Result<Vec<StoredDefinition>> {
        type Row = (
            String,
            i32,
            String,
            DateTime<Utc>,
            sqlx::types::Json<Vec<(i32, String, i32, i64)>>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT d.name, d.version, d.content_hash, d.registered_at, \
                    coalesce((SELECT jsonb_agg(jsonb_build_array( \
                                 s.step_index, s.step_name, s.max_attempts, s.timeout_ms) \
                                 ORDER BY s.step_index) \
                              FROM workflow_definition_steps s \
                              WHERE s.workflow = d.name AND s.version = d.version), '[]'::jsonb) \
             FROM workflow_definitions d ORDER BY d.name, d.version",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(name, version, content_hash, registered_at, steps)| StoredDefinition {
                    name,
                    version,
                    content_hash,
                    registered_at,
                    steps: steps
                        .0
                        .into_iter()
                        .map(|(index, name, max_attempts, timeout_ms)| StoredStep {
                            index,
                            name,
                            max_attempts,
                            timeout_ms,
                        })
                        .collect(),
                },
            )
            .collect())
    }

    /// The definition of `name` at `version`: registered by this build, or the stored one.
    pub async fn definition(&self, name: &str, version: i32) -> Result<Arc<Definition>> {
        let key = (name.to_owned(), version);
        if let Some(found) = self.read_cache(&key) {
            return Ok(found);
        }
        let row: Option<(Value,)> = sqlx::query_as(
            "SELECT definition FROM workflow_definitions WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        let Some((json,)) = row else {
            return Err(self.unknown_workflow(name, Some(version)));
        };
        let definition: Definition =
            serde_json::from_value(json).map_err(|err| Error::UnloadableDefinition {
                name: name.to_owned(),
                version,
                reason: err.to_string(),
            })?;
        let definition = Arc::new(definition);
        self.inner
            .definitions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, definition.clone());
        Ok(definition)
    }

    fn read_cache(&self, key: &DefinitionKey) -> Option<Arc<Definition>> {
        self.inner
            .definitions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .cloned()
    }

    fn unknown_workflow(&self, name: &str, version: Option<i32>) -> Error {
        Error::UnknownWorkflow {
            name: name.to_owned(),
            version,
            known: self
                .inner
                .latest
                .iter()
                .map(|(n, v)| format!("{n} (v{v})"))
                .collect(),
        }
    }

    /// The version, normalized input and length of a run about to be enqueued.
    async fn resolve(&self, run: &NewRun) -> Result<Resolved> {
        let version = match run.version {
            Some(v) => v,
            None => *self
                .inner
                .latest
                .get(&run.workflow)
                .ok_or_else(|| self.unknown_workflow(&run.workflow, None))?,
        };
        let definition = self.definition(&run.workflow, version).await?;
        let input = object_input(&run.workflow, &run.input)?;
        Ok(Resolved {
            version,
            step_count: definition.step_count_for(&input)?,
            deadline: definition.deadline,
            input,
        })
    }

    /// Enqueues a run on `conn`, which may be inside the caller's transaction: the run
    /// exists only if that transaction commits, and workers are woken at commit.
    pub async fn enqueue(&self, conn: &mut PgConnection, run: NewRun) -> Result<Enqueued> {
        let resolved = self.resolve(&run).await?;
        let (version, input, step_count) = (resolved.version, resolved.input, resolved.step_count);
        let deadline = resolved.deadline;
        let run_id = Uuid::now_v7();
        let inserted: Option<(Uuid,)> = sqlx::query_as(
            r#"
            INSERT INTO workflow_runs
                (id, workflow, version, input, step_count, subject, tenant, request_id,
                 idempotency_key, next_run_at, deadline_at, parent_run_id, parent_step)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()),
                    now() + make_interval(secs => $11), $12, $13)
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id
            "#,
        )
        .bind(run_id)
        .bind(&run.workflow)
        .bind(version)
        .bind(&input)
        .bind(step_count as i32)
        .bind(&run.subject)
        .bind(&run.tenant)
        .bind(&run.request_id)
        .bind(&run.idempotency_key)
        .bind(run.run_at)
        .bind(deadline.map(|d| d.as_secs_f64()))
        .bind(run.parent.map(|(id, _)| id))
        .bind(run.parent.map(|(_, step)| step))
        .fetch_optional(&mut *conn)
        .await?;
        if inserted.is_some() {
            sqlx::query(
                "INSERT INTO workflow_run_events (run_id, kind, data) \
                 VALUES ($1, 'queued', jsonb_build_object('workflow', $2::text, 'version', $3::int))",
            )
            .bind(run_id)
            .bind(&run.workflow)
            .bind(version)
            .execute(&mut *conn)
            .await?;
            sqlx::query("SELECT pg_notify('storeflow_work', '')")
                .execute(&mut *conn)
                .await?;
            return Ok(Enqueued {
                run_id,
                workflow: run.workflow,
                version,
                created: true,
            });
        }
        let (run_id, workflow, version): (Uuid, String, i32) = sqlx::query_as(
            "SELECT id, workflow, version FROM workflow_runs WHERE idempotency_key = $1",
        )
        .bind(&run.idempotency_key)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Enqueued {
            run_id,
            workflow,
            version,
            created: false,
        })
    }

    /// Enqueues many runs with one statement per chunk of 5,000 (bulk operations, benchmarks).
    /// Runs with an idempotency key must go through [`Engine::enqueue`], which resolves
    /// duplicates one by one.
    pub async fn enqueue_many(
        &self,
        conn: &mut PgConnection,
        runs: Vec<NewRun>,
    ) -> Result<Vec<Enqueued>> {
        let mut enqueued = Vec::with_capacity(runs.len());
        for chunk in runs.chunks(5_000) {
            let mut ids = Vec::with_capacity(chunk.len());
            let mut workflows = Vec::with_capacity(chunk.len());
            let mut versions = Vec::with_capacity(chunk.len());
            let mut inputs = Vec::with_capacity(chunk.len());
            let mut step_counts = Vec::with_capacity(chunk.len());
            let mut subjects = Vec::with_capacity(chunk.len());
            let mut tenants = Vec::with_capacity(chunk.len());
            let mut request_ids = Vec::with_capacity(chunk.len());
            let mut run_ats = Vec::with_capacity(chunk.len());
            let mut deadlines = Vec::with_capacity(chunk.len());
            for run in chunk {
                if run.idempotency_key.is_some() {
                    return Err(Error::InvalidInput {
                        workflow: run.workflow.clone(),
                        reason: "enqueue_many does not take idempotency keys; use enqueue".into(),
                    });
                }
                let resolved = self.resolve(run).await?;
                let version = resolved.version;
                step_counts.push(resolved.step_count as i32);
                deadlines.push(resolved.deadline.map(|d| d.as_secs_f64()));
                let input = resolved.input;
                let id = Uuid::now_v7();
                ids.push(id);
                workflows.push(run.workflow.clone());
                versions.push(version);
                inputs.push(input);
                subjects.push(run.subject.clone());
                tenants.push(run.tenant.clone());
                request_ids.push(run.request_id.clone());
                run_ats.push(run.run_at);
                enqueued.push(Enqueued {
                    run_id: id,
                    workflow: run.workflow.clone(),
                    version,
                    created: true,
                });
            }
            sqlx::query(
                r#"
                WITH ins AS (
                    INSERT INTO workflow_runs
                        (id, workflow, version, input, step_count, subject, tenant, request_id,
                         next_run_at, deadline_at)
                    SELECT t.id, t.workflow, t.version, t.input, t.step_count, t.subject, t.tenant,
                           t.request_id, coalesce(t.run_at, now()),
                           now() + make_interval(secs => t.deadline_secs)
                    FROM unnest($1::uuid[], $2::text[], $3::int4[], $4::jsonb[], $5::int4[],
                                $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::float8[])
                         AS t(id, workflow, version, input, step_count, subject, tenant, request_id,
                              run_at, deadline_secs)
                    RETURNING id, workflow, version
                ), events AS (
                    INSERT INTO workflow_run_events (run_id, kind, data)
                    SELECT id, 'queued', jsonb_build_object('workflow', workflow, 'version', version)
                    FROM ins
                )
                SELECT pg_notify('storeflow_work', '')
                "#,
            )
            .bind(&ids)
            .bind(&workflows)
            .bind(&versions)
            .bind(&inputs)
            .bind(&step_counts)
            .bind(&subjects)
            .bind(&tenants)
            .bind(&request_ids)
            .bind(&run_ats)
            .bind(&deadlines)
            .execute(&mut *conn)
            .await?;
        }
        Ok(enqueued)
    }

    /// Enqueues a run in a transaction of its own.
    pub async fn enqueue_now(&self, run: NewRun) -> Result<Enqueued> {
        let mut tx = self.pool().begin().await?;
        let enqueued = self.enqueue(&mut tx, run).await?;
        tx.commit().await?;
        Ok(enqueued)
    }
}

struct Resolved {
    version: i32,
    input: Value,
    step_count: usize,
    deadline: Option<std::time::Duration>,
}

/// A run's input: a JSON object (`null` means `{}`).
pub(crate) fn object_input(workflow: &str, input: &Value) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Object(Default::default())),
        Value::Object(_) => Ok(input.clone()),
        _ => Err(Error::InvalidInput {
            workflow: workflow.to_owned(),
            reason: "the input must be a JSON object".into(),
        }),
    }
}

/// Stores a definition the first time; refuses different content under a stored version.
async fn register(pool: &PgPool, definition: &Definition) -> Result<()> {
    let json = definition.to_json()?;
    let hash = hash_json(&json);
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO workflow_definitions (name, version, content_hash, definition) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (name, version) DO NOTHING",
    )
    .bind(&definition.name)
    .bind(definition.version)
    .bind(&hash)
    .bind(&json)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        let names: Vec<&str> = definition.all_steps().map(|s| s.name.as_str()).collect();
        let max_attempts: Vec<i32> = definition
            .all_steps()
            .map(|s| s.retry.max_attempts as i32)
            .collect();
        let timeouts: Vec<i64> = definition
            .all_steps()
            .map(|s| s.timeout.as_millis() as i64)
            .collect();
        sqlx::query(
            r#"
            INSERT INTO workflow_definition_steps
                (workflow, version, step_index, step_name, max_attempts, timeout_ms)
            SELECT $1, $2, s.ord - 1, s.name, s.max_attempts, s.timeout_ms
            FROM unnest($3::text[], $4::int4[], $5::int8[]) WITH ORDINALITY
                 AS s(name, max_attempts, timeout_ms, ord)
            "#,
        )
        .bind(&definition.name)
        .bind(definition.version)
        .bind(&names)
        .bind(&max_attempts)
        .bind(&timeouts)
        .execute(&mut *tx)
        .await?;
    } else {
        let (stored_hash,): (String,) = sqlx::query_as(
            "SELECT content_hash FROM workflow_definitions WHERE name = $1 AND version = $2",
        )
        .bind(&definition.name)
        .bind(definition.version)
        .fetch_one(&mut *tx)
        .await?;
        if stored_hash != hash {
            return Err(Error::DefinitionConflict {
                name: definition.name.clone(),
                version: definition.version,
                stored_hash,
                new_hash: hash,
            });
        }
    }
    tx.commit().await?;
    Ok(())
}
