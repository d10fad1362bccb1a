//! The engine's one error type.

use uuid::Uuid;

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an engine call can fail with. Variants carry what the caller needs to say
/// what went wrong and what to do; the server maps them to HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A PostgreSQL call failed; [`Error::is_transient`] tells an outage (try again later)
    /// from a rejected statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Running [`crate::MIGRATOR`] failed; the schema is not what this build needs.
    #[error("applying database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error(
        "workflow `{name}` version {version} is already registered with different content \
         (stored hash {stored_hash}, this build's hash {new_hash}); a registered version is immutable: \
         register the change as version {next}",
        next = version + 1
    )]
    /// At start-up: `(name, version)` is already stored with different content. A registered
    /// version is immutable (runs pinned to it must keep executing what they were started
    /// with), so the changed definition must be registered under a new version.
    DefinitionConflict {
        /// The workflow's name.
        name: String,
        /// The version registered twice.
        version: i32,
        /// [`crate::Definition::content_hash`] of the stored definition.
        stored_hash: String,
        /// [`crate::Definition::content_hash`] of this build's definition.
        new_hash: String,
    },

    #[error("invalid workflow definition `{name}` version {version}: {reason}")]
    /// A definition failed [`crate::Definition::validate`] (or cannot be serialized); start-up
    /// refuses it. A bug in the build, not in a request.
    InvalidDefinition {
        /// The workflow's name.
        name: String,
        /// The definition's version.
        version: i32,
        /// What is wrong, naming the offending step or field.
        reason: String,
    },

    #[error(
        "stored workflow definition `{name}` version {version} cannot be loaded by this build: {reason}"
    )]
    /// A definition stored by another build does not deserialize in this one, typically
    /// because it names a step `type` this build does not have. Its runs cannot execute here.
    UnloadableDefinition {
        /// The workflow's name.
        name: String,
        /// The stored version.
        version: i32,
        /// The deserialization error.
        reason: String,
    },

    #[error("{}", unknown_workflow_message(name, *version, known))]
    /// The workflow is not registered by this build (when its latest version is asked for),
    /// or the version asked for is neither registered nor stored.
    UnknownWorkflow {
        /// The workflow name asked for.
        name: String,
        /// The version asked for; `None` when the latest was asked for.
        version: Option<i32>,
        /// The workflows this build registered, as `name (vN)`, for the message.
        known: Vec<String>,
    },

    #[error("invalid input for workflow `{workflow}`: {reason}")]
    /// A run's input (or an enqueue request) is not acceptable for the workflow, e.g. not a
    /// JSON object; the caller must change the request.
    InvalidInput {
        /// The workflow the input was for.
        workflow: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No run has this id (or it was pruned).
    #[error("run {0} not found")]
    RunNotFound(Uuid),

    #[error("run {run} has no step `{step}`")]
    /// The run's definition has no step by this name or 1-based number.
    StepNotFound {
        /// The run whose steps were searched.
        run: Uuid,
        /// The step as the caller named it ([`crate::StepRef`]'s display form).
        step: String,
    },

    /// The action is not allowed in the run's current state (maps to 409 Conflict).
    #[error("cannot {action} run {run}: {reason}")]
    InvalidRunState {
        /// The run acted on.
        run: Uuid,
        /// The refused action, as a verb phrase for the message (e.g. `"cancel"`).
        action: &'static str,
        /// Why the state does not allow it, and what to do instead where there is an
        /// alternative.
        reason: String,
    },

    /// No schedule has this name.
    #[error("schedule `{0}` not found")]
    ScheduleNotFound(String),

    #[error("invalid cron expression `{expression}`: {reason}")]
    /// A cron expression that [`crate::parse_cron`] refuses.
    InvalidCron {
        /// The expression as given.
        expression: String,
        /// What is wrong, in the terms of the notation the user wrote (5-field crontab or
        /// the `cron` crate's 6–7 fields).
        reason: String,
    },
}

fn unknown_workflow_message(name: &str, version: Option<i32>, known: &[String]) -> String {
    let what = match version {
        Some(v) => format!("workflow `{name}` version {v} is not registered"),
        None => format!("workflow `{name}` is not registered"),
    };
    if known.is_empty() {
        what
    } else {
        format!("{what}; known workflows: {}", known.join(", "))
    }
}

impl Error {
    /// True when the error came from PostgreSQL being unreachable or failing, i.e. trying
    /// again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Database(
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            )
        )
    }
}
