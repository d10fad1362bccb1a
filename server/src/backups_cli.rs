//! `storeflow backups …`: store backups from the shell (as an operator: every store's).

use clap::Subcommand;
use serde::Deserialize;
use serde_json::Value;
use storeflow_engine::Engine;
use storeflow_executors::backup::{BackupSubject, start_backup};
use storeflow_executors::store::StoreRunInput;

#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// List backups, newest first (deleted stores' included).
    List {
        /// Only this store's (`store-1a2b3c4d`).
        #[arg(long)]
        store: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Back a ready store up now (the workers need BACKUP_S3_BUCKET).
    Create {
        /// The store's id (`storeflow runs list` and the API show it).
        store: String,
    },
}

#[derive(Debug, sqlx::FromRow, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: uuid::Uuid,
    store_id: String,
    store_name: String,
    status: String,
    run_status: Option<String>,
    trigger: String,
    size_bytes: Option<i64>,
    created_at: chrono::DateTime<chrono::Utc>,
    error: Option<String>,
}

pub async fn run(engine: &Engine, command: BackupsCommand) -> anyhow::Result<()> {
    match command {
        BackupsCommand::List { store, limit, json } => {
            let rows: Vec<Listed> = sqlx::query_as(
                "SELECT b.id, b.store_id, b.store_name, b.status, r.status AS run_status, \
                        b.trigger, b.size_bytes, b.created_at, coalesce(b.error, r.error) AS error \
                 FROM store_backups b LEFT JOIN LATERAL workflow_run_summary(b.run_id) r ON true \
                 WHERE ($1::text IS NULL OR b.store_id = $1) ORDER BY b.created_at DESC LIMIT $2",
            )
            .bind(&store)
            .bind(limit.clamp(1, 1000))
            .fetch_all(engine.pool())
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if rows.is_empty() {
                println!("no backups");
                return Ok(());
            }
            println!(
                "{:<36}  {:<14}  {:<9}  {:<9}  {:>10}  CREATED",
                "BACKUP", "STORE", "STATUS", "TRIGGER", "SIZE"
            );
            for b in rows {
                // A backup whose run ended without completing it failed, whatever its row says.
                let status = match (b.status.as_str(), b.run_status.as_deref()) {
                    ("running", Some("failed" | "cancelled")) => "failed",
                    (status, _) => status,
                };
                let size = b
                    .size_bytes
                    .map(|s| format!("{:.1} MiB", s as f64 / 1048576.0))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<36}  {:<14}  {:<9}  {:<9}  {:>10}  {}",
                    b.id,
                    b.store_id,
                    status,
                    b.trigger,
                    size,
                    b.created_at.to_rfc3339()
                );
                if status == "failed"
                    && let Some(error) = b.error
                {
                    println!("    {}", error.chars().take(200).collect::<String>());
                }
            }
        }
        BackupsCommand::Create { store } => {
            let row: Option<(uuid::Uuid, String, String, String, Option<Value>)> = sqlx::query_as(
                "SELECT s.owner_id, s.name, s.engine::text, s.status::text, r.input \
                 FROM stores s LEFT JOIN LATERAL workflow_run_summary(s.current_run_id) r ON true \
                 WHERE s.id = $1",
            )
            .bind(&store)
            .fetch_optional(engine.pool())
            .await?;
            let Some((owner_id, name, engine_name, status, input)) = row else {
                anyhow::bail!("no store {store}; `storeflow runs list` shows stores' runs");
            };
            if status != "ready" {
                anyhow::bail!("store {store} is {status}; only ready stores can be backed up");
            }
            let input: StoreRunInput = input
                .and_then(|input| StoreRunInput::deserialize(&input).ok())
                .ok_or_else(|| anyhow::anyhow!("store {store} has no run input the API wrote"))?;
            let subject = BackupSubject {
                store_id: &store,
                owner_id,
                name: &name,
                engine: &engine_name,
                input: &input,
            };
            let mut tx = engine.pool().begin().await?;
            let started = start_backup(&mut tx, engine, &subject, "manual", None, None)
                .await
                .map_err(|err| anyhow::anyhow!(err))?;
            tx.commit().await?;
            println!(
                "backup {} of {store} started (run {}); follow it with `storeflow backups list --store {store}`",
                started.backup_id, started.run_id
            );
        }
    }
    Ok(())
}
