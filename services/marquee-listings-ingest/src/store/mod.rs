//! The listings-ingest database: the ledger of published screenings
//! ([`screenings`]) and the reviewed films they are matched to
//! ([`reviews`]), on SQLite or PostgreSQL.

mod reviews;
mod screenings;

use sqlx::AnyPool;

pub(crate) use reviews::ReviewIndex;
pub(crate) use screenings::Entry;

/// The tables, created if missing.
const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS listings_ingest_ledger (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        screening TEXT NOT NULL,
        starts_at BIGINT NOT NULL,
        sequence BIGINT NOT NULL,
        cancelled BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS listings_ingest_ledger_source
        ON listings_ingest_ledger (source, cancelled, starts_at)",
    "CREATE TABLE IF NOT EXISTS listings_ingest_reviews (
        review_id TEXT PRIMARY KEY,
        title_key TEXT NOT NULL,
        year BIGINT NOT NULL
    )",
];

/// The service's tables; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
}

impl Store {
    /// Opens the database and creates the tables if needed.
    pub(crate) async fn open(url: &str) -> anyhow::Result<Self> {
        let pool = marquee_ingest::store::open(url, &SCHEMA, "the listings-ingest tables").await?;
        Ok(Self { pool })
    }

    /// The pool, which the ingest core's health records share.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub(crate) async fn check(&self) -> anyhow::Result<()> {
        marquee_ingest::store::check(&self.pool, "the listings-ingest database").await
    }
}
