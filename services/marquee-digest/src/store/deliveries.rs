//! `digest_deliveries`: the delivery ledger, one row per run × subscriber,
//! so every subscriber gets a run's digest at most once.

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use futures::Stream;
use sqlx::Row;

pub use marquee_admin::digest::DeliveryCounts;

use super::{Result, Store, changed, paged};

/// Where one ledger row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet sent.
    Pending,
    /// Claimed by a sender, in the relay's hands right now.
    Sending,
    /// Accepted by the relay.
    Sent,
    /// Refused permanently.
    Failed,
    /// Not sent, on purpose.
    Skipped,
    /// Left `sending` by a process that died: never sent again.
    Interrupted,
}

/// A stored delivery status this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown delivery status `{0}`")]
pub struct InvalidDeliveryStatus(String);

impl DeliveryStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Interrupted => "interrupted",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = InvalidDeliveryStatus;
    fn from_str(s: &str) -> std::result::Result<Self, InvalidDeliveryStatus> {
        Ok(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            "interrupted" => Self::Interrupted,
            other => return Err(InvalidDeliveryStatus(other.to_owned())),
        })
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Accepted by the relay.
    Sent,
    /// Refused permanently.
    Failed,
    /// Not sent, on purpose.
    Skipped,
}

impl From<DeliveryOutcome> for DeliveryStatus {
    fn from(outcome: DeliveryOutcome) -> Self {
        match outcome {
            DeliveryOutcome::Sent => Self::Sent,
            DeliveryOutcome::Failed => Self::Failed,
            DeliveryOutcome::Skipped => Self::Skipped,
        }
    }
}

impl Store {
    /// The subscribers still pending in `run_id`, by address; read a page
    /// at a time, so the send loop's memory does not grow with the run.
    pub fn pending<'a>(&'a self, run_id: &'a str) -> impl Stream<Item = Result<String>> + 'a {
        paged(move |after| async move {
            let rows = sqlx::query(
                "SELECT subscriber_id, email FROM digest_deliveries
                 WHERE run_id = $1 AND status = $2 AND email > $3 ORDER BY email LIMIT $4",
            )
            .bind(run_id)
            .bind(DeliveryStatus::Pending.as_str())
            .bind(&after)
            .bind(self.page_size)
            .fetch_all(&self.pool)
            .await
            .context("Failed to read pending deliveries")?;
            self.page(&rows, "email", |row| {
                Ok(Some(
                    row.try_get("subscriber_id")
                        .context("subscriber_id column")?,
                ))
            })
        })
    }

    /// Records how one delivery ended.
    pub async fn mark(
        &self,
        run_id: &str,
        subscriber_id: &str,
        outcome: DeliveryOutcome,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE digest_deliveries SET status = $1, attempts = $2, error = $3, sent_at = $4
             WHERE run_id = $5 AND subscriber_id = $6",
        )
        .bind(DeliveryStatus::from(outcome).as_str())
        .bind(i64::from(attempts))
        .bind(error)
        .bind(self.now())
        .bind(run_id)
        .bind(subscriber_id);
        changed(&self.pool, statement, "Failed to record a delivery").await?;
        Ok(())
    }

    /// Takes a pending delivery to `sending` just before it goes to the
    /// relay; false when it is not pending (another sender has it).
    pub async fn claim(&self, run_id: &str, subscriber_id: &str) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE digest_deliveries SET status = $1
             WHERE run_id = $2 AND subscriber_id = $3 AND status = $4",
        )
        .bind(DeliveryStatus::Sending.as_str())
        .bind(run_id)
        .bind(subscriber_id)
        .bind(DeliveryStatus::Pending.as_str());
        let claimed = changed(&self.pool, statement, "Failed to claim a delivery").await?;
        Ok(claimed > 0)
    }

    /// Settles deliveries a dead process left `sending`: the relay may or
    /// may not have them, and sending again could mail someone twice, so
    /// they become `interrupted`, for an operator to see. Returns how many.
    pub async fn settle_interrupted(&self, run_id: &str) -> Result<u64> {
        let statement = sqlx::query(
            "UPDATE digest_deliveries SET status = $1, sent_at = $2, error = $3
             WHERE run_id = $4 AND status = $5",
        )
        .bind(DeliveryStatus::Interrupted.as_str())
        .bind(self.now())
        .bind(
            "the sender stopped while the relay had this message; not sent again, so it cannot arrive twice",
        )
        .bind(run_id)
        .bind(DeliveryStatus::Sending.as_str());
        let settled = changed(
            &self.pool,
            statement,
            "Failed to settle interrupted deliveries",
        )
        .await?;
        Ok(settled)
    }

    /// Records a failed attempt that stays pending (to retry on resume).
    pub async fn note_attempt(&self, run_id: &str, subscriber_id: &str, error: &str) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE digest_deliveries SET status = $1, attempts = attempts + 1, error = $2
             WHERE run_id = $3 AND subscriber_id = $4",
        )
        .bind(DeliveryStatus::Pending.as_str())
        .bind(error)
        .bind(run_id)
        .bind(subscriber_id);
        changed(&self.pool, statement, "Failed to record an attempt").await?;
        Ok(())
    }

    /// Delivery counts of `run_id`.
    pub async fn counts(&self, run_id: &str) -> Result<DeliveryCounts> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM digest_deliveries WHERE run_id = $1 GROUP BY status",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .context("Failed to count deliveries")?;
        let mut counts = DeliveryCounts::default();
        for row in rows {
            let status: String = row.try_get("status").context("status column")?;
            let n: i64 = row.try_get("n").context("count column")?;
            let n = u64::try_from(n).unwrap_or_default();
            match status.parse().context("Failed to read a delivery")? {
                DeliveryStatus::Pending => counts.pending += n,
                // In flight right now.
                DeliveryStatus::Sending => counts.pending += n,
                DeliveryStatus::Sent => counts.sent = n,
                DeliveryStatus::Failed => counts.failed = n,
                DeliveryStatus::Interrupted => counts.interrupted = n,
                DeliveryStatus::Skipped => counts.skipped = n,
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_statuses_read_back_and_unknown_ones_are_named() {
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Sending,
            DeliveryStatus::Sent,
            DeliveryStatus::Failed,
            DeliveryStatus::Skipped,
            DeliveryStatus::Interrupted,
        ] {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(status));
        }
        assert_eq!(
            "lost"
                .parse::<DeliveryStatus>()
                .expect_err("not a status")
                .to_string(),
            "unknown delivery status `lost`"
        );
    }
}
