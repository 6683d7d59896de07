//! Reviews ingest: turns the publication's reviews into `review.published`,
//! `review.updated` and `review.withdrawn` events on the `reviews` topic.
//!
//! Three ways in, one set of rules:
//! - **feed** sources: the CMS's RSS 2.0 or Atom 1.0 feed, polled with
//!   conditional GET;
//! - **pages** sources: an index page or `sitemap.xml`, then each article
//!   it links (the same-site links of `<article>`s, headings, lists and
//!   cards outside the page chrome, or those a source's `links` CSS selector
//!   picks; an index linking none is an error), read from schema.org
//!   JSON-LD, then OpenGraph/`<meta>`, then the page's own headline (`<h1>`,
//!   `og:title`, `<title>` without the site's name, the first heading),
//!   standfirst and paragraphs;
//! - the **CMS webhook**, `POST /webhooks/cms`, HMAC-signed (see
//!   [`WebhookPayload`] for the body and the signature scheme).
//!
//! Every review is sanitized (HTML through ammonia; headline and standfirst
//! as plain text; tracking parameters dropped from URLs), then compared with
//! a durable ledger by id and a hash of its normalized content, so re-polls
//! and cosmetic edits publish nothing. A review missing from a fully read
//! source for `withdraw_grace_secs` is withdrawn, on time even while the
//! source answers 304 (the deadline is kept by the ingest core). Within one
//! document the first item with an id wins; a later one reusing it is
//! rejected. An invalid item with an id is present but invalid: rejected,
//! never withdrawn for it, and the rest of its source is still cleaned up.
//! A version never claims an `updated_at` later than now or earlier than
//! the one it replaces, so the feeds always take the newest edit. Bad input
//! is logged with its source and reason, counted in
//! `marquee_ingest_rejected_total`, and skipped; nothing upstream can stop
//! the service.
//!
//! Polling, conditional GET, source health, backfill and the admin routes
//! are the ingest core's ([`marquee_ingest`]); this crate holds the readers
//! (`feed.rs`, `page/`, the webhook in `webhook.rs` and `http.rs`), the ledger
//! (`store/`) and the change rules (`handler.rs`). The two kinds differ in
//! their settings and in how they read (a page source follows links to
//! many documents), so they are the variants of [`SourceSettings`] rather
//! than single-document [`marquee_ingest::SourceKind`] parsers.

mod draft;
mod error;
mod feed;
mod film;
mod handler;
mod http;
#[cfg(test)]
mod malformed;
mod page;
mod pipeline;
mod sanitize;
mod settings;
mod store;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use marquee_fetch::Fetcher;
use marquee_ingest::{Conditional, Ingest, ServiceName};
use marquee_runtime::clock::{SharedClock, SystemClock};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub use error::IngestError;
#[doc(hidden)]
pub use feed::{feedparser_view, root_element};
pub use marquee_ingest::{Change, PollReport};
pub use settings::{InvalidLinkSelector, LinkSelector, Settings, SourceSettings};
pub use webhook::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_SOURCE, WebhookAction, WebhookFilm, WebhookImage,
    WebhookPayload, WebhookReview,
};

use crate::pipeline::Pipeline;
use crate::store::Store;

/// How the core names this service.
const NAME: ServiceName = ServiceName {
    service: "reviews-ingest",
    source: "review",
    items: "reviews",
};

/// State the webhook route reads.
pub(crate) struct Inner {
    pub(crate) ingest: Ingest<Pipeline>,
    pub(crate) webhook_secret: Option<SecretString>,
    pub(crate) webhook_replay_window_secs: u64,
    pub(crate) clock: SharedClock,
}

/// The reviews-ingest service: pollers plus the webhook route.
#[derive(Clone)]
pub struct ReviewsIngest {
    inner: Arc<Inner>,
    max_body_bytes: usize,
}

impl ReviewsIngest {
    /// Opens the ledger and prepares the HTTP client; fails on duplicate
    /// source names, since names key the ledger.
    pub async fn build(settings: Settings, bus: marquee_bus::Bus) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, bus, SystemClock::shared()).await
    }

    /// [`ReviewsIngest::build`] reading "now" from `clock` (tests pin it).
    pub async fn build_with_clock(
        settings: Settings,
        bus: marquee_bus::Bus,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        if let Some(source) = settings.sources.iter().find(|s| s.name() == WEBHOOK_SOURCE) {
            anyhow::bail!(
                "review source name {:?} is reserved for the CMS webhook: names must be unique",
                source.name()
            );
        }
        let store = Store::open(&settings.database_url, clock.clone()).await?;
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
            Duration::from_secs(settings.withdraw_grace_secs),
            clock.clone(),
        );
        let ingest = Ingest::open(NAME, &pool, settings.sources, pipeline, clock.clone()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                ingest,
                webhook_secret: settings.webhook_secret,
                webhook_replay_window_secs: settings.webhook_replay_window_secs,
                clock,
            }),
            max_body_bytes: settings.max_body_bytes,
        })
    }

    /// `POST /webhooks/cms`, bodies capped at `max_body_bytes`.
    pub fn router(&self) -> Router {
        http::router(self.inner.clone(), self.max_body_bytes)
    }

    /// Polls every source once, one after another; for tests and one-shot runs.
    pub async fn poll_once(&self) -> Vec<(String, PollReport)> {
        self.inner.ingest.poll_once().await
    }

    /// The operator routes under `/admin/reviews-ingest/`: sources' health,
    /// backfill and its job; authentication is the caller's.
    pub fn admin_router(&self) -> Router {
        self.inner.ingest.admin_router()
    }

    /// Polls every source on its interval, the first time at once, until
    /// `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.inner.ingest.clone().run(shutdown).await
    }

    /// Whether the ledger database answers; for readiness probes.
    pub async fn check(&self) -> anyhow::Result<()> {
        self.inner.ingest.pipeline().store.check().await
    }
}

/// The reviews-ingest part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    marquee_ingest::openapi(NAME.service)
}
