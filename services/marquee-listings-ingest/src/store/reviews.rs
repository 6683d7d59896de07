//! The reviewed films listings are matched against, filled from the
//! `reviews` topic: (review id, title key, year).

use std::collections::HashMap;

use anyhow::Context;
use marquee_events::ReviewId;
use sqlx::Row;

use super::Store;

/// Reviews by film title key: `(review id, year)`.
pub(crate) type ReviewIndex = HashMap<String, Vec<(ReviewId, Option<u16>)>>;

impl Store {
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
