//! The ledger of what was published: one row per screening id with the
//! screening as last published, so a re-poll publishes only real changes
//! (naming the fields) and a cancellation can carry what was listed.
//! Written only after the bus accepted the events, so a crash in between
//! re-publishes (consumers are idempotent) rather than loses.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::Screening;
use sqlx::Row;

use super::Store;

/// Ids looked up per query: far below SQLite's and PostgreSQL's limits on
/// bound values.
const LOOKUP: usize = 500;
/// Rows per upsert statement: six values each, under SQLite's oldest limit
/// of 999 bound values.
const ROWS_PER_UPSERT: usize = 100;

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

    /// The rows for `ids` that exist, by id: one query per [`LOOKUP`] ids.
    pub(crate) async fn entries(&self, ids: &[&str]) -> anyhow::Result<HashMap<String, Entry>> {
        let mut entries = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(LOOKUP) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT id, source, screening, sequence, cancelled FROM listings_ingest_ledger \
                 WHERE id IN ({})",
                placeholders.join(", ")
            );
            let rows = chunk
                .iter()
                .fold(sqlx::query(&sql), |query, id| query.bind(*id))
                .fetch_all(&self.pool)
                .await
                .context("Failed to read the ledger")?;
            for row in &rows {
                entries.insert(row.try_get("id")?, entry(row)?);
            }
        }
        Ok(entries)
    }

    /// Records `entries` (distinct ids) as published by their sources, in
    /// one transaction of [`ROWS_PER_UPSERT`] rows a statement.
    pub(crate) async fn put_all(&self, entries: &[Entry]) -> anyhow::Result<()> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .context("Failed to write the ledger")?;
        for rows in entries.chunks(ROWS_PER_UPSERT) {
            let values: Vec<String> = (0..rows.len())
                .map(|row| {
                    let columns: Vec<String> = (1..=6)
                        .map(|column| format!("${}", row * 6 + column))
                        .collect();
                    format!("({})", columns.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO listings_ingest_ledger (id, source, screening, starts_at, sequence, cancelled)
                 VALUES {}
                 ON CONFLICT (id) DO UPDATE SET
                    source = excluded.source, screening = excluded.screening,
                    starts_at = excluded.starts_at, sequence = excluded.sequence,
                    cancelled = excluded.cancelled",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for entry in rows {
                let screening = serde_json::to_string(&entry.screening)
                    .context("Failed to encode a screening")?;
                query = query
                    .bind(entry.screening.id.as_str())
                    .bind(&entry.source)
                    .bind(screening)
                    .bind(entry.screening.starts_at.timestamp())
                    .bind(i64::from(entry.sequence))
                    .bind(i64::from(entry.cancelled));
            }
            query
                .execute(&mut *transaction)
                .await
                .context("Failed to write the ledger")?;
        }
        transaction
            .commit()
            .await
            .context("Failed to write the ledger")
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(n: usize) -> Entry {
        let screening = serde_json::from_value(serde_json::json!({
            "id": format!("screening-{n}"),
            "venue": { "id": "venue", "name": "Venue", "address": null },
            "film": { "title": "Vertigo", "year": 1958, "director": null, "runtime_minutes": null },
            "starts_at": "2026-12-05T19:30:00Z",
            "starts_at_local": "2026-12-05T19:30:00",
            "time_zone": "Europe/London",
            "screen": format!("Screen {}", n % 4),
            "format": null, "strand": null, "extras": [], "accessibility": [],
            "booking_url": null, "sold_out": false, "review_id": null
        }))
        .unwrap();
        Entry {
            source: "source".to_owned(),
            screening,
            sequence: 0,
            cancelled: false,
        }
    }

    fn ids(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|n| format!("screening-{n}")).collect()
    }

    #[tokio::test]
    async fn rows_beyond_one_statement_and_one_lookup_are_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.sqlite").display());
        let store = Store::open(&url).await.unwrap();
        let written: Vec<Entry> = (0..1_234).map(entry).collect();
        store.put_all(&written).await.unwrap();

        // Ids the ledger lacks are left out of what it finds.
        let asked = ids(0..1_300);
        let found = store
            .entries(&asked.iter().map(String::as_str).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(found.len(), 1_234);
        for entry in &written {
            let id = entry.screening.id.as_str();
            assert_eq!(found[id].screening, entry.screening, "{id}");
        }

        // Writing rows again updates them in place.
        let rewritten: Vec<Entry> = written[..150]
            .iter()
            .cloned()
            .map(|entry| Entry {
                sequence: 1,
                cancelled: true,
                ..entry
            })
            .collect();
        store.put_all(&rewritten).await.unwrap();
        let found = store
            .entries(&["screening-149", "screening-150"])
            .await
            .unwrap();
        let (updated, kept) = (&found["screening-149"], &found["screening-150"]);
        assert_eq!((updated.sequence, updated.cancelled), (1, true));
        assert_eq!((kept.sequence, kept.cancelled), (0, false));
        assert_eq!(
            store.get("screening-1233").await.unwrap().unwrap().sequence,
            0
        );
    }
}
