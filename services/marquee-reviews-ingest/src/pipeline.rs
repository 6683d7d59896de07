//! From sources to events: poll a source, detect what is new, changed or
//! gone against the ledger, publish, then record.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use marquee_bus::Bus;
use marquee_events::{
    Envelope, EventData, ReviewId, ReviewPublished, ReviewUpdated, ReviewWithdrawn,
};
use marquee_fetch::{Fetched, Fetcher, Validators};
use url::Url;

use crate::draft::Candidate;
use crate::error::IngestError;
use crate::feed::parse_feed;
use crate::ledger::{Entry, Ledger, Withdrawn, changed_fields, fingerprint};
use crate::page::{article_links, extract_article};
use crate::settings::SourceSettings;

/// What became of one review handed to change detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New (or back after a withdrawal): `review.published` sent.
    Published,
    /// Changed in substance: `review.updated` sent.
    Updated,
    /// Nothing worth an event.
    Unchanged,
    /// `review.withdrawn` sent.
    Withdrawn,
}

/// Counts from one poll of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// `review.published` events sent.
    pub published: usize,
    /// `review.updated` events sent.
    pub updated: usize,
    /// `review.withdrawn` events sent.
    pub withdrawn: usize,
    /// Reviews seen again without a change.
    pub unchanged: usize,
    /// Documents or items rejected (each logged and counted).
    pub rejected: usize,
    /// The [`IngestError::kind`] of each rejection, in order.
    pub rejection_kinds: Vec<&'static str>,
    /// Each rejection as logged, in order.
    pub rejections: Vec<String>,
    /// Whether the source answered (a document it could parse, or 304
    /// Not Modified); some items may still be rejected.
    pub read: bool,
}

impl PollReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Published => self.published += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Withdrawn => self.withdrawn += 1,
        }
    }

    fn reject(&mut self, source: &str, error: &IngestError) {
        error.report(source);
        self.rejected += 1;
        self.rejection_kinds.push(error.kind());
        self.rejections.push(error.to_string());
    }
}

/// What the last successful fetch of a URL left behind.
#[derive(Debug, Clone, Default)]
struct Cached {
    validators: Validators,
    /// Review ids the document yielded, still listed when it answers 304.
    ids: Vec<String>,
}

/// What a listing (a whole feed, or an index and all its articles) said.
#[derive(Debug, Default)]
struct Listing {
    seen: HashSet<String>,
    /// Oldest publication date listed: feeds are rolling windows, so an item
    /// older than this has scrolled off rather than been taken down.
    oldest: Option<DateTime<Utc>>,
    /// Whether every item was read and recorded; only then may absence mean
    /// withdrawal.
    complete: bool,
}

impl Listing {
    fn see(&mut self, candidate: &Candidate) {
        self.seen.insert(candidate.review.id.to_string());
        if candidate.dated {
            let at = candidate.review.published_at;
            self.oldest = Some(self.oldest.map_or(at, |o| o.min(at)));
        }
    }
}

/// The ingest machinery shared by the pollers and the webhook.
pub(crate) struct Pipeline {
    pub(crate) ledger: Ledger,
    bus: Bus,
    fetcher: Fetcher,
    withdraw_grace: Duration,
    cache: Mutex<HashMap<Url, Cached>>,
}

impl Pipeline {
    pub(crate) fn new(
        ledger: Ledger,
        bus: Bus,
        fetcher: Fetcher,
        withdraw_grace: Duration,
    ) -> Self {
        Self {
            ledger,
            bus,
            fetcher,
            withdraw_grace,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Polls `source` once; failures are logged, counted and reported.
    #[tracing::instrument(skip_all, fields(source = %source.name()))]
    pub(crate) async fn poll(&self, source: &SourceSettings) -> PollReport {
        let mut report = PollReport::default();
        let name = source.name();
        let listing = match source {
            SourceSettings::Feed { url, .. } => self.poll_feed(name, url, &mut report).await,
            SourceSettings::Pages { index_url, .. } => {
                self.poll_pages(name, index_url, &mut report).await
            }
        };
        if let Some(listing) = listing
            && listing.complete
            && let Err(error) = self.sweep(name, &listing, &mut report).await
        {
            report.reject(name, &error);
        }
        tracing::info!(
            source = %name, published = report.published, updated = report.updated,
            withdrawn = report.withdrawn, unchanged = report.unchanged, rejected = report.rejected,
            "Polled a review source"
        );
        report
    }

    async fn poll_feed(&self, name: &str, url: &Url, report: &mut PollReport) -> Option<Listing> {
        let cached = self.cached(url);
        let document = match self.fetch(url, cached.as_ref()).await {
            Ok(Some(document)) => document,
            Ok(None) => {
                report.read = true;
                self.still_listed(name, cached, report).await;
                return None;
            }
            Err(error) => {
                report.reject(name, &error);
                return None;
            }
        };
        let items = match parse_feed(&document.text, &document.url) {
            Ok(items) => items,
            Err(error) => {
                report.reject(name, &error);
                return None;
            }
        };
        report.read = true;
        let mut listing = Listing {
            complete: true,
            ..Listing::default()
        };
        for item in items {
            match self.accept_item(name, item, &mut listing).await {
                Ok(outcome) => report.count(outcome),
                Err(error) => {
                    listing.complete = false;
                    report.reject(name, &error);
                }
            }
        }
        // Remembered only when everything went through, so a failed publish
        // is retried on the next poll instead of hidden behind a 304.
        if listing.complete {
            self.remember(
                url,
                document.validators,
                listing.seen.iter().cloned().collect(),
            );
        }
        Some(listing)
    }

    async fn poll_pages(
        &self,
        name: &str,
        index: &Url,
        report: &mut PollReport,
    ) -> Option<Listing> {
        // The index is fetched in full every time: editing an article rarely
        // changes the index, and the articles themselves are fetched conditionally.
        let links = match self.fetch(index, None).await {
            Ok(Some(document)) => article_links(&document.text, &document.url),
            Ok(None) => {
                report.read = true;
                return None;
            }
            Err(error) => Err(error),
        };
        let links = match links {
            Ok(links) => links,
            Err(error) => {
                report.reject(name, &error);
                return None;
            }
        };
        report.read = true;
        let mut listing = Listing {
            complete: true,
            ..Listing::default()
        };
        for link in links {
            let cached = self.cached(&link);
            let document = match self.fetch(&link, cached.as_ref()).await {
                Ok(Some(document)) => document,
                Ok(None) => {
                    listing
                        .seen
                        .extend(cached.iter().flat_map(|c| c.ids.iter().cloned()));
                    self.still_listed(name, cached, report).await;
                    continue;
                }
                Err(error) => {
                    listing.complete = false;
                    report.reject(name, &error);
                    continue;
                }
            };
            let item = extract_article(&document.text, &document.url);
            let id = item.as_ref().map(|c| c.review.id.to_string()).ok();
            match self.accept_item(name, item, &mut listing).await {
                Ok(outcome) => {
                    report.count(outcome);
                    self.remember(&link, document.validators, id.into_iter().collect());
                }
                Err(error) => {
                    listing.complete = false;
                    report.reject(name, &error);
                }
            }
        }
        Some(listing)
    }

    /// Forgets every conditional-GET validator, so the next polls read
    /// every document in full.
    pub(crate) fn forget_validators(&self) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    async fn accept_item(
        &self,
        source: &str,
        item: Result<Candidate, IngestError>,
        listing: &mut Listing,
    ) -> Result<Outcome, IngestError> {
        let candidate = item?;
        listing.see(&candidate);
        self.accept(source, candidate, false).await
    }

    /// Fetches `url`; `None` when it answered 304.
    async fn fetch(
        &self,
        url: &Url,
        cached: Option<&Cached>,
    ) -> Result<Option<marquee_fetch::Document>, IngestError> {
        match self.fetcher.get(url, cached.map(|c| &c.validators)).await? {
            Fetched::NotModified => Ok(None),
            Fetched::Document(document) => Ok(Some(document)),
        }
    }

    /// A 304 confirms the reviews the document yielded last time are still listed.
    async fn still_listed(&self, source: &str, cached: Option<Cached>, report: &mut PollReport) {
        let now = Utc::now().timestamp_millis();
        for id in cached.into_iter().flat_map(|c| c.ids) {
            match self.ledger.touch(&id, source, now).await {
                Ok(()) => report.unchanged += 1,
                Err(error) => report.reject(source, &error.into()),
            }
        }
    }

    fn cached(&self, url: &Url) -> Option<Cached> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(url)
            .cloned()
    }

    fn remember(&self, url: &Url, validators: Validators, ids: Vec<String>) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(url.clone(), Cached { validators, ids });
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
    ) -> Result<Outcome, IngestError> {
        let mut review = candidate.review;
        let existing = self.ledger.get(&review.id).await?;
        if !candidate.dated
            && let Some(entry) = existing.as_ref().filter(|e| !e.content_hash.is_empty())
        {
            review.published_at = entry.published_at;
        }
        let (content_hash, field_hashes) = fingerprint(&review);
        let now = Utc::now().timestamp_millis();
        let unchanged = existing.as_ref().is_some_and(|e| {
            e.content_hash == content_hash
                && (e.withdrawn == Withdrawn::No || (e.withdrawn == Withdrawn::ByCms && !revive))
        });
        if unchanged {
            self.ledger.touch(review.id.as_str(), source, now).await?;
            return Ok(Outcome::Unchanged);
        }
        let entry = Entry {
            id: review.id.to_string(),
            content_hash,
            field_hashes,
            published_at: review.published_at,
            last_seen: now,
            withdrawn: Withdrawn::No,
        };
        let outcome = match existing {
            Some(before) if before.withdrawn == Withdrawn::No => {
                let changed = changed_fields(&before.field_hashes, &entry.field_hashes);
                self.publish(source, ReviewUpdated { review, changed })
                    .await?;
                Outcome::Updated
            }
            _ => {
                self.publish(source, ReviewPublished { review }).await?;
                Outcome::Published
            }
        };
        self.ledger.upsert(source, &entry).await?;
        Ok(outcome)
    }

    /// Withdraws `id` unless it already is.
    #[tracing::instrument(skip(self, reason), fields(review_id = %id))]
    pub(crate) async fn withdraw(
        &self,
        source: &str,
        id: ReviewId,
        reason: String,
        how: Withdrawn,
    ) -> Result<Outcome, IngestError> {
        let existing = self.ledger.get(&id).await?;
        if existing.is_some_and(|e| e.withdrawn != Withdrawn::No) {
            // Already withdrawn: no second event, but a CMS withdrawal outranks absence.
            if how == Withdrawn::ByCms {
                self.ledger.withdraw(id.as_str(), source, how).await?;
            }
            return Ok(Outcome::Unchanged);
        }
        let key = id.to_string();
        self.publish(source, ReviewWithdrawn { id, reason }).await?;
        self.ledger.withdraw(&key, source, how).await?;
        Ok(Outcome::Withdrawn)
    }

    /// Withdraws the source's reviews that a complete listing no longer has.
    async fn sweep(
        &self,
        source: &str,
        listing: &Listing,
        report: &mut PollReport,
    ) -> Result<(), IngestError> {
        // An empty listing is far likelier an upstream fault than the whole
        // catalogue being taken down.
        if listing.seen.is_empty() {
            return Ok(());
        }
        let grace = i64::try_from(self.withdraw_grace.as_millis()).unwrap_or(i64::MAX);
        let now = Utc::now().timestamp_millis();
        for entry in self.ledger.live_in(source).await? {
            let missing_long_enough = now.saturating_sub(entry.last_seen) >= grace;
            let scrolled_off = listing
                .oldest
                .is_some_and(|oldest| entry.published_at < oldest);
            if listing.seen.contains(&entry.id) || !missing_long_enough || scrolled_off {
                continue;
            }
            let id = ReviewId::parse(&entry.id).map_err(IngestError::InvalidItem)?;
            let reason = format!("no longer listed by source `{source}`");
            let outcome = self.withdraw(source, id, reason, Withdrawn::Absent).await?;
            report.count(outcome);
        }
        Ok(())
    }

    async fn publish<T: EventData>(&self, source: &str, data: T) -> Result<(), IngestError> {
        let event = Envelope::new(format!("marquee/reviews-ingest/{source}"), data);
        self.bus.publish_event(&event).await?;
        tracing::info!(review_id = %event.subject, event_type = %event.event_type, source = %source, "Published a review event");
        Ok(())
    }
}
