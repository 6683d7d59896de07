//! From sources to events: poll a source ([`read`]), decide what is new,
//! changed or gone against the ledger ([`crate::handler`]), publish, then
//! record; tell the ingest core what a listing read in full no longer has,
//! which it withdraws past the grace period ([`listing`]).

mod listing;
mod read;

use std::time::Duration;

use marquee_bus::Bus;
use marquee_events::{
    Envelope, EventData, ReviewId, ReviewPublished, ReviewUpdated, ReviewWithdrawn,
};
use marquee_ingest::{Change, Conditional, PollReport};
use marquee_runtime::clock::SharedClock;

use crate::draft::Candidate;
use crate::error::IngestError;
use crate::handler::{changed_fields, decide_review, fingerprint};
use crate::settings::SourceSettings;
use crate::store::{Entry, Store, Withdrawn};

/// The ingest machinery shared by the pollers and the webhook.
pub(crate) struct Pipeline {
    pub(crate) store: Store,
    bus: Bus,
    /// Conditional GET; the memo is the review ids a document listed, still
    /// listed when it answers 304.
    fetch: Conditional<Vec<String>>,
    withdraw_grace: Duration,
    clock: SharedClock,
}

impl marquee_ingest::Pipeline for Pipeline {
    type Source = SourceSettings;

    type Error = IngestError;

    #[tracing::instrument(skip_all, fields(source = %source.name()))]
    async fn poll(&self, source: &SourceSettings) -> PollReport {
        let mut report = PollReport::default();
        let name = source.name();
        let listing = match source {
            SourceSettings::Feed { url, .. } => self.poll_feed(name, url, &mut report).await,
            SourceSettings::Pages {
                index_url, links, ..
            } => {
                self.poll_pages(name, index_url, links.as_ref(), &mut report)
                    .await
            }
        };
        if let Some(listing) = listing {
            match self.sweep(name, listing).await {
                Ok(sweep) => report.sweep = sweep,
                Err(error) => report.reject(name, &error),
            }
        }
        tracing::info!(
            source = %name, published = report.new, updated = report.changed,
            withdrawn = report.withdrawn, unchanged = report.unchanged, rejected = report.rejected,
            "Polled a review source"
        );
        report
    }

    fn grace(&self) -> Duration {
        self.withdraw_grace
    }

    async fn expire(&self, source: &SourceSettings, item: &str) -> Result<Change, IngestError> {
        self.expire_review(source.name(), item).await
    }

    async fn forget_validators(&self) {
        self.fetch.forget_all().await;
    }
}

impl Pipeline {
    pub(crate) fn new(
        store: Store,
        bus: Bus,
        fetch: Conditional<Vec<String>>,
        withdraw_grace: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            bus,
            fetch,
            withdraw_grace,
            clock,
        }
    }

    /// Now, in Unix milliseconds, as the ledger's `last_seen` counts.
    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Change detection for one review: publishes what is new or changed,
    /// then records it. `revive` lets the CMS re-publish a review it withdrew
    /// without changing it; a poll never does.
    #[tracing::instrument(skip(self, candidate), fields(review_id = %candidate.review.id))]
    pub(crate) async fn accept(
        &self,
        source: &str,
        candidate: Candidate,
        revive: bool,
    ) -> Result<Change, IngestError> {
        let mut review = candidate.review;
        let existing = self.store.get(&review.id).await?;
        if !candidate.dated
            && let Some(entry) = existing.as_ref().filter(|e| !e.content_hash.is_empty())
        {
            review.published_at = entry.published_at;
        }
        let (content_hash, field_hashes) = fingerprint(&review);
        let now = self.now_ms();
        let change = decide_review(existing.as_ref(), &content_hash, revive);
        if change == Change::Unchanged {
            self.store.touch(review.id.as_str(), source, now).await?;
            return Ok(change);
        }
        // The feeds keep the version with the latest `updated_at`: a version
        // must never claim a time later than now, nor earlier than the one
        // it replaces, or it would block (or be blocked by) every later edit.
        review.updated_at = review.updated_at.min(self.clock.now());
        if let Some(previous) = existing.as_ref().and_then(|entry| entry.updated_at) {
            review.updated_at = review.updated_at.max(previous);
        }
        review.updated_at = review.updated_at.max(review.published_at);
        let entry = Entry {
            id: review.id.to_string(),
            source: source.to_owned(),
            content_hash,
            field_hashes,
            published_at: review.published_at,
            updated_at: Some(review.updated_at),
            last_seen: now,
            withdrawn: Withdrawn::No,
        };
        match (change, existing) {
            (Change::Changed, Some(before)) => {
                let changed = changed_fields(&before.field_hashes, &entry.field_hashes);
                self.publish(source, ReviewUpdated { review, changed })
                    .await?;
            }
            _ => self.publish(source, ReviewPublished { review }).await?,
        }
        self.store.upsert(&entry).await?;
        Ok(change)
    }

    /// Withdraws `id` unless it already is.
    #[tracing::instrument(skip(self, reason), fields(review_id = %id))]
    pub(crate) async fn withdraw(
        &self,
        source: &str,
        id: ReviewId,
        reason: String,
        how: Withdrawn,
    ) -> Result<Change, IngestError> {
        let existing = self.store.get(&id).await?;
        if existing.is_some_and(|e| e.withdrawn != Withdrawn::No) {
            // Already withdrawn: no second event, but a CMS withdrawal outranks absence.
            if how == Withdrawn::ByCms {
                self.store.withdraw(id.as_str(), source, how).await?;
            }
            return Ok(Change::Unchanged);
        }
        let key = id.to_string();
        self.publish(source, ReviewWithdrawn { id, reason }).await?;
        self.store.withdraw(&key, source, how).await?;
        Ok(Change::Withdrawn)
    }

    async fn publish<T: EventData>(&self, source: &str, data: T) -> Result<(), IngestError> {
        let event = Envelope::new(
            format!("marquee/reviews-ingest/{source}"),
            data,
            self.clock.now(),
        );
        self.bus.publish_event(&event).await?;
        tracing::info!(review_id = %event.subject, event_type = %event.event_type, source = %source, "Published a review event");
        Ok(())
    }
}
