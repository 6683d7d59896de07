//! The feeds' durable state in SQLite or PostgreSQL through portable SQL:
//! review items ([`reviews`]) and screenings ([`screenings`]), every row
//! stamped by the service's clock.

pub(crate) mod reviews;
pub(crate) mod screenings;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_runtime::clock::SharedClock;
use sqlx::AnyPool;

use crate::error::StoreError;

/// Every table of the feeds, emptied by [`Store::clear`].
const CLEAR: [&str; 4] = [
    "DELETE FROM feed_items",
    "DELETE FROM feed_events",
    "DELETE FROM feed_screenings",
    "DELETE FROM feed_screening_events",
];

/// The feeds database: review items and screenings.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Stamps when each event was applied.
    clock: SharedClock,
}

impl Store {
    /// Connects to `database_url` and creates the tables if missing; rows
    /// are stamped with `clock`.
    pub async fn open(database_url: &str, clock: SharedClock) -> Result<Self, StoreError> {
        let pool = marquee_runtime::database::connect(database_url).await?;
        for statement in reviews::SCHEMA.iter().chain(&screenings::SCHEMA) {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .context("Failed to create the feed tables")?;
        }
        Ok(Self { pool, clock })
    }

    /// Forgets every review and screening and every applied event id, so a
    /// replay from the log rebuilds the feeds from nothing.
    pub async fn clear(&self) -> Result<(), StoreError> {
        let context = "Failed to empty the feed tables";
        let mut transaction = self.pool.begin().await.context(context)?;
        for statement in CLEAR {
            sqlx::query(statement)
                .execute(&mut *transaction)
                .await
                .context(context)?;
        }
        transaction.commit().await.context(context)?;
        Ok(())
    }

    /// A transaction to apply events in ([`Batch::apply`],
    /// [`Batch::apply_screening`]), none of them stored until
    /// [`Batch::commit`].
    pub async fn batch(&self) -> Result<Batch, StoreError> {
        let tx = self
            .pool
            .begin()
            .await
            .context("Failed to begin a transaction")?;
        Ok(Batch {
            tx,
            clock: self.clock.clone(),
        })
    }

    /// Whether the database answers.
    pub async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("Failed to reach the feeds database")?;
        Ok(())
    }
}

/// Events applied in one transaction: a consumer's one event, or a
/// replay's hundreds, which then share one commit instead of paying one each.
pub struct Batch {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    clock: SharedClock,
}

impl Batch {
    /// Stores every event applied; dropping the batch instead discards them.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx
            .commit()
            .await
            .context("Failed to commit the applied events")?;
        Ok(())
    }

    /// Records, with `insert` (`event_id`, the item's id, when), that
    /// `event_id` about `item` is applied now; false when it already was, so
    /// the caller leaves the item alone.
    async fn first_application(
        &mut self,
        insert: &'static str,
        event_id: uuid::Uuid,
        item: &str,
    ) -> Result<bool, StoreError> {
        let recorded = sqlx::query(insert)
            .bind(event_id.to_string())
            .bind(item)
            .bind(micros(self.clock.now()))
            .execute(&mut *self.tx)
            .await
            .context("Failed to record the event id")?
            .rows_affected();
        Ok(recorded == 1)
    }
}

/// How the tables store an instant: microseconds since the epoch.
fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::Path;

    use super::Store;

    /// The URL of a SQLite store in `dir`, its tables and indexes made.
    pub(in crate::store) async fn sqlite_store(dir: &Path) -> String {
        let url = format!("sqlite://{}", dir.join("feeds.sqlite").display());
        Store::open(&url, marquee_runtime::clock::SystemClock::shared())
            .await
            .expect("a SQLite store");
        url
    }
}
