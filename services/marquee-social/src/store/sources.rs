//! When the service first saw each event source: what a review published
//! before then is measured against ([`crate::handler::back_catalogue`]).

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, from_micros, micros};
use crate::error::StoreError;

pub(super) const SCHEMA: [&str; 1] = ["CREATE TABLE IF NOT EXISTS social_sources (
        source TEXT PRIMARY KEY,
        first_seen_at BIGINT NOT NULL
    )"];

impl Store {
    /// When `source` (an event's CloudEvents `source`) was first seen,
    /// recording `now` if this is the first time. The first instant wins
    /// whatever is redelivered or replayed later.
    pub async fn first_seen(
        &self,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        sqlx::query(
            "INSERT INTO social_sources (source, first_seen_at) VALUES ($1, $2) \
             ON CONFLICT (source) DO NOTHING",
        )
        .bind(source)
        .bind(micros(now))
        .execute(&self.pool)
        .await
        .context("Failed to record a source")?;
        let row = sqlx::query("SELECT first_seen_at FROM social_sources WHERE source = $1")
            .bind(source)
            .fetch_one(&self.pool)
            .await
            .context("Failed to read a source")?;
        let at: i64 = row.try_get(0).context("Failed to read a source")?;
        Ok(from_micros(at)?)
    }
}
