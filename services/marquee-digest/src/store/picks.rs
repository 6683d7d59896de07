//! `digest_editor_picks`: the films editors picked for each schedule's
//! digests, as one checked list per schedule.

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_admin::digest::EditorPick;
use sqlx::Row;

use super::{Result, Store, changed, from_micros};
use crate::compose::EditorPicks;

/// The table, in the schema's order.
pub(super) const TABLE: &str = "CREATE TABLE IF NOT EXISTS digest_editor_picks (
    schedule TEXT PRIMARY KEY,
    picks TEXT NOT NULL,
    updated_at BIGINT NOT NULL
)";

/// A schedule's editors' picks as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredPicks {
    /// In the editor's order; none when no editor picked any.
    pub picks: Vec<EditorPick>,
    /// When an editor last saved them.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The editors' picks for `schedule`.
    pub async fn editor_picks(&self, schedule: &str) -> Result<StoredPicks> {
        let row =
            sqlx::query("SELECT picks, updated_at FROM digest_editor_picks WHERE schedule = $1")
                .bind(schedule)
                .fetch_optional(&self.pool)
                .await
                .context("Failed to read the editors' picks")?;
        let Some(row) = row else {
            return Ok(StoredPicks::default());
        };
        let picks: String = row
            .try_get("picks")
            .context("Failed to read the editors' picks")?;
        let updated_at: i64 = row
            .try_get("updated_at")
            .context("Failed to read the editors' picks")?;
        Ok(StoredPicks {
            picks: serde_json::from_str(&picks).context("Failed to read the editors' picks")?,
            updated_at: Some(from_micros(updated_at)),
        })
    }

    /// Replaces the editors' picks for `schedule`; when they were saved.
    pub async fn save_editor_picks(
        &self,
        schedule: &str,
        picks: &EditorPicks,
    ) -> Result<DateTime<Utc>> {
        let now = self.now();
        let json = serde_json::to_string(picks.as_slice()).context("Failed to encode the picks")?;
        let statement = sqlx::query(
            "INSERT INTO digest_editor_picks (schedule, picks, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (schedule) DO UPDATE SET picks = excluded.picks, \
             updated_at = excluded.updated_at",
        )
        .bind(schedule)
        .bind(json)
        .bind(now);
        changed(&self.pool, statement, "Failed to save the editors' picks").await?;
        Ok(from_micros(now))
    }
}
