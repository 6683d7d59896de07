//! From sources to events: read a source, normalize each listing, decide
//! what is new, changed or cancelled against the ledger
//! ([`crate::handler`]), publish, then record; after a complete read,
//! cancel what the source no longer lists.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use marquee_bus::Bus;
use marquee_events::{
    Envelope, EventData, ScreeningCancelled, ScreeningChanged, ScreeningId, ScreeningListed,
};
use marquee_fetch::Fetcher;
use marquee_ingest::{Change, PollReport};
use marquee_runtime::clock::SharedClock;
use url::Url;

use crate::error::IngestError;
use crate::handler::{changed_fields, decide_screening, match_review};
use crate::normalize::{Normalized, Parsed, normalize};
use crate::reading::Reading;
use crate::settings::SourceSettings;
use crate::store::{Entry, Store};
use crate::venue::VenueZone;

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
    fetcher: Fetcher,
    clock: SharedClock,
    horizon_days: u32,
}

impl marquee_ingest::Pipeline for Pipeline {
    type Source = Source;

    #[tracing::instrument(skip_all, fields(source = %source.settings.name))]
    async fn poll(&self, source: &Source) -> PollReport {
        let mut report = PollReport::default();
        let name = source.settings.name.as_str();
        let now = self.clock.now();
        match self.read(source, now).await {
            Ok(parsed) => {
                report.read = true;
                self.ingest(source, parsed, now, &mut report).await;
            }
            Err(error) => report.reject(name, &error),
        }
        tracing::info!(
            source = %name, listed = report.new, changed = report.changed,
            cancelled = report.withdrawn, unchanged = report.unchanged,
            rejected = report.rejected, swept = report.swept,
            "Polled a listings source"
        );
        report
    }
}

impl Pipeline {
    pub(crate) fn new(
        store: Store,
        bus: Bus,
        fetcher: Fetcher,
        clock: SharedClock,
        horizon_days: u32,
    ) -> Self {
        Self {
            store,
            bus,
            fetcher,
            clock,
            horizon_days,
        }
    }

    async fn read(&self, source: &Source, now: DateTime<Utc>) -> Result<Parsed, IngestError> {
        // Unconditional: every poll needs the full set for the disappearance
        // sweep, so there are no validators and no 304 to expect.
        let document = self.fetcher.get_in_full(&source.settings.url).await?;
        let reading = Reading {
            venue_id: source.venue.venue.id.clone(),
            venue_name: source.venue.venue.name.clone(),
            tz: source.venue.tz,
            now,
            horizon_days: self.horizon_days,
        };
        source.settings.kind.parse(&document, &reading)
    }

    /// Change detection for everything one document listed, then the sweep.
    pub(crate) async fn ingest(
        &self,
        source: &Source,
        parsed: Parsed,
        now: DateTime<Utc>,
        report: &mut PollReport,
    ) {
        let name = source.settings.name.as_str();
        for error in &parsed.rejected {
            report.reject(name, error);
        }
        let reviews = match self.store.reviews().await {
            Ok(reviews) => reviews,
            Err(error) => {
                report.reject(name, &IngestError::from(error));
                return;
            }
        };
        let mut seen = HashSet::new();
        for draft in parsed.drafts {
            let mut listing = match normalize(draft, &source.venue) {
                Ok(listing) => listing,
                Err(error) => {
                    report.reject(name, &error);
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
            match self.accept(name, listing).await {
                Ok(change) => report.count(change),
                Err(error) => report.reject(name, &error),
            }
        }
        // Absence means cancellation only when the source was read whole:
        // a rejected row may be a listed screening with a typo, and an empty
        // document is far likelier an upstream fault than a dark cinema.
        if report.rejected == 0 && !seen.is_empty() {
            report.swept = true;
            if let Err(error) = self.sweep(name, &seen, now, report).await {
                report.reject(name, &error);
            }
        } else if !seen.is_empty() || report.rejected > 0 {
            tracing::info!(source = %name, rejected = report.rejected, "Skipped looking for vanished screenings");
        }
    }

    /// Publishes what is new, changed or cancelled about one screening, then records it.
    #[tracing::instrument(skip(self, listing), fields(screening_id = %listing.screening.id.as_str()))]
    async fn accept(&self, source: &str, listing: Normalized) -> Result<Change, IngestError> {
        let Normalized {
            screening,
            cancelled,
            ..
        } = listing;
        let existing = self.store.get(screening.id.as_str()).await?;
        let changed = existing
            .as_ref()
            .map(|entry| changed_fields(&entry.screening, &screening))
            .unwrap_or_default();
        let change = decide_screening(existing.as_ref(), &changed, cancelled);
        let screening_now = screening.clone();
        match change {
            Change::Unchanged => return Ok(change),
            Change::Withdrawn => {
                let reason = format!("marked cancelled by source `{source}`");
                self.publish(source, ScreeningCancelled { screening, reason })
                    .await?;
            }
            Change::New => self.publish(source, ScreeningListed { screening }).await?,
            Change::Changed => {
                self.publish(source, ScreeningChanged { screening, changed })
                    .await?;
            }
        }
        let entry = Entry {
            screening: screening_now,
            sequence: existing.map_or(0, |entry| entry.sequence.saturating_add(1)),
            cancelled,
        };
        self.store.put(source, &entry).await?;
        Ok(change)
    }

    /// Cancels the source's upcoming screenings that a complete read no longer has.
    async fn sweep(
        &self,
        source: &str,
        seen: &HashSet<ScreeningId>,
        now: DateTime<Utc>,
        report: &mut PollReport,
    ) -> Result<(), IngestError> {
        for mut entry in self.store.upcoming(source, now).await? {
            if seen.contains(&entry.screening.id) {
                continue;
            }
            let reason = format!("no longer listed by source `{source}`");
            self.publish(
                source,
                ScreeningCancelled {
                    screening: entry.screening.clone(),
                    reason,
                },
            )
            .await?;
            entry.sequence = entry.sequence.saturating_add(1);
            entry.cancelled = true;
            self.store.put(source, &entry).await?;
            report.count(Change::Withdrawn);
        }
        Ok(())
    }

    async fn publish<T: EventData>(&self, source: &str, data: T) -> Result<(), IngestError> {
        let event = Envelope::new(
            format!("marquee/listings-ingest/{source}"),
            data,
            self.clock.now(),
        );
        self.bus.publish_event(&event).await?;
        tracing::debug!(screening_id = %event.subject, event_type = %event.event_type, source = %source, "Published a screening event");
        Ok(())
    }
}
