//! The review items: the newest known version of every review, or its
//! tombstone.
//!
//! Applying an event is idempotent twice over: an event id is applied once
//! (`feed_events`), and an event older than the stored version of its item is
//! ignored, so redelivery and replays never roll an item back.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::{Envelope, Review, ReviewEvent, ReviewId};
use sqlx::Row;

use super::{Batch, Store, micros};
use crate::error::StoreError;

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The item changed; feeds carrying either section must be re-rendered.
    Changed {
        /// The item's section before the event, when it was live.
        previous_section: Option<String>,
        /// The item's section now (of its last version, for a withdrawal).
        section: String,
    },
    /// Nothing changed, and why.
    Ignored(&'static str),
}

/// The version of an item that decides whether an event supersedes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    withdrawn: bool,
    /// `review.updated_at` of the item's last live version, in microseconds.
    updated_at: i64,
    /// CloudEvents `time` of the event that wrote the row, in microseconds.
    event_time: i64,
}

/// The stored row of an item.
#[derive(Debug)]
struct Stored {
    version: Version,
    section: String,
    /// The review as JSON; empty in a tombstone of an item never seen.
    review: String,
}

/// An event about to be applied, reduced to what versioning needs.
#[derive(Debug, Clone, Copy)]
enum Incoming {
    Live { updated_at: i64, event_time: i64 },
    Withdrawal { event_time: i64 },
}

/// Whether `incoming` is newer than what is stored.
///
/// Live versions order by `(updated_at, event_time)`: an edit wins over the
/// text it replaces even when the events were produced in another order.
/// Against a withdrawal only the producer's clock can tell: a publication
/// produced after the withdrawal (a reinstated review) wins, a late copy of
/// an earlier one does not resurrect the item.
fn supersedes(incoming: Incoming, stored: Version) -> bool {
    match (incoming, stored.withdrawn) {
        (
            Incoming::Live {
                updated_at,
                event_time,
            },
            false,
        ) => (updated_at, event_time) > (stored.updated_at, stored.event_time),
        (Incoming::Live { event_time, .. }, true) | (Incoming::Withdrawal { event_time }, _) => {
            event_time > stored.event_time
        }
    }
}

/// Every feed query is an index search: a full scan here would make each
/// re-render, so each review event, cost more the more reviews are stored.
pub(super) const SCHEMA: [&str; 7] = [
    "CREATE TABLE IF NOT EXISTS feed_items (
        review_id TEXT PRIMARY KEY,
        section TEXT NOT NULL,
        withdrawn BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        event_time BIGINT NOT NULL,
        published_at BIGINT NOT NULL,
        modified_at BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        review TEXT NOT NULL
    )",
    // Replaced by feed_items_newest_in_section, which also orders the tie.
    "DROP INDEX IF EXISTS feed_items_by_section",
    "CREATE INDEX IF NOT EXISTS feed_items_newest_in_section
        ON feed_items (section, withdrawn, published_at DESC, review_id)",
    "CREATE INDEX IF NOT EXISTS feed_items_newest
        ON feed_items (withdrawn, published_at DESC, review_id)",
    "CREATE INDEX IF NOT EXISTS feed_items_modified_in_section
        ON feed_items (section, modified_at)",
    "CREATE INDEX IF NOT EXISTS feed_items_modified ON feed_items (modified_at)",
    "CREATE TABLE IF NOT EXISTS feed_events (
        event_id TEXT PRIMARY KEY,
        review_id TEXT NOT NULL,
        applied_at BIGINT NOT NULL
    )",
];

/// Records that an event of a review was applied (see
/// [`Store::first_application`]).
const RECORD_EVENT: &str = "INSERT INTO feed_events (event_id, review_id, applied_at)
     VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING";

// A feed's items and when it last changed, one query shape per filter,
// each matching an index of SCHEMA.
const NEWEST_IN_SECTION: &str = "SELECT review FROM feed_items WHERE section = $1 AND withdrawn = 0
     ORDER BY published_at DESC, review_id LIMIT $2";
const NEWEST: &str = "SELECT review FROM feed_items WHERE withdrawn = 0
     ORDER BY published_at DESC, review_id LIMIT $1";
const MODIFIED_IN_SECTION: &str = "SELECT MAX(modified_at) FROM feed_items WHERE section = $1";
const MODIFIED: &str = "SELECT MAX(modified_at) FROM feed_items";

/// The live items of one feed and when its content last changed.
#[derive(Debug, Clone, Default)]
pub struct FeedItems {
    /// Newest first by publication.
    pub items: Vec<Review>,
    /// Newest change among the feed's items, withdrawals included.
    pub modified_at: Option<DateTime<Utc>>,
}

impl Batch {
    /// Applies one review event, at most once and never over a newer version.
    ///
    /// Events of one review arrive on one partition, so one consumer applies
    /// them one at a time; the transaction keeps the event id and the item
    /// in step.
    #[tracing::instrument(skip_all, fields(event_id = %event.id, review_id = %event.data.review_id()))]
    pub async fn apply(&mut self, event: &Envelope<ReviewEvent>) -> Result<Applied, StoreError> {
        let review_id = event.data.review_id();
        let event_time = micros(event.time);
        if !self
            .first_application(RECORD_EVENT, event.id, review_id.as_str())
            .await?
        {
            return Ok(Applied::Ignored("event already applied"));
        }
        let tx = &mut self.tx;

        let stored = sqlx::query(
            "SELECT section, withdrawn, updated_at, event_time, review
             FROM feed_items WHERE review_id = $1",
        )
        .bind(review_id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .context("Failed to read the stored item")?
        .map(|row| -> anyhow::Result<_> {
            Ok(Stored {
                version: Version {
                    withdrawn: row.try_get::<i64, _>("withdrawn")? != 0,
                    updated_at: row.try_get("updated_at")?,
                    event_time: row.try_get("event_time")?,
                },
                section: row.try_get("section")?,
                review: row.try_get("review")?,
            })
        })
        .transpose()
        .context("Failed to decode the stored item")?;

        let applied = match &event.data {
            ReviewEvent::Published(e) => put_live(tx, event, &e.review, stored).await?,
            ReviewEvent::Updated(e) => put_live(tx, event, &e.review, stored).await?,
            ReviewEvent::Withdrawn(_) => match stored {
                Some(stored)
                    if !supersedes(Incoming::Withdrawal { event_time }, stored.version) =>
                {
                    Applied::Ignored("a newer version is stored")
                }
                Some(stored) => {
                    sqlx::query(
                        "UPDATE feed_items SET withdrawn = 1, event_time = $2,
                            modified_at = $3, event_id = $4
                         WHERE review_id = $1",
                    )
                    .bind(review_id.as_str())
                    .bind(event_time)
                    .bind(event_time.max(stored.version.updated_at))
                    .bind(event.id.to_string())
                    .execute(&mut **tx)
                    .await
                    .context("Failed to withdraw the item")?;
                    if stored.version.withdrawn {
                        Applied::Ignored("already withdrawn")
                    } else {
                        Applied::Changed {
                            previous_section: Some(stored.section.clone()),
                            section: stored.section,
                        }
                    }
                }
                None => {
                    // A withdrawal of an item never seen still leaves a
                    // tombstone, so its late publication stays out.
                    sqlx::query(
                        "INSERT INTO feed_items (review_id, section, withdrawn, updated_at,
                            event_time, published_at, modified_at, event_id, review)
                         VALUES ($1, '', 1, $2, $2, $2, $2, $3, '')",
                    )
                    .bind(review_id.as_str())
                    .bind(event_time)
                    .bind(event.id.to_string())
                    .execute(&mut **tx)
                    .await
                    .context("Failed to store a tombstone")?;
                    Applied::Ignored("withdrawn before it was published")
                }
            },
        };
        Ok(applied)
    }
}

/// Stores a published or edited review in `tx`, unless `stored` is as new.
async fn put_live(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &Envelope<ReviewEvent>,
    review: &Review,
    stored: Option<Stored>,
) -> Result<Applied, StoreError> {
    let incoming = Incoming::Live {
        updated_at: micros(review.updated_at),
        event_time: micros(event.time),
    };
    let json = serde_json::to_string(review).context("Failed to serialize the review")?;
    let previous_section = match &stored {
        Some(stored) if !supersedes(incoming, stored.version) => {
            return Ok(Applied::Ignored("a newer version is stored"));
        }
        // A redelivered copy under a new event id changes nothing.
        Some(stored) if !stored.version.withdrawn && stored.review == json => {
            return Ok(Applied::Ignored("identical to the stored version"));
        }
        Some(stored) => (!stored.version.withdrawn).then(|| stored.section.clone()),
        None => None,
    };
    let updated_at = micros(review.updated_at);
    // A reinstated item must move Last-Modified past its withdrawal.
    let modified_at = match &stored {
        Some(stored) if stored.version.withdrawn => updated_at.max(micros(event.time)),
        _ => updated_at,
    };
    sqlx::query(
        "INSERT INTO feed_items (review_id, section, withdrawn, updated_at, event_time,
            published_at, modified_at, event_id, review)
         VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (review_id) DO UPDATE SET section = excluded.section, withdrawn = 0,
            updated_at = excluded.updated_at, event_time = excluded.event_time,
            published_at = excluded.published_at, modified_at = excluded.modified_at,
            event_id = excluded.event_id, review = excluded.review",
    )
    .bind(review.id.as_str())
    .bind(review.section.as_str())
    .bind(updated_at)
    .bind(micros(event.time))
    .bind(micros(review.published_at))
    .bind(modified_at)
    .bind(event.id.to_string())
    .bind(json)
    .execute(&mut **tx)
    .await
    .context("Failed to store the feed item")?;
    Ok(Applied::Changed {
        previous_section,
        section: review.section.clone(),
    })
}

impl Store {
    /// The newest `limit` live items of `section` (all sections for `None`).
    pub async fn feed_items(
        &self,
        section: Option<&str>,
        limit: usize,
    ) -> Result<FeedItems, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (items, modified) = match section {
            Some(section) => {
                let items = sqlx::query(NEWEST_IN_SECTION)
                    .bind(section)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await;
                let modified = sqlx::query(MODIFIED_IN_SECTION)
                    .bind(section)
                    .fetch_one(&self.pool)
                    .await;
                (items, modified)
            }
            None => {
                let items = sqlx::query(NEWEST).bind(limit).fetch_all(&self.pool).await;
                let modified = sqlx::query(MODIFIED).fetch_one(&self.pool).await;
                (items, modified)
            }
        };
        let items = items
            .context("Failed to read feed items")?
            .iter()
            .map(|row| {
                let json: String = row.try_get(0)?;
                Ok(serde_json::from_str(&json)?)
            })
            .collect::<anyhow::Result<Vec<Review>>>()
            .context("Failed to decode a stored review")?;
        let modified_at = modified
            .context("Failed to read when the feed changed")?
            .try_get::<Option<i64>, _>(0)
            .context("Failed to decode when the feed changed")?
            .and_then(DateTime::from_timestamp_micros);
        Ok(FeedItems { items, modified_at })
    }

    /// Whether `id` is live, for tests and operators.
    pub async fn is_live(&self, id: &ReviewId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT withdrawn FROM feed_items WHERE review_id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read the item")?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>(0).context("Failed to decode")? == 0,
            None => false,
        })
    }

    /// The live reviews among `ids`, by id, in one query per
    /// [`IDS_PER_QUERY`] distinct ids (a listing's matched reviews: one
    /// query for any real venue).
    pub async fn live_reviews(
        &self,
        ids: &[ReviewId],
    ) -> Result<HashMap<ReviewId, Review>, StoreError> {
        let mut distinct: Vec<&str> = ids.iter().map(ReviewId::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut reviews = HashMap::with_capacity(distinct.len());
        for chunk in distinct.chunks(IDS_PER_QUERY) {
            let sql = reviews_among(chunk.len());
            let rows = chunk
                .iter()
                .fold(sqlx::query(&sql), |query, id| query.bind(*id))
                .fetch_all(&self.pool)
                .await
                .context("Failed to read reviews")?;
            for row in rows {
                if row
                    .try_get::<i64, _>(1)
                    .context("Failed to decode a review")?
                    != 0
                {
                    continue;
                }
                let json: String = row.try_get(0).context("Failed to decode a review")?;
                let review: Review =
                    serde_json::from_str(&json).context("Failed to decode a review")?;
                reviews.insert(review.id.clone(), review);
            }
        }
        Ok(reviews)
    }
}

/// The reviews among `ids` bound ids, withdrawn or not. Withdrawn ones are
/// skipped after, not in SQL: with `withdrawn = 0` there SQLite walked the
/// live-items index, every live review, instead of looking the ids up
/// (`scripts/scale`: 36 ms a listing at 100,000 reviews).
fn reviews_among(ids: usize) -> String {
    let placeholders: Vec<String> = (1..=ids).map(|n| format!("${n}")).collect();
    format!(
        "SELECT review, withdrawn FROM feed_items WHERE review_id IN ({})",
        placeholders.join(", ")
    )
}

/// Ids bound in one `IN` list: under SQLite's smallest limit of bound
/// parameters (999 before 3.32).
const IDS_PER_QUERY: usize = 900;

#[cfg(test)]
mod tests {
    use marquee_test_support::sqlite_plan;

    use super::*;

    fn live(updated_at: i64, event_time: i64) -> Version {
        Version {
            withdrawn: false,
            updated_at,
            event_time,
        }
    }

    #[test]
    fn newer_edits_win_by_updated_at_then_event_time() {
        let stored = live(10, 100);
        let edit = |updated_at, event_time| Incoming::Live {
            updated_at,
            event_time,
        };
        assert!(supersedes(edit(11, 50), stored));
        assert!(supersedes(edit(10, 101), stored));
        assert!(!supersedes(edit(10, 100), stored));
        assert!(!supersedes(edit(9, 200), stored));
    }

    /// `scripts/load` found the feeds consumer falling behind as reviews
    /// piled up: the site-wide feed scanned and sorted the whole table.
    #[tokio::test]
    async fn feed_queries_search_an_index_instead_of_scanning_the_table() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = super::super::tests::sqlite_store(dir.path()).await;
        for (query, arguments) in [
            (NEWEST_IN_SECTION, 2),
            (NEWEST, 1),
            (MODIFIED_IN_SECTION, 1),
            (MODIFIED, 0),
        ] {
            let plan = sqlite_plan(&url, query, &vec!["reviews".to_owned(); arguments]).await;
            assert!(
                plan.contains("USING") && !plan.contains("SCAN") && !plan.contains("TEMP B-TREE"),
                "{query}\nis planned as: {plan}"
            );
        }
    }

    #[tokio::test]
    async fn a_listings_reviews_are_looked_up_by_id() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = super::super::tests::sqlite_store(dir.path()).await;
        // A full chunk: with few ids SQLite chose the lookups either way.
        let ids: Vec<String> = (0..IDS_PER_QUERY).map(|id| id.to_string()).collect();
        let plan = sqlite_plan(&url, &reviews_among(IDS_PER_QUERY), &ids).await;
        assert!(plan.contains("(review_id=?)"), "planned as: {plan}");
    }

    #[test]
    fn tombstones_yield_only_to_later_events() {
        let tombstone = Version {
            withdrawn: true,
            ..live(10, 100)
        };
        let late = Incoming::Live {
            updated_at: 50,
            event_time: 99,
        };
        let reinstated = Incoming::Live {
            updated_at: 10,
            event_time: 101,
        };
        assert!(!supersedes(late, tombstone));
        assert!(supersedes(reinstated, tombstone));
        assert!(!supersedes(
            Incoming::Withdrawal { event_time: 90 },
            live(10, 100)
        ));
        assert!(supersedes(
            Incoming::Withdrawal { event_time: 101 },
            live(10, 100)
        ));
    }
}
