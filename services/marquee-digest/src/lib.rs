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

mod compose;
mod email;
mod handler;
mod http;
mod mailer;
mod runs;
pub mod schedule;
mod settings;
mod store;
mod subscribers;
mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

pub use compose::{DigestContent, RenderedDigest, TemplateError, Templates, subject};
pub use email::{EmailAddress, InvalidEmail};
pub use handler::DigestHandler;
pub use mailer::SendError;
pub use runs::{DryRunReport, NextRun, RunReport, ScheduleReport};
pub use schedule::{Clock, CronSchedule, InvalidSchedule, ManualClock, SystemClock};
pub use settings::{ScheduleSettings, Settings, SettingsError, SmtpSettings, TlsMode};
pub use store::{
    DeliveryCounts, Preferences, Run, RunStatus, Store, StoreError, Subscriber, SubscriberStatus,
};
pub use subscribers::{ImportReport, SubscribeOutcome, SubscriptionError};
pub use token::{Purpose, TokenError};

use mailer::Mailer;
use token::Signer;

/// The digest service; cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct DigestService {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    schedules: RwLock<Vec<CronSchedule>>,
    store: Store,
    templates: Templates,
    mailer: Mailer,
    signer: Signer,
    clock: Arc<dyn Clock>,
    /// Pause switches of the runs this process is sending.
    active: Mutex<HashMap<String, CancellationToken>>,
}

impl DigestService {
    /// Validates the settings, connects to the database and creates its tables.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`DigestService::build`] on another clock (tests pin it).
    pub async fn build_with_clock(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let schedules = settings.validate()?;
        // A short secret makes every subscriber's tokens guessable.
        anyhow::ensure!(
            secrecy::ExposeSecret::expose_secret(&settings.token_secret).len() >= 16,
            "digest.token_secret must be at least 16 characters (set MARQUEE_DIGEST__TOKEN_SECRET)"
        );
        // Links are joined onto the base as onto a folder.
        if !settings.public_base_url.path().ends_with('/') {
            let path = format!("{}/", settings.public_base_url.path());
            settings.public_base_url.set_path(&path);
        }
        let templates = Templates::load(settings.template_dir.as_deref())?;
        for schedule in &schedules {
            let template = &schedule.settings().template;
            anyhow::ensure!(
                templates.has(template),
                "schedule `{}` uses template `{template}`, which has no `{template}.html` and `{template}.txt`",
                schedule.name()
            );
        }
        let store = Store::open(&settings.database_url).await?;
        let mailer = Mailer::new(&settings.smtp, &settings.from)?;
        let signer = Signer::new(settings.token_secret.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                schedules: RwLock::new(schedules),
                store,
                templates,
                mailer,
                signer,
                clock,
                active: Mutex::default(),
            }),
        })
    }

    /// The public routes: subscribe, confirm, unsubscribe, bounce webhook.
    pub fn router(&self) -> axum::Router {
        http::public_router(self.clone())
    }

    /// The operator routes under `/digest/`; authentication is the caller's.
    pub fn admin_router(&self) -> axum::Router {
        http::admin_router(self.clone())
    }

    /// The handler of `reviews` and `screenings` events, for `Bus::consume`
    /// in the `consumer_group` of the settings.
    pub fn handler(&self) -> impl marquee_bus::Handler + use<> {
        DigestHandler::new(self.clone())
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

    /// The schedules in force.
    pub fn schedules(&self) -> Vec<CronSchedule> {
        self.inner
            .schedules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn schedule(&self, name: &str) -> Option<CronSchedule> {
        self.schedules().into_iter().find(|s| s.name() == name)
    }

    /// Adds a schedule, or replaces the one of the same name, until the
    /// process stops (settings are the durable source of schedules).
    pub fn put_schedule(&self, settings: &ScheduleSettings) -> anyhow::Result<CronSchedule> {
        let schedule = CronSchedule::parse(settings)?;
        anyhow::ensure!(
            self.inner.templates.has(&settings.template),
            "template `{}` has no `.html` and `.txt`",
            settings.template
        );
        let mut schedules = self
            .inner
            .schedules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        schedules.retain(|s| s.name() != settings.name);
        schedules.push(schedule.clone());
        Ok(schedule)
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }
}
