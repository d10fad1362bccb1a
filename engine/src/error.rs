//! The engine's one error type.

use uuid::Uuid;

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an engine call can fail with. Variants carry what the caller needs to say
/// what went wrong and what to do; the server maps them to HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    #[error("applying database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error(
        "workflow `{name}` version {version} is already registered with different content \
         (stored hash {stored_hash}, this build's hash {new_hash}); a registered version is immutable: \
         register the change as version {next}",
        next = version + 1
    )]
    DefinitionConflict {
        name: String,
        version: i32,
        stored_hash: String,
        new_hash: String,
    },

    #[error("invalid workflow definition `{name}` version {version}: {reason}")]
    InvalidDefinition {
        name: String,
        version: i32,
        reason: String,
    },

    #[error(
        "stored workflow definition `{name}` version {version} cannot be loaded by this build: {reason}"
    )]
    UnloadableDefinition {
        name: String,
        version: i32,
        reason: String,
    },

    #[error("{}", unknown_workflow_message(name, *version, known))]
    UnknownWorkflow {
        name: String,
        version: Option<i32>,
        known: Vec<String>,
    },

    #[error("invalid input for workflow `{workflow}`: {reason}")]
    InvalidInput { workflow: String, reason: String },

    #[error("run {0} not found")]
    RunNotFound(Uuid),

    #[error("run {run} has no step `{step}`")]
    StepNotFound { run: Uuid, step: String },

    /// The action is not allowed in the run's current state (maps to 409 Conflict).
    #[error("cannot {action} run {run}: {reason}")]
    InvalidRunState {
        run: Uuid,
        action: &'static str,
        reason: String,
    },

    #[error("schedule `{0}` not found")]
    ScheduleNotFound(String),

    #[error("invalid cron expression `{expression}`: {reason}")]
    InvalidCron { expression: String, reason: String },
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
