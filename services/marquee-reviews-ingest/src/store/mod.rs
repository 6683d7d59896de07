//! The reviews-ingest database: the ledger of published reviews
//! ([`reviews`]) and the webhook signatures already used ([`signatures`]),
//! on SQLite or PostgreSQL. Times it writes are read from the service's
//! clock.

mod reviews;
mod signatures;

use anyhow::Context;
use marquee_runtime::clock::SharedClock;
use sqlx::AnyPool;

pub(crate) use reviews::{Entry, Withdrawn};

/// The service's tables; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
    clock: SharedClock,
}

impl Store {
    /// Opens the database and creates the tables if needed.
    pub(crate) async fn open(url: &str, clock: SharedClock) -> anyhow::Result<Self> {
        let pool = marquee_runtime::database::connect(url).await?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS reviews_ingest_ledger (
                id TEXT PRIMARY KEY,
                source TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                field_hashes TEXT NOT NULL,
                published_at TEXT NOT NULL,
                last_seen BIGINT NOT NULL,
                withdrawn BIGINT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS reviews_ingest_ledger_source ON reviews_ingest_ledger (source)",
            "CREATE TABLE IF NOT EXISTS reviews_ingest_webhook_signatures (
                signature TEXT PRIMARY KEY,
                expires_at BIGINT NOT NULL
            )",
        ] {
            sqlx::query(ddl)
                .execute(&pool)
                .await
                .context("Failed to create the reviews-ingest tables")?;
        }
        Ok(Self { pool, clock })
    }

    /// Whether the database answers.
    pub(crate) async fn check(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("Failed to reach the reviews-ingest database")?;
        Ok(())
    }
}
