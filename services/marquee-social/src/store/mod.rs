//! The social service's durable state in SQLite or PostgreSQL through
//! portable SQL: the posts ledger ([`posts`]), when each event source
//! was first seen ([`sources`]), the accounts an operator paused
//! ([`accounts`]) and the fediverse actors' followers, activities and
//! deliveries ([`fediverse`]). Every time it writes is one the caller
//! read from the service's clock.

mod accounts;
pub(crate) mod fediverse;
pub(crate) mod posts;
mod sources;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::AnyPool;

use crate::error::StoreError;

/// The social database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Connects to `database_url` and creates the tables if missing.
    pub async fn open(database_url: &str) -> Result<Self, StoreError> {
        let pool = marquee_runtime::database::connect(database_url).await?;
        for statement in posts::SCHEMA
            .iter()
            .chain(&sources::SCHEMA)
            .chain(&accounts::SCHEMA)
            .chain(&fediverse::SCHEMA)
        {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .context("Failed to create the social ledger")?;
        }
        Ok(Self { pool })
    }

    /// Whether the database answers.
    pub async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("Failed to reach the social database")?;
        Ok(())
    }
}

/// How the tables store an instant: microseconds since the epoch.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The instant a table stored with [`micros`].
fn from_micros(micros: i64) -> anyhow::Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).context("Failed to read a stored timestamp")
}
