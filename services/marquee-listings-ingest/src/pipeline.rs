//! From sources to events: read a source (conditionally), normalize each
//! listing, decide what is new, changed or cancelled against the ledger
//! ([`crate::handler`]), publish, then record; tell the ingest core which
//! upcoming screenings the source no longer lists, which it cancels.
//!
//! A poll reads the ledger rows of everything the document lists in one
//! pass, then publishes in chunks of [`CHUNK`] (all of a chunk at once, so
//! the bus groups them) and records each chunk in one ledger transaction
//! once the bus accepted its events.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use marquee_bus::{Bus, Record};
use marquee_events::{
    Envelope, EventData, ScreeningCancelled, ScreeningChanged, ScreeningId, ScreeningListed,
};
use marquee_fetch::Document;
use marquee_ingest::{Answer, Change, Conditional, PollReport, Sweep};
use marquee_runtime::clock::SharedClock;
use url::Url;

use crate::error::IngestError;
use crate::handler::{changed_fields, decide_screening, match_review};
use crate::normalize::{Normalized, Parsed, clean_title, normalize, title_key};
use crate::reading::Reading;
use crate::settings::SourceSettings;
use crate::store::{Entry, Store};
use crate::venue::VenueZone;

/// Events published together, and ledger rows written in one transaction:
/// a crash between the two re-publishes at most this many on the next poll.
const CHUNK: usize = 1_000;

/// A configured source with its parsed venue.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) settings: SourceSettings,
    pub(crate) venue: VenueZone,
}

impl marquee_ingest::Source for Source {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn kind(&self) -> &str {
        self.settings.kind.as_str()
    }

    fn url(&self) -> &Url {
        &self.settings.url
    }

    fn poll_interval(&self) -> Duration {
        self.settings.poll_interval()
    }
}

/// The ingest machinery shared by the pollers.
pub(crate) struct Pipeline {
    pub(crate) store: Store,
    bus: Bus,
    /// Conditional GET; the memo is the document's text, read again on a
    /// 304 since what a recurring event yields moves with the horizon.
    fetch: Conditional<String>,
    clock: SharedClock,
    horizon_days: u32,
}

impl marquee_ingest::Pipeline for Pipeline {
    type Source = Source;
    type Error = IngestError;

    #[tracing::instrument(skip_all, fields(source = %source.settings.name))]
    async fn poll(&self, source: &Source) -> PollReport {
        let mut report = PollReport::default();
        let name = source.settings.name.as_str();
        let now = self.clock.now();
        match self.read(source, now).await {
            Ok((document, parsed)) => {
                report.read = true;
                let recorded = self.ingest(source, parsed, now, &mut report).await;
                // Remembered only when everything went through, so a failed
                // publish is retried on the next poll instead of hidden behind a 304.
                if let Some(document) = document.filter(|_| recorded) {
                    let url = &source.settings.url;
                    self.fetch
                        .remember(url, document.validators, &document.text)
                        .await;
                }
            }
            Err(error) => report.reject(name, &error),
        }
        tracing::info!(
            source = %name, listed = report.new, changed = report.changed,
            unchanged = report.unchanged, rejected = report.rejected, swept = report.swept(),
            "Polled a listings source"
        );
        report
    }

    /// None: a screening gone from its source's complete read is cancelled
    /// at once, so calendars drop it before anyone travels to it.
    fn grace(&self) -> Duration {
        Duration::ZERO
    }

    async fn expire(&self, source: &Source, item: &str) -> Result<Change, IngestError> {
        let Some(mut entry) = self.store.get(item).await? else {
            return Ok(Change::Unchanged);
        };
        let started = entry.screening.starts_at <= self.clock.now();
        if entry.cancelled || started || entry.source != source.settings.name {
            return Ok(Change::Unchanged);
        }
        let name = entry.source.clone();
        let reason = format!("no longer listed by source `{name}`");
        let screening = entry.screening.clone();
        let event = self.event(&name, ScreeningCancelled { screening, reason });
        self.bus.publish(event).await?;
        entry.sequence = entry.sequence.saturating_add(1);
        entry.cancelled = true;
        self.store.put_all(std::slice::from_ref(&entry)).await?;
        Ok(Change::Withdrawn)
    }

    async fn forget_validators(&self) {
        self.fetch.forget_all().await;
    }
}

impl Pipeline {
    pub(crate) fn new(
        store: Store,
        bus: Bus,
        fetch: Conditional<String>,
        clock: SharedClock,
        horizon_days: u32,
    ) -> Self {
        Self {
            store,
            bus,
            fetch,
            clock,
            horizon_days,
        }
    }

    /// Reads `source`: the fresh document (to remember once ingested), or
    /// none on a 304, and what it lists.
    async fn read(
        &self,
        source: &Source,
        now: DateTime<Utc>,
    ) -> Result<(Option<Document>, Parsed), IngestError> {
        let url = &source.settings.url;
        let (fresh, document) = match self.fetch.get(url).await? {
            Answer::Document(document) => (true, document),
            Answer::NotModified(text) => (
                false,
                Document {
                    url: url.clone(),
                    text,
                    validators: Default::default(),
                },
            ),
        };
        let reading = Reading {
            venue_id: source.venue.venue.id.clone(),
            venue_name: source.venue.venue.name.clone(),
            tz: source.venue.tz,
            now,
            horizon_days: self.horizon_days,
        };
        let parsed = source.settings.kind.parse(&document, &reading)?;
        Ok((fresh.then_some(document), parsed))
    }

    /// Change detection for everything one document listed, then what it
    /// no longer lists; whether every listing was recorded.
    pub(crate) async fn ingest(
        &self,
        source: &Source,
        parsed: Parsed,
        now: DateTime<Utc>,
        report: &mut PollReport,
    ) -> bool {
        let name = source.settings.name.as_str();
        for error in &parsed.rejected {
            report.reject(name, error);
        }
        let reviews = match self.store.reviews().await {
            Ok(reviews) => reviews,
            Err(error) => {
                report.reject(name, &IngestError::from(error));
                return false;
            }
        };
        let mut invalid_films: HashSet<String> = parsed
            .invalid_titles
            .iter()
            .map(|title| title_key(&clean_title(title).title))
            .collect();
        let (mut seen, mut listings) = (HashSet::new(), Vec::new());
        for draft in parsed.drafts {
            let title = draft.title.clone();
            let mut listing = match normalize(draft, &source.venue) {
                Ok(listing) => listing,
                Err(error) => {
                    report.reject(name, &error);
                    invalid_films.insert(title_key(&clean_title(&title).title));
                    continue;
                }
            };
            listing.screening.review_id = match_review(&reviews, &listing);
            if !seen.insert(listing.screening.id.clone()) {
                let error = IngestError::row(
                    &listing.location,
                    "duplicate",
                    format!(
                        "the same screening as an earlier one ({:?} at {})",
                        listing.screening.film.title, listing.screening.starts_at_local
                    ),
                );
                report.reject(name, &error);
                continue;
            }
            listings.push(listing);
        }
        let recorded = self.accept(name, listings, report).await;
        // An empty document is far likelier an upstream fault than a dark cinema.
        if !seen.is_empty() {
            match self.sweep(name, seen, &invalid_films, now).await {
                Ok(sweep) => report.sweep = Some(sweep),
                Err(error) => report.reject(name, &error),
            }
        }
        recorded
    }

    /// Publishes what is new, changed or cancelled about each screening,
    /// then records it; whether every one was recorded.
    async fn accept(
        &self,
        source: &str,
        listings: Vec<Normalized>,
        report: &mut PollReport,
    ) -> bool {
        let ids: Vec<&str> = listings.iter().map(|l| l.screening.id.as_str()).collect();
        let ledger = match self.store.entries(&ids).await {
            Ok(ledger) => ledger,
            Err(error) => {
                report.reject(source, &IngestError::from(error));
                return false;
            }
        };
        let mut pending = Vec::new();
        for listing in listings {
            let existing = ledger.get(listing.screening.id.as_str());
            match self.decide(source, listing, existing) {
                Some(update) => pending.push(update),
                None => report.count(Change::Unchanged),
            }
        }
        let mut recorded = true;
        let mut pending = pending.into_iter().peekable();
        while pending.peek().is_some() {
            let (updates, events): (Vec<_>, Vec<_>) = pending
                .by_ref()
                .take(CHUNK)
                .map(|update| ((update.change, update.entry), update.event))
                .unzip();
            let mut published = Vec::with_capacity(updates.len());
            for ((change, entry), outcome) in
                updates.into_iter().zip(self.bus.publish_all(events).await)
            {
                match outcome {
                    Ok(()) => {
                        tracing::debug!(screening_id = %entry.screening.id.as_str(), ?change, source = %source, "Published a screening event");
                        published.push((change, entry));
                    }
                    Err(error) => {
                        recorded = false;
                        report.reject(source, &IngestError::from(error));
                    }
                }
            }
            let (changes, entries): (Vec<_>, Vec<_>) = published.into_iter().unzip();
            match self.store.put_all(&entries).await {
                Ok(()) => changes.into_iter().for_each(|change| report.count(change)),
                Err(error) => {
                    recorded = false;
                    report.reject(source, &IngestError::from(error));
                }
            }
        }
        recorded
    }

    /// The event one screening calls for against its ledger row `existing`,
    /// with the row to record once it is published; none when unchanged.
    fn decide(
        &self,
        source: &str,
        listing: Normalized,
        existing: Option<&Entry>,
    ) -> Option<Update> {
        let Normalized {
            screening,
            cancelled,
            ..
        } = listing;
        let changed = existing
            .map(|entry| changed_fields(&entry.screening, &screening))
            .unwrap_or_default();
        let change = decide_screening(existing, &changed, cancelled);
        let event = match change {
            Change::Unchanged => return None,
            Change::New => self.event(
                source,
                ScreeningListed {
                    screening: screening.clone(),
                },
            ),
            Change::Changed => self.event(
                source,
                ScreeningChanged {
                    screening: screening.clone(),
                    changed,
                },
            ),
            Change::Withdrawn => {
                let reason = format!("marked cancelled by source `{source}`");
                let screening = screening.clone();
                self.event(source, ScreeningCancelled { screening, reason })
            }
        };
        let entry = Entry {
            source: source.to_owned(),
            sequence: existing.map_or(0, |entry| entry.sequence.saturating_add(1)),
            screening,
            cancelled,
        };
        Some(Update {
            change,
            event,
            entry,
        })
    }

    /// The source's upcoming screenings a complete read no longer has,
    /// save those of a film a rejected row names (present but invalid).
    async fn sweep(
        &self,
        source: &str,
        seen: HashSet<ScreeningId>,
        invalid_films: &HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<Sweep, IngestError> {
        let missing = self
            .store
            .upcoming(source, now)
            .await?
            .into_iter()
            .filter(|entry| {
                !seen.contains(&entry.screening.id)
                    && !invalid_films.contains(&title_key(&entry.screening.film.title))
            })
            .map(|entry| entry.screening.id.as_str().to_owned())
            .collect();
        Ok(Sweep {
            present: seen.iter().map(|id| id.as_str().to_owned()).collect(),
            missing,
        })
    }

    /// The record of `data` as `source`'s event, stamped now.
    fn event<T: EventData>(&self, source: &str, data: T) -> Record {
        let event = Envelope::new(
            format!("marquee/listings-ingest/{source}"),
            data,
            self.clock.now(),
        );
        Record::from_event(&event)
    }
}

/// What one screening's poll publishes and then records.
struct Update {
    change: Change,
    event: Record,
    entry: Entry,
}
