//! The health of an ingest service's sources, kept in the service's own
//! database so it survives restarts: when each was last polled, last read,
//! last failed and why, what the last read saw. The core records every poll
//! here and serves it at `GET /admin/{service}/sources` as the admin
//! contract's [`SourceHealth`]; the digest's freshness gate and the console
//! read it there.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_admin::sources::SourceHealth;
use sqlx::{AnyPool, Row};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS source_health (
    name TEXT PRIMARY KEY,
    last_poll TEXT,
    last_success TEXT,
    last_error TEXT,
    last_error_at TEXT,
    items_seen BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    events_published BIGINT NOT NULL DEFAULT 0
)";

/// A configured source: name, kind, URL.
#[derive(Debug, Clone)]
pub struct SourceRef {
    /// The configured name.
    pub name: String,
    /// What kind of source.
    pub kind: String,
    /// Where it is read from.
    pub url: String,
}

/// What one poll of a source came to.
#[derive(Debug, Clone, Default)]
pub struct PollOutcome {
    /// Whether the source was read (or answered 304: nothing changed).
    pub read: bool,
    /// Items seen in it.
    pub seen: u64,
    /// Items rejected, or 1 when the source itself could not be read.
    pub rejected: u64,
    /// Events published.
    pub published: u64,
    /// The first error, if any.
    pub error: Option<String>,
}

/// The sources' health records; cheap to clone.
#[derive(Clone)]
pub struct SourceHealthLog {
    pool: AnyPool,
    sources: Arc<[SourceRef]>,
}

impl SourceHealthLog {
    /// Opens the records for `sources` in `pool` (the service's database),
    /// creating their table if needed.
    pub async fn open(pool: &AnyPool, sources: Vec<SourceRef>) -> anyhow::Result<Self> {
        crate::store::create(pool, &[SCHEMA], "the source_health table").await?;
        Ok(Self {
            pool: pool.clone(),
            sources: sources.into(),
        })
    }

    /// Records a poll of `name` at `now`. A failure to record is logged, not
    /// returned: health must never stop ingesting.
    pub async fn record(&self, name: &str, poll: &PollOutcome, now: DateTime<Utc>) {
        if poll.read {
            metrics::gauge!("marquee_source_last_success_timestamp_seconds", "source" => name.to_owned())
                .set(now.timestamp() as f64);
        }
        let now_text = now.to_rfc3339();
        let success = poll.read.then(|| now_text.clone());
        let error_at = poll.error.as_ref().map(|_| now_text.clone());
        let result = sqlx::query(
            "INSERT INTO source_health (name, last_poll, last_success, last_error, last_error_at, \
             items_seen, rejected, events_published) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (name) DO UPDATE SET last_poll = excluded.last_poll, \
             last_success = COALESCE(excluded.last_success, source_health.last_success), \
             last_error = COALESCE(excluded.last_error, source_health.last_error), \
             last_error_at = COALESCE(excluded.last_error_at, source_health.last_error_at), \
             items_seen = CASE WHEN excluded.last_success IS NULL THEN source_health.items_seen \
             ELSE excluded.items_seen END, \
             rejected = excluded.rejected, \
             events_published = source_health.events_published + excluded.events_published",
        )
        .bind(name)
        .bind(&now_text)
        .bind(success)
        .bind(poll.error.clone())
        .bind(error_at)
        .bind(i64::try_from(poll.seen).unwrap_or(i64::MAX))
        .bind(i64::try_from(poll.rejected).unwrap_or(i64::MAX))
        .bind(i64::try_from(poll.published).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await;
        if let Err(error) = result {
            tracing::warn!(source = name, %error, "Could not record the source's health");
        }
    }

    /// Every configured source, in configuration order, polled or not yet.
    pub async fn list(&self) -> anyhow::Result<Vec<SourceHealth>> {
        let rows = sqlx::query(
            "SELECT name, last_poll, last_success, last_error, last_error_at, items_seen, \
             rejected, events_published FROM source_health",
        )
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the source_health table")?;
        let time = |text: Option<String>| {
            text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(self
            .sources
            .iter()
            .map(|source| {
                let row = rows
                    .iter()
                    .find(|row| row.get::<String, _>("name") == source.name);
                SourceHealth {
                    name: source.name.clone(),
                    kind: source.kind.clone(),
                    url: source.url.clone(),
                    last_poll: time(row.and_then(|r| r.get("last_poll"))),
                    last_success: time(row.and_then(|r| r.get("last_success"))),
                    last_error: row.and_then(|r| r.get("last_error")),
                    last_error_at: time(row.and_then(|r| r.get("last_error_at"))),
                    items_seen: row.map_or(0, |r| count(r.get("items_seen"))),
                    rejected: row.map_or(0, |r| count(r.get("rejected"))),
                    events_published: row.map_or(0, |r| count(r.get("events_published"))),
                }
            })
            .collect())
    }

    /// Whether `name` is a configured source.
    pub fn knows(&self, name: &str) -> bool {
        self.sources.iter().any(|source| source.name == name)
    }

    /// The configured sources.
    pub fn sources(&self) -> &[SourceRef] {
        &self.sources
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn source(name: &str) -> SourceRef {
        SourceRef {
            name: name.to_owned(),
            kind: "ics".to_owned(),
            url: format!("https://{name}.example/listings.ics"),
        }
    }

    #[tokio::test]
    async fn health_follows_polls_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("health.sqlite").display());
        let pool = marquee_runtime::database::connect(&url).await.unwrap();
        let log = SourceHealthLog::open(&pool, vec![source("a"), source("b")])
            .await
            .unwrap();
        let before = log.list().await.unwrap();
        assert_eq!(before.len(), 2, "listed before any poll");
        assert_eq!(before[0].last_poll, None);

        let second = "2026-11-23T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let first = second - chrono::Duration::minutes(10);
        let good = PollOutcome {
            read: true,
            seen: 12,
            published: 3,
            ..PollOutcome::default()
        };
        log.record("a", &good, first).await;
        let failed = PollOutcome {
            rejected: 1,
            error: Some("HTTP 500 from https://a.example/listings.ics".to_owned()),
            ..PollOutcome::default()
        };
        log.record("a", &failed, second).await;

        let pool = marquee_runtime::database::connect(&url).await.unwrap();
        let reopened = SourceHealthLog::open(&pool, vec![source("a"), source("b")])
            .await
            .unwrap();
        let a = &reopened.list().await.unwrap()[0];
        assert_eq!(a.last_poll.unwrap().timestamp(), second.timestamp());
        assert_eq!(
            a.last_success.unwrap().timestamp(),
            first.timestamp(),
            "a failed poll keeps the last success"
        );
        assert_eq!(
            a.last_error.as_deref(),
            Some("HTTP 500 from https://a.example/listings.ics")
        );
        assert_eq!(a.last_error_at.unwrap().timestamp(), second.timestamp());
        assert_eq!((a.items_seen, a.rejected, a.events_published), (12, 1, 3));
        assert!(reopened.knows("b") && !reopened.knows("c"));
    }
}
