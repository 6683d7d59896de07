//! The digest service: the weekly "what to watch" email.
//!
//! - [`DigestService::handler`] consumes the `reviews` and `screenings`
//!   topics into the service's own tables, idempotently by event id and
//!   item version.
//! - [`DigestService::run`] is the scheduler: each schedule's cron
//!   expression is read in its IANA time zone (DST rule in [`schedule`]);
//!   a due run puts every recipient in a durable ledger as pending, then
//!   sends and marks each one, so a run is exactly-once per subscriber and
//!   resumes where it stopped after a crash. A run missed while the process
//!   was down is caught up once within `catch_up_window_secs`.
//! - [`DigestService::router`] serves subscribe (double opt-in), confirm,
//!   one-click unsubscribe (RFC 8058) and the bounce webhook;
//!   [`DigestService::admin_router`] the operator routes under `/digest/`.

mod admin;
mod archive;
mod bounces;
mod compose;
mod consumer;
mod email;
mod error;
mod freshness;
mod handler;
mod http;
mod mailer;
#[cfg(test)]
mod malformed;
mod runs;
pub mod schedule;
mod schedules;
mod settings;
mod store;
mod subscribers;
mod token;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use marquee_runtime::clock::{SharedClock, SystemClock};
use tokio_util::sync::CancellationToken;

pub use admin::openapi;
pub use compose::{DigestContent, RenderedDigest, TemplateError, Templates};
pub use email::{EmailAddress, InvalidEmail};
pub use error::{RunError, ScheduleChangeError, SubscriptionError};
pub use mailer::SendError;
pub use runs::{DryRunReport, NextRun, RunReport, ScheduleReport};
pub use schedule::{CronSchedule, InvalidSchedule};
pub use settings::{
    BounceSettings, DkimSettings, FreshnessSettings, ScheduleSettings, Settings, SettingsError,
    SmtpSettings, TlsMode,
};
pub use store::{
    DeliveryCounts, Preferences, Run, RunKind, RunStatus, Store, StoreError, Subscriber,
    SubscriberStatus,
};
pub use subscribers::{ImportReport, InvalidBounceKind, SubscribeOutcome, Suppression};
pub use token::{Purpose, TokenError};

use consumer::DigestHandler;
use mailer::Mailer;
use token::Signer;

/// The digest service; cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct DigestService {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    /// The stored schedules (the admin API changes them).
    schedules: RwLock<Vec<CronSchedule>>,
    /// Names of the paused schedules.
    paused: RwLock<HashSet<String>>,
    /// Asks the ingest services about their sources for the freshness gate.
    http: reqwest::Client,
    store: Store,
    templates: Templates,
    mailer: Mailer,
    signer: Signer,
    clock: SharedClock,
    /// Pause switches of the runs this process is sending.
    active: Mutex<HashMap<String, CancellationToken>>,
}

impl DigestService {
    /// Validates the settings, connects to the database and creates its tables.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, SystemClock::shared()).await
    }

    /// [`DigestService::build`] on another clock (tests pin it).
    pub async fn build_with_clock(
        mut settings: Settings,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        // A short secret makes every subscriber's tokens guessable.
        anyhow::ensure!(
            secrecy::ExposeSecret::expose_secret(&settings.token_secret).len() >= 16,
            "digest.token_secret must be at least 16 characters (set MARQUEE_DIGEST__TOKEN_SECRET)"
        );
        if settings.bounce_secret().is_none() {
            tracing::warn!(
                "The bounce webhook is off: set digest.bounce_secret (MARQUEE_DIGEST__BOUNCE_SECRET) \
                 for POST /webhooks/bounce to suppress bounced and complaining addresses"
            );
        }
        // Links are joined onto the base as onto a folder.
        if !settings.public_base_url.path().ends_with('/') {
            let path = format!("{}/", settings.public_base_url.path());
            settings.public_base_url.set_path(&path);
        }
        let store = Store::open(&settings.database_url, clock.clone()).await?;
        let stored: Vec<_> = store
            .templates()
            .await?
            .into_iter()
            .map(|(name, template, _)| (name, template))
            .collect();
        let templates = Templates::load(&stored)?;
        let (schedules, paused) = schedules::stored_schedules(&store, &settings.schedules).await?;
        for schedule in &schedules {
            let template = &schedule.settings().template;
            anyhow::ensure!(
                templates.has(template),
                "schedule `{}` uses template `{template}`, which is neither built in nor stored (PUT /admin/digest/templates/{template})",
                schedule.name()
            );
        }
        let mailer = Mailer::new(&settings.smtp, &settings.from, settings.dkim.as_ref())?;
        let signer = Signer::new(settings.token_secret.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                schedules: RwLock::new(schedules),
                paused: RwLock::new(paused),
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()?,
                store,
                templates,
                mailer,
                signer,
                clock,
                active: Mutex::default(),
            }),
        })
    }

    /// The public routes: subscribe, confirm, unsubscribe, bounce webhook,
    /// the archive of past digests.
    pub fn router(&self) -> axum::Router {
        http::public_router(self.clone()).merge(archive::router(self.clone()))
    }

    /// The operator routes under `/admin/digest/`; authentication is the caller's.
    pub fn admin_router(&self) -> axum::Router {
        admin::router(self.clone())
    }

    /// The handler of `reviews` and `screenings` events, for `Bus::consume`
    /// in the `consumer_group` of the settings.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        DigestHandler(self.clone())
    }

    /// Whether the database answers, for readiness probes.
    pub async fn check(&self) -> anyhow::Result<()> {
        Ok(self.inner.store.check().await?)
    }

    /// Whether the SMTP relay answers.
    pub async fn check_smtp(&self) -> anyhow::Result<()> {
        self.inner.mailer.check().await
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The durable state.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }
}
