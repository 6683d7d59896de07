//! The CMS webhook's signatures already accepted, each kept until its
//! timestamp leaves the replay window, so a replayed request is refused.

use anyhow::Context;

use super::Store;

impl Store {
    /// Claims a webhook signature once; false if it was already used.
    pub(crate) async fn claim_signature(
        &self,
        signature: &str,
        expires_at: i64,
        now: i64,
    ) -> anyhow::Result<bool> {
        sqlx::query("DELETE FROM reviews_ingest_webhook_signatures WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .context("Failed to prune used webhook signatures")?;
        let inserted = sqlx::query(
            "INSERT INTO reviews_ingest_webhook_signatures (signature, expires_at) VALUES ($1, $2)
             ON CONFLICT (signature) DO NOTHING",
        )
        .bind(signature)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .context("Failed to record a webhook signature")?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Releases a claimed signature so the sender's retry of a request that
    /// failed on our side is not mistaken for a replay.
    pub(crate) async fn release_signature(&self, signature: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM reviews_ingest_webhook_signatures WHERE signature = $1")
            .bind(signature)
            .execute(&self.pool)
            .await
            .context("Failed to release a webhook signature")?;
        Ok(())
    }
}
