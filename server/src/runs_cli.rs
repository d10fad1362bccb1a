//! `storeflow runs …`: operate workflow runs from the shell, over the engine's library API.

use clap::Subcommand;
use serde_json::Value;
use storeflow_engine::{Engine, NewRun, RunDetail, RunFilter, RunStatus, RunSummary, StepRef};
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Enqueue a run; prints its id. Workers pick it up (`storeflow worker` or `up`).
    Start {
        /// Workflow name, e.g. selftest (`GET /api/v1/workflows` lists them).
        workflow: String,
        /// Input as a JSON object.
        #[arg(long, default_value = "{}")]
        input: String,
        /// A second start with the same key returns the first run.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Version to start (default: the latest).
        #[arg(long)]
        version: Option<i32>,
    },
    /// Show one run with its steps and attempt history.
    Show {
        /// The run's id (as `runs list` or `runs start` print it).
        run: Uuid,
        /// Print the run as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List runs, newest first.
    List {
        /// Only runs with this status.
        #[arg(long)]
        status: Option<RunStatus>,
        /// Only runs of this workflow, e.g. provision-woocommerce.
        #[arg(long)]
        workflow: Option<String>,
        /// Only runs about this subject, e.g. a store id.
        #[arg(long)]
        subject: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Retry the failed step of a failed run (by name or 1-based number); the run resumes.
    RetryStep {
        /// The failed run's id.
        run: Uuid,
        /// The step to retry: its name (e.g. wait-ready) or its 1-based number.
        step: StepRef,
    },
    /// Cancel a run (a running step is cancelled cooperatively).
    Cancel {
        /// The run's id.
        run: Uuid,
    },
}

fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

pub async fn run(engine: &Engine, command: RunsCommand) -> anyhow::Result<()> {
    match command {
        RunsCommand::Start {
            workflow,
            input,
            idempotency_key,
            version,
        } => {
            let input: Value = serde_json::from_str(&input)
                .map_err(|err| anyhow::anyhow!("--input is not valid JSON: {err}"))?;
            let mut run =
                NewRun::new(workflow, input).request_id(format!("cli-{}", Uuid::new_v4()));
            run.idempotency_key = idempotency_key;
            run.version = version;
            let enqueued = engine.enqueue_now(run).await?;
            println!("{}", enqueued.run_id);
            if !enqueued.created {
                eprintln!("(an existing run with this idempotency key was returned)");
            }
        }
        RunsCommand::Show { run, json } => {
            let detail = engine.get_run(run).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print!("{}", render_detail(&detail));
            }
        }
        RunsCommand::List {
            status,
            workflow,
            subject,
            limit,
            json,
        } => {
            let filter = RunFilter {
                status,
                workflow,
                subject,
                limit: Some(limit),
                ..RunFilter::default()
            };
            let runs = engine.list_runs(&filter).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else {
                print!("{}", render_list(&runs));
            }
        }
        RunsCommand::RetryStep { run, step } => {
            engine.retry_step(run, &step, Some(&actor())).await?;
            println!("step {step} of run {run} will be retried; the run resumes from it");
        }
        RunsCommand::Cancel { run } => match engine.cancel_run(run, Some(&actor())).await? {
            RunStatus::Cancelled => println!("run {run} cancelled"),
            _ => println!("run {run}: cancellation requested; the running step is being stopped"),
        },
    }
    Ok(())
}

fn render_list(runs: &[RunSummary]) -> String {
    if runs.is_empty() {
        return "no runs\n".into();
    }
    let mut out = format!(
        "{:<36}  {:<20}  {:<10}  {:>9}  {:<20}  {}\n",
        "ID", "WORKFLOW", "STATUS", "STEP", "CREATED", "SUBJECT"
    );
    for run in runs {
        let step = format!(
            "{}/{}",
            (run.current_step + 1).min(run.step_count),
            run.step_count
        );
        out.push_str(&format!(
            "{:<36}  {:<20}  {:<10}  {:>9}  {:<20}  {}\n",
            run.id,
            format!("{} v{}", run.workflow, run.version),
            run.status,
            step,
            run.created_at.format("%Y-%m-%d %H:%M:%S"),
            run.subject.as_deref().unwrap_or("-"),
        ));
    }
    out
}

fn render_detail(run: &RunDetail) -> String {
    let s = &run.summary;
    let mut out = format!(
        "run {}  {} v{}  {}  ({}% done)\n",
        s.id, s.workflow, s.version, s.status, run.progress
    );
    out.push_str(&format!("created {}", s.created_at.to_rfc3339()));
    if let Some(finished) = s.finished_at {
        out.push_str(&format!(
            "  finished {} ({} ms)",
            finished.to_rfc3339(),
            (finished - s.created_at).num_milliseconds()
        ));
    }
    out.push('\n');
    if let Some(request) = &s.request_id {
        out.push_str(&format!("request {request}\n"));
    }
    if let Some(error) = &s.error {
        out.push_str(&format!("error: {error}\n"));
    }
    if run.cancel_requested && !s.status.is_final() {
        out.push_str("cancellation requested\n");
    }
    out.push_str(&format!(
        "\n{:>4}  {:<24}  {:<10}  {:>8}  {:>9}  {}\n",
        "#", "STEP", "STATUS", "ATTEMPTS", "DURATION", "ERROR"
    ));
    for step in &run.steps {
        if step.status == storeflow_engine::StepStatus::Pending
            && step.attempts == 0
            && run.steps.len() > 20
        {
            continue;
        }
        let status = serde_json::to_value(step.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:>4}  {:<24}  {:<10}  {:>8}  {:>9}  {}\n",
            step.index + 1,
            step.name,
            status,
            format!("{}/{}", step.attempts, step.max_attempts),
            step.duration_ms
                .map(|d| format!("{d} ms"))
                .unwrap_or_default(),
            step.error.as_deref().unwrap_or(""),
        ));
        if step.history.len() > 1 || step.history.iter().any(|a| a.outcome != "succeeded") {
            for attempt in &step.history {
                out.push_str(&format!(
                    "        attempt {:<3} {:<10} {:>6} ms  worker {}  {}\n",
                    attempt.attempt,
                    attempt.outcome,
                    attempt.duration_ms,
                    attempt.worker_id.map(|w| w.to_string()).unwrap_or_default(),
                    attempt.error.as_deref().unwrap_or(""),
                ));
            }
        }
    }
    out
}
