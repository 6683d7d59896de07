//! The social service: posts every new review once per configured account
//! on Mastodon, Bluesky, X or a webhook.
//!
//! - [`SocialService::handler`] only records work: for a `Published` event
//!   it composes one post per account and writes a `queued` ledger row
//!   ([`Store`]) (or,
//!   in dry-run, a `dry_run` row: the outbox). A review published before
//!   its source was first seen, or older than `back_catalogue_max_age_secs`
//!   when first seen, is back catalogue: a `skipped` row with the reason,
//!   never posted unless an operator asks (`/admin/social/`). `Updated`
//!   never re-posts; a replay finds the rows and changes nothing;
//!   `Withdrawn` cancels posts still queued or skipped. An operator may
//!   cancel a waiting post, retry a failed one, and pause an account.
//! - [`SocialService::run`] starts a worker per account that sends queued
//!   posts one at a time, honouring spacing, rate limits and quiet hours,
//!   writing `pending` with a deterministic idempotency key before each
//!   request so a crash between "accepted" and "recorded" never posts twice.
//! - [`SocialService::router`] serves `/social/outbox` and `/social/outbox.json`.
//! - [`Composer`] is the pure template-and-length-rules part.

mod admin;
mod compose;
mod consumer;
mod error;
mod fediverse;
mod handler;
mod http;
mod network;
mod settings;
mod store;
mod worker;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::{Film, Rating, Review, ReviewId};
use marquee_runtime::clock::{SharedClock, SystemClock};
use tokio_util::sync::CancellationToken;

pub use admin::openapi;
pub use compose::{
    BLUESKY_BYTES, BLUESKY_GRAPHEMES, ComposeError, ComposedPost, Composer, MASTODON_LIMIT,
    Network, URL_LENGTH, UnknownNetwork, WEBHOOK_LIMIT, X_LIMIT, bluesky_length, mastodon_length,
    stars, truncate_to_fit, url_ranges, x_weighted_length,
};
pub use consumer::SocialHandler;
pub use error::StoreError;
pub use network::{post_record, tid};
pub use settings::{
    AccountSettings, ActorSettings, BlueskyAccount, Common, FediverseSettings, InvalidQuietHours,
    MastodonAccount, QuietHours, Settings, SettingsError, Visibility, WebhookAccount, XAccount,
};
pub use store::Store;
pub use store::posts::{Entry, NewPost, PostStatus, UnknownPostStatus};

use worker::Account;

/// The social service; cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct SocialService {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    accounts: Vec<Account>,
    /// The publication's own fediverse actors, when configured.
    fediverse: Option<fediverse::Fediverse>,
    /// Quiet hours, backoff and spacing read it: tests pin it.
    clock: SharedClock,
}

impl SocialService {
    /// Checks the settings and templates, connects to the database and
    /// creates the ledger.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, SystemClock::shared()).await
    }

    /// [`SocialService::build`] reading the time from `clock`.
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        settings.validate()?;
        let mut accounts = Vec::with_capacity(settings.accounts.len());
        for account in &settings.accounts {
            let common = account.common();
            let template_error = |reason: String| SettingsError::Template {
                account: common.name.to_owned(),
                reason,
            };
            let composer = Composer::new(account.network(), common.template, common.hashtags)
                .map_err(|e| template_error(e.to_string()))?
                .with_section_hashtags(common.section_hashtags);
            // A template that parses may still refer to a field that does
            // not exist: find out now, not on the first review.
            composer
                .compose(&sample_review()?)
                .map_err(|e| template_error(e.to_string()))?;
            accounts.push(Account::new(account.clone(), composer)?);
        }
        let store = Store::open(&settings.database_url).await?;
        for account in &accounts {
            account
                .restore_pace(store.last_posted(account.name()).await?)
                .await;
        }
        let fediverse = match &settings.fediverse {
            Some(fediverse) => Some(fediverse::Fediverse::open(fediverse.clone(), &store).await?),
            None => None,
        };
        if settings.dry_run {
            tracing::info!(
                accounts = accounts.len(),
                "Social posts run dry: composed into the outbox, never sent"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                store,
                accounts,
                fediverse,
                clock,
            }),
        })
    }

    /// The HTTP routes: `/social/outbox` (HTML) and `/social/outbox.json`,
    /// and the fediverse actors' when configured (WebFinger, NodeInfo,
    /// `/actors/…`, `/inbox`).
    pub fn router(&self) -> axum::Router {
        let router = http::router(self.clone());
        if self.inner.fediverse.is_some() {
            router.merge(fediverse::http::router(self.clone()))
        } else {
            router
        }
    }

    /// The operator routes under `/admin/social/`: the posts ledger and the
    /// accounts' queues; posting a skipped review on purpose, cancelling,
    /// retrying, pausing and resuming.
    pub fn admin_router(&self) -> axum::Router {
        admin::router(self.clone())
    }

    /// The review-event handler, for `Bus::consume` on `topics::REVIEWS`.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        SocialHandler(self.clone())
    }

    /// Runs a sending worker per account until `shutdown` (in dry-run there
    /// is nothing to send), and the fediverse deliveries: the actors are
    /// the publication's own, and send only to those who follow them, so
    /// dry-run leaves them be.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut workers = tokio::task::JoinSet::new();
        if self.inner.fediverse.is_some() {
            let service = self.clone();
            let shutdown = shutdown.clone();
            workers.spawn(async move {
                if let Some(fediverse) = &service.inner.fediverse {
                    fediverse
                        .deliver(&service.inner.store, || service.now(), &shutdown)
                        .await;
                }
            });
        }
        let accounts = if self.inner.settings.dry_run {
            0
        } else {
            self.inner.accounts.len()
        };
        for index in 0..accounts {
            let service = self.clone();
            let shutdown = shutdown.clone();
            workers.spawn(async move {
                let account = &service.inner.accounts[index];
                service.work(account, &shutdown).await;
            });
        }
        if workers.is_empty() {
            shutdown.cancelled().await;
        }
        while let Some(done) = workers.join_next().await {
            done.context("A social worker panicked")?;
        }
        Ok(())
    }

    /// Sends, once, whatever every account has due now, as pacing allows;
    /// returns the number of send attempts. `run` does this in a loop;
    /// tests call it to work without waiting.
    pub async fn drain_once(&self) -> anyhow::Result<usize> {
        let mut attempts = 0;
        if let Some(fediverse) = &self.inner.fediverse {
            attempts += fediverse.deliver_due(&self.inner.store, self.now()).await?;
        }
        if self.inner.settings.dry_run {
            return Ok(attempts);
        }
        let never = CancellationToken::new();
        for account in &self.inner.accounts {
            attempts += self.drain_account(account, &never).await?;
        }
        Ok(attempts)
    }

    /// Whether the database answers, for readiness probes.
    pub async fn check(&self) -> anyhow::Result<()> {
        Ok(self.inner.store.check().await?)
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store holding the ledger of posts.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }
}

/// A review with every field set, to try templates on at start.
fn sample_review() -> anyhow::Result<Review> {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    Ok(Review {
        id: ReviewId::parse("sample").map_err(anyhow::Error::msg)?,
        url: url::Url::parse("https://films.example/reviews/sample")?,
        headline: "Sample review – a headline".to_owned(),
        film: Film {
            title: "Sample".to_owned(),
            year: Some(2025),
            runtime_minutes: None,
        },
        standfirst: "A standfirst".to_owned(),
        body_html: String::new(),
        author: None,
        rating: Rating::try_from(4).ok(),
        section: "In Cinemas".to_owned(),
        image: None,
        published_at: at,
        updated_at: at,
    })
}
