//! Listings ingest: turns cinemas' repertory listings into
//! `screening.listed`, `screening.changed` and `screening.cancelled` events
//! on the `screenings` topic. (Calendars of the screenings are rendered by
//! the feeds service, which owns every output format.)
//!
//! # Sources
//! Any number per venue; each names its venue (id, name, address, IANA
//! time zone) in [`SourceSettings`]:
//! - **`ics`**: an iCalendar (RFC 5545) feed. `SUMMARY` is the title,
//!   `DTSTART` the start (`TZID` = any IANA zone, `Z` = UTC, none = the
//!   venue's zone; all-day dates are refused), `UID` the identity,
//!   `LOCATION` the screen, `URL` the booking link, `CATEGORIES` labels
//!   (formats, extras, access, "sold out"; the first other one is the
//!   strand), `STATUS:CANCELLED` cancels, `X-MARQUEE-STRAND` and
//!   `X-MARQUEE-SOLD-OUT:TRUE` are read. `RRULE` `FREQ=DAILY`/`WEEKLY` (with
//!   `INTERVAL`, `COUNT`, `UNTIL`, plain `BYDAY`, `WKST`) is expanded from now
//!   to `rrule_horizon_days` ahead, honouring `EXDATE` and `RECURRENCE-ID`
//!   overrides; any other rule (and `RDATE`) rejects its event with the reason.
//! - **`json_ld`**: an HTML page with schema.org `ScreeningEvent` JSON-LD
//!   (`name`, `startDate`, `workPresented`, `location`, `videoFormat`,
//!   `superEvent`, `offers`, `eventStatus`, `accessibilityFeature`).
//! - **`csv`**: a file kept by editors, a header row then one screening per
//!   row. Columns (any order; unknown ones ignored; `title` and `start`
//!   required):
//!
//!   | column | meaning |
//!   |---|---|
//!   | `id` | the editor's own id; if given, the identity (so a time change is a change) |
//!   | `venue_id` | optional; if given, must be the source's venue id |
//!   | `title` | as listed, e.g. `Once Upon a Time in the West [35mm] + Q&A` |
//!   | `start` | local ISO 8601 on the venue's clock: `2026-12-05T19:30` (or with an offset) |
//!   | `screen` | e.g. `NFT1` |
//!   | `format` | `35mm`, `70mm`, `DCP`, `4K restoration`, … |
//!   | `strand` | season or strand, e.g. `Sergio Leone season` |
//!   | `extras` | `;`-separated: `intro; Q&A` |
//!   | `accessibility` | `;`- or `,`-separated: `subtitled`/`captioned`, `audio described`, `relaxed`, `parent & baby` |
//!   | `booking_url` | http(s) URL |
//!   | `sold_out`, `cancelled` | `yes`/`no` (also `true`/`false`, `1`/`0`, `x`, empty = no) |
//!   | `year`, `director`, `runtime_minutes` | the film |
//! - **`json`**: a JSON API answering `{"screenings": [ITEM, …]}` (or a bare
//!   array), ITEM being `{"id": "pcc-1234" | 1234, "title": "…", "start":
//!   "2026-12-05T19:30:00" (local, or with an offset), "screen", "format",
//!   "strand": "…", "extras": ["Q&A"], "accessibility": ["audio described"],
//!   "booking_url": "https://…", "sold_out": false, "cancelled": false,
//!   "year": 1968, "director": "…", "runtime_minutes": 165}`; only `title` and
//!   `start` are required, unknown fields are ignored.
//!
//! # Normalization
//! Titles are taken apart: `Once Upon a Time in the West (1968) [35mm] + Q&A`
//! is the film "Once Upon a Time in the West", 1968, format "35mm", extras
//! `["Q&A"]`; access notes ("Audio Described", "Parent & Baby"), "SOLD OUT"
//! and "CANCELLED" are read from titles and labels too.
//!
//! Times on a DST change day (venue clock): a time that does not exist
//! (01:30 on the last Sunday of March, Europe/London) is moved forward by the
//! gap (02:30 BST); a time that occurs twice (01:30 on the last Sunday of
//! October) is the earlier one (01:30 BST). See [`resolve_local`].
//!
//! # Identity and change detection
//! The screening id is a UUID v5 ([`screening_id`]): of venue + the source's
//! own id (ICS `UID`, plus the original start for an occurrence of a
//! recurring event; JSON/CSV `id`; JSON-LD `identifier`) when there is one, so
//! a rescheduled screening is `changed` with `starts_at`; otherwise of venue +
//! title key + local start. A durable ledger (SQLite or PostgreSQL) keeps the
//! last published screening per id: new → `listed`; different → `changed`
//! naming the fields; marked cancelled by the source (`STATUS:CANCELLED`,
//! `cancelled` column/field, `EventCancelled`) or missing from a source read
//! with no rejection while still upcoming → `cancelled`; back after a
//! cancellation → `listed`.
//!
//! # Film matching
//! [`ListingsIngest::handler`] consumes the `reviews` topic into a table of
//! (review id, title key, year); a screening gets the `review_id` of the
//! review with its title key and year (or the title's only review when a year
//! is unknown). A review arriving later shows up as a `changed` with
//! `review_id` on the next poll.
//!
//! # Bad input
//! A broken line, an event without `DTSTART`, an unknown `TZID`, a CSV row
//! with the wrong number of columns or a bad date… each is rejected alone
//! with its source, location (`line 12`, `screenings[3]`) and reason, logged
//! and counted in `marquee_ingest_rejected_total{source, reason}`; the valid
//! rows are still ingested.

mod admin;
mod csv_listings;
mod error;
mod handler;
mod ics;
mod json_listings;
mod jsonld;
mod ledger;
mod localtime;
#[cfg(test)]
mod malformed;
mod normalize;
mod pipeline;
mod rrule;
mod settings;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use admin::openapi;
pub use error::IngestError;
pub use localtime::{Clock, resolve_local};
pub use normalize::{screening_id, title_key};
pub use pipeline::{Outcome, PollReport};
pub use settings::{Settings, SourceKind, SourceSettings, VenueSettings};

use marquee_ingest::{PollOutcome, SourceHealthLog, SourceRef};

use crate::handler::ReviewsHandler;
use crate::ledger::Ledger;
use crate::normalize::VenueZone;
use crate::pipeline::{Pipeline, Source};
use marquee_fetch::Fetcher;

/// The listings-ingest service: one poller per source.
#[derive(Clone)]
pub struct ListingsIngest {
    pipeline: Arc<Pipeline>,
    sources: Arc<[Source]>,
    settings: Arc<Settings>,
    health: SourceHealthLog,
}

impl ListingsIngest {
    /// Opens the ledger and prepares the HTTP client; fails on duplicate
    /// source names (names key the ledger) and unknown time zones.
    pub async fn build(settings: Settings, bus: marquee_bus::Bus) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, bus, Clock::system()).await
    }

    /// [`ListingsIngest::build`] reading "now" from `clock` (tests pin it).
    pub async fn build_with_clock(
        settings: Settings,
        bus: marquee_bus::Bus,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let mut names = HashSet::new();
        let mut sources = Vec::new();
        for source in &settings.sources {
            anyhow::ensure!(
                names.insert(source.name.as_str()),
                "listings source name {:?} is used twice: names must be unique",
                source.name
            );
            let venue = VenueZone::parse(&source.venue)
                .map_err(|e| anyhow::anyhow!("listings source {:?}: {e}", source.name))?;
            sources.push(Source {
                settings: source.clone(),
                venue,
            });
        }
        let ledger = Ledger::open(&settings.database_url).await?;
        let fetcher = Fetcher::new(
            Duration::from_secs(settings.fetch_timeout_secs.max(1)),
            settings.max_body_bytes,
            settings.allow_private_addresses,
            concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")),
        )?;
        let health = SourceHealthLog::open(
            &settings.database_url,
            settings
                .sources
                .iter()
                .map(|source| SourceRef {
                    name: source.name.clone(),
                    kind: source.kind.as_str().to_owned(),
                    url: source.url.to_string(),
                })
                .collect(),
        )
        .await?;
        let pipeline = Pipeline::new(ledger, bus, fetcher, clock, settings.rrule_horizon_days);
        Ok(Self {
            pipeline: Arc::new(pipeline),
            sources: sources.into(),
            settings: Arc::new(settings),
            health,
        })
    }

    /// The settings it was built with (e.g. `consumer_group`).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The review-event handler for `Bus::consume` on `topics::REVIEWS`
    /// (group [`Settings::consumer_group`]): film matching.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        ReviewsHandler::new(self.pipeline.ledger.clone())
    }

    /// Polls every source once, one after another; for tests and one-shot runs.
    pub async fn poll_once(&self) -> Vec<(String, PollReport)> {
        let mut reports = Vec::new();
        for source in self.sources.iter() {
            let report = self.poll(source).await;
            reports.push((source.settings.name.clone(), report));
        }
        reports
    }

    /// Polls `source` and records how it went in the sources' health.
    async fn poll(&self, source: &Source) -> PollReport {
        let report = self.pipeline.poll(source).await;
        let outcome = PollOutcome {
            read: report.read,
            seen: (report.listed + report.changed + report.unchanged) as u64,
            rejected: report.rejected as u64,
            published: (report.listed + report.changed + report.cancelled) as u64,
            error: report.rejections.first().cloned(),
        };
        self.health
            .record(&source.settings.name, &outcome, self.pipeline.now())
            .await;
        report
    }

    /// The operator routes under `/admin/listings-ingest/`: sources' health
    /// and backfill; authentication is the caller's.
    pub fn admin_router(&self) -> axum::Router {
        admin::router(self.clone())
    }

    /// Polls every source on its interval, the first time at once, until
    /// `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut pollers = JoinSet::new();
        for source in self.sources.iter().cloned() {
            let service = self.clone();
            let shutdown = shutdown.clone();
            pollers.spawn(async move {
                let interval = source.settings.poll_interval();
                loop {
                    // An interrupted poll is safe to drop: the ledger is written
                    // only after a publish succeeded, so the next run redoes it.
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        _ = service.poll(&source) => {}
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(interval) => {}
                    }
                }
            });
        }
        shutdown.cancelled().await;
        while let Some(joined) = pollers.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "A listings source poller panicked");
            }
        }
        Ok(())
    }

    /// Whether the ledger database answers; for readiness probes.
    pub async fn check(&self) -> anyhow::Result<()> {
        self.pipeline.ledger.check().await
    }
}
