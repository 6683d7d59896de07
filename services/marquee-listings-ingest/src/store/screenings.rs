//! The ledger of what was published: one row per screening id with the
//! screening as last published, so a re-poll publishes only real changes
//! (naming the fields) and a cancellation can carry what was listed.
//! Written only after the bus accepted the event, so a crash in between
//! re-publishes (consumers are idempotent) rather than loses.

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::Screening;
use sqlx::Row;

use super::Store;

/// One ledger row.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The source that last listed it.
    pub(crate) source: String,
    /// The screening as last published.
    pub(crate) screening: Screening,
    /// Bumped on every event after the first: the iCalendar `SEQUENCE`.
    pub(crate) sequence: u32,
    /// Whether the last event was `screening.cancelled`.
    pub(crate) cancelled: bool,
}

impl Store {
    /// The row for `id`, if any.
    pub(crate) async fn get(&self, id: &str) -> anyhow::Result<Option<Entry>> {
        let row = sqlx::query(
            "SELECT source, screening, sequence, cancelled FROM listings_ingest_ledger WHERE id = $1",
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
            "SELECT source, screening, sequence, cancelled FROM listings_ingest_ledger
             WHERE source = $1 AND cancelled = 0 AND starts_at > $2",
        )
        .bind(source)
        .bind(now.timestamp())
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the ledger")?;
        rows.iter().map(entry).collect()
    }

    /// Records `entry` as published by its source.
    pub(crate) async fn put(&self, entry: &Entry) -> anyhow::Result<()> {
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
        .bind(&entry.source)
        .bind(screening)
        .bind(entry.screening.starts_at.timestamp())
        .bind(i64::from(entry.sequence))
        .bind(i64::from(entry.cancelled))
        .execute(&self.pool)
        .await
        .context("Failed to write the ledger")?;
        Ok(())
    }
}

fn entry(row: &sqlx::any::AnyRow) -> anyhow::Result<Entry> {
    let screening: String = row.try_get("screening")?;
    let sequence: i64 = row.try_get("sequence")?;
    let cancelled: i64 = row.try_get("cancelled")?;
    Ok(Entry {
        source: row.try_get("source")?,
        screening: serde_json::from_str(&screening).context("Corrupt screening in the ledger")?,
        sequence: u32::try_from(sequence).unwrap_or(u32::MAX),
        cancelled: cancelled != 0,
    })
}
