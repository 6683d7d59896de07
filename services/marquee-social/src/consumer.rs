//! The bus consumer: decode a review event, let [`crate::handler`] decide,
//! then write the ledger; sending is the workers' ([`crate::worker`]).

use marquee_bus::{Handler, HandlerError, Message};
use marquee_events::{Envelope, Review, ReviewEvent};

use crate::SocialService;
use crate::handler::{Decision, back_catalogue, decide, initial_status, new_post};

/// Records review events as posts; see [`SocialService::handler`].
#[derive(Clone)]
pub struct SocialHandler(pub(crate) SocialService);

impl Handler for SocialHandler {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let event: Envelope<ReviewEvent> = message.decode()?;
        // Any event of a source is a sighting of it, not only a new review.
        let first_seen = self
            .0
            .inner
            .store
            .first_seen(&event.source, self.0.now())
            .await
            .map_err(HandlerError::transient)?;
        // Decided once, at one instant, for the accounts and the actors alike.
        let now = self.0.now();
        let max_age = self.0.inner.settings.back_catalogue_max_age();
        let back = match &event.data {
            ReviewEvent::Published(published) => {
                back_catalogue(&published.review, first_seen, now, max_age)
            }
            _ => None,
        };
        if let Some(fediverse) = &self.0.inner.fediverse {
            fediverse
                .publish(&self.0.inner.store, &event.data, back.is_some(), now)
                .await
                .map_err(HandlerError::transient)?;
        }
        match decide(&event.data) {
            Decision::Post(review) => match back {
                Some(reason) => self.skip(review, &reason).await,
                None => self.record(review).await,
            },
            Decision::Leave(review_id) => {
                tracing::debug!(review_id = %review_id, "An edited review is not posted again");
                Ok(())
            }
            Decision::Cancel { review_id, reason } => {
                let cancelled = self
                    .0
                    .inner
                    .store
                    .cancel_queued(review_id, &reason, self.0.now())
                    .await
                    .map_err(HandlerError::transient)?;
                if cancelled > 0 {
                    tracing::info!(review_id = %review_id, cancelled, "Withdrawn review: its queued posts will not go out");
                }
                Ok(())
            }
        }
    }
}

impl SocialHandler {
    /// Records `review` as skipped back catalogue on every account, once;
    /// a replay or redelivery finds the rows and posts nothing.
    async fn skip(&self, review: &Review, reason: &str) -> Result<(), HandlerError> {
        let inner = &self.0.inner;
        let mut skipped = 0;
        for account in &inner.accounts {
            let now = self.0.now();
            let new = new_post(account, review, now).map_err(|e| HandlerError::Poison(e.into()))?;
            if inner
                .store
                .record_skipped(&new, reason, now)
                .await
                .map_err(HandlerError::transient)?
            {
                skipped += 1;
            }
        }
        if skipped > 0 {
            tracing::info!(review_id = %review.id, accounts = skipped, reason, "Back catalogue: recorded as skipped, not posted");
        }
        Ok(())
    }

    /// Records one post of `review` per account, once: a replay finds the
    /// rows and changes nothing.
    async fn record(&self, review: &Review) -> Result<(), HandlerError> {
        let inner = &self.0.inner;
        let dry_run = inner.settings.dry_run;
        let status = initial_status(dry_run);
        for account in &inner.accounts {
            let now = self.0.now();
            let new = new_post(account, review, now).map_err(|e| HandlerError::Poison(e.into()))?;
            let inserted = inner
                .store
                .record(&new, status, now)
                .await
                .map_err(HandlerError::transient)?;
            if !inserted {
                tracing::debug!(review_id = %review.id, account = account.name(), "Already in the ledger; not posted again");
            } else if dry_run {
                tracing::info!(
                    review_id = %review.id,
                    account = account.name(),
                    network = new.network.as_str(),
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
