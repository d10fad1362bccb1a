//! `storeflow schedules …`: cron schedules from the shell.

use clap::Subcommand;
use serde_json::Value;
use storeflow_engine::{Engine, ScheduleSpec};

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// List schedules with their next tick.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create or update a schedule.
    Set {
        /// The schedule's name (unique), e.g. reap-failed-stores.
        name: String,
        /// Cron expression, 5 fields (`0 3 * * *`) or 6-7 with seconds first; UTC.
        #[arg(long)]
        cron: String,
        /// The workflow each tick starts.
        #[arg(long)]
        workflow: String,
        /// Input of each run, a JSON object.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Enable a schedule (ticks missed while it was disabled do not fire).
    Enable {
        /// The schedule's name (`schedules list` shows them).
        name: String,
    },
    /// Disable a schedule.
    Disable {
        /// The schedule's name (`schedules list` shows them).
        name: String,
    },
}

pub async fn run(engine: &Engine, command: SchedulesCommand) -> anyhow::Result<()> {
    match command {
        SchedulesCommand::List { json } => {
            let schedules = engine.list_schedules().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&schedules)?);
            } else if schedules.is_empty() {
                println!("no schedules");
            } else {
                println!(
                    "{:<24}  {:<16}  {:<20}  {:<8}  NEXT TICK",
                    "NAME", "CRON", "WORKFLOW", "ENABLED"
                );
                for s in schedules {
                    println!(
                        "{:<24}  {:<16}  {:<20}  {:<8}  {}",
                        s.name,
                        s.cron,
                        s.workflow,
                        s.enabled,
                        s.next_tick_at
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_else(|| "-".into())
                    );
                }
            }
        }
        SchedulesCommand::Set {
            name,
            cron,
            workflow,
            input,
            disabled,
        } => {
            let input: Value = serde_json::from_str(&input)
                .map_err(|err| anyhow::anyhow!("--input is not valid JSON: {err}"))?;
            engine
                .upsert_schedule(&ScheduleSpec {
                    name: name.clone(),
                    cron,
                    workflow,
                    input,
                    enabled: !disabled,
                })
                .await?;
            println!("schedule {name} saved");
        }
        SchedulesCommand::Enable { name } => {
            let s = engine.set_schedule_enabled(&name, true).await?;
            let next = s
                .next_tick_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".into());
            println!("schedule {name} enabled; next tick {next}");
        }
        SchedulesCommand::Disable { name } => {
            engine.set_schedule_enabled(&name, false).await?;
            println!("schedule {name} disabled");
        }
    }
    Ok(())
}
