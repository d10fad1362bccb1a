//! What a benchmark of the engine reads back about the runs it started (`storeflow bench`):
//! the runs share one subject, and these reads count and time them from the engine's own
//! records, so the figures are the database's and not the client's.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::engine::Engine;
use crate::error::Result;

/// When the runs about a subject finished, from their own timestamps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinishTimes {
    /// When the last of them finished; none while none has.
    pub last_finish: Option<DateTime<Utc>>,
    /// Median time from enqueue to finish, in seconds.
    pub p50_seconds: f64,
    /// 99th percentile of the time from enqueue to finish, in seconds.
    pub p99_seconds: f64,
}

/// What the runs about a subject completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completions {
    /// Runs that succeeded.
    pub succeeded_runs: i64,
    /// Succeeded step attempts recorded.
    pub step_completions: i64,
    /// Distinct (run, step) pairs among them: equal to `step_completions` when no step
    /// completed twice.
    pub distinct_steps: i64,
}

impl Engine {
    /// Runs about `subject` that are not finished yet: queued, waiting, or leased. Reads only
    /// the runnable and lease indexes, not the history.
    pub async fn unfinished_runs_about(&self, subject: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM workflow_runs WHERE subject = $1 \
             AND (status IN ('queued', 'waiting') OR lease_expires_at IS NOT NULL)",
        )
        .bind(subject)
        .fetch_one(self.pool())
        .await?)
    }

    /// Enqueue-to-finish times of the finished runs about `subject`.
    pub async fn finish_times_about(&self, subject: &str) -> Result<FinishTimes> {
        let (last_finish, p50, p99): (Option<DateTime<Utc>>, Option<f64>, Option<f64>) =
            sqlx::query_as(
                "SELECT max(finished_at), \
                        percentile_cont(0.5) WITHIN GROUP \
                          (ORDER BY extract(epoch FROM finished_at - created_at)), \
                        percentile_cont(0.99) WITHIN GROUP \
                          (ORDER BY extract(epoch FROM finished_at - created_at)) \
                 FROM workflow_runs WHERE subject = $1 AND finished_at IS NOT NULL",
            )
            .bind(subject)
            .fetch_one(self.pool())
            .await?;
        Ok(FinishTimes {
            last_finish,
            p50_seconds: p50.unwrap_or_default(),
            p99_seconds: p99.unwrap_or_default(),
        })
    }

    /// What the runs about `subject` completed, to check that every step completed once.
    pub async fn completions_about(&self, subject: &str) -> Result<Completions> {
        let (succeeded_runs, step_completions, distinct_steps): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM workflow_runs \
                          WHERE subject = $1 AND status = 'succeeded'), \
                        count(*), count(DISTINCT (a.run_id, a.step_index)) \
                 FROM workflow_step_attempts a JOIN workflow_runs r ON r.id = a.run_id \
                 WHERE r.subject = $1 AND a.outcome = 'succeeded'",
        )
        .bind(subject)
        .fetch_one(self.pool())
        .await?;
        Ok(Completions {
            succeeded_runs,
            step_completions,
            distinct_steps,
        })
    }

    /// Succeeded step attempts kept in the database, of every run (history not yet pruned).
    pub async fn retained_step_completions(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM workflow_step_attempts WHERE outcome = 'succeeded'",
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// Deletes every run about one of `subjects`, finished or not, with its attempts and
    /// events, on the caller's connection (in its transaction): for tools that remove what
    /// they created, such as a benchmark's stores. A worker still holding one of them finds
    /// its checkpoint refused. Returns how many runs were deleted.
    pub async fn delete_runs_about(
        &self,
        conn: &mut PgConnection,
        subjects: &[String],
    ) -> Result<u64> {
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("DELETE FROM workflow_runs WHERE subject = ANY($1) RETURNING id")
                .bind(subjects)
                .fetch_all(&mut *conn)
                .await?;
        crate::runs::delete_run_records(conn, &ids).await?;
        Ok(ids.len() as u64)
    }
}
