//! The ledger of what was published: one row per review id with the hash
//! of its normalized content, so a re-poll publishes only real changes.
//! Written only after the bus accepted the event, so a crash in between
//! re-publishes (consumers are idempotent) rather than loses.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::ReviewId;
use sqlx::Row;

use super::Store;

/// Whether, and how, a review was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Withdrawn {
    /// Live.
    No,
    /// Gone from its source past the grace period; undone if it reappears.
    Absent,
    /// Withdrawn by the CMS; stays so unless its content changes.
    ByCms,
}

impl Withdrawn {
    fn code(self) -> i64 {
        match self {
            Self::No => 0,
            Self::Absent => 1,
            Self::ByCms => 2,
        }
    }

    fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Absent,
            2 => Self::ByCms,
            _ => Self::No,
        }
    }
}

/// One ledger row.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    /// The source that last listed (or published) it.
    pub(crate) source: String,
    pub(crate) content_hash: String,
    /// Hash per field, to name the fields an update changed.
    pub(crate) field_hashes: BTreeMap<String, String>,
    pub(crate) published_at: DateTime<Utc>,
    /// `updated_at` of the version last published (absent in rows written
    /// before it was kept): the next version's is never earlier, so no
    /// version can hide a later edit from the feeds.
    pub(crate) updated_at: Option<DateTime<Utc>>,
    /// Unix milliseconds when a poll last listed the review.
    pub(crate) last_seen: i64,
    pub(crate) withdrawn: Withdrawn,
}

impl Store {
    /// The row for `id`, if any.
    pub(crate) async fn get(&self, id: &ReviewId) -> anyhow::Result<Option<Entry>> {
        let row = sqlx::query(
            "SELECT id, source, content_hash, field_hashes, published_at, updated_at, last_seen, withdrawn
             FROM reviews_ingest_ledger WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .context("Failed to read the ledger")?;
        row.map(|row| entry(&row)).transpose()
    }

    /// The live rows of `source`, for the withdrawal sweep.
    pub(crate) async fn live_in(&self, source: &str) -> anyhow::Result<Vec<Entry>> {
        let rows = sqlx::query(
            "SELECT id, source, content_hash, field_hashes, published_at, updated_at, last_seen, withdrawn
             FROM reviews_ingest_ledger WHERE source = $1 AND withdrawn = 0",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the ledger")?;
        rows.iter().map(entry).collect()
    }

    /// Records `entry` as published by its source.
    pub(crate) async fn upsert(&self, entry: &Entry) -> anyhow::Result<()> {
        let field_hashes =
            serde_json::to_string(&entry.field_hashes).context("Failed to encode field hashes")?;
        sqlx::query(
            "INSERT INTO reviews_ingest_ledger
                (id, source, content_hash, field_hashes, published_at, updated_at, last_seen, withdrawn)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET
                source = excluded.source, content_hash = excluded.content_hash,
                field_hashes = excluded.field_hashes, published_at = excluded.published_at,
                updated_at = excluded.updated_at, last_seen = excluded.last_seen,
                withdrawn = excluded.withdrawn",
        )
        .bind(&entry.id)
        .bind(&entry.source)
        .bind(&entry.content_hash)
        .bind(field_hashes)
        .bind(entry.published_at.to_rfc3339())
        .bind(entry.updated_at.map(|at| at.to_rfc3339()))
        .bind(entry.last_seen)
        .bind(entry.withdrawn.code())
        .execute(&self.pool)
        .await
        .context("Failed to write the ledger")?;
        Ok(())
    }

    /// Notes that `source` still lists `id`.
    pub(crate) async fn touch(&self, id: &str, source: &str, now_ms: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE reviews_ingest_ledger SET last_seen = $1, source = $2 WHERE id = $3")
            .bind(now_ms)
            .bind(source)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("Failed to write the ledger")?;
        Ok(())
    }

    /// Marks `id` withdrawn, creating the row if the ledger never saw it.
    pub(crate) async fn withdraw(
        &self,
        id: &str,
        source: &str,
        how: Withdrawn,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO reviews_ingest_ledger
                (id, source, content_hash, field_hashes, published_at, last_seen, withdrawn)
             VALUES ($1, $2, '', '{}', $3, 0, $4)
             ON CONFLICT (id) DO UPDATE SET withdrawn = excluded.withdrawn",
        )
        .bind(id)
        .bind(source)
        .bind(self.clock.now().to_rfc3339())
        .bind(how.code())
        .execute(&self.pool)
        .await
        .context("Failed to write the ledger")?;
        Ok(())
    }
}

fn entry(row: &sqlx::any::AnyRow) -> anyhow::Result<Entry> {
    let field_hashes: String = row.try_get("field_hashes")?;
    let published_at: String = row.try_get("published_at")?;
    let updated_at: Option<String> = row.try_get("updated_at")?;
    Ok(Entry {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        content_hash: row.try_get("content_hash")?,
        field_hashes: serde_json::from_str(&field_hashes)
            .context("Corrupt field hashes in the ledger")?,
        published_at: DateTime::parse_from_rfc3339(&published_at)
            .context("Corrupt date in the ledger")?
            .with_timezone(&Utc),
        updated_at: updated_at
            .map(|at| DateTime::parse_from_rfc3339(&at).map(|at| at.with_timezone(&Utc)))
            .transpose()
            .context("Corrupt date in the ledger")?,
        last_seen: row.try_get("last_seen")?,
        withdrawn: Withdrawn::from_code(row.try_get("withdrawn")?),
    })
}
