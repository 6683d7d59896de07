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
//!   `X-MARQUEE-SOLD-OUT:TRUE` are read. An `RRULE` (daily or less often;
//!   expanded by the `rrule` crate, see `rrule.rs`) is expanded from now
//!   to `rrule_horizon_days` ahead, honouring `EXDATE` and `RECURRENCE-ID`
//!   overrides; an hourly or invalid rule (and `RDATE`) rejects its event
//!   with the reason.
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
//! `cancelled` column/field, `EventCancelled`) or, while still upcoming,
//! missing from a read of its source → `cancelled`, in the same poll; back
//! after a cancellation → `listed`. A rejected row is present but invalid:
//! no screening of the film it names is cancelled for its absence, and the
//! rest of the source is still cleaned up. Sources are read with
//! conditional GET; on a 304 the remembered copy is read again, since what
//! a recurring event yields moves with the horizon.
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
//!
//! # Shape
//! Polling, source health, backfill and the admin routes are the ingest
//! core's ([`marquee_ingest`]). Here: one module per kind of source
//! (`ics/`, `jsonld.rs`, `csv_listings.rs`, `json_listings.rs`), registered
//! in `kinds.rs` (adding a kind is its parser and one line there);
//! `normalize/` (titles, starts, ids), `handler.rs` (the pure change
//! decision and film matching), `store/` (the ledger and the reviewed films),
//! `consumer.rs` (the reviews-topic handler), `pipeline.rs` (poll, decide,
//! publish, record).

mod consumer;
mod csv_listings;
mod error;
mod handler;
mod ics;
mod json_listings;
mod jsonld;
mod kinds;
mod localtime;
#[cfg(test)]
mod malformed;
mod normalize;
mod pipeline;
mod reading;
mod rrule;
mod settings;
mod store;
mod venue;

use std::sync::Arc;

use marquee_fetch::Fetcher;
use marquee_ingest::{Conditional, Ingest, ServiceName};
use marquee_runtime::clock::{SharedClock, SystemClock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use error::IngestError;
#[doc(hidden)]
pub use ics::{CalendarReading, read_calendar};
pub use localtime::resolve_local;
pub use marquee_ingest::{Change, PollReport};
pub use normalize::{screening_id, title_key};
pub use settings::{Settings, SourceKind, SourceSettings, VenueSettings};

use crate::consumer::ReviewsHandler;
use crate::pipeline::{Pipeline, Source};
use crate::store::Store;

/// How the core names this service.
const NAME: ServiceName = ServiceName {
    service: "listings-ingest",
    source: "listings",
    items: "screenings",
};

/// The listings-ingest service: one poller per source.
#[derive(Clone)]
pub struct ListingsIngest {
    ingest: Ingest<Pipeline>,
    settings: Arc<Settings>,
}

impl ListingsIngest {
    /// Opens the ledger and prepares the HTTP client; fails on duplicate
    /// source names (names key the ledger) and unknown time zones.
    pub async fn build(settings: Settings, bus: marquee_bus::Bus) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, bus, SystemClock::shared()).await
    }

    /// [`ListingsIngest::build`] reading "now" from `clock` (tests pin it).
    pub async fn build_with_clock(
        settings: Settings,
        bus: marquee_bus::Bus,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let mut sources = Vec::new();
        for source in &settings.sources {
            let venue = source
                .venue
                .zone()
                .map_err(|e| anyhow::anyhow!("listings source {:?}: {e}", source.name))?;
            sources.push(Source {
                settings: source.clone(),
                venue,
            });
        }
        let store = Store::open(&settings.database_url).await?;
        let pool = store.pool().clone();
        let fetcher = Fetcher::new(
            Duration::from_secs(settings.fetch_timeout_secs.max(1)),
            settings.max_body_bytes,
            settings.allow_private_addresses,
            concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")),
        )?;
        let pipeline = Pipeline::new(
            store,
            bus,
            Conditional::open(fetcher, &pool).await?,
            clock.clone(),
            settings.rrule_horizon_days,
        );
        let ingest = Ingest::open(NAME, &pool, sources, pipeline, clock).await?;
        Ok(Self {
            ingest,
            settings: Arc::new(settings),
        })
    }

    /// The settings it was built with (e.g. `consumer_group`).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The review-event handler for `Bus::consume` on `topics::REVIEWS`
    /// (group [`Settings::consumer_group`]): film matching.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        ReviewsHandler::new(self.ingest.pipeline().store.clone())
    }

    /// Polls every source once, one after another; for tests and one-shot runs.
    pub async fn poll_once(&self) -> Vec<(String, PollReport)> {
        self.ingest.poll_once().await
    }

    /// The operator routes under `/admin/listings-ingest/`: sources' health,
    /// backfill and its job; authentication is the caller's.
    pub fn admin_router(&self) -> axum::Router {
        self.ingest.admin_router()
    }

    /// Polls every source on its interval, the first time at once, until
    /// `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.ingest.run(shutdown).await
    }

    /// Whether the ledger database answers; for readiness probes.
    pub async fn check(&self) -> anyhow::Result<()> {
        self.ingest.pipeline().store.check().await
    }
}

/// The listings-ingest part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    marquee_ingest::openapi(NAME.service)
}
