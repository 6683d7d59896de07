//! The feeds service: consumes review and screening events and publishes
//! site-wide and per-section review feeds, per-venue, per-strand and
//! this-week screening feeds as RSS 2.0, Atom 1.0 and JSON Feed 1.1, and
//! per-venue and all-venue iCalendar (RFC 5545) calendars.
//!
//! - [`FeedsService::handler`] applies review events and
//!   [`FeedsService::screenings_handler`] screening events to a durable store
//!   (SQLite or PostgreSQL), idempotently by event id and item version, then
//!   re-render the documents that changed, write them to `output_dir` and
//!   notify the WebSub hub.
//! - [`FeedsService::router`] serves them from an in-memory cache of
//!   precompressed bodies, with strong ETags, Last-Modified and 304s, and an
//!   autodiscovery index at `/`:
//!   - `/feeds/{slug}.{rss,atom,json}` — review feeds;
//!   - `/venues/{venue_id}.{rss,atom,json,ics}` — a venue's screenings;
//!   - `/strands/{strand_slug}.{rss,atom,json}` — a strand's screenings;
//!   - `/repertory/this-week.{rss,atom,json}` — screenings of the next 7 days;
//!   - `/calendars/all.ics` — every venue's screenings.
//! - [`render()`] and [`render_calendar`] are the pure renderers.

mod admin;
mod cache;
mod calendar;
mod error;
mod handler;
mod http;
mod listings;
mod output;
mod render;
mod settings;
mod store;
mod templates;
mod websub;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_runtime::clock::{SharedClock, SystemClock};
use tracing::Instrument;

pub use admin::{ReplayRequest, openapi};
pub use calendar::render_calendar;
pub use error::{RenderError, StoreError};
pub use handler::{FeedsHandler, ScreeningsHandler};
pub use listings::screening_guid;
pub use render::{Format, Site, render, review_guid};
pub use settings::{FeedDefinition, FeedSlug, InvalidSlug, Settings, SettingsError};
pub use store::Store;
pub use store::reviews::{Applied, FeedItems};
pub use store::screenings::{ScreeningApplied, ScreeningScope, StoredScreening, strand_slug};

use cache::{RenderedFeed, Representation};
use listings::{CALENDAR_EXTENSION, ListingDocument};
use websub::Hub;

/// After this long a cached document is re-rendered from the database in
/// the background. Another replica may have consumed a change this one never
/// saw (replicas split the partitions), and screening documents move with
/// the clock; this bounds how stale it serves.
const REVALIDATE_AFTER: Duration = Duration::from_secs(10);

/// How far back calendars reach, so a client still sees last week's
/// screenings (and their cancellations) instead of having them vanish.
const CALENDAR_PAST: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// The "this week in repertory" window.
const THIS_WEEK: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// One URL family's document, the unit of caching: all its formats are
/// rendered together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Document {
    /// `/feeds/{slug}.{rss,atom,json}`.
    Reviews(FeedSlug),
    /// `/venues/{venue_id}.{rss,atom,json,ics}`.
    Venue(String),
    /// `/strands/{strand_slug}.{rss,atom,json}`.
    Strand(String),
    /// `/repertory/this-week.{rss,atom,json}`.
    ThisWeek,
    /// `/calendars/all.ics`.
    AllCalendar,
}

impl Document {
    /// URL folder and file stem.
    fn path(&self) -> (&'static str, &str) {
        match self {
            Self::Reviews(slug) => ("feeds", slug.as_str()),
            Self::Venue(id) => ("venues", id),
            Self::Strand(slug) => ("strands", slug),
            Self::ThisWeek => ("repertory", "this-week"),
            Self::AllCalendar => ("calendars", "all"),
        }
    }

    /// `folder/stem`, for logs and metrics.
    fn label(&self) -> String {
        let (folder, name) = self.path();
        format!("{folder}/{name}")
    }
}

/// A document's content, read from the store, ready to render.
enum Loaded {
    Reviews(FeedDefinition, FeedItems),
    Listing {
        document: ListingDocument,
        screenings: Vec<StoredScreening>,
        reviews: HashMap<marquee_events::ReviewId, marquee_events::Review>,
        now: DateTime<Utc>,
    },
}

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
    /// Screening documents need re-rendering since a review changed.
    listings_stale: AtomicBool,
    /// A task is re-rendering them.
    listings_rendering: AtomicBool,
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
                listings_stale: AtomicBool::new(false),
                listings_rendering: AtomicBool::new(false),
            }),
        };
        // Warm the cache and bring output_dir up to date with the database.
        for feed in &service.inner.settings.feeds {
            let document = Document::Reviews(feed.slug.clone());
            if let Some(changed) = service.refresh(&document).await? {
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

    /// Drops every rendered document, so each is rendered from the database
    /// at its next request.
    fn forget_rendered(&self) {
        self.inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The review-event handler, for `Bus::consume` on `topics::REVIEWS`.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        FeedsHandler::new(self.clone())
    }

    /// The screening-event handler, for `Bus::consume` on
    /// `topics::SCREENINGS` (group `{consumer_group}-screenings`).
    pub fn screenings_handler(&self) -> impl marquee_bus::Handler + use<> {
        ScreeningsHandler::new(self.clone())
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

    /// The cached rendering of `document`, rendering it first if absent
    /// (`None`: no such document); a stale one is served while a background
    /// task re-renders it.
    async fn rendered(&self, document: &Document) -> Result<Option<Arc<RenderedFeed>>, StoreError> {
        if let Some(rendered) = self.cached(document) {
            if rendered.rendered_at.elapsed() > REVALIDATE_AFTER {
                self.revalidate_in_background(document);
            }
            return Ok(Some(rendered));
        }
        if self.refresh(document).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.cached(document).ok_or_else(|| {
            anyhow::anyhow!("`{}` vanished from the cache", document.label())
        })?))
    }

    fn cached(&self, document: &Document) -> Option<Arc<RenderedFeed>> {
        let cache = self
            .inner
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(document).cloned()
    }

    fn revalidate_in_background(&self, document: &Document) {
        {
            let mut revalidating = self
                .inner
                .revalidating
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !revalidating.insert(document.clone()) {
                return;
            }
        }
        let service = self.clone();
        let document = document.clone();
        let span = tracing::info_span!("revalidate", document = %document.label());
        tokio::spawn(
            async move {
                if let Err(error) = service.refresh(&document).await {
                    tracing::warn!(error = %error, "Could not re-render a stale document; serving the cached one");
                }
                service
                    .inner
                    .revalidating
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&document);
            }
            .instrument(span),
        );
    }

    /// Reads what `document` shows from the store; `None` when it does not
    /// exist (an unknown venue or strand).
    async fn load(&self, document: &Document) -> Result<Option<Loaded>, StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let (listing, screenings) = match document {
            Document::Reviews(slug) => {
                let Some(feed) = self.feed(slug.as_str()) else {
                    return Ok(None);
                };
                let items = store
                    .feed_items(feed.section.as_deref(), self.inner.settings.item_limit)
                    .await?;
                return Ok(Some(Loaded::Reviews(feed.clone(), items)));
            }
            Document::Venue(id) => {
                let Some(name) = store.venue_name(id).await? else {
                    return Ok(None);
                };
                let listing = ListingDocument {
                    folder: "venues",
                    name: id.clone(),
                    title: format!("{name}: screenings"),
                    description: format!("Repertory screenings at {name}, soonest first."),
                    feeds: true,
                    calendar: true,
                };
                let screenings = store
                    .screenings(ScreeningScope::Venue(id), now - CALENDAR_PAST, None)
                    .await?;
                (listing, screenings)
            }
            Document::Strand(slug) => {
                let Some(name) = store.strand_name(slug).await? else {
                    return Ok(None);
                };
                let listing = ListingDocument {
                    folder: "strands",
                    name: slug.clone(),
                    title: format!("{name}: screenings"),
                    description: format!("Screenings in {name}, soonest first."),
                    feeds: true,
                    calendar: false,
                };
                let screenings = store
                    .screenings(ScreeningScope::Strand(slug), now, None)
                    .await?;
                (listing, screenings)
            }
            Document::ThisWeek => {
                let listing = ListingDocument {
                    folder: "repertory",
                    name: "this-week".to_owned(),
                    title: "This week in repertory".to_owned(),
                    description: "Repertory screenings in the next seven days, soonest first."
                        .to_owned(),
                    feeds: true,
                    calendar: false,
                };
                let screenings = store
                    .screenings(ScreeningScope::All, now, Some(now + THIS_WEEK))
                    .await?;
                (listing, screenings)
            }
            Document::AllCalendar => {
                let listing = ListingDocument {
                    folder: "calendars",
                    name: "all".to_owned(),
                    title: "Marquee: every venue".to_owned(),
                    description: "Repertory screenings at every venue.".to_owned(),
                    feeds: false,
                    calendar: true,
                };
                let screenings = store
                    .screenings(ScreeningScope::All, now - CALENDAR_PAST, None)
                    .await?;
                (listing, screenings)
            }
        };
        let reviews = if listing.feeds {
            let ids: Vec<marquee_events::ReviewId> = screenings
                .iter()
                .filter_map(|s| s.screening.review_id.clone())
                .collect();
            store.live_reviews(&ids).await?
        } else {
            HashMap::new()
        };
        Ok(Some(Loaded::Listing {
            document: listing,
            screenings,
            reviews,
            now,
        }))
    }

    /// Re-renders `document` from the database into the cache; returns the
    /// extensions whose bytes changed, or `None` when it does not exist.
    #[tracing::instrument(skip_all, fields(document = %document.label()))]
    async fn refresh(&self, document: &Document) -> Result<Option<Vec<&'static str>>, StoreError> {
        let Some(loaded) = self.load(document).await? else {
            self.inner
                .cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(document);
            return Ok(None);
        };
        let previous = self.cached(document);
        let site = self.inner.site.clone();
        let limit = self.inner.settings.item_limit;
        let refresh_interval =
            Duration::from_secs(self.inner.settings.calendar_refresh_interval_secs);
        let now = self.inner.clock.now();
        // Rendering and compressing hundreds of items is CPU work: keep it
        // off the threads that serve requests.
        let rendered = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let (bodies, modified_at, moves_with_time) = match loaded {
                Loaded::Reviews(definition, FeedItems { items, modified_at }) => {
                    let mut bodies = Vec::with_capacity(Format::ALL.len());
                    for format in Format::ALL {
                        let body = render(&site, &definition, &items, modified_at, format)?;
                        bodies.push((format.extension(), body));
                    }
                    (bodies, modified_at, false)
                }
                Loaded::Listing {
                    document,
                    screenings,
                    reviews,
                    now,
                } => {
                    let bodies = listings::render_listing(
                        &site,
                        &document,
                        &screenings,
                        &reviews,
                        now,
                        limit,
                        refresh_interval,
                    )?;
                    (bodies, screenings.iter().map(|s| s.modified_at).max(), true)
                }
            };
            let mut changed = Vec::new();
            let mut representations = Vec::with_capacity(bodies.len());
            for (extension, body) in bodies {
                let before = previous.as_ref().and_then(|p| p.get(extension));
                if let Some(same) = before.filter(|p| p.body().as_ref() == body.as_slice()) {
                    representations.push((extension, same.clone()));
                    continue;
                }
                // A screening document can change with no newer row behind
                // it (the clock moved a screening out of this week, a review
                // it links changed): Last-Modified must still move forward.
                let modified = match (modified_at, before.and_then(|b| b.modified_at)) {
                    (Some(at), Some(last)) if moves_with_time && at <= last => {
                        Some(now.max(last + chrono::TimeDelta::seconds(1)))
                    }
                    (at, _) => at,
                };
                changed.push(extension);
                representations.push((extension, Representation::new(body, modified)?));
            }
            Ok((RenderedFeed::new(representations), changed))
        })
        .await
        .context("Failed to render a document")??;
        let (rendered, changed) = rendered;
        self.inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(document.clone(), Arc::new(rendered));
        Ok(Some(changed))
    }

    /// Re-renders the feeds carrying any of `sections`, then writes the
    /// changed files and notifies the hub. Failures are logged: the item is
    /// stored, and revalidation or the next change catches up.
    async fn publish_sections(&self, sections: &[&str]) {
        let documents: Vec<Document> = self
            .inner
            .settings
            .feeds
            .iter()
            .filter(|feed| sections.iter().any(|section| feed.includes(section)))
            .map(|feed| Document::Reviews(feed.slug.clone()))
            .collect();
        self.publish(&documents).await;
        // Screening feeds link the reviews they match: re-render the cached
        // ones, without holding up the consumer. One task at a time does it,
        // taking in every review changed meanwhile: a task per event piled
        // up renders under a stream of reviews (scripts/load).
        let inner = &self.inner;
        inner.listings_stale.store(true, Ordering::SeqCst);
        if inner.listings_rendering.swap(true, Ordering::SeqCst) {
            return; // The running task takes this change in.
        }
        let service = self.clone();
        tokio::spawn(async move {
            let inner = &service.inner;
            loop {
                while inner.listings_stale.swap(false, Ordering::SeqCst) {
                    let listings: Vec<Document> = inner
                        .cache
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .keys()
                        .filter(|document| !matches!(document, Document::Reviews(_)))
                        .cloned()
                        .collect();
                    service.publish(&listings).await;
                }
                inner.listings_rendering.store(false, Ordering::SeqCst);
                // A change marked just before letting go found the task
                // still running: take it in unless another task already has.
                if !inner.listings_stale.load(Ordering::SeqCst)
                    || inner.listings_rendering.swap(true, Ordering::SeqCst)
                {
                    return;
                }
            }
        });
    }

    /// Re-renders what a change of a screening at `venue_id` in `strands`
    /// shows, then writes the changed files and notifies the hub.
    async fn publish_screening(&self, venue_id: &str, strands: &[Option<String>]) {
        let mut documents = vec![
            Document::Venue(venue_id.to_owned()),
            Document::ThisWeek,
            Document::AllCalendar,
        ];
        documents.extend(strands.iter().flatten().cloned().map(Document::Strand));
        self.publish(&documents).await;
    }

    async fn publish(&self, documents: &[Document]) {
        for document in documents {
            let changed = match self.refresh(document).await {
                Ok(Some(changed)) => changed,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(document = %document.label(), error = %error, "Could not re-render a document after a change");
                    continue;
                }
            };
            self.write_files(document, &changed).await;
            self.notify_hub(document, &changed);
        }
    }

    async fn write_files(&self, document: &Document, extensions: &[&'static str]) {
        let Some(dir) = &self.inner.settings.output_dir else {
            return;
        };
        let Some(rendered) = self.cached(document) else {
            return;
        };
        // Review feeds sit at the top of output_dir, as they always have;
        // screening documents in their URL folder.
        let (folder, name) = document.path();
        let dir = match document {
            Document::Reviews(_) => dir.clone(),
            _ => dir.join(folder),
        };
        for &extension in extensions {
            let Some(representation) = rendered.get(extension) else {
                continue;
            };
            let file = format!("{name}.{extension}");
            if let Err(error) = output::write_atomically(&dir, &file, representation.body()).await {
                tracing::error!(file = %file, error = format!("{error:#}"), "Could not write a feed file");
            }
        }
    }

    fn notify_hub(&self, document: &Document, extensions: &[&'static str]) {
        let Some(hub) = &self.inner.hub else {
            return;
        };
        let (folder, name) = document.path();
        // WebSub is for feeds; calendar clients poll.
        for &extension in extensions.iter().filter(|e| **e != CALENDAR_EXTENSION) {
            let hub = hub.clone();
            let topic = self.inner.site.document_url(folder, name, extension);
            // The hub is another service: never hold up the consumer for it.
            tokio::spawn(async move {
                match hub.publish(&topic).await {
                    Ok(()) => tracing::debug!(%topic, "Notified the WebSub hub"),
                    Err(error) => {
                        tracing::warn!(%topic, error = format!("{error:#}"), "Could not notify the WebSub hub")
                    }
                }
            });
        }
    }
}
