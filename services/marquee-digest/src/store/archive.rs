//! `digest_archive`: each digest that went out, kept as its web version
//! (no subscriber's links) with the screenings it listed, one per schedule
//! and local date: a later run on the same day replaces the earlier one.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use marquee_events::Screening;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, RunStatus, Store, changed, from_micros, micros, placeholders};

/// The table; `day` is the schedule's local date of the run, `YYYY-MM-DD`.
pub(super) const TABLE: &str = "CREATE TABLE IF NOT EXISTS digest_archive (
    schedule TEXT NOT NULL,
    day TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scheduled_for BIGINT NOT NULL,
    subject TEXT NOT NULL,
    preheader TEXT NOT NULL,
    html TEXT NOT NULL,
    text TEXT NOT NULL,
    listed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (schedule, day)
)";

/// Runs whose digest reached readers, as [`Store::last_sent`] counts them.
const WENT_OUT: [RunStatus; 3] = [RunStatus::Sent, RunStatus::Sending, RunStatus::Paused];

/// One archived digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedDigest {
    /// Its schedule.
    pub schedule: String,
    /// The schedule's local date it went out on.
    pub day: NaiveDate,
    /// The run that sent it.
    pub run_id: String,
    /// Its subject line.
    pub subject: String,
    /// Its preheader.
    pub preheader: String,
    /// The web version.
    pub html: String,
    /// The text part of the web version.
    pub text: String,
    /// When it was archived.
    pub created_at: DateTime<Utc>,
}

fn archived(row: &AnyRow) -> anyhow::Result<ArchivedDigest> {
    let day: String = row.try_get("day")?;
    Ok(ArchivedDigest {
        schedule: row.try_get("schedule")?,
        day: day
            .parse()
            .with_context(|| format!("archived day `{day}`"))?,
        run_id: row.try_get("run_id")?,
        subject: row.try_get("subject")?,
        preheader: row.try_get("preheader")?,
        html: row.try_get("html")?,
        text: row.try_get("text")?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

const COLUMNS: &str =
    "a.schedule, a.day, a.run_id, a.subject, a.preheader, a.html, a.text, a.created_at";

/// The join that keeps only digests that went out (`$1`… their statuses).
fn went_out(first: usize) -> String {
    format!(
        "digest_archive a JOIN digest_runs r ON r.id = a.run_id AND r.status IN ({})",
        placeholders(first, WENT_OUT.len())
    )
}

impl Store {
    /// Keeps `digest` (its run at `scheduled_for`, having listed `listed`),
    /// replacing the schedule's earlier digest of the same day.
    pub async fn archive(
        &self,
        digest: &ArchivedDigest,
        scheduled_for: DateTime<Utc>,
        listed: &[Screening],
    ) -> Result<()> {
        let listed = serde_json::to_string(listed).context("Failed to encode the listings")?;
        let upsert = sqlx::query(
            "INSERT INTO digest_archive
                (schedule, day, run_id, scheduled_for, subject, preheader, html, text, listed, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (schedule, day) DO UPDATE SET
                run_id = excluded.run_id, scheduled_for = excluded.scheduled_for,
                subject = excluded.subject, preheader = excluded.preheader,
                html = excluded.html, text = excluded.text,
                listed = excluded.listed, created_at = excluded.created_at",
        )
        .bind(&digest.schedule)
        .bind(digest.day.to_string())
        .bind(&digest.run_id)
        .bind(micros(scheduled_for))
        .bind(&digest.subject)
        .bind(&digest.preheader)
        .bind(&digest.html)
        .bind(&digest.text)
        .bind(listed)
        .bind(micros(digest.created_at));
        changed(&self.pool, upsert, "Failed to archive a digest").await?;
        Ok(())
    }

    /// The archived digests that went out, newest first, at most `limit`.
    pub async fn archived(&self, limit: i64) -> Result<Vec<ArchivedDigest>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} ORDER BY a.scheduled_for DESC, a.schedule LIMIT ${}",
            went_out(1),
            WENT_OUT.len() + 1
        );
        let mut query = sqlx::query(&sql);
        for status in WENT_OUT {
            query = query.bind(status.as_str());
        }
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("Failed to read the archive")?;
        Ok(rows.iter().map(archived).collect::<anyhow::Result<_>>()?)
    }

    /// The digest of `schedule` that went out on `day`, if any.
    pub async fn archived_on(
        &self,
        schedule: &str,
        day: NaiveDate,
    ) -> Result<Option<ArchivedDigest>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE a.schedule = $4 AND a.day = $5",
            went_out(1)
        );
        let mut query = sqlx::query(&sql);
        for status in WENT_OUT {
            query = query.bind(status.as_str());
        }
        let row = query
            .bind(schedule)
            .bind(day.to_string())
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read an archived digest")?;
        Ok(row.as_ref().map(archived).transpose()?)
    }

    /// What the last digest of `schedule` that went out before `at` listed.
    pub async fn listed_before(&self, schedule: &str, at: DateTime<Utc>) -> Result<Vec<Screening>> {
        let sql = format!(
            "SELECT a.listed FROM {} WHERE a.schedule = $4 AND a.scheduled_for < $5
             ORDER BY a.scheduled_for DESC LIMIT 1",
            went_out(1)
        );
        let mut query = sqlx::query(&sql);
        for status in WENT_OUT {
            query = query.bind(status.as_str());
        }
        let listed: Option<String> = query
            .bind(schedule)
            .bind(micros(at))
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read the last digest's listings")?
            .map(|row| row.try_get(0))
            .transpose()
            .context("listed column")?;
        match listed {
            Some(listed) => Ok(serde_json::from_str(&listed)
                .context("Failed to decode the last digest's listings")?),
            None => Ok(Vec::new()),
        }
    }
}
