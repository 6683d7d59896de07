//! The reviews-ingest database: the ledger of published reviews
//! ([`reviews`]) and the webhook signatures already used ([`signatures`]),
//! on SQLite or PostgreSQL. Times it writes are read from the service's
//! clock.

mod reviews;
mod signatures;

use marquee_runtime::clock::SharedClock;
use sqlx::AnyPool;

pub(crate) use reviews::{Entry, Withdrawn};

/// The tables, created if missing.
const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS reviews_ingest_ledger (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        field_hashes TEXT NOT NULL,
        published_at TEXT NOT NULL,
        updated_at TEXT,
        last_seen BIGINT NOT NULL,
        withdrawn BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS reviews_ingest_ledger_source ON reviews_ingest_ledger (source)",
    "CREATE TABLE IF NOT EXISTS reviews_ingest_webhook_signatures (
        signature TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
    )",
];

/// The service's tables; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
    clock: SharedClock,
}

impl Store {
    /// Opens the database and creates the tables if needed.
    pub(crate) async fn open(url: &str, clock: SharedClock) -> anyhow::Result<Self> {
        let pool = marquee_ingest::store::open(url, &SCHEMA, "the reviews-ingest tables").await?;
        // Ledgers written before the updated_at of each version was kept.
        marquee_runtime::database::add_column(&pool, "reviews_ingest_ledger", "updated_at TEXT")
            .await?;
        Ok(Self { pool, clock })
    }

    /// The pool, which the ingest core's health records share.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub(crate) async fn check(&self) -> anyhow::Result<()> {
        marquee_ingest::store::check(&self.pool, "the reviews-ingest database").await
    }
}
