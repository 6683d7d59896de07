//! `digest_soft_bounces`: how many soft bounces each address has had, so
//! the webhook suppresses it at the limit.

use anyhow::Context;
use sqlx::Row;

use super::{Result, Store, changed};
use crate::EmailAddress;

impl Store {
    /// Counts one more soft bounce of `email`; the count so far.
    pub async fn count_soft_bounce(&self, email: &EmailAddress) -> Result<u32> {
        let statement = sqlx::query(
            "INSERT INTO digest_soft_bounces (email, bounces, last_at) VALUES ($1, 1, $2) \
             ON CONFLICT (email) DO UPDATE SET bounces = digest_soft_bounces.bounces + 1, \
             last_at = excluded.last_at",
        )
        .bind(email.as_str())
        .bind(self.now());
        changed(&self.pool, statement, "Failed to count a soft bounce").await?;
        let row = sqlx::query("SELECT bounces FROM digest_soft_bounces WHERE email = $1")
            .bind(email.as_str())
            .fetch_one(&self.pool)
            .await
            .context("Failed to read the soft bounces")?;
        let bounces: i64 = row
            .try_get("bounces")
            .context("Failed to read the soft bounces")?;
        Ok(u32::try_from(bounces).unwrap_or(u32::MAX))
    }
}
