//! Reviews ingest: turns the publication's reviews into `review.published`,
//! `review.updated` and `review.withdrawn` events on the `reviews` topic.
//!
//! Three ways in, one set of rules:
//! - **feed** sources: the CMS's RSS 2.0 or Atom 1.0 feed, polled with
//!   conditional GET;
//! - **pages** sources: an index page or `sitemap.xml`, then each article,
//!   read from schema.org JSON-LD, then OpenGraph/`<meta>`, then the page's
//!   own headline, standfirst and paragraphs;
//! - the **CMS webhook**, `POST /webhooks/cms`, HMAC-signed (see
//!   [`WebhookPayload`] for the body and the signature scheme).
//!
//! Every review is sanitized (HTML through ammonia; headline and standfirst
//! as plain text; tracking parameters dropped from URLs), then compared with
//! a durable ledger by id and a hash of its normalized content, so re-polls
//! and cosmetic edits publish nothing. A review missing from a fully read
//! source for `withdraw_grace_secs` is withdrawn. Bad input is logged with
//! its source and reason, counted in `marquee_ingest_rejected_total`, and
//! skipped; nothing upstream can stop the service.

mod admin;
mod draft;
mod error;
mod feed;
mod film;
mod ledger;
#[cfg(test)]
mod malformed;
mod page;
mod pipeline;
mod sanitize;
mod settings;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use secrecy::SecretString;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use admin::openapi;
pub use error::IngestError;
pub use pipeline::{Outcome, PollReport};
pub use settings::{Settings, SourceSettings};
pub use webhook::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_SOURCE, WebhookAction, WebhookFilm, WebhookImage,
    WebhookPayload, WebhookReview,
};

use marquee_runtime::sources::{PollOutcome, SourceHealthLog, SourceRef};

use crate::ledger::Ledger;
use crate::pipeline::Pipeline;
use marquee_fetch::Fetcher;

/// State shared by the pollers and the webhook handler.
pub(crate) struct Inner {
    pub(crate) pipeline: Pipeline,
    pub(crate) webhook_secret: Option<SecretString>,
    pub(crate) webhook_replay_window_secs: u64,
}

/// The reviews-ingest service: pollers plus the webhook route.
#[derive(Clone)]
pub struct ReviewsIngest {
    inner: Arc<Inner>,
    sources: Vec<SourceSettings>,
    max_body_bytes: usize,
    health: SourceHealthLog,
}

impl ReviewsIngest {
    /// Opens the ledger and prepares the HTTP client; fails on duplicate
    /// source names, since names key the ledger.
    pub async fn build(settings: Settings, bus: marquee_bus::Bus) -> anyhow::Result<Self> {
        let mut names = std::collections::HashSet::new();
        for source in &settings.sources {
            anyhow::ensure!(
                names.insert(source.name()) && source.name() != WEBHOOK_SOURCE,
                "review source name {:?} is used twice (or is reserved): names must be unique",
                source.name()
            );
        }
        let ledger = Ledger::open(&settings.database_url).await?;
        let fetcher = Fetcher::new(
            Duration::from_secs(settings.fetch_timeout_secs.max(1)),
            settings.max_body_bytes,
            settings.allow_private_addresses,
            concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")),
        )?;
        let pipeline = Pipeline::new(
            ledger,
            bus,
            fetcher,
            Duration::from_secs(settings.withdraw_grace_secs),
        );
        let health = SourceHealthLog::open(
            &settings.database_url,
            settings
                .sources
                .iter()
                .map(|source| {
                    let (kind, url) = match source {
                        SourceSettings::Feed { url, .. } => ("feed", url),
                        SourceSettings::Pages { index_url, .. } => ("pages", index_url),
                    };
                    SourceRef {
                        name: source.name().to_owned(),
                        kind: kind.to_owned(),
                        url: url.to_string(),
                    }
                })
                .collect(),
        )
        .await?;
        Ok(Self {
            inner: Arc::new(Inner {
                pipeline,
                webhook_secret: settings.webhook_secret,
                webhook_replay_window_secs: settings.webhook_replay_window_secs,
            }),
            sources: settings.sources,
            max_body_bytes: settings.max_body_bytes,
            health,
        })
    }

    /// `POST /webhooks/cms`, bodies capped at `max_body_bytes`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/webhooks/cms", post(webhook::receive))
            .layer(DefaultBodyLimit::max(self.max_body_bytes))
            .with_state(self.inner.clone())
    }

    /// Polls every source once, one after another; for tests and one-shot runs.
    pub async fn poll_once(&self) -> Vec<(String, PollReport)> {
        let mut reports = Vec::new();
        for source in &self.sources {
            let report = self.poll(source).await;
            reports.push((source.name().to_owned(), report));
        }
        reports
    }

    /// Polls `source` and records how it went in the sources' health.
    async fn poll(&self, source: &SourceSettings) -> PollReport {
        let report = self.inner.pipeline.poll(source).await;
        let outcome = PollOutcome {
            read: report.read,
            seen: (report.published + report.updated + report.unchanged) as u64,
            rejected: report.rejected as u64,
            published: (report.published + report.updated + report.withdrawn) as u64,
            error: report.rejections.first().cloned(),
        };
        self.health
            .record(source.name(), &outcome, chrono::Utc::now())
            .await;
        report
    }

    /// The operator routes under `/admin/reviews-ingest/`: sources' health
    /// and backfill; authentication is the caller's.
    pub fn admin_router(&self) -> Router {
        admin::router(self.clone())
    }

    /// Polls every source on its interval, the first time at once, until
    /// `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut pollers = JoinSet::new();
        for source in self.sources.clone() {
            let service = self.clone();
            let shutdown = shutdown.clone();
            pollers.spawn(async move {
                let interval = source.poll_interval();
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
                tracing::error!(%error, "A review source poller panicked");
            }
        }
        Ok(())
    }

    /// Whether the ledger database answers; for readiness probes.
    pub async fn check(&self) -> anyhow::Result<()> {
        self.inner.pipeline.ledger.check().await
    }
}
