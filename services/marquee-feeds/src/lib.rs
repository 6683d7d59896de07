//! The feeds service: consumes review and screening events and publishes
//! site-wide and per-section review feeds, per-venue, per-strand and
//! this-week screening feeds as RSS 2.0, Atom 1.0 and JSON Feed 1.1, and
//! per-venue and all-venue iCalendar (RFC 5545) calendars.
//!
//! - [`FeedsService::handler`] applies review events and
//!   [`FeedsService::screenings_handler`] screening events to a durable store
//!   (SQLite or PostgreSQL), idempotently by event id and item version, and
//!   queue the documents that changed: one task re-renders them, writes
//!   them to `output_dir` and notifies the WebSub hub
//!   ([`FeedsService::published`] waits for it).
//! - [`FeedsService::router`] serves them from an in-memory cache of
//!   rendered bodies (each coding compressed for its first request), with
//!   strong ETags, Last-Modified and 304s, and an autodiscovery index at `/`:
//!   - `/feeds/{slug}.{rss,atom,json}` — review feeds;
//!   - `/venues/{venue_id}.{rss,atom,json,ics}` — a venue's screenings;
//!   - `/strands/{strand_slug}.{rss,atom,json}` — a strand's screenings;
//!   - `/repertory/this-week.{rss,atom,json}` — screenings of the next 7 days;
//!   - `/calendars/all.ics` — every venue's screenings.
//! - [`render()`] and [`render_calendar`] are the pure renderers.

mod admin;
mod cache;
mod calendar;
mod consumer;
mod documents;
mod error;
mod handler;
mod http;
mod listings;
mod output;
mod publish;
mod render;
mod settings;
mod store;
mod templates;
mod websub;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use marquee_runtime::clock::{SharedClock, SystemClock};

pub use admin::{ReplayRequest, openapi};
pub use calendar::render_calendar;
pub use consumer::{FeedsHandler, ScreeningsHandler};
pub use error::{RenderError, StoreError};
pub use listings::screening_guid;
pub use render::{Format, Fragments, Rendered, Site, render, review_guid};
pub use settings::{FeedDefinition, FeedSlug, InvalidSlug, Settings, SettingsError};
pub use store::reviews::{Applied, FeedItems};
pub use store::screenings::{ScreeningApplied, ScreeningScope, StoredScreening, strand_slug};
pub use store::{Batch, Store};

use cache::RenderedFeed;
use documents::Document;
use websub::Hub;

/// The feeds service; cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct FeedsService {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    site: Site,
    store: Store,
    hub: Option<Hub>,
    clock: SharedClock,
    feeds: HashMap<FeedSlug, FeedDefinition>,
    cache: RwLock<HashMap<Document, Arc<RenderedFeed>>>,
    /// Documents being re-rendered in the background, so requests start one only.
    revalidating: Mutex<HashSet<Document>>,
    /// Changes handled and not yet rendered; see [`FeedsService::queue`].
    queued: Mutex<publish::Queued>,
    /// How many queued changes are published.
    published: tokio::sync::watch::Sender<u64>,
}

impl FeedsService {
    /// Connects to the database, creates the tables and renders every
    /// review feed once.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, SystemClock::shared()).await
    }

    /// [`FeedsService::build`] reading "now" from `clock` (tests pin it),
    /// the store's timestamps included.
    pub async fn build_with_clock(
        mut settings: Settings,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        // Feed URLs are joined onto the base as onto a folder.
        if !settings.base_url.path().ends_with('/') {
            let path = format!("{}/", settings.base_url.path());
            settings.base_url.set_path(&path);
        }
        let store = Store::open(&settings.database_url, clock.clone()).await?;
        let site = Site {
            base_url: settings.base_url.clone(),
            websub_hub: settings.websub_hub.clone(),
        };
        let hub = settings.websub_hub.clone().map(Hub::new).transpose()?;
        let feeds = settings
            .feeds
            .iter()
            .map(|feed| (feed.slug.clone(), feed.clone()))
            .collect();
        let service = Self {
            inner: Arc::new(Inner {
                settings,
                site,
                store,
                hub,
                clock,
                feeds,
                cache: RwLock::default(),
                revalidating: Mutex::default(),
                queued: Mutex::default(),
                published: tokio::sync::watch::Sender::new(0),
            }),
        };
        // Warm the cache and bring output_dir up to date with the database.
        for feed in &service.inner.settings.feeds {
            let document = Document::Reviews(feed.slug.clone());
            if let Some(changed) = service
                .refresh(&document, &mut documents::ReadReviews::new())
                .await?
            {
                service.write_files(&document, &changed).await;
            }
        }
        Ok(service)
    }

    /// The HTTP routes: `/`, and the documents listed in the crate docs.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// The operator routes under `/admin/feeds/` (replay); authentication
    /// is the caller's.
    pub fn admin_router(&self, bus: marquee_bus::Bus) -> axum::Router {
        admin::router(self.clone(), bus)
    }

    /// The review-event handler, for `Bus::consume` on `topics::REVIEWS`.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        FeedsHandler(self.clone())
    }

    /// The screening-event handler, for `Bus::consume` on
    /// `topics::SCREENINGS` (group `{consumer_group}-screenings`).
    pub fn screenings_handler(&self) -> impl marquee_bus::Handler + use<> {
        ScreeningsHandler(self.clone())
    }

    /// Whether the database answers, for readiness probes.
    pub async fn check(&self) -> anyhow::Result<()> {
        Ok(self.inner.store.check().await?)
    }

    /// The settings in force (the base URL normalized to end with `/`).
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The item store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn feed(&self, slug: &str) -> Option<&FeedDefinition> {
        self.inner.feeds.get(slug)
    }
}
