//! Sending what the actors published: every pending delivery whose time
//! has come, signed by its actor, one POST per (activity, inbox). A 2xx is
//! delivered; a 4xx other than 408 and 429 will not change on retry and
//! fails the delivery at once; anything else is tried again after
//! `retry_base_secs`, doubling to at most six hours, until
//! `delivery_attempts`. A crash between the peer's 2xx and the store's
//! "delivered" sends the same activity id again, which receivers drop as
//! a duplicate (Mastodon and Fedify both do).

use chrono::{DateTime, Utc};
use marquee_fetch::FetchError;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::documents::ACTIVITY_JSON;
use super::{Fediverse, signature};
use crate::error::StoreError;
use crate::store::Store;
use crate::store::fediverse::{Delivery, DeliveryOutcome};

/// Deliveries read per round.
const BATCH: i64 = 50;

/// The longest wait between two attempts.
const MAX_BACKOFF: chrono::Duration = chrono::Duration::hours(6);

/// How often the worker looks for due deliveries.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

impl Fediverse {
    /// Attempts every delivery due at `now` (of actors not paused); returns
    /// how many were attempted.
    pub(crate) async fn deliver_due(
        &self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let due = store.due_deliveries(now, BATCH).await?;
        for delivery in &due {
            let error = self.send(delivery, now).await.err();
            let message = error.as_ref().map(ToString::to_string);
            let outcome = match (&error, message.as_deref()) {
                (Some(error), Some(message)) => {
                    self.after_failure(error, message, delivery.attempts + 1, now)
                }
                _ => DeliveryOutcome::Delivered,
            };
            let label = match outcome {
                DeliveryOutcome::Delivered => "delivered",
                DeliveryOutcome::Retry { .. } => "retry",
                DeliveryOutcome::Failed(_) => "failed",
            };
            if let Some(error) = &message {
                tracing::warn!(actor = %delivery.actor, inbox = %delivery.inbox, activity = %delivery.activity_id, outcome = label, error, "A fediverse delivery failed");
            } else {
                tracing::info!(actor = %delivery.actor, inbox = %delivery.inbox, activity = %delivery.activity_id, "Fediverse activity delivered");
            }
            metrics::counter!("marquee_fediverse_deliveries_total", "actor" => delivery.actor.clone(), "outcome" => label)
                .increment(1);
            store.finish_delivery(delivery, outcome, now).await?;
        }
        Ok(due.len())
    }

    /// Delivers until `shutdown`, reading the time from `now`.
    pub(crate) async fn deliver(
        &self,
        store: &Store,
        now: impl Fn() -> DateTime<Utc>,
        shutdown: &CancellationToken,
    ) {
        loop {
            match self.deliver_due(store, now()).await {
                Ok(attempted) if attempted > 0 => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(error = %error, "Could not read the fediverse deliveries; trying again");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// What becomes of a delivery whose `attempts`th attempt failed.
    fn after_failure<'a>(
        &self,
        error: &FetchError,
        message: &'a str,
        attempts: i64,
        now: DateTime<Utc>,
    ) -> DeliveryOutcome<'a> {
        if permanent(error) || attempts >= i64::from(self.settings.delivery_attempts) {
            DeliveryOutcome::Failed(message)
        } else {
            DeliveryOutcome::Retry {
                at: now + self.backoff(attempts),
                error: message,
            }
        }
    }

    /// The wait after the `attempts`th failure.
    fn backoff(&self, attempts: i64) -> chrono::Duration {
        let base = i64::try_from(self.settings.retry_base_secs).unwrap_or(i64::MAX);
        let factor = 1_i64 << attempts.clamp(1, 20).saturating_sub(1);
        chrono::Duration::try_seconds(base.saturating_mul(factor))
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
    }

    /// One signed POST of `delivery`.
    async fn send(&self, delivery: &Delivery, now: DateTime<Utc>) -> Result<(), FetchError> {
        let unknown = |why: String| FetchError::Refused {
            url: delivery.inbox.clone(),
            status: 400,
            reason: why,
        };
        let inbox = Url::parse(&delivery.inbox).map_err(|e| unknown(format!("not a URL: {e}")))?;
        let actor = self
            .actor(&delivery.actor)
            .ok_or_else(|| unknown(format!("actor {} is no longer configured", delivery.actor)))?;
        let body = delivery.document.clone().into_bytes();
        let mut headers = signature::sign_post(&actor.key_id(), &actor.key, &inbox, &body, now);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ACTIVITY_JSON));
        self.fetcher.post(&inbox, headers, body).await.map(drop)
    }
}

/// Whether retrying cannot help: the inbox refused the activity itself.
fn permanent(error: &FetchError) -> bool {
    matches!(error, FetchError::Refused { status, .. }
        if (400..500).contains(status) && !matches!(status, 408 | 429))
}
