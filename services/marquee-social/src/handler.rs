//! The review-event handler: record one post per account, send nothing.

use marquee_bus::{Handler, HandlerError, Message};
use marquee_events::{Envelope, Review, ReviewEvent};
use uuid::Uuid;

use crate::SocialService;
use crate::compose::Network;
use crate::network::tid;
use crate::store::posts::{NewPost, Status};

/// Namespace of the idempotency keys (a fixed, random UUID).
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6d61_7271_7565_652d_736f_6369_616c_2d31);

/// Records review events as posts; see [`SocialService::handler`].
#[derive(Clone)]
pub struct SocialHandler {
    service: SocialService,
}

impl SocialHandler {
    pub(crate) fn new(service: SocialService) -> Self {
        Self { service }
    }
}

impl Handler for SocialHandler {
    #[tracing::instrument(
        skip_all,
        fields(topic = %message.topic, partition = message.partition, offset = message.offset)
    )]
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let event: Envelope<ReviewEvent> = message.decode()?;
        match &event.data {
            ReviewEvent::Published(published) => self.record(&published.review).await,
            ReviewEvent::Updated(updated) => {
                tracing::debug!(review_id = %updated.review.id, "An edited review is not posted again");
                Ok(())
            }
            ReviewEvent::Withdrawn(withdrawn) => {
                let cancelled = self
                    .service
                    .inner
                    .store
                    .cancel_queued(
                        withdrawn.id.as_str(),
                        &format!("review withdrawn before posting: {}", withdrawn.reason),
                        self.service.now(),
                    )
                    .await
                    .map_err(|e| HandlerError::Transient(e.into()))?;
                if cancelled > 0 {
                    tracing::info!(review_id = %withdrawn.id, cancelled, "Withdrawn review: its queued posts will not go out");
                }
                Ok(())
            }
        }
    }
}

/// The key of one review on one account: the same on every replay.
pub(crate) fn idempotency_key(
    network: Network,
    review_id: &str,
    account: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let key = Uuid::new_v5(&KEY_NAMESPACE, format!("{account}\n{review_id}").as_bytes());
    match network {
        // A post's record key must be a TID; the review's clock id keeps two
        // reviews queued in one microsecond apart.
        Network::Bluesky => {
            let bytes = key.as_bytes();
            tid(
                now.timestamp_micros(),
                u16::from_be_bytes([bytes[0], bytes[1]]),
            )
        }
        _ => key.to_string(),
    }
}

impl SocialHandler {
    async fn record(&self, review: &Review) -> Result<(), HandlerError> {
        let inner = &self.service.inner;
        let dry_run = inner.settings.dry_run;
        let status = if dry_run {
            Status::DryRun
        } else {
            Status::Queued
        };
        for account in &inner.accounts {
            let post = account
                .composer
                .compose(review)
                .map_err(|e| HandlerError::Poison(e.into()))?;
            let now = self.service.now();
            let network = account.settings.network();
            let new = NewPost {
                review_id: review.id.to_string(),
                account: account.name().to_owned(),
                network,
                idempotency_key: idempotency_key(network, review.id.as_str(), account.name(), now),
                post,
            };
            let inserted = inner
                .store
                .record(&new, status, now)
                .await
                .map_err(|e| HandlerError::Transient(e.into()))?;
            if !inserted {
                tracing::debug!(review_id = %review.id, account = account.name(), "Already in the ledger; not posted again");
            } else if dry_run {
                tracing::info!(
                    review_id = %review.id,
                    account = account.name(),
                    network = network.as_str(),
                    text = %new.post.text,
                    "Dry run: composed a post into the outbox"
                );
            } else {
                tracing::info!(review_id = %review.id, account = account.name(), "Queued a post");
                account.wake.notify_one();
            }
        }
        Ok(())
    }
}
