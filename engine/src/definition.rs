//! Versioned workflow definitions: `(name, version)` and ordered steps.
//!
//! # Guarantees
//! - A registered `(name, version)` is immutable: its content hash is stored at first
//!   registration, and registering different content under it fails start-up.
//! - A run executes the stored definition of the version it was started with.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::step::Step;

/// Durations are humantime strings in the serialized form: `"30s"`, `"10m"`, `"1h 30m"`.
pub mod humantime_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `value` as a humantime string (`"1m 30s"`, `"250ms"`).
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    /// Reads a humantime string; the error quotes the text and shows the expected form.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|err| {
            serde::de::Error::custom(format!(
                "invalid duration `{text}`: {err} (use e.g. \"30s\", \"10m\")"
            ))
        })
    }

    /// Same, for `Option<Duration>`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `Some` as a humantime string and `None` as null.
        pub fn serialize<S: Serializer>(
            value: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(d) => serializer.serialize_str(&humantime::format_duration(*d).to_string()),
                None => serializer.serialize_none(),
            }
        }

        /// Reads null as `None` and a humantime string as `Some`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            let text: Option<String> = Option::deserialize(deserializer)?;
            text.map(|text| {
                humantime::parse_duration(&text).map_err(|err| {
                    serde::de::Error::custom(format!("invalid duration `{text}`: {err}"))
                })
            })
            .transpose()
        }
    }
}

/// How a failing step is retried. Backoff after the n-th failure is
/// `min(initial_backoff * multiplier^(n-1), max_backoff)`, spread by ±`jitter` (a fraction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts a step gets, the first included (1 = never retried; at least 1). An attempt
    /// whose worker was lost (a rescue) does not count; an operator retry starts afresh.
    pub max_attempts: u32,
    /// Backoff after the first failure.
    #[serde(with = "humantime_duration")]
    pub initial_backoff: Duration,
    /// Cap on the backoff before jitter is applied; at least `initial_backoff`.
    #[serde(with = "humantime_duration")]
    pub max_backoff: Duration,
    /// Growth factor per further failure; finite and at least 1 (1 = constant backoff).
    pub multiplier: f64,
    /// Random spread as a fraction of the backoff, in `[0, 1]`: 0.2 gives ±20%, so retries
    /// of many runs that failed together do not all arrive at once.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retries() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Backoff before the attempt that follows the `failures`-th failure (1-based).
    /// `unit_random` is a uniform sample in `[0, 1)`; it is a parameter so tests are exact.
    pub fn backoff(&self, failures: u32, unit_random: f64) -> Duration {
        let exponent = failures.saturating_sub(1).min(64) as i32;
        let base = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let capped = base.min(self.max_backoff.as_secs_f64());
        let spread = 1.0 + self.jitter * (2.0 * unit_random - 1.0);
        Duration::from_secs_f64((capped * spread).max(0.0))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.max_attempts == 0 {
            return Err("retry.max_attempts must be at least 1".into());
        }
        if !(self.multiplier >= 1.0 && self.multiplier.is_finite()) {
            return Err("retry.multiplier must be a finite number >= 1".into());
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("retry.jitter must be between 0 and 1".into());
        }
        if self.initial_backoff > self.max_backoff {
            return Err("retry.initial_backoff must not exceed retry.max_backoff".into());
        }
        Ok(())
    }
}

/// One step of a definition.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Unique within the definition (compensation steps included), non-empty, and not
    /// starting with `$`. The step's output is stored in the run's state under it, and
    /// operators name the step by it.
    pub name: String,
    /// What the step does; stored under its typetag `type`.
    pub action: Box<dyn Step>,
    /// Retries after a failed or timed-out attempt; default [`RetryPolicy::default`]
    /// (3 attempts, 1s backoff doubling up to 60s).
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Limit on one attempt (a timed-out attempt is cancelled and counts as a retryable
    /// failure), and on the total time a step may stay pending; non-zero, default 5 minutes.
    #[serde(with = "humantime_duration", default = "default_step_timeout")]
    pub timeout: Duration,
}

fn default_step_timeout() -> Duration {
    Duration::from_secs(300)
}

impl StepDef {
    /// A step named `name` running `action`, with the default retry policy and a 5-minute
    /// timeout.
    pub fn new(name: impl Into<String>, action: impl Step + 'static) -> Self {
        StepDef {
            name: name.into(),
            action: Box::new(action),
            retry: RetryPolicy::default(),
            timeout: default_step_timeout(),
        }
    }

    /// Replaces the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the timeout (per attempt, and on the time spent pending); non-zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// For definitions whose runs execute only a prefix of the steps, the length read from an
/// integer field of the run input (the built-in `selftest` uses `steps`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthFromInput {
    /// The input field holding the number of steps to run, an integer from 1 to the
    /// number of steps; an input with anything else is refused at enqueue.
    pub field: String,
    /// The number of steps when the input lacks the field (or it is null); from 1 to the
    /// number of steps.
    pub default: usize,
}

/// A versioned workflow definition.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// The workflow's name: lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// At least 1. Changing anything in a registered definition needs a new version;
    /// runs keep the version they were started with.
    pub version: i32,
    /// The steps every run executes in order (at least one); a step starts only after the
    /// previous one's checkpoint committed.
    pub steps: Vec<StepDef>,
    /// Runs execute only a prefix of `steps`, its length read from the input. Cannot be
    /// combined with `on_failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_from_input: Option<LengthFromInput>,
    /// Run-level deadline measured from enqueue; a run past it fails.
    #[serde(
        default,
        with = "humantime_duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<Duration>,
    /// Compensation: steps run, in order, after a step of `steps` failed for good (its
    /// retries spent, or a fatal error) — e.g. roll a release back to the revision it had.
    /// They read why with [`crate::StepContext::failure`]; the run then ends `failed` with
    /// the original error. A run that succeeds never runs them; a cancelled one neither.
    /// Their indexes follow the main steps' (`steps.len()`, `steps.len() + 1`, …). Left out
    /// of the stored form when empty, so definitions without them keep their content hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<StepDef>,
}

impl Definition {
    /// An empty definition of `name` at `version`; add steps with [`Definition::step`].
    pub fn new(name: impl Into<String>, version: i32) -> Self {
        Definition {
            name: name.into(),
            version,
            steps: Vec::new(),
            length_from_input: None,
            deadline: None,
            on_failure: Vec::new(),
        }
    }

    /// Appends a main step.
    pub fn step(mut self, step: StepDef) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds a compensation step (see [`Definition::on_failure`]).
    pub fn on_failure(mut self, step: StepDef) -> Self {
        self.on_failure.push(step);
        self
    }

    /// The step at a run's index: a main step, or past them a compensation step.
    pub fn step_at(&self, index: usize) -> Option<&StepDef> {
        self.steps
            .get(index)
            .or_else(|| self.on_failure.get(index.checked_sub(self.steps.len())?))
    }

    /// Every step, main steps first, in index order.
    pub fn all_steps(&self) -> impl Iterator<Item = &StepDef> {
        self.steps.iter().chain(self.on_failure.iter())
    }

    /// True for the index of a compensation step.
    pub fn is_compensation(&self, index: usize) -> bool {
        index >= self.steps.len() && index < self.steps.len() + self.on_failure.len()
    }

    /// Sets the run-level deadline, measured from enqueue.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Makes runs execute only the first `input[field]` steps (`default` when absent); see
    /// [`LengthFromInput`].
    pub fn length_from_input(mut self, field: impl Into<String>, default: usize) -> Self {
        self.length_from_input = Some(LengthFromInput {
            field: field.into(),
            default,
        });
        self
    }

    /// Checks the definition is well-formed; start-up refuses one that is not.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Error::InvalidDefinition {
            name: self.name.clone(),
            version: self.version,
            reason,
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(invalid(
                "the name must be non-empty lowercase letters, digits, '-' or '_'".into(),
            ));
        }
        if self.version < 1 {
            return Err(invalid("the version must be 1 or greater".into()));
        }
        if self.steps.is_empty() {
            return Err(invalid("a definition needs at least one step".into()));
        }
        let mut seen = HashSet::new();
        for step in self.all_steps() {
            if step.name.is_empty() {
                return Err(invalid("a step has an empty name".into()));
            }
            if step.name.starts_with('$') {
                return Err(invalid(format!(
                    "step name `{}` starts with `$`, which the engine keeps for its own state",
                    step.name
                )));
            }
            if !seen.insert(step.name.as_str()) {
                return Err(invalid(format!("step name `{}` is used twice", step.name)));
            }
            if step.timeout.is_zero() {
                return Err(invalid(format!("step `{}` has a zero timeout", step.name)));
            }
            step.retry
                .validate()
                .map_err(|reason| invalid(format!("step `{}`: {reason}", step.name)))?;
        }
        if self.length_from_input.is_some() && !self.on_failure.is_empty() {
            return Err(invalid(
                "length_from_input and on_failure steps cannot be combined".into(),
            ));
        }
        if let Some(length) = &self.length_from_input
            && (length.default == 0 || length.default > self.steps.len())
        {
            return Err(invalid(format!(
                "length_from_input.default must be between 1 and {}",
                self.steps.len()
            )));
        }
        Ok(())
    }

    /// The canonical JSON form that is stored and hashed.
    pub fn to_json(&self) -> Result<Value> {
        serde_json::to_value(self).map_err(|err| Error::InvalidDefinition {
            name: self.name.clone(),
            version: self.version,
            reason: format!("cannot be serialized: {err}"),
        })
    }

    /// SHA-256 (hex) of the canonical JSON; equal content gives an equal hash.
    pub fn content_hash(&self) -> Result<String> {
        let json = self.to_json()?;
        Ok(hash_json(&json))
    }

    /// How many steps a run with this input has (compensation steps included).
    pub fn step_count_for(&self, input: &Value) -> Result<usize> {
        let Some(length) = &self.length_from_input else {
            return Ok(self.steps.len() + self.on_failure.len());
        };
        let max = self.steps.len();
        match input.get(&length.field) {
            None | Some(Value::Null) => Ok(length.default),
            Some(value) => match value.as_u64() {
                Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
                _ => Err(Error::InvalidInput {
                    workflow: self.name.clone(),
                    reason: format!(
                        "`{}` must be an integer between 1 and {max} (got {value})",
                        length.field
                    ),
                }),
            },
        }
    }
}

pub(crate) fn hash_json(json: &Value) -> String {
    // serde_json::Value sorts object keys, so the text is canonical for equal content.
    let text = json.to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.0,
        };
        assert_eq!(policy.backoff(1, 0.5), Duration::from_millis(100));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(200));
        assert_eq!(policy.backoff(3, 0.5), Duration::from_millis(400));
        assert_eq!(policy.backoff(5, 0.5), Duration::from_secs(1));
        assert_eq!(policy.backoff(60, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_within_its_fraction() {
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.2,
        };
        assert_eq!(policy.backoff(1, 0.0), Duration::from_secs(8));
        assert_eq!(policy.backoff(1, 0.5), Duration::from_secs(10));
        assert!(policy.backoff(1, 0.999_999) <= Duration::from_secs(12));
    }

    #[test]
    fn retry_policy_round_trips_humantime_strings() {
        let json = serde_json::json!({
            "max_attempts": 5, "initial_backoff": "250ms", "max_backoff": "10m",
            "multiplier": 1.5, "jitter": 0.1
        });
        let policy: RetryPolicy = serde_json::from_value(json.clone()).expect("valid policy");
        assert_eq!(policy.max_backoff, Duration::from_secs(600));
        assert_eq!(serde_json::to_value(&policy).expect("serializes"), json);
    }

    #[test]
    fn bad_duration_names_the_text() {
        let json = serde_json::json!({
            "max_attempts": 5, "initial_backoff": "soon", "max_backoff": "10m",
            "multiplier": 1.5, "jitter": 0.1
        });
        let err = serde_json::from_value::<RetryPolicy>(json).expect_err("must fail");
        assert!(err.to_string().contains("invalid duration `soon`"), "{err}");
    }
}
