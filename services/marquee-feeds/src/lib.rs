//! The feeds service: consumes review events and publishes site-wide and
//! per-section feeds as RSS 2.0, Atom 1.0 and JSON Feed 1.1.
//!
//! - [`FeedsService::handler`] applies review events to a durable store
//!   (SQLite or PostgreSQL), idempotently by event id and item version, then
//!   re-renders the feeds that changed, writes them to `output_dir` and
//!   notifies the WebSub hub.
//! - [`FeedsService::router`] serves `/feeds/{slug}.{rss,atom,json}` from an
//!   in-memory cache of precompressed bodies, with strong ETags,
//!   Last-Modified and 304s, and an autodiscovery index at `/`.
//! - [`render()`] is the pure renderer, usable on its own.

mod cache;
mod handler;
mod http;
mod output;
mod render;
mod settings;
mod store;
mod websub;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use tracing::Instrument;

pub use handler::FeedsHandler;
pub use render::{Format, RenderError, Site, render, review_guid};
pub use settings::{FeedDefinition, FeedSlug, InvalidSlug, Settings, SettingsError};
pub use store::{Applied, FeedItems, Store, StoreError};

use cache::{RenderedFeed, Representation};
use websub::Hub;

/// After this long a cached feed is re-rendered from the database in the
/// background. Another replica may have consumed a change this one never
/// saw (replicas split the partitions); this bounds how stale it serves.
const REVALIDATE_AFTER: Duration = Duration::from_secs(10);

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
    index_page: Bytes,
    feeds: HashMap<FeedSlug, FeedDefinition>,
    cache: RwLock<HashMap<FeedSlug, Arc<RenderedFeed>>>,
    /// Feeds being re-rendered in the background, so requests start one only.
    revalidating: Mutex<HashSet<FeedSlug>>,
}

impl FeedsService {
    /// Connects to the database, creates the tables and renders every feed once.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        // Feed URLs are joined onto the base as onto a folder.
        if !settings.base_url.path().ends_with('/') {
            let path = format!("{}/", settings.base_url.path());
            settings.base_url.set_path(&path);
        }
        let store = Store::open(&settings.database_url).await?;
        let site = Site {
            base_url: settings.base_url.clone(),
            websub_hub: settings.websub_hub.clone(),
        };
        let hub = settings.websub_hub.clone().map(Hub::new).transpose()?;
        let index_page = Bytes::from(http::index_page(&site, &settings.feeds));
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
                index_page,
                feeds,
                cache: RwLock::default(),
                revalidating: Mutex::default(),
            }),
        };
        // Warm the cache and bring output_dir up to date with the database.
        for feed in &service.inner.settings.feeds {
            let changed = service.refresh(feed).await?;
            service.write_files(feed, &changed).await;
        }
        Ok(service)
    }

    /// The HTTP routes: `/` and `/feeds/{slug}.{rss,atom,json}`.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// The review-event handler, for `Bus::consume` on `topics::REVIEWS`.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        FeedsHandler::new(self.clone())
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

    /// The cached rendering of `feed`, rendering it first if absent; a stale
    /// one is served while a background task re-renders it.
    async fn rendered(&self, feed: &FeedDefinition) -> Result<Arc<RenderedFeed>, StoreError> {
        let cached = self.cached(&feed.slug);
        match cached {
            Some(rendered) => {
                if rendered.rendered_at.elapsed() > REVALIDATE_AFTER {
                    self.revalidate_in_background(feed);
                }
                Ok(rendered)
            }
            None => {
                self.refresh(feed).await?;
                Ok(self.cached(&feed.slug).ok_or_else(|| {
                    anyhow::anyhow!("feed `{}` vanished from the cache", feed.slug)
                })?)
            }
        }
    }

    fn cached(&self, slug: &FeedSlug) -> Option<Arc<RenderedFeed>> {
        let cache = self
            .inner
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(slug).cloned()
    }

    fn revalidate_in_background(&self, feed: &FeedDefinition) {
        {
            let mut revalidating = self
                .inner
                .revalidating
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !revalidating.insert(feed.slug.clone()) {
                return;
            }
        }
        let service = self.clone();
        let feed = feed.clone();
        let span = tracing::info_span!("revalidate", feed = %feed.slug);
        tokio::spawn(
            async move {
                if let Err(error) = service.refresh(&feed).await {
                    tracing::warn!(error = %error, "Could not re-render a stale feed; serving the cached one");
                }
                service
                    .inner
                    .revalidating
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&feed.slug);
            }
            .instrument(span),
        );
    }

    /// Re-renders `feed` from the database into the cache; returns the
    /// formats whose bytes changed.
    #[tracing::instrument(skip_all, fields(feed = %feed.slug))]
    async fn refresh(&self, feed: &FeedDefinition) -> Result<Vec<Format>, StoreError> {
        let FeedItems { items, modified_at } = self
            .inner
            .store
            .feed_items(feed.section.as_deref(), self.inner.settings.item_limit)
            .await?;
        let previous = self.cached(&feed.slug);
        let site = self.inner.site.clone();
        let definition = feed.clone();
        // Rendering and compressing hundreds of items is CPU work: keep it
        // off the threads that serve requests.
        let rendered = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut changed = Vec::new();
            let mut formats = Vec::with_capacity(Format::ALL.len());
            for format in Format::ALL {
                let body = render(&site, &definition, &items, modified_at, format)?;
                let unchanged = previous
                    .as_ref()
                    .map(|p| p.get(format))
                    .filter(|p| p.body().as_ref() == body.as_slice());
                formats.push(match unchanged {
                    Some(representation) => representation.clone(),
                    None => {
                        changed.push(format);
                        Representation::new(body, modified_at)?
                    }
                });
            }
            let [rss, atom, json]: [Representation; 3] = formats
                .try_into()
                .map_err(|_| anyhow::anyhow!("rendered an unexpected number of formats"))?;
            Ok((RenderedFeed::new(rss, atom, json), changed))
        })
        .await
        .context("Failed to render a feed")??;
        let (rendered, changed) = rendered;
        self.inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(feed.slug.clone(), Arc::new(rendered));
        Ok(changed)
    }

    /// Re-renders the feeds carrying any of `sections`, then writes the
    /// changed files and notifies the hub. Failures are logged: the item is
    /// stored, and revalidation or the next change catches up.
    async fn publish_sections(&self, sections: &[&str]) {
        for feed in &self.inner.settings.feeds {
            if !sections.iter().any(|section| feed.includes(section)) {
                continue;
            }
            let changed = match self.refresh(feed).await {
                Ok(changed) => changed,
                Err(error) => {
                    tracing::error!(feed = %feed.slug, error = %error, "Could not re-render a feed after a change");
                    continue;
                }
            };
            self.write_files(feed, &changed).await;
            self.notify_hub(feed, &changed);
        }
    }

    async fn write_files(&self, feed: &FeedDefinition, formats: &[Format]) {
        let Some(dir) = &self.inner.settings.output_dir else {
            return;
        };
        let Some(rendered) = self.cached(&feed.slug) else {
            return;
        };
        for &format in formats {
            let name = format!("{}.{}", feed.slug, format.extension());
            let body = rendered.get(format).body();
            if let Err(error) = output::write_atomically(dir, &name, body).await {
                tracing::error!(file = %name, error = format!("{error:#}"), "Could not write a feed file");
            }
        }
    }

    fn notify_hub(&self, feed: &FeedDefinition, formats: &[Format]) {
        let Some(hub) = &self.inner.hub else {
            return;
        };
        for &format in formats {
            let hub = hub.clone();
            let topic = self.inner.site.feed_url(&feed.slug, format);
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
