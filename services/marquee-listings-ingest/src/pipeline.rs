//! From sources to events: fetch a source, parse and normalize its listings,
//! detect what is new, changed or cancelled against the ledger, publish,
//! then record.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use marquee_bus::Bus;
use marquee_events::{
    Envelope, EventData, ReviewId, Screening, ScreeningCancelled, ScreeningChanged, ScreeningListed,
};
use marquee_fetch::{Fetched, Fetcher};

use crate::error::IngestError;
use crate::ledger::{Entry, Ledger, ReviewIndex};
use crate::localtime::Clock;
use crate::normalize::{Normalized, Parsed, VenueZone, normalize};
use crate::settings::{SourceKind, SourceSettings};
use crate::{csv_listings, ics, json_listings, jsonld};

/// What became of one screening handed to change detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New, or back after a cancellation: `screening.listed` sent.
    Listed,
    /// Changed: `screening.changed` sent with the changed fields.
    Changed,
    /// `screening.cancelled` sent.
    Cancelled,
    /// Nothing worth an event.
    Unchanged,
}

/// Counts from one poll of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// `screening.listed` events sent.
    pub listed: usize,
    /// `screening.changed` events sent.
    pub changed: usize,
    /// `screening.cancelled` events sent (marked by the source or gone from it).
    pub cancelled: usize,
    /// Screenings seen again without a change.
    pub unchanged: usize,
    /// Documents, rows or items rejected (each logged and counted).
    pub rejected: usize,
    /// Each rejection as logged, e.g. `line 12: the VEVENT "Jaws" has no DTSTART`.
    pub rejections: Vec<String>,
    /// The [`IngestError::kind`] of each rejection, in order.
    pub rejection_kinds: Vec<&'static str>,
    /// Whether screenings missing from the source were looked for (only
    /// after a poll with no rejection, so a broken row never cancels).
    pub swept: bool,
    /// Whether the source was fetched and parsed (some rows may still be rejected).
    pub read: bool,
}

impl PollReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Listed => self.listed += 1,
            Outcome::Changed => self.changed += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn reject(&mut self, source: &str, error: &IngestError) {
        error.report(source);
        self.rejected += 1;
        self.rejections.push(error.to_string());
        self.rejection_kinds.push(error.kind());
    }
}

/// A configured source with its parsed venue.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) settings: SourceSettings,
    pub(crate) venue: VenueZone,
}

/// The ingest machinery shared by the pollers.
pub(crate) struct Pipeline {
    pub(crate) ledger: Ledger,
    bus: Bus,
    fetcher: Fetcher,
    clock: Clock,
    horizon_days: u32,
}

impl Pipeline {
    pub(crate) fn new(
        ledger: Ledger,
        bus: Bus,
        fetcher: Fetcher,
        clock: Clock,
        horizon_days: u32,
    ) -> Self {
        Self {
            ledger,
            bus,
            fetcher,
            clock,
            horizon_days,
        }
    }

    /// Now, on the pipeline's clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Polls `source` once; failures are logged, counted and reported.
    #[tracing::instrument(skip_all, fields(source = %source.settings.name))]
    pub(crate) async fn poll(&self, source: &Source) -> PollReport {
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
            source = %name, listed = report.listed, changed = report.changed,
            cancelled = report.cancelled, unchanged = report.unchanged,
            rejected = report.rejected, swept = report.swept,
            "Polled a listings source"
        );
        report
    }

    async fn read(&self, source: &Source, now: DateTime<Utc>) -> Result<Parsed, IngestError> {
        // Unconditional: every poll needs the full set for the disappearance
        // sweep, so there are no validators and no 304 to expect.
        let document = match self.fetcher.get(&source.settings.url, None).await? {
            Fetched::Document(document) => document,
            Fetched::NotModified => {
                return Err(IngestError::Unexpected(anyhow::anyhow!(
                    "{} answered 304 Not Modified to an unconditional GET",
                    source.settings.url
                )));
            }
        };
        let tz = source.venue.tz;
        match source.settings.kind {
            SourceKind::Ics => ics::parse(&document.text, ics::window(tz, now, self.horizon_days)),
            SourceKind::Csv => csv_listings::parse(&document.text, &source.venue.venue.id, tz),
            SourceKind::Json => json_listings::parse(&document.text, tz),
            SourceKind::JsonLd => {
                jsonld::parse(&document.text, &document.url, &source.venue.venue.name, tz)
            }
        }
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
        let reviews = match self.ledger.reviews().await {
            Ok(reviews) => reviews,
            Err(error) => {
                report.reject(name, &error.into());
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
                Ok(outcome) => report.count(outcome),
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
    async fn accept(&self, source: &str, listing: Normalized) -> Result<Outcome, IngestError> {
        let Normalized {
            screening,
            cancelled,
            ..
        } = listing;
        let existing = self.ledger.get(screening.id.as_str()).await?;
        let (outcome, sequence) = match (existing, cancelled) {
            (None, true) => return Ok(Outcome::Unchanged),
            (Some(entry), true) if entry.cancelled => return Ok(Outcome::Unchanged),
            (Some(entry), true) => {
                let reason = format!("marked cancelled by source `{source}`");
                self.publish(
                    source,
                    ScreeningCancelled {
                        screening: screening.clone(),
                        reason,
                    },
                )
                .await?;
                (Outcome::Cancelled, entry.sequence.saturating_add(1))
            }
            (None, false) => {
                self.publish(
                    source,
                    ScreeningListed {
                        screening: screening.clone(),
                    },
                )
                .await?;
                (Outcome::Listed, 0)
            }
            (Some(entry), false) if entry.cancelled => {
                self.publish(
                    source,
                    ScreeningListed {
                        screening: screening.clone(),
                    },
                )
                .await?;
                (Outcome::Listed, entry.sequence.saturating_add(1))
            }
            (Some(entry), false) => {
                let changed = changed_fields(&entry.screening, &screening);
                if changed.is_empty() {
                    return Ok(Outcome::Unchanged);
                }
                self.publish(
                    source,
                    ScreeningChanged {
                        screening: screening.clone(),
                        changed,
                    },
                )
                .await?;
                (Outcome::Changed, entry.sequence.saturating_add(1))
            }
        };
        let entry = Entry {
            screening,
            sequence,
            cancelled,
        };
        self.ledger.put(source, &entry).await?;
        Ok(outcome)
    }

    /// Cancels the source's upcoming screenings that a complete read no longer has.
    async fn sweep(
        &self,
        source: &str,
        seen: &HashSet<marquee_events::ScreeningId>,
        now: DateTime<Utc>,
        report: &mut PollReport,
    ) -> Result<(), IngestError> {
        for mut entry in self.ledger.upcoming(source, now).await? {
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
            self.ledger.put(source, &entry).await?;
            report.count(Outcome::Cancelled);
        }
        Ok(())
    }

    async fn publish<T: EventData>(&self, source: &str, data: T) -> Result<(), IngestError> {
        let event = Envelope::new(format!("marquee/listings-ingest/{source}"), data);
        self.bus.publish_event(&event).await?;
        tracing::debug!(screening_id = %event.subject, event_type = %event.event_type, source = %source, "Published a screening event");
        Ok(())
    }
}

/// The review of the listed film: same title key and same year; when either
/// year is unknown, the title's only review.
fn match_review(reviews: &ReviewIndex, listing: &Normalized) -> Option<ReviewId> {
    let candidates = reviews.get(&listing.title_key)?;
    let year = listing.screening.film.year;
    if let Some(year) = year
        && let Some((id, _)) = candidates.iter().find(|(_, y)| *y == Some(year))
    {
        return Some(id.clone());
    }
    match candidates.as_slice() {
        [(id, review_year)] if year.is_none() || review_year.is_none() => Some(id.clone()),
        _ => None,
    }
}

/// Names of the fields that differ, as `Screening` names them
/// (`starts_at` covers its local twin).
pub(crate) fn changed_fields(before: &Screening, after: &Screening) -> Vec<String> {
    let checks = [
        ("venue", before.venue != after.venue),
        ("film", before.film != after.film),
        (
            "starts_at",
            before.starts_at != after.starts_at || before.starts_at_local != after.starts_at_local,
        ),
        ("time_zone", before.time_zone != after.time_zone),
        ("screen", before.screen != after.screen),
        ("format", before.format != after.format),
        ("strand", before.strand != after.strand),
        ("extras", before.extras != after.extras),
        ("accessibility", before.accessibility != after.accessibility),
        ("booking_url", before.booking_url != after.booking_url),
        ("sold_out", before.sold_out != after.sold_out),
        ("review_id", before.review_id != after.review_id),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name.to_owned())
        .collect()
}
