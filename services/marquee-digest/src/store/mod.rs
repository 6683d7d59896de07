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
use marquee_runtime::clock::SharedClock;
use sqlx::AnyPool;

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

const SCHEMA: [&str; 13] = [
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
    "CREATE INDEX IF NOT EXISTS digest_deliveries_by_status
        ON digest_deliveries (run_id, status)",
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

/// A query on the pool of any engine, values bound in order.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The digest's tables.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    clock: SharedClock,
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
        Ok(Self { pool, clock })
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
    use super::*;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(4, 3), "$4, $5, $6");
        assert_eq!(placeholders(1, 1), "$1");
    }
}
