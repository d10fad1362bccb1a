//! Cron schedules: each tick enqueues exactly one run, across any number of replicas.
//!
//! # Guarantees
//! - A tick fires at most once: the scheduler locks the schedule row (`SKIP LOCKED`), and
//!   the run's idempotency key is `schedule:<name>:<tick>`, so racing replicas cannot both
//!   enqueue it.
//! - After downtime only the latest missed tick fires; earlier missed ticks are skipped.
//! - Disabling a schedule stops it; re-enabling it does not fire ticks missed meanwhile.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use crate::definition::humantime_duration;
use crate::engine::{Engine, NewRun, object_input};
use crate::error::{Error, Result};

/// Parses a cron expression: 5 fields as in crontab (minute precision; days of the week 0-6
/// from Sunday, 7 also Sunday) or 6–7 fields in the `cron` crate's own notation (seconds
/// first, optional year; days of the week 1-7 from Sunday), in UTC.
pub fn parse_cron(expression: &str) -> Result<cron::Schedule> {
    let fields = expression.split_whitespace().count();
    let full = match fields {
        5 => {
            if let Some(reason) = five_field_range_problem(expression) {
                return Err(Error::InvalidCron {
                    expression: expression.to_owned(),
                    reason,
                });
            }
            let mut fields: Vec<&str> = expression.split_whitespace().collect();
            let weekday = unix_weekdays_to_cron_crate(fields[4]);
            fields[4] = &weekday;
            format!("0 {}", fields.join(" "))
        }
        6 | 7 => expression.to_owned(),
        _ => {
            return Err(Error::InvalidCron {
                expression: expression.to_owned(),
                reason: format!(
                    "expected 5 fields (min hour day month weekday) or 6-7 with seconds first, got {fields}"
                ),
            });
        }
    };
    cron::Schedule::from_str(&full).map_err(|err| Error::InvalidCron {
        expression: expression.to_owned(),
        // The parser's message may quote its own form of the expression (with the seconds
        // field we added) and point at it on further lines; the first line is the reason.
        reason: err
            .to_string()
            .lines()
            .next()
            .unwrap_or("not a cron expression")
            .to_owned(),
    })
}

/// The day-of-week field of a 5-field (crontab) expression in the `cron` crate's numbering:
/// crontab counts 0-6 from Sunday (7 is Sunday too), the crate 1-7 from Sunday, so `1` —
/// Monday to a crontab user — would fire on Sundays untranslated. Names and `*` are the same
/// in both; steps keep their meaning (`*/2` is Sun, Tue, Thu, Sat in both).
fn unix_weekdays_to_cron_crate(field: &str) -> String {
    let shift = |n: u32| (n % 7 + 1).to_string();
    field
        .split(',')
        .map(|item| {
            let (base, step) = match item.split_once('/') {
                Some((base, step)) => (base, Some(step)),
                None => (item, None),
            };
            let step = step.map(|s| format!("/{s}")).unwrap_or_default();
            match base.split_once('-') {
                Some((from, to)) => match (from.parse::<u32>(), to.parse::<u32>()) {
                    // `5-7` (Friday to Sunday) is 6-7 and Sunday's 1 in the crate.
                    (Ok(from), Ok(7)) if step.is_empty() && from <= 6 => {
                        format!("{}-7,1", from + 1)
                    }
                    (Ok(from), Ok(to)) if from <= 6 && to <= 6 => {
                        format!("{}-{}{step}", from + 1, to + 1)
                    }
                    _ => item.to_owned(),
                },
                None => match base.parse::<u32>() {
                    Ok(n) if n <= 7 => format!("{}{step}", shift(n)),
                    _ => item.to_owned(),
                },
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A number outside its field's range in a 5-field expression, said in the user's terms
/// (the parser would speak of its 6-field form).
fn five_field_range_problem(expression: &str) -> Option<String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of the month", 1, 31),
        ("month", 1, 12),
        // As in crontab: 0-6 from Sunday, 7 also Sunday (translated for the `cron` crate).
        ("day of the week", 0, 7),
    ];
    for (field, (name, min, max)) in expression.split_whitespace().zip(FIELDS) {
        let mut parts = field.split('/');
        let range = parts.next().unwrap_or_default();
        for number in range.split([',', '-']) {
            if let Ok(n) = number.parse::<u32>()
                && !(min..=max).contains(&n)
            {
                return Some(format!("{name} {n} is out of range ({min}-{max})"));
            }
        }
    }
    None
}

/// The latest tick in `(after, now]`, if any.
pub(crate) fn latest_due_tick(
    schedule: &cron::Schedule,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // Bounded walk: a per-second cron after a long outage would otherwise take millions of
    // steps; starting an hour back still finds the latest tick of any frequent schedule.
    const LIMIT: usize = 200_000;
    let walk = |from: DateTime<Utc>| {
        let mut latest = None;
        for (n, tick) in schedule.after(&from).enumerate() {
            if tick > now || n >= LIMIT {
                return (latest, n >= LIMIT);
            }
            latest = Some(tick);
        }
        (latest, false)
    };
    match walk(after) {
        (found, false) => found,
        (_, true) => walk(now - chrono::Duration::hours(1)).0,
    }
}

/// A schedule to create or update.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// Identifies the schedule: upserting an existing name changes that schedule.
    pub name: String,
    /// When it fires, in UTC; see [`parse_cron`] for the notations.
    pub cron: String,
    /// A workflow this build registered; each tick starts its latest version.
    pub workflow: String,
    /// The input of every run it starts: a JSON object (absent or `null` means `{}`).
    #[serde(default)]
    pub input: Value,
    /// False stores the schedule without firing it. Default true.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A stored schedule.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Schedule {
    /// The schedule's unique name.
    pub name: String,
    /// The cron expression as given, in UTC.
    pub cron: String,
    /// The workflow each tick starts (its latest version).
    pub workflow: String,
    /// The input of every run it starts.
    pub input: Value,
    /// Whether ticks fire.
    pub enabled: bool,
    /// The latest tick fired, or when counting restarted (creation, re-enabling, a new cron
    /// expression): only ticks after it are due.
    pub last_tick_at: DateTime<Utc>,
    /// The run the latest fired tick enqueued; none before the first.
    pub last_run_id: Option<Uuid>,
    /// The next tick, computed when read; none while disabled.
    pub next_tick_at: Option<DateTime<Utc>>,
}

impl Engine {
    /// Creates or updates a schedule. A new schedule's first tick is the first one after now.
    pub async fn upsert_schedule(&self, spec: &ScheduleSpec) -> Result<()> {
        parse_cron(&spec.cron)?;
        if !self.workflows().contains_key(&spec.workflow) {
            return Err(Error::UnknownWorkflow {
                name: spec.workflow.clone(),
                version: None,
                known: self.workflows().keys().cloned().collect(),
            });
        }
        let input = object_input(&spec.workflow, &spec.input)?;
        sqlx::query(
            r#"INSERT INTO workflow_schedules (name, cron, workflow, input, enabled)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (name) DO UPDATE SET
                   cron = EXCLUDED.cron, workflow = EXCLUDED.workflow, input = EXCLUDED.input,
                   enabled = EXCLUDED.enabled,
                   -- Ticks before a (re)enable or a new cron expression are not owed.
                   last_tick_at = CASE WHEN workflow_schedules.enabled
                                        AND workflow_schedules.cron = EXCLUDED.cron
                                       THEN workflow_schedules.last_tick_at
                                       ELSE now() END,
                   updated_at = now()"#,
        )
        .bind(&spec.name)
        .bind(&spec.cron)
        .bind(&spec.workflow)
        .bind(&input)
        .bind(spec.enabled)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Enables or disables a schedule. Enabling does not fire ticks missed while disabled.
    pub async fn set_schedule_enabled(&self, name: &str, enabled: bool) -> Result<Schedule> {
        self.change_schedule(name, None, Some(enabled)).await
    }

    /// Changes a schedule's cron expression and/or enabled flag. Ticks of the old expression
    /// that were missed are not owed to the new one, and enabling does not fire ticks missed
    /// while disabled: either change restarts the count from now.
    pub async fn change_schedule(
        &self,
        name: &str,
        cron: Option<&str>,
        enabled: Option<bool>,
    ) -> Result<Schedule> {
        if let Some(cron) = cron {
            parse_cron(cron)?;
        }
        let updated = sqlx::query(
            r#"UPDATE workflow_schedules SET
                   cron = COALESCE($2, cron),
                   enabled = COALESCE($3, enabled),
                   last_tick_at = CASE
                       WHEN ($2 IS NOT NULL AND $2 <> cron) OR ($3 AND NOT enabled) THEN now()
                       ELSE last_tick_at END,
                   updated_at = now()
               WHERE name = $1"#,
        )
        .bind(name)
        .bind(cron)
        .bind(enabled)
        .execute(self.pool())
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::ScheduleNotFound(name.to_owned()));
        }
        self.list_schedules()
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::ScheduleNotFound(name.to_owned()))
    }

    /// Creates the schedule unless one of that name exists: defaults shipped with a build never
    /// override what an operator changed (cron, input, enabled). Returns whether it was created.
    pub async fn ensure_schedule(&self, spec: &ScheduleSpec) -> Result<bool> {
        parse_cron(&spec.cron)?;
        if !self.workflows().contains_key(&spec.workflow) {
            return Err(Error::UnknownWorkflow {
                name: spec.workflow.clone(),
                version: None,
                known: self.workflows().keys().cloned().collect(),
            });
        }
        let input = object_input(&spec.workflow, &spec.input)?;
        let created = sqlx::query(
            "INSERT INTO workflow_schedules (name, cron, workflow, input, enabled) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&spec.name)
        .bind(&spec.cron)
        .bind(&spec.workflow)
        .bind(&input)
        .bind(spec.enabled)
        .execute(self.pool())
        .await?;
        Ok(created.rows_affected() == 1)
    }

    /// All schedules, by name, with their next tick.
    pub async fn list_schedules(&self) -> Result<Vec<Schedule>> {
        let mut schedules: Vec<Schedule> = sqlx::query_as(
            "SELECT name, cron, workflow, input, enabled, last_tick_at, last_run_id, \
             NULL::timestamptz AS next_tick_at FROM workflow_schedules ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        let now = Utc::now();
        for schedule in &mut schedules {
            if schedule.enabled
                && let Ok(parsed) = parse_cron(&schedule.cron)
            {
                schedule.next_tick_at = parsed.after(&now.max(schedule.last_tick_at)).next();
            }
        }
        Ok(schedules)
    }

    /// Fires the schedule's latest due tick, if any and if no other replica holds it.
    /// Returns the run enqueued for the tick.
    pub async fn fire_due_tick(&self, name: &str, now: DateTime<Utc>) -> Result<Option<Uuid>> {
        let mut tx = self.pool().begin().await?;
        let row: Option<(String, String, Value, DateTime<Utc>)> = sqlx::query_as(
            "SELECT cron, workflow, input, last_tick_at FROM workflow_schedules \
             WHERE name = $1 AND enabled FOR UPDATE SKIP LOCKED",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((expression, workflow, input, last_tick_at)) = row else {
            return Ok(None);
        };
        let schedule = parse_cron(&expression)?;
        let Some(tick) = latest_due_tick(&schedule, last_tick_at, now) else {
            return Ok(None);
        };
        let key = format!("schedule:{name}:{}", tick.to_rfc3339());
        let enqueued = self
            .enqueue(
                &mut tx,
                NewRun::new(workflow, input)
                    .idempotency_key(key)
                    .subject(format!("schedule:{name}")),
            )
            .await?;
        sqlx::query(
            "UPDATE workflow_schedules SET last_tick_at = $2, last_run_id = $3, updated_at = now() \
             WHERE name = $1",
        )
        .bind(name)
        .bind(tick)
        .bind(enqueued.run_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if enqueued.created {
            info!(schedule = name, %tick, run_id = %enqueued.run_id, "schedule fired");
        }
        Ok(Some(enqueued.run_id))
    }
}

/// Scheduler settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerOptions {
    /// How often schedule changes (new, enabled, disabled) are picked up.
    #[serde(with = "humantime_duration")]
    pub reload_interval: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            reload_interval: Duration::from_secs(10),
        }
    }
}

/// Fires schedule ticks. Run one per process; replicas coordinate through PostgreSQL.
#[derive(Debug)]
pub struct Scheduler {
    engine: Engine,
    options: SchedulerOptions,
}

impl Scheduler {
    /// A scheduler firing the schedules stored in `engine`'s database; nothing fires before
    /// [`Scheduler::run`].
    pub fn new(engine: Engine, options: SchedulerOptions) -> Self {
        Scheduler { engine, options }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        loop {
            let mut sleep_for = self.options.reload_interval;
            match self.engine.list_schedules().await {
                Ok(schedules) => {
                    let now = Utc::now();
                    for schedule in schedules.iter().filter(|s| s.enabled) {
                        let Ok(parsed) = parse_cron(&schedule.cron) else {
                            warn!(schedule = %schedule.name, cron = %schedule.cron, "invalid cron expression; skipping");
                            continue;
                        };
                        if latest_due_tick(&parsed, schedule.last_tick_at, now).is_some()
                            && let Err(err) = self.engine.fire_due_tick(&schedule.name, now).await
                        {
                            warn!(schedule = %schedule.name, error = %err, "firing the schedule failed");
                        }
                        if let Some(next) = parsed.after(&now).next() {
                            let until = (next - now).to_std().unwrap_or_default();
                            sleep_for = sleep_for.min(until);
                        }
                    }
                }
                Err(err) => warn!(error = %err, "loading schedules failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(sleep_for + Duration::from_millis(5)) => {},
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn an_out_of_range_field_is_named_in_the_users_terms() {
        let err = parse_cron("0 61 * * *")
            .expect_err("61 is no hour")
            .to_string();
        assert!(err.contains("hour 61 is out of range (0-23)"), "{err}");
        assert!(!err.contains("0 0 61"), "no internal form: {err}");
        let err = parse_cron("61 3 * * *")
            .expect_err("61 is no minute")
            .to_string();
        assert!(err.contains("minute 61 is out of range (0-59)"), "{err}");
        assert!(parse_cron("*/15 0-23 1,15 1-12 0-7").is_ok());
        let err = parse_cron("0 3 * * 8")
            .expect_err("no eighth day")
            .to_string();
        assert!(
            err.contains("day of the week 8 is out of range (0-7)"),
            "{err}"
        );
        let err = parse_cron("0 3 * * funday")
            .expect_err("no such day")
            .to_string();
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn five_field_days_of_the_week_count_as_in_crontab() {
        use chrono::{Datelike, Weekday};
        // 2026-12-04 is a Friday.
        let friday = Utc
            .with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
            .single()
            .expect("valid time");
        let next_day = |expression: &str| {
            parse_cron(expression)
                .expect("valid")
                .after(&friday)
                .next()
                .expect("a tick")
                .weekday()
        };
        assert_eq!(next_day("0 3 * * 1"), Weekday::Mon);
        assert_eq!(next_day("0 3 * * 0"), Weekday::Sun);
        assert_eq!(next_day("0 3 * * 7"), Weekday::Sun);
        assert_eq!(next_day("0 3 * * 6"), Weekday::Sat);
        assert_eq!(next_day("0 3 * * 1-5"), Weekday::Mon);
        assert_eq!(
            next_day("0 3 * * 5-7"),
            Weekday::Sat,
            "Friday 03:00 has passed"
        );
        assert_eq!(next_day("0 3 * * MON"), Weekday::Mon);
        assert_eq!(next_day("0 3 * * 2,4"), Weekday::Tue);
        assert_eq!(unix_weekdays_to_cron_crate("1-5/2"), "2-6/2");
        assert_eq!(unix_weekdays_to_cron_crate("*"), "*");
    }

    #[test]
    fn five_field_cron_gets_a_seconds_field() {
        let schedule = parse_cron("*/5 * * * *").expect("valid");
        let start = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 1, 0)
            .single()
            .expect("valid time");
        let next = schedule.after(&start).next().expect("a tick");
        assert_eq!(
            next,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 5, 0)
                .single()
                .expect("valid time")
        );
    }

    #[test]
    fn bad_cron_says_what_is_expected() {
        let err = parse_cron("every day").expect_err("invalid");
        assert!(err.to_string().contains("expected 5 fields"), "{err}");
    }

    #[test]
    fn only_the_latest_missed_tick_is_due() {
        let schedule = parse_cron("0 * * * *").expect("valid");
        let last = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid time");
        let now = Utc
            .with_ymd_and_hms(2026, 1, 1, 5, 30, 0)
            .single()
            .expect("valid time");
        assert_eq!(
            latest_due_tick(&schedule, last, now),
            Some(
                Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 0)
                    .single()
                    .expect("valid time")
            )
        );
        assert_eq!(latest_due_tick(&schedule, now, now), None);
    }

    #[test]
    fn a_per_second_schedule_after_a_long_outage_is_still_found() {
        let schedule = parse_cron("* * * * * *").expect("valid");
        let last = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid time");
        let now = Utc
            .with_ymd_and_hms(2026, 1, 20, 0, 0, 0)
            .single()
            .expect("valid time");
        assert_eq!(latest_due_tick(&schedule, last, now), Some(now));
    }
}
