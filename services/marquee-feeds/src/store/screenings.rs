//! The screenings: the newest known version of every screening with its
//! iCalendar `SEQUENCE`, cancelled ones kept so calendars can say so.
//!
//! Idempotent like the review items: an event id is applied once
//! (`feed_screening_events`), and an event produced before the stored
//! version (CloudEvents `time`) is ignored. Each applied change bumps the
//! screening's sequence.

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::{Envelope, Screening, ScreeningEvent};
use sqlx::Row;

use super::{Batch, Store, micros};
use crate::error::StoreError;

/// A venue's or strand's name is read on every re-render of its documents,
/// so on every screening event: `*_named` keep that a search of one
/// covering index (by venue alone it read and sorted every screening the
/// venue ever had; covering, so SQLite's planner prefers them to `by_venue`).
pub(super) const SCHEMA: [&str; 7] = [
    "CREATE TABLE IF NOT EXISTS feed_screenings (
        screening_id TEXT PRIMARY KEY,
        venue_id TEXT NOT NULL,
        venue_name TEXT NOT NULL,
        strand_slug TEXT NOT NULL,
        strand TEXT NOT NULL,
        starts_at BIGINT NOT NULL,
        cancelled BIGINT NOT NULL,
        sequence BIGINT NOT NULL,
        event_time BIGINT NOT NULL,
        listed_at BIGINT NOT NULL,
        modified_at BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        screening TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS feed_screenings_by_venue
        ON feed_screenings (venue_id, starts_at)",
    "CREATE INDEX IF NOT EXISTS feed_screenings_by_strand
        ON feed_screenings (strand_slug, starts_at)",
    "CREATE INDEX IF NOT EXISTS feed_screenings_by_start ON feed_screenings (starts_at)",
    "CREATE INDEX IF NOT EXISTS feed_screenings_venue_named
        ON feed_screenings (venue_id, modified_at, venue_name)",
    "CREATE INDEX IF NOT EXISTS feed_screenings_strand_named
        ON feed_screenings (strand_slug, modified_at, strand)",
    "CREATE TABLE IF NOT EXISTS feed_screening_events (
        event_id TEXT PRIMARY KEY,
        screening_id TEXT NOT NULL,
        applied_at BIGINT NOT NULL
    )",
];

/// Records that an event of a screening was applied (see
/// [`Store::first_application`]).
const RECORD_EVENT: &str = "INSERT INTO feed_screening_events (event_id, screening_id, applied_at)
     VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING";

// Screenings of one scope starting in `[$from, $to)`, by start then id; each
// matches an index of SCHEMA.
const VENUE_SCREENINGS: &str = "SELECT screening, sequence, cancelled, listed_at, modified_at
     FROM feed_screenings WHERE venue_id = $1 AND starts_at >= $2 AND starts_at < $3
     ORDER BY starts_at, screening_id";
const STRAND_SCREENINGS: &str = "SELECT screening, sequence, cancelled, listed_at, modified_at
     FROM feed_screenings WHERE strand_slug = $1 AND starts_at >= $2 AND starts_at < $3
     ORDER BY starts_at, screening_id";
const ALL_SCREENINGS: &str = "SELECT screening, sequence, cancelled, listed_at, modified_at
     FROM feed_screenings WHERE starts_at >= $1 AND starts_at < $2
     ORDER BY starts_at, screening_id";
// A venue's or a strand's name as last listed.
const VENUE_NAME: &str = "SELECT venue_name FROM feed_screenings WHERE venue_id = $1
     ORDER BY modified_at DESC LIMIT 1";
const STRAND_NAME: &str = "SELECT strand FROM feed_screenings WHERE strand_slug = $1
     ORDER BY modified_at DESC LIMIT 1";

/// What applying one screening event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreeningApplied {
    /// The screening changed; the venue's and the strands' documents must be
    /// re-rendered.
    Changed {
        /// The screening's venue.
        venue_id: String,
        /// Strand slugs before and after the event (`None`: no strand).
        strands: Vec<Option<String>>,
    },
    /// Nothing changed, and why.
    Ignored(&'static str),
}

/// A stored screening with what calendars and feeds need besides its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredScreening {
    /// The screening as last listed.
    pub screening: Screening,
    /// iCalendar `SEQUENCE`: 0 when listed, +1 on every applied change.
    pub sequence: u32,
    /// Whether it is cancelled.
    pub cancelled: bool,
    /// When it was first listed (event time).
    pub listed_at: DateTime<Utc>,
    /// When it last changed (event time).
    pub modified_at: DateTime<Utc>,
}

/// Which screenings to read.
#[derive(Debug, Clone, Copy)]
pub enum ScreeningScope<'a> {
    /// One venue, by id.
    Venue(&'a str),
    /// One strand, by slug.
    Strand(&'a str),
    /// Every venue.
    All,
}

/// A strand's URL name: its name lowercased, runs of anything but letters
/// and digits turned into one hyphen, e.g. "Sergio Leone season" →
/// `sergio-leone-season`.
pub fn strand_slug(strand: &str) -> String {
    let mut slug = String::with_capacity(strand.len());
    for c in strand.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

impl Batch {
    /// Applies one screening event, at most once and never over a newer version.
    #[tracing::instrument(skip_all, fields(event_id = %event.id, screening_id = %event.subject))]
    pub async fn apply_screening(
        &mut self,
        event: &Envelope<ScreeningEvent>,
    ) -> Result<ScreeningApplied, StoreError> {
        let (screening, cancelled) = match &event.data {
            ScreeningEvent::Listed(e) => (&e.screening, false),
            ScreeningEvent::Changed(e) => (&e.screening, false),
            ScreeningEvent::Cancelled(e) => (&e.screening, true),
        };
        let id = screening.id.as_str();
        let event_time = micros(event.time);
        if !self.first_application(RECORD_EVENT, event.id, id).await? {
            return Ok(ScreeningApplied::Ignored("event already applied"));
        }
        let tx = &mut self.tx;
        let stored = sqlx::query(
            "SELECT strand_slug, cancelled, sequence, event_time, listed_at, screening
             FROM feed_screenings WHERE screening_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .context("Failed to read the stored screening")?;
        let json = serde_json::to_string(screening).context("Failed to serialize a screening")?;
        let slug = screening.strand.as_deref().map(strand_slug);
        let (sequence, listed_at, previous_strand) = match stored {
            Some(row) => {
                let stored_time: i64 = row.try_get("event_time").context("Failed to decode")?;
                if event_time <= stored_time {
                    return Ok(ScreeningApplied::Ignored("a newer version is stored"));
                }
                let was_cancelled = row
                    .try_get::<i64, _>("cancelled")
                    .context("Failed to decode")?
                    != 0;
                let stored_json: String = row.try_get("screening").context("Failed to decode")?;
                if was_cancelled == cancelled && stored_json == json {
                    return Ok(ScreeningApplied::Ignored("identical to the stored version"));
                }
                let sequence: i64 = row.try_get("sequence").context("Failed to decode")?;
                let listed_at: i64 = row.try_get("listed_at").context("Failed to decode")?;
                let strand: String = row.try_get("strand_slug").context("Failed to decode")?;
                (
                    sequence + 1,
                    listed_at,
                    Some(strand).filter(|s| !s.is_empty()),
                )
            }
            None => (0, event_time, None),
        };
        sqlx::query(
            "INSERT INTO feed_screenings (screening_id, venue_id, venue_name, strand_slug, strand,
                starts_at, cancelled, sequence, event_time, listed_at, modified_at, event_id,
                screening)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $11, $12)
             ON CONFLICT (screening_id) DO UPDATE SET venue_id = excluded.venue_id,
                venue_name = excluded.venue_name, strand_slug = excluded.strand_slug,
                strand = excluded.strand, starts_at = excluded.starts_at,
                cancelled = excluded.cancelled, sequence = excluded.sequence,
                event_time = excluded.event_time, modified_at = excluded.modified_at,
                event_id = excluded.event_id, screening = excluded.screening",
        )
        .bind(id)
        .bind(screening.venue.id.as_str())
        .bind(screening.venue.name.as_str())
        .bind(slug.clone().unwrap_or_default())
        .bind(screening.strand.clone().unwrap_or_default())
        .bind(micros(screening.starts_at))
        .bind(i64::from(cancelled))
        .bind(sequence)
        .bind(event_time)
        .bind(listed_at)
        .bind(event.id.to_string())
        .bind(json)
        .execute(&mut **tx)
        .await
        .context("Failed to store the screening")?;
        let mut strands = vec![slug];
        if previous_strand != strands[0] {
            strands.push(previous_strand);
        }
        Ok(ScreeningApplied::Changed {
            venue_id: screening.venue.id.clone(),
            strands,
        })
    }
}

impl Store {
    /// Screenings of `scope` starting in `[from, to)`, cancelled ones
    /// included, by start then id.
    pub async fn screenings(
        &self,
        scope: ScreeningScope<'_>,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredScreening>, StoreError> {
        let to = to.map_or(i64::MAX, |to| to.timestamp_micros());
        let from = from.timestamp_micros();
        let query = match scope {
            ScreeningScope::Venue(key) => sqlx::query(VENUE_SCREENINGS).bind(key),
            ScreeningScope::Strand(key) => sqlx::query(STRAND_SCREENINGS).bind(key),
            ScreeningScope::All => sqlx::query(ALL_SCREENINGS),
        };
        let rows = query
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .context("Failed to read screenings")?;
        let time = |micros: i64| {
            DateTime::from_timestamp_micros(micros).context("A stored time is out of range")
        };
        rows.iter()
            .map(|row| -> anyhow::Result<StoredScreening> {
                let json: String = row.try_get("screening")?;
                Ok(StoredScreening {
                    screening: serde_json::from_str(&json)?,
                    sequence: u32::try_from(row.try_get::<i64, _>("sequence")?).unwrap_or(u32::MAX),
                    cancelled: row.try_get::<i64, _>("cancelled")? != 0,
                    listed_at: time(row.try_get("listed_at")?)?,
                    modified_at: time(row.try_get("modified_at")?)?,
                })
            })
            .collect::<anyhow::Result<_>>()
            .context("Failed to decode a stored screening")
            .map_err(StoreError::from)
    }

    /// The name of the venue `venue_id` as last listed; `None` if never seen.
    pub async fn venue_name(&self, venue_id: &str) -> Result<Option<String>, StoreError> {
        self.name_of(VENUE_NAME, venue_id).await
    }

    /// The name of the strand `slug` as last listed; `None` if never seen.
    pub async fn strand_name(&self, slug: &str) -> Result<Option<String>, StoreError> {
        if slug.is_empty() {
            return Ok(None);
        }
        self.name_of(STRAND_NAME, slug).await
    }

    /// The one name `query` reads for `key`.
    async fn name_of(&self, query: &'static str, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(query)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a name")?;
        Ok(row
            .map(|row| row.try_get::<String, _>(0))
            .transpose()
            .context("Failed to decode a name")?)
    }

    /// Every venue with a stored screening, as `(id, name)` by name.
    pub async fn venues(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT venue_id, MAX(venue_name) FROM feed_screenings
             GROUP BY venue_id ORDER BY MAX(venue_name), venue_id",
        )
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the venues")?;
        Ok(rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("Failed to decode a venue")?)
    }
}

#[cfg(test)]
mod tests {
    use marquee_test_support::sqlite_plan;

    use super::*;

    /// `scripts/scale` found each screening event costing more the more
    /// screenings its venue had: the name query sorted all of them.
    #[tokio::test]
    async fn name_queries_search_an_index_instead_of_sorting_the_venue() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = super::super::tests::sqlite_store(dir.path()).await;
        for query in [VENUE_NAME, STRAND_NAME] {
            let plan = sqlite_plan(&url, query, &["bfi".to_owned()]).await;
            assert!(
                plan.contains("USING") && !plan.contains("SCAN") && !plan.contains("TEMP B-TREE"),
                "{query}\nis planned as: {plan}"
            );
        }
    }

    #[test]
    fn strand_slugs_are_url_safe() {
        assert_eq!(strand_slug("Sergio Leone season"), "sergio-leone-season");
        assert_eq!(
            strand_slug("  Noir: \"Dark\" & Deadly! "),
            "noir-dark-deadly"
        );
        assert_eq!(strand_slug("Éric Rohmer"), "éric-rohmer");
    }
}
