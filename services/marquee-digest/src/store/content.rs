//! `digest_events`, `digest_reviews`, `digest_screenings`: the reviews and
//! screenings consumed from the bus, each event applied once and never over
//! a newer version of its item.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::{Envelope, Review, ReviewEvent, Screening, ScreeningEvent, Venue};
use serde::de::DeserializeOwned;
use sqlx::Row;

use super::{Result, Store, StoreError, changed, micros};

impl Store {
    /// Applies a review event once (by event id), never over a newer version.
    /// Returns whether anything changed.
    #[tracing::instrument(skip_all, fields(event_id = %event.id, review_id = %event.data.review_id()))]
    pub async fn apply_review(&self, event: &Envelope<ReviewEvent>) -> Result<bool> {
        let (review, withdrawn) = match &event.data {
            ReviewEvent::Published(e) => (Some(&e.review), false),
            ReviewEvent::Updated(e) => (Some(&e.review), false),
            ReviewEvent::Withdrawn(_) => (None, true),
        };
        let id = event.data.review_id().as_str().to_owned();
        let published_at = review.map_or(0, |r| micros(r.published_at));
        let body = review
            .map(serde_json::to_string)
            .transpose()
            .context("Failed to encode a review")?
            .unwrap_or_default();
        self.apply_item(
            event,
            "INSERT INTO digest_reviews (review_id, published_at, event_time, withdrawn, review)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (review_id) DO UPDATE SET
                published_at = CASE WHEN excluded.withdrawn = 1
                    THEN digest_reviews.published_at ELSE excluded.published_at END,
                event_time = excluded.event_time,
                withdrawn = excluded.withdrawn,
                review = CASE WHEN excluded.withdrawn = 1
                    THEN digest_reviews.review ELSE excluded.review END
             WHERE digest_reviews.event_time < excluded.event_time",
            (id, published_at, withdrawn, body),
        )
        .await
    }

    /// Applies a screening event once (by event id), never over a newer version.
    #[tracing::instrument(skip_all, fields(event_id = %event.id))]
    pub async fn apply_screening(&self, event: &Envelope<ScreeningEvent>) -> Result<bool> {
        let (screening, cancelled) = match &event.data {
            ScreeningEvent::Listed(e) => (&e.screening, false),
            ScreeningEvent::Changed(e) => (&e.screening, false),
            ScreeningEvent::Cancelled(e) => (&e.screening, true),
        };
        let body = serde_json::to_string(screening).context("Failed to encode a screening")?;
        self.apply_item(
            event,
            "INSERT INTO digest_screenings (screening_id, starts_at, event_time, cancelled, screening)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (screening_id) DO UPDATE SET
                starts_at = excluded.starts_at,
                event_time = excluded.event_time,
                cancelled = excluded.cancelled,
                screening = excluded.screening
             WHERE digest_screenings.event_time < excluded.event_time",
            (
                screening.id.as_str().to_owned(),
                micros(screening.starts_at),
                cancelled,
                body,
            ),
        )
        .await
    }

    /// Records `event`'s id, then runs `upsert` on the item it carries
    /// (bound with the event's time third), once per event id.
    async fn apply_item<T>(
        &self,
        event: &Envelope<T>,
        upsert: &str,
        (id, time, flag, body): (String, i64, bool, String),
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.context("Failed to begin")?;
        let record = sqlx::query(
            "INSERT INTO digest_events (event_id, applied_at) VALUES ($1, $2)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event.id.to_string())
        .bind(self.now());
        let fresh = changed(&mut *tx, record, "Failed to record the event id").await?;
        if fresh == 0 {
            return Ok(false);
        }
        let upsert_item = sqlx::query(upsert)
            .bind(id)
            .bind(time)
            .bind(micros(event.time))
            .bind(i64::from(flag))
            .bind(body);
        let stored = changed(&mut *tx, upsert_item, "Failed to store an item").await?;
        tx.commit().await.context("Failed to commit an item")?;
        Ok(stored > 0)
    }

    /// Live reviews first published in `(since, until]`, newest first.
    pub async fn reviews_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Review>> {
        self.items_between(
            "SELECT review FROM digest_reviews
             WHERE withdrawn = 0 AND published_at > $1 AND published_at <= $2
             ORDER BY published_at DESC, review_id",
            since,
            until,
            "reviews",
        )
        .await
    }

    /// When the oldest of the `n` latest live reviews published by `until`
    /// was published; `None` when there are none (or `n` is 0).
    pub async fn oldest_of_latest_reviews(
        &self,
        n: u32,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(published_at) FROM (
                SELECT published_at FROM digest_reviews
                WHERE withdrawn = 0 AND published_at <= $1
                ORDER BY published_at DESC LIMIT $2
             ) AS latest",
        )
        .bind(micros(until))
        .bind(i64::from(n))
        .fetch_one(&self.pool)
        .await
        .context("Failed to read the latest reviews")?;
        Ok(oldest.map(super::from_micros))
    }

    /// Live screenings starting in `[from, to)`, earliest first.
    pub async fn screenings_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Screening>> {
        self.items_between(
            "SELECT screening FROM digest_screenings
             WHERE cancelled = 0 AND starts_at >= $1 AND starts_at < $2
             ORDER BY starts_at, screening_id",
            from,
            to,
            "screenings",
        )
        .await
    }

    /// The items `sql` selects between the instants `$1` and `$2`, its one
    /// column each item's JSON; `what` names them in the error.
    async fn items_between<T: DeserializeOwned>(
        &self,
        sql: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        what: &str,
    ) -> Result<Vec<T>> {
        let rows = sqlx::query(sql)
            .bind(micros(from))
            .bind(micros(to))
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("Failed to read {what}"))?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get(0)?;
                Ok(serde_json::from_str(&body)?)
            })
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::from)
    }

    /// Every venue a stored screening names, once each, by name: the
    /// venues a reader can choose.
    pub async fn venues(&self) -> Result<Vec<Venue>> {
        let rows = sqlx::query("SELECT screening FROM digest_screenings")
            .fetch_all(&self.pool)
            .await
            .context("Failed to read screenings")?;
        let mut venues = HashMap::new();
        for row in &rows {
            let body: String = row.try_get(0).context("screening column")?;
            let screening: Screening =
                serde_json::from_str(&body).context("Failed to decode a screening")?;
            venues.insert(screening.venue.id.clone(), screening.venue);
        }
        let mut venues: Vec<Venue> = venues.into_values().collect();
        venues.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(venues)
    }

    /// The latest live Repertory Rundown feature published by `until`.
    pub async fn latest_rundown(&self, until: DateTime<Utc>) -> Result<Option<Review>> {
        // The headline narrows the rows in SQL; which review is a Rundown
        // is `compose::is_rundown`'s to say.
        let rows = sqlx::query(
            "SELECT review FROM digest_reviews
             WHERE withdrawn = 0 AND published_at <= $1 AND review LIKE $2
             ORDER BY published_at DESC, review_id",
        )
        .bind(micros(until))
        .bind("%Repertory Rundown%")
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the Repertory Rundowns")?;
        for row in rows {
            let body: String = row.try_get("review").context("review column")?;
            let review: Review =
                serde_json::from_str(&body).context("Failed to decode a review")?;
            if crate::compose::is_rundown(&review) {
                return Ok(Some(review));
            }
        }
        Ok(None)
    }

    /// Each of `ids` as stored now, with whether it is cancelled; an
    /// unknown id is left out.
    pub async fn screenings_now(&self, ids: &[&str]) -> Result<Vec<(Screening, bool)>> {
        let mut found = Vec::new();
        for id in ids {
            let row = sqlx::query(
                "SELECT screening, cancelled FROM digest_screenings WHERE screening_id = $1",
            )
            .bind(*id)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a screening")?;
            if let Some(row) = row {
                let body: String = row.try_get("screening").context("screening column")?;
                let cancelled: i64 = row.try_get("cancelled").context("cancelled column")?;
                let screening: Screening =
                    serde_json::from_str(&body).context("Failed to decode a screening")?;
                found.push((screening, cancelled != 0));
            }
        }
        Ok(found)
    }

    /// Star ratings of the live reviews among `ids`.
    pub async fn ratings(&self, ids: &[&str]) -> Result<HashMap<String, u8>> {
        let mut ratings = HashMap::new();
        for id in ids {
            let row = sqlx::query(
                "SELECT review FROM digest_reviews WHERE review_id = $1 AND withdrawn = 0",
            )
            .bind(*id)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a review")?;
            if let Some(row) = row {
                let body: String = row.try_get("review").context("review column")?;
                let review: Review =
                    serde_json::from_str(&body).context("Failed to decode a review")?;
                if let Some(rating) = review.rating {
                    ratings.insert((*id).to_owned(), rating.stars());
                }
            }
        }
        Ok(ratings)
    }
}
