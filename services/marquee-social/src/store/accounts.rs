//! Accounts an operator paused. Kept in the database rather than in memory
//! so that a pause holds across restarts and on every replica's worker.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, from_micros, micros};
use crate::error::StoreError;

/// A row exists only while its account is paused.
pub(super) const SCHEMA: [&str; 1] = ["CREATE TABLE IF NOT EXISTS social_paused_accounts (
        account TEXT PRIMARY KEY,
        paused_at BIGINT NOT NULL
    )"];

impl Store {
    /// Pauses `account` from `now`; returns false if it was paused already.
    pub async fn pause(&self, account: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let pause = sqlx::query(
            "INSERT INTO social_paused_accounts (account, paused_at) VALUES ($1, $2) \
             ON CONFLICT (account) DO NOTHING",
        )
        .bind(account)
        .bind(micros(now));
        self.changed_one(pause, "Failed to pause an account").await
    }

    /// Resumes `account`; returns false if it was not paused.
    pub async fn resume(&self, account: &str) -> Result<bool, StoreError> {
        let resume =
            sqlx::query("DELETE FROM social_paused_accounts WHERE account = $1").bind(account);
        self.changed_one(resume, "Failed to resume an account")
            .await
    }

    /// Since when `account` is paused, if it is.
    pub async fn paused_at(&self, account: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query("SELECT paused_at FROM social_paused_accounts WHERE account = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read the paused accounts")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let at: i64 = row
            .try_get(0)
            .context("Failed to read the paused accounts")?;
        Ok(Some(from_micros(at)?))
    }
}
