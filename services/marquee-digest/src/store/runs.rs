//! `digest_runs`: one row per run of a schedule, unique per due time, created
//! together with its recipients' ledger rows.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

pub use marquee_admin::digest::{Run, RunKind, RunStatus};

use super::{Result, Store, Subscriber, changed, from_micros, micros, placeholders};
use crate::store::DeliveryStatus;

fn run(row: &AnyRow) -> anyhow::Result<Run> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(Run {
        id: row.try_get("id")?,
        schedule: row.try_get("schedule")?,
        scheduled_for: from_micros(row.try_get("scheduled_for")?),
        kind: kind.parse()?,
        status: status.parse()?,
        reviews_since: from_micros(row.try_get("reviews_since")?),
        created_at: from_micros(row.try_get("created_at")?),
        finished_at: row
            .try_get::<Option<i64>, _>("finished_at")?
            .map(from_micros),
        note: row.try_get("note")?,
    })
}

const RUN_COLUMNS: &str =
    "id, schedule, scheduled_for, kind, status, reviews_since, created_at, finished_at, note";

impl Store {
    /// Creates a run unless one exists for `(schedule, scheduled_for)`, and
    /// in the same transaction puts every recipient of `audience` (a list,
    /// as [`Store::audience_page`] reads it; `None` for a run that sends
    /// nothing) in the ledger as pending, so a run never exists without its
    /// recipients. How many it enqueued, or `None` when the run existed.
    pub async fn create_run(&self, run: &Run, audience: Option<&str>) -> Result<Option<u64>> {
        let mut tx = self.pool.begin().await.context("Failed to begin")?;
        let insert = sqlx::query(
            "INSERT INTO digest_runs
                (id, schedule, scheduled_for, kind, status, reviews_since, created_at, finished_at, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (schedule, scheduled_for) DO NOTHING",
        )
        .bind(&run.id)
        .bind(&run.schedule)
        .bind(micros(run.scheduled_for))
        .bind(run.kind.as_str())
        .bind(run.status.as_str())
        .bind(micros(run.reviews_since))
        .bind(micros(run.created_at))
        .bind(run.finished_at.map(micros))
        .bind(&run.note);
        let created = changed(&mut *tx, insert, "Failed to create a run").await?;
        if created == 0 {
            return Ok(None);
        }
        let mut enqueued = 0;
        if let Some(list) = audience {
            let mut after = String::new();
            loop {
                let page = self.audience_page(&mut *tx, list, &after).await?;
                enqueued += enqueue(&mut tx, &run.id, &page.items).await?;
                match page.next {
                    Some(next) => after = next,
                    None => break,
                }
            }
        }
        tx.commit().await.context("Failed to commit a run")?;
        Ok(Some(enqueued))
    }

    /// The run with `id`.
    pub async fn run(&self, id: &str) -> Result<Option<Run>> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM digest_runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("Failed to read a run")?;
        Ok(row.as_ref().map(run).transpose()?)
    }

    /// The newest runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<Run>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM digest_runs ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("Failed to read runs")?;
        Ok(rows.iter().map(run).collect::<anyhow::Result<_>>()?)
    }

    /// Runs left `sending` (by a process that stopped mid-run).
    pub async fn unfinished_runs(&self) -> Result<Vec<Run>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM digest_runs WHERE status = $1 ORDER BY created_at"
        ))
        .bind(RunStatus::Sending.as_str())
        .fetch_all(&self.pool)
        .await
        .context("Failed to read runs")?;
        Ok(rows.iter().map(run).collect::<anyhow::Result<_>>()?)
    }

    /// The latest due time of `schedule` that has a run of any outcome
    /// (runs sent by hand do not count).
    pub async fn last_scheduled(&self, schedule: &str) -> Result<Option<DateTime<Utc>>> {
        // Every kind but `manual`, as before the kinds were typed: a forced
        // run (an operator past the freshness gate) counts as the due one.
        let query = sqlx::query(
            "SELECT MAX(scheduled_for) AS last FROM digest_runs
             WHERE schedule = $1 AND kind <> $2",
        )
        .bind(schedule)
        .bind(RunKind::Manual.as_str());
        let row = query
            .fetch_one(&self.pool)
            .await
            .context("Failed to read the last run")?;
        let last: Option<i64> = row.try_get("last").context("last column")?;
        Ok(last.map(from_micros))
    }

    /// Where the last digest of `schedule` that went out stopped collecting reviews.
    pub async fn last_sent(&self, schedule: &str) -> Result<Option<DateTime<Utc>>> {
        let went_out = [RunStatus::Sent, RunStatus::Sending, RunStatus::Paused];
        // A run that reached nobody (no confirmed reader yet) does not end
        // the window: the first reader's first digest still carries the
        // latest reviews.
        let sql = format!(
            "SELECT MAX(scheduled_for) AS last FROM digest_runs
             WHERE schedule = $1 AND status IN ({})
             AND EXISTS (SELECT 1 FROM digest_deliveries d WHERE d.run_id = digest_runs.id)",
            placeholders(2, went_out.len())
        );
        let mut query = sqlx::query(&sql).bind(schedule);
        for status in went_out {
            query = query.bind(status.as_str());
        }
        let row = query
            .fetch_one(&self.pool)
            .await
            .context("Failed to read the last sent run")?;
        let last: Option<i64> = row.try_get("last").context("last column")?;
        Ok(last.map(from_micros))
    }

    /// When the last run of `schedule` that finished sending did so.
    pub async fn last_success(&self, schedule: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT MAX(finished_at) AS last FROM digest_runs WHERE schedule = $1 AND status = $2",
        )
        .bind(schedule)
        .bind(RunStatus::Sent.as_str())
        .fetch_one(&self.pool)
        .await
        .context("Failed to read the last successful run")?;
        let last: Option<i64> = row.try_get("last").context("last column")?;
        Ok(last.map(from_micros))
    }

    /// Sets a run's status; `from` guards against racing another change.
    pub async fn set_run_status(
        &self,
        id: &str,
        from: &[RunStatus],
        to: RunStatus,
        note: &str,
    ) -> Result<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let finished = matches!(to, RunStatus::Sent | RunStatus::Skipped | RunStatus::DryRun)
            .then(|| self.now());
        let sql = format!(
            "UPDATE digest_runs SET status = $1, note = $2, finished_at = $3
             WHERE id = $4 AND status IN ({})",
            placeholders(5, from.len())
        );
        let query = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(note)
            .bind(finished)
            .bind(id);
        self.execute_guarded(
            query,
            from.iter().map(|s| s.as_str()),
            "Failed to update a run",
        )
        .await
    }

    /// Marks a run sent, only if no recipient is pending any more.
    pub async fn finish_run(&self, id: &str, note: &str) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE digest_runs SET status = $1, note = $2, finished_at = $3
             WHERE id = $4 AND status = $5 AND NOT EXISTS (
                SELECT 1 FROM digest_deliveries WHERE run_id = $4 AND status = $6)",
        )
        .bind(RunStatus::Sent.as_str())
        .bind(note)
        .bind(self.now())
        .bind(id)
        .bind(RunStatus::Sending.as_str())
        .bind(DeliveryStatus::Pending.as_str());
        let moved = changed(&self.pool, statement, "Failed to finish a run").await?;
        Ok(moved > 0)
    }
}

/// Puts `recipients` in run `run_id`'s ledger as pending, in one statement:
/// `$1` the run, `$2` the status, then each recipient's id and address.
/// Returns how many it put there.
async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    recipients: &[Subscriber],
) -> Result<u64> {
    if recipients.is_empty() {
        return Ok(0);
    }
    let rows = (0..recipients.len())
        .map(|i| format!("($1, ${}, ${}, $2, 0)", 2 * i + 3, 2 * i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO digest_deliveries (run_id, subscriber_id, email, status, attempts) VALUES {rows}"
    );
    let mut statement = sqlx::query(&sql)
        .bind(run_id)
        .bind(DeliveryStatus::Pending.as_str());
    for recipient in recipients {
        statement = statement.bind(&recipient.id).bind(recipient.email.as_str());
    }
    changed(&mut **tx, statement, "Failed to enqueue recipients").await
}
