//! The documents the service serves: what each URL family shows, read from
//! the store and rendered into the in-memory cache, re-rendered in the
//! background once stale.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use marquee_events::{Review, ReviewId};
use tracing::Instrument;

use crate::cache::{RenderedFeed, Representation};
use crate::listings::{self, Listing, ListingDocument};
use crate::render::render;
use crate::settings::{FeedDefinition, FeedSlug};
use crate::store::reviews::FeedItems;
use crate::store::screenings::ScreeningScope;
use crate::{FeedsService, StoreError};

/// After this long a cached document is re-rendered from the database in
/// the background. Another replica may have consumed a change this one never
/// saw (replicas split the partitions), and screening documents move with
/// the clock; this bounds how stale it serves.
const REVALIDATE_AFTER: Duration = Duration::from_secs(10);

/// Live reviews already read while rendering, by id. A render pass shares
/// one between its documents: the week's listings link much the same
/// reviews, and each lookup is a walk of the store's largest B-tree.
pub(crate) type ReadReviews = HashMap<ReviewId, Review>;

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
    pub(crate) fn path(&self) -> (&'static str, &str) {
        match self {
            Self::Reviews(slug) => ("feeds", slug.as_str()),
            Self::Venue(id) => ("venues", id),
            Self::Strand(slug) => ("strands", slug),
            Self::ThisWeek => ("repertory", "this-week"),
            Self::AllCalendar => ("calendars", "all"),
        }
    }

    /// `folder/stem`, for logs and metrics.
    pub(crate) fn label(&self) -> String {
        let (folder, name) = self.path();
        format!("{folder}/{name}")
    }
}

/// A document's content, read from the store, ready to render.
enum Loaded {
    Reviews(FeedDefinition, FeedItems),
    Listing(Listing),
}

impl FeedsService {
    /// Drops every rendered document, so each is rendered from the database
    /// at its next request.
    pub(crate) fn forget_rendered(&self) {
        self.inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The cached rendering of `document`, rendering it first if absent
    /// (`None`: no such document); a stale one is served while a background
    /// task re-renders it.
    pub(crate) async fn rendered(
        &self,
        document: &Document,
    ) -> Result<Option<Arc<RenderedFeed>>, StoreError> {
        if let Some(rendered) = self.cached(document) {
            if rendered.rendered_at.elapsed() > REVALIDATE_AFTER {
                self.revalidate_in_background(document);
            }
            return Ok(Some(rendered));
        }
        if self
            .refresh(document, &mut ReadReviews::new())
            .await?
            .is_none()
        {
            return Ok(None);
        }
        Ok(Some(self.cached(document).ok_or_else(|| {
            anyhow::anyhow!("`{}` vanished from the cache", document.label())
        })?))
    }

    pub(crate) fn cached(&self, document: &Document) -> Option<Arc<RenderedFeed>> {
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
                if let Err(error) = service.refresh(&document, &mut ReadReviews::new()).await {
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

    /// Reads what `document` shows from the store, its linked reviews from
    /// `read` where they are already; `None` when it does not exist (an
    /// unknown venue or strand).
    async fn load(
        &self,
        document: &Document,
        read: &mut ReadReviews,
    ) -> Result<Option<Loaded>, StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        // Each listing, and the scope and window of the screenings it shows.
        let (listing, (scope, from, to)) = match document {
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
                (
                    listing,
                    (ScreeningScope::Venue(id), now - CALENDAR_PAST, None),
                )
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
                (listing, (ScreeningScope::Strand(slug), now, None))
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
                (listing, (ScreeningScope::All, now, Some(now + THIS_WEEK)))
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
                (listing, (ScreeningScope::All, now - CALENDAR_PAST, None))
            }
        };
        let screenings = store.screenings(scope, from, to).await?;
        // Feeds link the matched reviews; calendars take a running time
        // the listing lacks from them.
        let ids: Vec<ReviewId> = screenings
            .iter()
            .filter_map(|s| s.screening.review_id.clone())
            .collect();
        let unread: Vec<ReviewId> = ids
            .iter()
            .filter(|id| !read.contains_key(*id))
            .cloned()
            .collect();
        read.extend(store.live_reviews(&unread).await?);
        let reviews = ids
            .into_iter()
            .filter_map(|id| read.get(&id).map(|review| (id, review.clone())))
            .collect();
        Ok(Some(Loaded::Listing(Listing {
            document: listing,
            screenings,
            reviews,
            now,
        })))
    }

    /// Re-renders `document` from the database into the cache, taking the
    /// reviews it links from `read` where they are; returns the extensions
    /// whose bytes changed, or `None` when it does not exist.
    #[tracing::instrument(skip_all, fields(document = %document.label()))]
    pub(crate) async fn refresh(
        &self,
        document: &Document,
        read: &mut ReadReviews,
    ) -> Result<Option<Vec<&'static str>>, StoreError> {
        let Some(loaded) = self.load(document, read).await? else {
            self.inner
                .cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(document);
            return Ok(None);
        };
        let previous = self.cached(document);
        let kept = previous
            .as_ref()
            .map(|p| p.fragments.clone())
            .unwrap_or_default();
        let site = self.inner.site.clone();
        let limit = self.inner.settings.item_limit;
        let refresh_interval =
            Duration::from_secs(self.inner.settings.calendar_refresh_interval_secs);
        let now = self.inner.clock.now();
        let linked_reviews = match &loaded {
            Loaded::Listing(listing) => listing
                .screenings
                .iter()
                .filter_map(|s| s.screening.review_id.clone())
                .collect(),
            Loaded::Reviews(..) => HashSet::new(),
        };
        // Rendering and compressing hundreds of items is CPU work: keep it
        // off the threads that serve requests.
        let rendered = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let (bodies, fragments, modified_at, moves_with_time) = match loaded {
                Loaded::Reviews(definition, FeedItems { items, modified_at }) => {
                    let rendered = render(&site, &definition, &items, modified_at, &kept)?;
                    let bodies = rendered
                        .bodies
                        .into_iter()
                        .map(|(format, body)| (format.extension(), body))
                        .collect();
                    (bodies, rendered.fragments, modified_at, false)
                }
                Loaded::Listing(listing) => {
                    let (bodies, fragments) =
                        listings::render_listing(&site, &listing, limit, refresh_interval, &kept)?;
                    let modified_at = listing.screenings.iter().map(|s| s.modified_at).max();
                    (bodies, fragments, modified_at, true)
                }
            };
            let mut changed = Vec::new();
            let mut representations = Vec::with_capacity(bodies.len());
            for (extension, body) in bodies {
                let before = previous.as_ref().and_then(|p| p.get(extension));
                if let Some(same) = before.filter(|p| p.body().as_ref() == body.as_slice()) {
                    representations.push((extension, Arc::clone(same)));
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
                representations.push((extension, Arc::new(Representation::new(body, modified)?)));
            }
            let rendered = RenderedFeed::new(representations, fragments, linked_reviews);
            Ok((rendered, changed))
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
}
