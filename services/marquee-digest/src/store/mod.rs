//! Durable state in SQLite or PostgreSQL through portable SQL: the reviews
//! and screenings consumed from the bus, subscribers, runs and the delivery
//! ledger (one row per run × subscriber). One file per table or aggregate.
//!
//! Timestamps are Unix microseconds (`BIGINT`) stamped with the service's
//! clock; flags are 0/1 `BIGINT`s. Every value is a bound parameter.

mod archive;
mod bounces;
mod content;
mod deliveries;
mod picks;
mod runs;
mod schedules;
mod subscribers;
mod templates;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use marquee_runtime::clock::SharedClock;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

pub use archive::ArchivedDigest;
pub use deliveries::{DeliveryCounts, DeliveryOutcome, DeliveryStatus};
pub use runs::{Run, RunKind, RunStatus};
pub use subscribers::{Preferences, Subscriber, SubscriberStatus};

/// Why the store failed; every variant is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or held something this build cannot read.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

type Result<T> = std::result::Result<T, StoreError>;

const SCHEMA: [&str; 14] = [
    // Schedules as operators last saved them (JSON of `ScheduleSettings`).
    "CREATE TABLE IF NOT EXISTS digest_schedules (
        name TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        paused BIGINT NOT NULL DEFAULT 0,
        updated_at BIGINT NOT NULL
    )",
    // Soft bounces per address, towards digest.bounces.soft_bounce_limit.
    "CREATE TABLE IF NOT EXISTS digest_soft_bounces (
        email TEXT PRIMARY KEY,
        bounces BIGINT NOT NULL,
        last_at BIGINT NOT NULL
    )",
    // Digest templates operators stored (checked before they were).
    "CREATE TABLE IF NOT EXISTS digest_templates (
        name TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_events (
        event_id TEXT PRIMARY KEY,
        applied_at BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_reviews (
        review_id TEXT PRIMARY KEY,
        published_at BIGINT NOT NULL,
        event_time BIGINT NOT NULL,
        withdrawn BIGINT NOT NULL,
        review TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_screenings (
        screening_id TEXT PRIMARY KEY,
        starts_at BIGINT NOT NULL,
        event_time BIGINT NOT NULL,
        cancelled BIGINT NOT NULL,
        screening TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS digest_subscribers (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        list TEXT NOT NULL,
        preferences TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        note TEXT NOT NULL,
        confirm_nonce TEXT NOT NULL DEFAULT ''
    )",
    "CREATE TABLE IF NOT EXISTS digest_runs (
        id TEXT PRIMARY KEY,
        schedule TEXT NOT NULL,
        scheduled_for BIGINT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        reviews_since BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        finished_at BIGINT,
        note TEXT NOT NULL,
        UNIQUE (schedule, scheduled_for)
    )",
    "CREATE TABLE IF NOT EXISTS digest_deliveries (
        run_id TEXT NOT NULL,
        subscriber_id TEXT NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        error TEXT,
        sent_at BIGINT,
        PRIMARY KEY (run_id, subscriber_id)
    )",
    // A run's deliveries by status, and its pending ones by address for
    // the send loop's pages (replacing the index without the address).
    "DROP INDEX IF EXISTS digest_deliveries_by_status",
    "CREATE INDEX IF NOT EXISTS digest_deliveries_by_status_email
        ON digest_deliveries (run_id, status, email)",
    "CREATE INDEX IF NOT EXISTS digest_screenings_by_start
        ON digest_screenings (starts_at)",
    archive::TABLE,
    picks::TABLE,
];

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// `$first, $first+1, …` for `n` values bound in that order: an `IN` list
/// of bound parameters that SQLite and PostgreSQL both read.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many rows a [`Page`] holds at most: lists that grow with the
/// readership (a run's audience, its pending deliveries) are read a page at
/// a time, so memory does not grow with them.
const PAGE_SIZE: i64 = 500;

/// One page of rows read by a unique text key, after the last key of the
/// page before (`""` for the first).
struct Page<T> {
    items: Vec<T>,
    /// The key to read the next page after; `None` on the last page.
    next: Option<String>,
}

/// Every item of the pages `page` reads (given the key to read after), as
/// one stream; the next page is read once the one before is consumed.
fn paged<'a, T, F, Fut>(page: F) -> impl Stream<Item = Result<T>> + 'a
where
    T: 'a,
    F: FnMut(String) -> Fut + 'a,
    Fut: Future<Output = Result<Page<T>>> + 'a,
{
    futures::stream::try_unfold(
        (Some(String::new()), page),
        |(after, mut page)| async move {
            let Some(after) = after else {
                return Result::Ok(None);
            };
            let Page { items, next } = page(after).await?;
            Ok(Some((
                futures::stream::iter(items.into_iter().map(Ok)),
                (next, page),
            )))
        },
    )
    .try_flatten()
}

/// A query on the pool of any engine, values bound in order.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The digest's tables.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    clock: SharedClock,
    /// Rows per [`Page`].
    page_size: i64,
}

impl Store {
    /// Connects to `database_url` and creates the tables if missing; every
    /// time it writes is `clock`'s.
    pub async fn open(database_url: &str, clock: SharedClock) -> Result<Self> {
        let pool = marquee_runtime::database::connect(database_url).await?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .context("Failed to create the digest tables")?;
        }
        // Tables made before confirmation links were bound to their subscription.
        marquee_runtime::database::add_column(
            &pool,
            "digest_subscribers",
            "confirm_nonce TEXT NOT NULL DEFAULT ''",
        )
        .await?;
        Ok(Self {
            pool,
            clock,
            page_size: PAGE_SIZE,
        })
    }

    /// Whether the database answers.
    pub async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("Failed to reach the digest database")?;
        Ok(())
    }

    /// Closes the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Binds `values` after what `query` has bound (the `IN` list of
    /// [`placeholders`]) and runs it; whether any row changed.
    async fn execute_guarded(
        &self,
        mut query: AnyQuery<'_>,
        values: impl IntoIterator<Item = &'static str>,
        failed: &'static str,
    ) -> Result<bool> {
        for value in values {
            query = query.bind(value);
        }
        Ok(changed(&self.pool, query, failed).await? > 0)
    }

    /// The page of `rows` (a `LIMIT page_size` answer ordered by the `key`
    /// column), each read by `item`, which leaves out those it maps to `None`.
    fn page<T>(
        &self,
        rows: &[AnyRow],
        key: &str,
        mut item: impl FnMut(&AnyRow) -> anyhow::Result<Option<T>>,
    ) -> Result<Page<T>> {
        let full = i64::try_from(rows.len()).is_ok_and(|n| n == self.page_size);
        let next = match rows.last() {
            Some(last) if full => Some(last.try_get(key).with_context(|| format!("{key} column"))?),
            _ => None,
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            items.extend(item(row)?);
        }
        Ok(Page { items, next })
    }

    /// The clock's now, as stored.
    fn now(&self) -> i64 {
        micros(self.clock.now())
    }
}

/// Runs `statement` on `executor` (the pool or a transaction); how many
/// rows it changed (`failed` is the context of an error).
async fn changed<'q, 'c, E>(
    executor: E,
    statement: AnyQuery<'q>,
    failed: &'static str,
) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let done = statement.execute(executor).await.context(failed)?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::pin::pin;

    use chrono::TimeZone;
    use marquee_test_support::ManualClock;

    use super::*;
    use crate::email::EmailAddress;

    #[tokio::test]
    async fn a_run_reads_its_audience_and_ledger_page_by_page() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 8, 30, 0).unwrap();
        let url = format!("sqlite://{}", dir.path().join("digest.sqlite").display());
        let mut store = Store::open(&url, ManualClock::new(now).shared())
            .await
            .unwrap();
        store.page_size = 2;
        // Five confirmed readers (one paused until next week) and one who
        // never confirmed, put in out of address order.
        for (name, status, paused) in [
            ("e", SubscriberStatus::Confirmed, false),
            ("b", SubscriberStatus::Confirmed, true),
            ("a", SubscriberStatus::Confirmed, false),
            ("f", SubscriberStatus::Pending, false),
            ("d", SubscriberStatus::Confirmed, false),
            ("c", SubscriberStatus::Confirmed, false),
        ] {
            let subscriber = Subscriber {
                id: format!("id-{name}"),
                email: EmailAddress::parse(&format!("{name}@films.example")).unwrap(),
                status,
                list: "weekly".to_owned(),
                preferences: Preferences {
                    paused_until: paused.then(|| now + chrono::Duration::weeks(1)),
                    ..Preferences::default()
                },
            };
            store.put_subscriber(&subscriber, "", "test").await.unwrap();
        }
        assert_eq!(store.audience_size("weekly").await.unwrap(), 4);
        assert_eq!(store.audience_size("other").await.unwrap(), 0);

        let run = Run {
            id: "run-1".to_owned(),
            schedule: "weekly".to_owned(),
            scheduled_for: now,
            kind: RunKind::Manual,
            status: RunStatus::Sending,
            reviews_since: now,
            created_at: now,
            finished_at: None,
            note: String::new(),
        };
        assert_eq!(
            store.create_run(&run, Some("weekly")).await.unwrap(),
            Some(4)
        );
        assert_eq!(
            store.create_run(&run, Some("weekly")).await.unwrap(),
            None,
            "once"
        );
        let pending: Vec<String> = store.pending("run-1").try_collect().await.unwrap();
        assert_eq!(pending, ["id-a", "id-c", "id-d", "id-e"]);

        // The send loop's reading: a page read after the one before was
        // sent goes on from where that one stopped.
        let mut pending = pin!(store.pending("run-1"));
        let first = pending.try_next().await.unwrap().unwrap();
        store
            .mark("run-1", &first, DeliveryOutcome::Sent, 1, None)
            .await
            .unwrap();
        let rest: Vec<String> = pending.try_collect().await.unwrap();
        assert_eq!(rest, ["id-c", "id-d", "id-e"]);
    }

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(4, 3), "$4, $5, $6");
        assert_eq!(placeholders(1, 1), "$1");
    }
}
