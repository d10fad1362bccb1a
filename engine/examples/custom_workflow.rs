//! How an engine author adds a step type and a workflow.
//!
//! Run against any PostgreSQL (the schema is migrated):
//!     DATABASE_URL=postgres://USER:PASSWORD@localhost:5432/storeflow \
//!         cargo run -p storeflow-engine --example custom_workflow

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use storeflow_engine::{
    Definition, Engine, NewRun, RetryPolicy, Step, StepContext, StepDef, StepOutcome, Worker,
    WorkerOptions,
};
use tokio_util::sync::CancellationToken;

/// A step carries its parameters; typetag stores it in the definition as
/// `{"type": "greet", "greeting": "..."}`.
#[derive(Debug, Serialize, Deserialize)]
struct Greet {
    greeting: String,
}

#[typetag::serde(name = "greet")]
#[async_trait::async_trait]
impl Step for Greet {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let Some(name) = cx.input.get("name").and_then(|v| v.as_str()) else {
            // Bad input will not get better by retrying.
            return StepOutcome::fatal("input needs a string field `name`");
        };
        StepOutcome::Done(json!({ "message": format!("{}, {name}!", self.greeting) }))
    }
}

/// Durable polling: return `Pending` until the thing you wait for is ready. The run is
/// released between polls (no worker slot held), and polls consume no attempts.
#[derive(Debug, Serialize, Deserialize)]
struct WaitSeconds {
    seconds: i64,
}

#[typetag::serde(name = "wait_seconds")]
#[async_trait::async_trait]
impl Step for WaitSeconds {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let greeted = cx.output_of("greet").cloned().unwrap_or_default();
        let waited = chrono::Utc::now().timestamp() - cx.input["started"].as_i64().unwrap_or(0);
        if waited < self.seconds {
            return StepOutcome::pending(Duration::from_millis(500));
        }
        StepOutcome::Done(json!({ "after": greeted, "waited_seconds": waited }))
    }
}

fn definition() -> Definition {
    Definition::new("hello", 1)
        .step(StepDef::new(
            "greet",
            Greet {
                greeting: "Hello".into(),
            },
        ))
        .step(
            StepDef::new("wait", WaitSeconds { seconds: 2 })
                .timeout(Duration::from_secs(60))
                .retry(RetryPolicy::no_retries()),
        )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL"))?;
    let pool = sqlx::PgPool::connect(&url).await?;
    storeflow_engine::migrate(&pool).await?;
    let engine = Engine::start(pool, vec![definition()]).await?;

    let run = engine
        .enqueue_now(NewRun::new(
            "hello",
            json!({ "name": "storeflow", "started": chrono::Utc::now().timestamp() }),
        ))
        .await?;
    println!("enqueued run {}", run.run_id);

    let stop = CancellationToken::new();
    let worker =
        tokio::spawn(Worker::new(engine.clone(), WorkerOptions::default()).run(stop.clone()));
    loop {
        let detail = engine.get_run(run.run_id).await?;
        if detail.summary.status.is_final() {
            println!("{}", serde_json::to_string_pretty(&detail.state)?);
            println!("status: {}", detail.summary.status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();
    worker.await??;
    Ok(())
}
