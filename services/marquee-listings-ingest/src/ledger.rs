//! The durable record of what was published: one row per screening id with
//! the screening as last published, so a re-poll publishes only real
//! changes (naming the fields) and a cancellation can carry what was listed.
//! Written only after the bus accepted the event, so a crash in between
//! re-publishes (consumers are idempotent) rather than loses.
//!
//! Beside it, the reviews table the film matcher reads, filled from the
//! `reviews` topic.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::{ReviewId, Screening};
use sqlx::{AnyPool, Row};

/// One ledger row.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The screening as last published.
    pub(crate) screening: Screening,
    /// Bumped on every event after the first: the iCalendar `SEQUENCE`.
    pub(crate) sequence: u32,
    /// Whether the last event was `screening.cancelled`.
    pub(crate) cancelled: bool,
}

/// Reviews by film title key: `(review id, year)`.
pub(crate) type ReviewIndex = HashMap<String, Vec<(ReviewId, Option<u16>)>>;

/// The ledger tables in the service database.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    pool: AnyPool,
}

impl Ledger {
    /// Opens the database and creates the tables if needed.
    pub(crate) async fn open(url: &str) -> anyhow::Result<Self> {
        let pool = marquee_runtime::database::connect(url).await?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS listings_ingest_ledger (
                id TEXT PRIMARY KEY,
                source TEXT NOT NULL,
                screening TEXT NOT NULL,
                starts_at BIGINT NOT NULL,
                sequence BIGINT NOT NULL,
                cancelled BIGINT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS listings_ingest_ledger_source
                ON listings_ingest_ledger (source, cancelled, starts_at)",
            "CREATE TABLE IF NOT EXISTS listings_ingest_reviews (
                review_id TEXT PRIMARY KEY,
                title_key TEXT NOT NULL,
                year BIGINT NOT NULL
            )",
        ] {
            sqlx::query(ddl)
                .execute(&pool)
                .await
                .context("Failed to create the listings-ingest ledger tables")?;
        }
        Ok(Self { pool })
    }

    /// Whether the database answers.
    pub(crate) async fn check(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("Failed to reach the listings-ingest ledger database")?;
        Ok(())
    }

    /// The row for `id`, if any.
    pub(crate) async fn get(&self, id: &str) -> anyhow::Result<Option<Entry>> {
        let row = sqlx::query(
            "SELECT screening, sequence, cancelled FROM listings_ingest_ledger WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("Failed to read the ledger")?;
        row.map(|row| entry(&row)).transpose()
    }

    /// The live screenings of `source` that start after `now`: the ones
    /// whose disappearance means cancellation.
    pub(crate) async fn upcoming(
        &self,
        source: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Entry>> {
        let rows = sqlx::query(
            "SELECT screening, sequence, cancelled FROM listings_ingest_ledger
             WHERE source = $1 AND cancelled = 0 AND starts_at > $2",
        )
        .bind(source)
        .bind(now.timestamp())
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the ledger")?;
        rows.iter().map(entry).collect()
    }

    /// Records `entry` as published by `source`.
    pub(crate) async fn put(&self, source: &str, entry: &Entry) -> anyhow::Result<()> {
        let screening =
            serde_json::to_string(&entry.screening).context("Failed to encode a screening")?;
        sqlx::query(
            "INSERT INTO listings_ingest_ledger (id, source, screening, starts_at, sequence, cancelled)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET
                source = excluded.source, screening = excluded.screening,
                starts_at = excluded.starts_at, sequence = excluded.sequence,
                cancelled = excluded.cancelled",
        )
        .bind(entry.screening.id.as_str())
        .bind(source)
        .bind(screening)
        .bind(entry.screening.starts_at.timestamp())
        .bind(i64::from(entry.sequence))
        .bind(i64::from(entry.cancelled))
        .execute(&self.pool)
        .await
        .context("Failed to write the ledger")?;
        Ok(())
    }

    /// Records (or re-records) a review's film; idempotent.
    pub(crate) async fn put_review(
        &self,
        id: &ReviewId,
        title_key: &str,
        year: Option<u16>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO listings_ingest_reviews (review_id, title_key, year) VALUES ($1, $2, $3)
             ON CONFLICT (review_id) DO UPDATE SET title_key = excluded.title_key, year = excluded.year",
        )
        .bind(id.as_str())
        .bind(title_key)
        .bind(year.map_or(0, i64::from))
        .execute(&self.pool)
        .await
        .context("Failed to record a review")?;
        Ok(())
    }

    /// Forgets a withdrawn review; idempotent.
    pub(crate) async fn forget_review(&self, id: &ReviewId) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM listings_ingest_reviews WHERE review_id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .context("Failed to forget a review")?;
        Ok(())
    }

    /// Every known review by title key.
    pub(crate) async fn reviews(&self) -> anyhow::Result<ReviewIndex> {
        let rows = sqlx::query(
            "SELECT review_id, title_key, year FROM listings_ingest_reviews ORDER BY review_id",
        )
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the reviews")?;
        let mut index = ReviewIndex::new();
        for row in rows {
            let id: String = row.try_get("review_id")?;
            let key: String = row.try_get("title_key")?;
            let year: i64 = row.try_get("year")?;
            let id = ReviewId::parse(&id).map_err(anyhow::Error::msg)?;
            index
                .entry(key)
                .or_default()
                .push((id, u16::try_from(year).ok().filter(|y| *y > 0)));
        }
        Ok(index)
    }
}

fn entry(row: &sqlx::any::AnyRow) -> anyhow::Result<Entry> {
    let screening: String = row.try_get("screening")?;
    let sequence: i64 = row.try_get("sequence")?;
    let cancelled: i64 = row.try_get("cancelled")?;
    Ok(Entry {
        screening: serde_json::from_str(&screening).context("Corrupt screening in the ledger")?,
        sequence: u32::try_from(sequence).unwrap_or(u32::MAX),
        cancelled: cancelled != 0,
    })
}
