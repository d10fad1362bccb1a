//! Checkpoint planning: what a step's attempt comes to — the checkpoint to write (status,
//! position, attempt record, events), and what the worker does once it commits. Pure: the
//! time and the retry jitter come in as a [`Moment`], so every rule here is unit-tested
//! without a database or a clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::definition::{Definition, StepDef};
use crate::runs::RunStatus;
use crate::step::{FAILURE_KEY, RunFailure, StepOutcome};
use crate::store::{AttemptRecord, Checkpoint, NewEvent};

/// When a plan is made, and the jitter its retry backoff uses (0..1).
#[derive(Debug, Clone, Copy)]
pub(super) struct Moment {
    pub(super) now: DateTime<Utc>,
    pub(super) jitter: f64,
}

impl Moment {
    /// Now, with a random jitter.
    pub(super) fn current() -> Moment {
        Moment {
            now: Utc::now(),
            jitter: rand::random::<f64>(),
        }
    }
}

/// What one attempt came to, before it is turned into a checkpoint.
#[derive(Debug)]
pub(super) enum AttemptResult {
    Outcome(StepOutcome),
    /// The attempt exceeded the step timeout and was cancelled.
    TimedOut(Duration),
    /// A durably polling step has been pending longer than its timeout.
    PollingExpired(Duration),
    DeadlineExceeded,
    Cancelled,
}

/// The run as this worker knows it between steps.
#[derive(Debug, Clone)]
pub(super) struct Progress {
    pub(super) current_step: i32,
    pub(super) attempt: i32,
    pub(super) budget_from: i32,
    pub(super) pending_since: Option<DateTime<Utc>>,
    pub(super) state: Map<String, Value>,
}

pub(super) struct RunInfo {
    pub(super) id: Uuid,
    pub(super) token: i64,
    pub(super) workflow: String,
    pub(super) version: i32,
    pub(super) step_count: i32,
    pub(super) input: Value,
    pub(super) subject: Option<String>,
    pub(super) tenant: Option<String>,
    pub(super) request_id: Option<String>,
    pub(super) deadline_at: Option<DateTime<Utc>>,
}

/// A checkpoint to write, and what the worker does if it commits.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) checkpoint: Checkpoint,
    /// The run continues on this worker with this progress.
    pub(super) next: Option<Progress>,
    /// The run waits until then (retry backoff or polling).
    pub(super) wake_at: Option<DateTime<Utc>>,
    pub(super) outcome_label: &'static str,
}

/// The run's deadline as it applies to the step at `index`: compensation steps are not
/// bound by it (a rollback must run also when the run ran out of time; their own timeouts
/// and retries bound them).
pub(super) fn deadline_for(
    run: &RunInfo,
    definition: &Definition,
    index: i32,
) -> Option<DateTime<Utc>> {
    if definition.is_compensation(index as usize) {
        None
    } else {
        run.deadline_at
    }
}

pub(super) fn step_budget(
    run: &RunInfo,
    definition: &Definition,
    step: &StepDef,
    progress: &Progress,
    now: DateTime<Utc>,
) -> std::result::Result<(Duration, bool), AttemptResult> {
    let mut budget = step.timeout;
    if let Some(since) = progress.pending_since {
        let elapsed = (now - since).to_std().unwrap_or_default();
        if elapsed >= step.timeout {
            return Err(AttemptResult::PollingExpired(step.timeout));
        }
        budget = step.timeout - elapsed;
    }
    let mut limited_by_deadline = false;
    if let Some(deadline) = deadline_for(run, definition, progress.current_step) {
        let left = (deadline - now).to_std().unwrap_or_default();
        if left.is_zero() {
            return Err(AttemptResult::DeadlineExceeded);
        }
        if left < budget {
            budget = left;
            limited_by_deadline = true;
        }
    }
    Ok((budget, limited_by_deadline))
}

/// `now + delay`, saturating far in the future instead of overflowing.
pub(super) fn later(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    let capped = delay.min(Duration::from_secs(3650 * 24 * 3600));
    chrono::Duration::from_std(capped)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now)
}

/// PostgreSQL text cannot hold NUL; error text may come from anywhere (stderr, HTTP bodies).
pub(super) fn storable(message: String) -> String {
    if message.contains('\0') {
        message.replace('\0', "\u{FFFD}")
    } else {
        message
    }
}

/// Hands the run back to run again after `delay` without counting an attempt.
pub(super) fn plan_postpone(
    run: &RunInfo,
    progress: &Progress,
    delay: Duration,
    reason: String,
    now: DateTime<Utc>,
) -> Plan {
    let at = later(now, delay);
    let mut checkpoint = base_checkpoint(run, progress, RunStatus::Waiting);
    checkpoint.pending_since = progress.pending_since;
    checkpoint.next_run_at = Some(at);
    checkpoint.events.push(NewEvent {
        kind: "postponed",
        step_index: Some(progress.current_step),
        attempt: Some(progress.attempt),
        data: Some(json!({ "reason": storable(reason), "until": at })),
    });
    Plan {
        checkpoint,
        next: None,
        wake_at: Some(at),
        outcome_label: "postponed",
    }
}

pub(super) fn event(kind: &'static str, step: i32, attempt: i32, data: Option<Value>) -> NewEvent {
    NewEvent {
        kind,
        step_index: Some(step),
        attempt: Some(attempt),
        data,
    }
}

pub(super) fn finished_event(status: RunStatus, error: Option<&str>) -> NewEvent {
    NewEvent {
        kind: "finished",
        step_index: None,
        attempt: None,
        data: Some(match error {
            Some(error) => json!({ "status": status, "error": error }),
            None => json!({ "status": status }),
        }),
    }
}

pub(super) fn base_checkpoint(run: &RunInfo, progress: &Progress, status: RunStatus) -> Checkpoint {
    Checkpoint {
        run_id: run.id,
        token: run.token,
        expected_step: progress.current_step,
        expected_attempt: progress.attempt,
        status,
        current_step: progress.current_step,
        attempt: progress.attempt,
        budget_from: progress.budget_from,
        pending_since: None,
        next_run_at: None,
        output: None,
        error: None,
        release: true,
        finished: false,
        step_started: false,
        attempt_record: None,
        events: Vec::new(),
    }
}

/// The run fails now with `message`.
pub(super) fn plan_failure(
    run: &RunInfo,
    progress: &Progress,
    attempt_started: Option<DateTime<Utc>>,
    message: String,
    outcome: &'static str,
    now: DateTime<Utc>,
) -> Plan {
    let message = storable(message);
    let step = progress.current_step;
    let mut checkpoint = base_checkpoint(run, progress, RunStatus::Failed);
    checkpoint.finished = true;
    checkpoint.error = Some(message.clone());
    checkpoint.attempt_record = Some(AttemptRecord {
        step_index: step,
        attempt: progress.attempt,
        outcome,
        error: Some(message.clone()),
        started_at: attempt_started.unwrap_or(now),
        finished_at: now,
    });
    checkpoint.events = vec![
        event(
            "step_failed",
            step,
            progress.attempt,
            Some(json!({ "error": message, "will_retry": false })),
        ),
        finished_event(RunStatus::Failed, Some(&message)),
    ];
    Plan {
        checkpoint,
        next: None,
        wake_at: None,
        outcome_label: outcome,
    }
}

/// The failure that started this run's compensation, if it is compensating.
pub(super) fn recorded_failure(progress: &Progress) -> Option<RunFailure> {
    serde_json::from_value(progress.state.get(FAILURE_KEY)?.clone()).ok()
}

/// A main step failed for good and the definition has compensation steps: record the
/// failure in the run's state and go on with the first compensation step (in this worker,
/// as after a step that succeeded).
pub(super) fn plan_compensation(
    run: &RunInfo,
    definition: &Definition,
    progress: &Progress,
    attempt_started: DateTime<Utc>,
    message: String,
    outcome: &'static str,
    now: DateTime<Utc>,
) -> Plan {
    let index = progress.current_step;
    let first = definition.steps.len() as i32;
    let failure = RunFailure {
        step: definition
            .step_at(index as usize)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        index,
        error: message.clone(),
    };
    let recorded = serde_json::to_value(&failure).unwrap_or(Value::Null);
    let mut checkpoint = base_checkpoint(run, progress, RunStatus::Running);
    checkpoint.release = false;
    checkpoint.step_started = true;
    checkpoint.current_step = first;
    checkpoint.attempt = 1;
    checkpoint.budget_from = 1;
    checkpoint.error = Some(message.clone());
    checkpoint.attempt_record = Some(AttemptRecord {
        step_index: index,
        attempt: progress.attempt,
        outcome,
        error: Some(message.clone()),
        started_at: attempt_started,
        finished_at: now,
    });
    checkpoint.events = vec![
        event(
            "step_failed",
            index,
            progress.attempt,
            Some(json!({ "error": message, "will_retry": false })),
        ),
        event(
            "compensating",
            index,
            progress.attempt,
            Some(recorded.clone()),
        ),
        event("step_started", first, 1, None),
    ];
    checkpoint.output = Some((FAILURE_KEY.to_owned(), recorded.clone()));
    let mut state = progress.state.clone();
    state.insert(FAILURE_KEY.to_owned(), recorded);
    Plan {
        checkpoint,
        next: Some(Progress {
            current_step: first,
            attempt: 1,
            budget_from: 1,
            pending_since: None,
            state,
        }),
        wake_at: None,
        outcome_label: outcome,
    }
}

/// Turns an attempt's result into the checkpoint that records it. Pure, except for the
/// jitter sample.
pub(super) fn plan_checkpoint(
    run: &RunInfo,
    definition: &Definition,
    progress: &Progress,
    result: AttemptResult,
    started_at: DateTime<Utc>,
    at: Moment,
) -> Plan {
    let now = at.now;
    let index = progress.current_step;
    let attempt_started = progress.pending_since.unwrap_or(started_at);
    let Some(step) = definition.step_at(index as usize) else {
        let message = format!("the run is at step {} past its definition's end", index + 1);
        return plan_failure(run, progress, Some(attempt_started), message, "failed", now);
    };
    let compensating = definition.is_compensation(index as usize);
    let deadline = deadline_for(run, definition, index).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let failure = |message: String, outcome: &'static str, retryable: bool| -> Plan {
        let message = storable(message);
        let failures = (progress.attempt - progress.budget_from + 1).max(1) as u32;
        if !retryable || failures >= step.retry.max_attempts {
            let message = if retryable {
                format!(
                    "step `{}` failed after {failures} attempt{}: {message}",
                    step.name,
                    if failures == 1 { "" } else { "s" }
                )
            } else {
                format!("step `{}` failed: {message}", step.name)
            };
            if compensating {
                let original = recorded_failure(progress)
                    .map(|f| f.error)
                    .unwrap_or_else(|| "unknown".into());
                let message =
                    format!("{message} (while compensating for an earlier failure: {original})");
                warn!(error = %message, "compensation step failed; the run fails");
                return plan_failure(run, progress, Some(attempt_started), message, outcome, now);
            }
            if !definition.on_failure.is_empty() {
                warn!(error = %message, "step failed; the run compensates");
                return plan_compensation(
                    run,
                    definition,
                    progress,
                    attempt_started,
                    message,
                    outcome,
                    now,
                );
            }
            warn!(error = %message, "step failed; the run fails");
            return plan_failure(run, progress, Some(attempt_started), message, outcome, now);
        }
        let backoff = step.retry.backoff(failures, at.jitter);
        // Never sleep past the run's deadline: the claim at the deadline fails the run.
        let retry_at = later(now, backoff).min(deadline);
        warn!(error = %message, retry_in = ?backoff, "step attempt failed; retry scheduled");
        let mut checkpoint = base_checkpoint(run, progress, RunStatus::Waiting);
        checkpoint.attempt = progress.attempt + 1;
        checkpoint.next_run_at = Some(retry_at);
        checkpoint.error = Some(message.clone());
        checkpoint.attempt_record = Some(AttemptRecord {
            step_index: index,
            attempt: progress.attempt,
            outcome,
            error: Some(message.clone()),
            started_at: attempt_started,
            finished_at: now,
        });
        checkpoint.events = vec![
            event(
                "step_failed",
                index,
                progress.attempt,
                Some(json!({ "error": message, "will_retry": true })),
            ),
            event(
                "retry_scheduled",
                index,
                progress.attempt + 1,
                Some(json!({ "at": retry_at, "backoff_ms": backoff.as_millis() as u64 })),
            ),
        ];
        Plan {
            checkpoint,
            next: None,
            wake_at: Some(retry_at),
            outcome_label: outcome,
        }
    };
    match result {
        AttemptResult::Outcome(StepOutcome::Done(output)) => {
            debug!("step succeeded");
            // The main steps end before the compensation steps; a compensation's last step
            // ends the run as failed, with the error that started it.
            let main_end = run.step_count.min(definition.steps.len() as i32);
            let last = if compensating {
                index + 1 >= run.step_count
            } else {
                index + 1 >= main_end
            };
            let compensated = if last && compensating {
                Some(recorded_failure(progress).map_or_else(
                    || "the run failed and its on-failure steps ran".to_owned(),
                    |f| {
                        format!(
                            "{} (the on-failure steps ran: {})",
                            f.error,
                            definition
                                .on_failure
                                .iter()
                                .map(|s| s.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                ))
            } else {
                None
            };
            let mut checkpoint = base_checkpoint(
                run,
                progress,
                match (last, &compensated) {
                    (false, _) => RunStatus::Running,
                    (true, None) => RunStatus::Succeeded,
                    (true, Some(_)) => RunStatus::Failed,
                },
            );
            checkpoint.attempt_record = Some(AttemptRecord {
                step_index: index,
                attempt: progress.attempt,
                outcome: "succeeded",
                error: None,
                started_at: attempt_started,
                finished_at: now,
            });
            checkpoint
                .events
                .push(event("step_succeeded", index, progress.attempt, None));
            let mut next = None;
            if last {
                checkpoint.finished = true;
                checkpoint.current_step = run.step_count;
                match &compensated {
                    None => checkpoint
                        .events
                        .push(finished_event(RunStatus::Succeeded, None)),
                    Some(error) => {
                        info!("compensation finished; the run fails");
                        checkpoint.error = Some(error.clone());
                        checkpoint.events.push(NewEvent {
                            kind: "compensated",
                            step_index: None,
                            attempt: None,
                            data: progress.state.get(FAILURE_KEY).cloned(),
                        });
                        checkpoint
                            .events
                            .push(finished_event(RunStatus::Failed, Some(error)));
                    }
                }
            } else {
                checkpoint.release = false;
                checkpoint.step_started = true;
                checkpoint.current_step = index + 1;
                checkpoint.attempt = 1;
                checkpoint.budget_from = 1;
                checkpoint
                    .events
                    .push(event("step_started", index + 1, 1, None));
                let mut state = progress.state.clone();
                state.insert(step.name.clone(), output.clone());
                next = Some(Progress {
                    current_step: index + 1,
                    attempt: 1,
                    budget_from: 1,
                    pending_since: None,
                    state,
                });
            }
            checkpoint.output = Some((step.name.clone(), output));
            Plan {
                checkpoint,
                next,
                wake_at: None,
                outcome_label: "succeeded",
            }
        }
        AttemptResult::Outcome(StepOutcome::Pending {
            recheck_after,
            waiting_for,
        }) => {
            // Look again no later than when the step times out or the run's deadline passes.
            let polling_ends = later(attempt_started, step.timeout);
            let recheck_at = later(now, recheck_after).min(polling_ends).min(deadline);
            debug!(?recheck_after, "step pending; released until recheck");
            let mut checkpoint = base_checkpoint(run, progress, RunStatus::Waiting);
            checkpoint.pending_since = Some(attempt_started);
            checkpoint.next_run_at = Some(recheck_at);
            checkpoint.events.push(event(
                "pending",
                index,
                progress.attempt,
                Some(match &waiting_for {
                    Some(what) => {
                        json!({ "recheck_at": recheck_at, "waiting_for": storable(what.clone()) })
                    }
                    None => json!({ "recheck_at": recheck_at }),
                }),
            ));
            Plan {
                checkpoint,
                next: None,
                wake_at: Some(recheck_at),
                outcome_label: "pending",
            }
        }
        AttemptResult::Outcome(StepOutcome::Retry(error)) => failure(error.message, "failed", true),
        AttemptResult::Outcome(StepOutcome::Fatal(error)) => {
            failure(error.message, "failed", false)
        }
        AttemptResult::TimedOut(timeout) => failure(
            format!("timed out after {}", humantime::format_duration(timeout)),
            "timed_out",
            true,
        ),
        AttemptResult::PollingExpired(timeout) => failure(
            format!(
                "still pending after {} (the step's timeout)",
                humantime::format_duration(timeout)
            ),
            "timed_out",
            true,
        ),
        AttemptResult::DeadlineExceeded => {
            failure("the run's deadline passed".to_owned(), "timed_out", false)
        }
        AttemptResult::Cancelled => {
            info!("run cancelled");
            let mut checkpoint = base_checkpoint(run, progress, RunStatus::Cancelled);
            checkpoint.finished = true;
            checkpoint.attempt_record = Some(AttemptRecord {
                step_index: index,
                attempt: progress.attempt,
                outcome: "cancelled",
                error: Some("cancelled by an operator".into()),
                started_at: attempt_started,
                finished_at: now,
            });
            checkpoint.events = vec![
                event("cancelled", index, progress.attempt, None),
                finished_event(RunStatus::Cancelled, None),
            ];
            Plan {
                checkpoint,
                next: None,
                wake_at: None,
                outcome_label: "cancelled",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::RetryPolicy;
    use crate::selftest::SelftestStep;
    use crate::step::StepError;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    fn moment(seconds: i64, jitter: f64) -> Moment {
        Moment {
            now: at(seconds),
            jitter,
        }
    }

    /// Two main steps (3 attempts, 10 s doubling backoff, ±50 % jitter, 60 s timeout);
    /// `compensated` adds one on-failure step.
    fn definition(compensated: bool) -> Definition {
        let step = |n: u32| {
            StepDef::new(format!("step-{n}"), SelftestStep { number: n })
                .retry(RetryPolicy {
                    max_attempts: 3,
                    initial_backoff: Duration::from_secs(10),
                    max_backoff: Duration::from_secs(300),
                    multiplier: 2.0,
                    jitter: 0.5,
                })
                .timeout(Duration::from_secs(60))
        };
        let definition = Definition::new("planned", 1).step(step(1)).step(step(2));
        if compensated {
            definition.on_failure(step(3))
        } else {
            definition
        }
    }

    fn run(steps: i32, deadline_at: Option<DateTime<Utc>>) -> RunInfo {
        RunInfo {
            id: Uuid::nil(),
            token: 7,
            workflow: "planned".into(),
            version: 1,
            step_count: steps,
            input: json!({}),
            subject: None,
            tenant: None,
            request_id: None,
            deadline_at,
        }
    }

    fn at_step(current_step: i32, attempt: i32) -> Progress {
        Progress {
            current_step,
            attempt,
            budget_from: 1,
            pending_since: None,
            state: Map::new(),
        }
    }

    fn kinds(plan: &Plan) -> Vec<&'static str> {
        plan.checkpoint.events.iter().map(|e| e.kind).collect()
    }

    fn retry(message: &str) -> AttemptResult {
        AttemptResult::Outcome(StepOutcome::Retry(StepError::new(message)))
    }

    #[test]
    fn a_step_that_succeeds_moves_the_run_on_in_this_worker() {
        let plan = plan_checkpoint(
            &run(2, None),
            &definition(false),
            &at_step(0, 1),
            AttemptResult::Outcome(StepOutcome::Done(json!({ "ok": true }))),
            at(0),
            moment(5, 0.5),
        );
        assert_eq!(plan.checkpoint.status, RunStatus::Running);
        assert!(!plan.checkpoint.finished);
        assert_eq!(kinds(&plan).first(), Some(&"step_succeeded"));
        let next = plan.next.expect("continues here");
        assert_eq!((next.current_step, next.attempt), (1, 1));
        assert_eq!(next.state["step-1"], json!({ "ok": true }));
        let record = plan.checkpoint.attempt_record.expect("attempt recorded");
        assert_eq!(
            (record.outcome, record.started_at, record.finished_at),
            ("succeeded", at(0), at(5))
        );
    }

    #[test]
    fn the_last_step_finishes_the_run() {
        let plan = plan_checkpoint(
            &run(2, None),
            &definition(false),
            &at_step(1, 1),
            AttemptResult::Outcome(StepOutcome::Done(json!(null))),
            at(0),
            moment(1, 0.5),
        );
        assert_eq!(plan.checkpoint.status, RunStatus::Succeeded);
        assert!(plan.checkpoint.finished && plan.next.is_none());
        assert_eq!(plan.checkpoint.current_step, 2);
        assert_eq!(kinds(&plan), ["step_succeeded", "finished"]);
    }

    #[test]
    fn a_failed_attempt_waits_its_backoff_with_the_injected_jitter() {
        // Second failure: 10 s × 2 = 20 s, jitter 0.75 → ×1.25 = 25 s.
        let plan = plan_checkpoint(
            &run(2, None),
            &definition(false),
            &at_step(0, 2),
            retry("the API said 503"),
            at(0),
            moment(100, 0.75),
        );
        assert_eq!(plan.checkpoint.status, RunStatus::Waiting);
        assert_eq!(plan.checkpoint.attempt, 3);
        assert_eq!(plan.checkpoint.next_run_at, Some(at(125)));
        assert_eq!(plan.wake_at, Some(at(125)));
        assert_eq!(kinds(&plan), ["step_failed", "retry_scheduled"]);
        assert_eq!(
            plan.checkpoint.events[1].data.as_ref().expect("data")["backoff_ms"],
            25_000
        );
        assert_eq!(plan.checkpoint.error.as_deref(), Some("the API said 503"));
    }

    #[test]
    fn a_retry_never_waits_past_the_runs_deadline() {
        let plan = plan_checkpoint(
            &run(2, Some(at(105))),
            &definition(false),
            &at_step(0, 2),
            retry("busy"),
            at(0),
            moment(100, 0.75),
        );
        assert_eq!(plan.checkpoint.next_run_at, Some(at(105)));
    }

    #[test]
    fn the_last_attempt_fails_the_run_and_says_how_many_were_made() {
        let plan = plan_checkpoint(
            &run(2, None),
            &definition(false),
            &at_step(0, 3),
            retry("still down"),
            at(0),
            moment(1, 0.5),
        );
        assert_eq!(plan.checkpoint.status, RunStatus::Failed);
        assert!(plan.checkpoint.finished);
        assert_eq!(
            plan.checkpoint.error.as_deref(),
            Some("step `step-1` failed after 3 attempts: still down")
        );
        assert_eq!(kinds(&plan), ["step_failed", "finished"]);
    }

    #[test]
    fn a_fatal_outcome_fails_at_once_and_a_definition_with_on_failure_steps_compensates() {
        let fatal = || AttemptResult::Outcome(StepOutcome::Fatal(StepError::new("bad input")));
        let failed = plan_checkpoint(
            &run(2, None),
            &definition(false),
            &at_step(1, 1),
            fatal(),
            at(0),
            moment(1, 0.5),
        );
        assert_eq!(failed.checkpoint.status, RunStatus::Failed);
        assert_eq!(
            failed.checkpoint.error.as_deref(),
            Some("step `step-2` failed: bad input")
        );

        let compensating = plan_checkpoint(
            &run(3, None),
            &definition(true),
            &at_step(1, 1),
            fatal(),
            at(0),
            moment(1, 0.5),
        );
        assert_ne!(compensating.checkpoint.status, RunStatus::Failed);
        assert!(!compensating.checkpoint.finished);
        let next = compensating.next.expect("the on-failure step runs next");
        assert_eq!(next.current_step, 2);
        // The failure that started the compensation is kept for the run's final error.
        assert_eq!(
            recorded_failure(&next).map(|f| f.error),
            Some("step `step-2` failed: bad input".to_owned())
        );
    }

    #[test]
    fn pending_rechecks_no_later_than_the_steps_timeout_and_spends_no_attempt() {
        let plan = plan_checkpoint(
            &run(2, None),
            &definition(false),
            &at_step(0, 1),
            AttemptResult::Outcome(StepOutcome::pending_on(Duration::from_secs(120), "pods")),
            at(0),
            moment(10, 0.5),
        );
        assert_eq!(plan.checkpoint.status, RunStatus::Waiting);
        assert_eq!(plan.checkpoint.attempt, 1);
        assert_eq!(plan.checkpoint.pending_since, Some(at(0)));
        // 120 s asked, but the step times out 60 s after its attempt began.
        assert_eq!(plan.checkpoint.next_run_at, Some(at(60)));
        assert_eq!(
            plan.checkpoint.events[0].data.as_ref().expect("data")["waiting_for"],
            "pods"
        );
    }

    #[test]
    fn the_budget_is_what_is_left_of_the_timeout_and_the_deadline() {
        let definition = definition(false);
        let step = definition.step_at(0).expect("step");
        let mut polling = at_step(0, 1);
        polling.pending_since = Some(at(0));
        let budget = step_budget(&run(2, None), &definition, step, &polling, at(45));
        assert!(matches!(budget, Ok((left, false)) if left == Duration::from_secs(15)));
        let expired = step_budget(&run(2, None), &definition, step, &polling, at(60));
        assert!(matches!(expired, Err(AttemptResult::PollingExpired(_))));
        let fresh = at_step(0, 1);
        let capped = step_budget(&run(2, Some(at(20))), &definition, step, &fresh, at(10));
        assert!(matches!(capped, Ok((left, true)) if left == Duration::from_secs(10)));
        let past = step_budget(&run(2, Some(at(20))), &definition, step, &fresh, at(20));
        assert!(matches!(past, Err(AttemptResult::DeadlineExceeded)));
    }

    #[test]
    fn a_postponed_run_waits_without_counting_an_attempt() {
        let plan = plan_postpone(
            &run(2, None),
            &at_step(1, 2),
            Duration::from_secs(30),
            "no slot".into(),
            at(0),
        );
        assert_eq!(plan.checkpoint.status, RunStatus::Waiting);
        assert_eq!(
            (plan.checkpoint.current_step, plan.checkpoint.attempt),
            (1, 2)
        );
        assert_eq!(plan.checkpoint.next_run_at, Some(at(30)));
        assert!(plan.checkpoint.attempt_record.is_none());
        assert_eq!(kinds(&plan), ["postponed"]);
    }

    #[test]
    fn error_text_with_nul_is_made_storable() {
        assert_eq!(storable("a\0b".into()), "a\u{FFFD}b");
        assert_eq!(
            later(at(0), Duration::MAX),
            at(0) + chrono::Duration::days(3650)
        );
    }
}
