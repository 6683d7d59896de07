//! Test harness: the real service over a fresh database on a pinned clock,
//! a real SMTP server (aiosmtpd) on loopback, events handed to the handler.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use marquee_bus::{Handler, Message};
use marquee_digest::{
    DigestService, EmailAddress, FreshnessSettings, Preferences, Run, RunReport, ScheduleSettings,
    Settings, SmtpSettings, Subscriber, TlsMode,
};
use marquee_events::{
    Envelope, EventData, Film, Rating, Review, ReviewId, ReviewPublished, Screening, ScreeningFilm,
    ScreeningId, ScreeningListed, Venue,
};
use secrecy::SecretString;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use marquee_test_support::{Engine, ManualClock, SmtpSink, drop_database};

/// A fresh, empty database URL on `engine`.
pub async fn fresh_database(engine: Engine, dir: &Path) -> String {
    marquee_test_support::fresh_database(engine, dir, "digest").await
}

pub struct TestApp {
    pub service: DigestService,
    pub clock: ManualClock,
    pub sink: SmtpSink,
    pub address: SocketAddr,
    pub database_url: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    _dir: Arc<TempDir>,
}

/// Thursday 26 November 2026, 08:30 GMT: the weekly schedule's due time.
pub fn thursday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 8, 30, 0)
        .single()
        .expect("valid")
}

/// The bounce webhook's bearer token in the tests.
pub const BOUNCE_SECRET: &str = "test-bounce-secret-of-length";

pub fn weekly() -> ScheduleSettings {
    ScheduleSettings {
        name: "weekly".to_owned(),
        cron: "30 8 * * THU".to_owned(),
        time_zone: "Europe/London".to_owned(),
        template: "weekly".to_owned(),
        audience: "all".to_owned(),
        send_when_empty: false,
        max_source_age_secs: None,
    }
}

pub fn test_settings(database_url: &str, smtp_port: u16, base: &Url) -> Settings {
    Settings {
        database_url: database_url.to_owned(),
        public_base_url: base.clone(),
        token_secret: SecretString::from("test-secret-of-some-length".to_owned()),
        from: "Marquee <digest@films.example>".to_owned(),
        unsubscribe_mailto: None,
        smtp: SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port: smtp_port,
            tls: TlsMode::None,
            max_per_second: 0,
            concurrency: 4,
            max_attempts: 2,
            retry_backoff_ms: 10,
            pause_after_errors: 3,
            timeout_secs: 5,
            ..SmtpSettings::default()
        },
        freshness: FreshnessSettings::default(),
        schedules: vec![weekly()],
        catch_up_window_secs: 3600,
        consumer_group: "digest".to_owned(),
        dry_run: false,
        confirm_token_ttl_secs: 48 * 3600,
        unsubscribe_token_ttl_secs: 400 * 24 * 3600,
        bounce_secret: Some(SecretString::from(BOUNCE_SECRET.to_owned())),
        bounces: Default::default(),
        dkim: None,
        // The scenarios are about a week's window; the first digest's own
        // rule has its test (scheduler.rs).
        first_digest_reviews: 0,
    }
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(engine, |_| {}).await
    }

    pub async fn spawn_with(engine: Engine, configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let database_url = fresh_database(engine, dir.path()).await;
        let sink = SmtpSink::start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = listener.local_addr().expect("address");
        let base = Url::parse(&format!("http://{address}/")).expect("base URL");
        let mut settings = test_settings(&database_url, sink.port, &base);
        configure(&mut settings);
        let clock = ManualClock::new(thursday() - chrono::Duration::hours(1));
        let service = DigestService::build_with_clock(settings.clone(), clock.shared())
            .await
            .expect("service builds");
        let router = service.router().merge(service.admin_router());
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("server runs");
        });
        Self {
            service,
            clock,
            sink,
            address,
            database_url,
            settings,
            client: reqwest::Client::new(),
            _dir: Arc::new(dir),
        }
    }

    /// A service with [`TestApp::seed_content`] and a confirmed subscriber of
    /// default preferences for each of `readers`.
    pub async fn seeded<R: AsRef<str>>(
        engine: Engine,
        readers: impl IntoIterator<Item = R>,
    ) -> Self {
        Self::seeded_with(engine, |_| {}, readers).await
    }

    /// [`TestApp::seeded`] with settings changed by `configure`.
    pub async fn seeded_with<R: AsRef<str>>(
        engine: Engine,
        configure: impl FnOnce(&mut Settings),
        readers: impl IntoIterator<Item = R>,
    ) -> Self {
        let app = Self::spawn_with(engine, configure).await;
        app.seed_content().await;
        for reader in readers {
            app.subscriber(reader.as_ref(), Preferences::default())
                .await;
        }
        app
    }

    /// The one run the scheduler touches when its clock says `now`.
    pub async fn only_run_at(&self, now: DateTime<Utc>) -> RunReport {
        self.clock.set(now);
        let touched = self.service.tick(&CancellationToken::new()).await.unwrap();
        assert_eq!(touched.len(), 1, "one run touched at {now}: {touched:?}");
        self.service.run_report(&touched[0]).await.unwrap()
    }

    /// A second service on the same database and sink: a restarted process.
    pub async fn restart(&self) -> DigestService {
        DigestService::build_with_clock(self.settings.clone(), self.clock.shared())
            .await
            .expect("service rebuilds")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// `GET path`: the answer.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `GET path`, its JSON answer.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.unwrap()
    }

    /// `POST path` without a body, its JSON answer.
    pub async fn post_json(&self, path: &str) -> serde_json::Value {
        let response = self.client.post(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// The status `GET path` answers.
    pub async fn get_status(&self, path: &str) -> reqwest::StatusCode {
        self.get(path).await.status()
    }

    /// `method path` with a JSON `body`: the answer.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let request = self.client.request(method, self.url(path)).json(body);
        request.send().await.unwrap()
    }

    /// The status `POST path` without a body answers.
    pub async fn post_status(&self, path: &str) -> reqwest::StatusCode {
        let response = self.client.post(self.url(path)).send().await.unwrap();
        response.status()
    }

    /// The stored subscriber of `address`.
    pub async fn stored(&self, address: &str) -> Subscriber {
        self.service
            .store()
            .subscriber_by_email(&email(address))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no subscriber {address}"))
    }

    pub async fn deliver<T: EventData>(&self, event: &Envelope<T>) {
        self.service
            .handler()
            .handle(&Message::delivered(event, 0))
            .await
            .expect("the handler accepts the event");
    }

    /// Adds a confirmed subscriber directly (the HTTP flow has its own tests).
    pub async fn subscriber(&self, email: &str, preferences: Preferences) {
        let csv = format!(
            "email,status,list,venues,formats,min_rating\n{email},confirmed,weekly,{},{},{}\n",
            preferences.venues.join(";"),
            preferences.formats.join(";"),
            preferences
                .min_rating
                .map(|n| n.to_string())
                .unwrap_or_default()
        );
        let report = self.service.import_csv(&csv).await.expect("import");
        assert_eq!(report.imported, 1, "{report:?}");
    }

    /// Reviews and screenings around [`thursday`].
    pub async fn seed_content(&self) {
        let when = thursday();
        self.deliver(&published(
            &review("hamnet", "Hamnet", 4),
            when - chrono::Duration::days(2),
        ))
        .await;
        self.deliver(&published(
            &review("slop", "Slop", 2),
            when - chrono::Duration::days(1),
        ))
        .await;
        // An old review, before the week: in no digest.
        self.deliver(&published(
            &review("old", "Old Film", 4),
            when - chrono::Duration::days(30),
        ))
        .await;
        self.deliver(&listed(leone_screening())).await;
        self.deliver(&listed(hamnet_screening())).await;
        self.deliver(&listed(space_odyssey_screening())).await;
        // Beyond the 7 days: left out.
        self.deliver(&listed(screening(
            "late",
            "bfi-southbank",
            "BFI Southbank",
            "Too Late",
            "35mm",
            "2026-12-10T20:00:00",
            None,
        )))
        .await;
    }

    pub async fn close(self) {
        let url = self.database_url.clone();
        self.service.store().close().await;
        drop_database(&url).await;
    }
}

/// Asserts that `run`'s note says `says`.
pub fn assert_note(run: &Run, says: &str) {
    assert!(
        run.note.contains(says),
        "{says} missing from {:?}",
        run.note
    );
}

pub fn email(text: &str) -> EmailAddress {
    EmailAddress::parse(text).expect("valid address")
}

pub fn review(id: &str, title: &str, stars: u8) -> Review {
    Review {
        id: ReviewId::parse(id).expect("id"),
        url: Url::parse(&format!("https://films.example/reviews/{id}")).expect("URL"),
        headline: format!("{title} review – a headline for {id}"),
        film: Film {
            title: title.to_owned(),
            year: Some(2025),
            runtime_minutes: None,
        },
        standfirst: format!("The standfirst of {title} <em>with</em> & entities"),
        body_html: "<p>Body.</p>".to_owned(),
        author: Some("Ella Kemp".to_owned()),
        rating: Some(Rating::try_from(stars).expect("rating")),
        section: "In Cinemas".to_owned(),
        image: None,
        published_at: thursday(),
        updated_at: thursday(),
    }
}

pub fn published(review: &Review, at: DateTime<Utc>) -> Envelope<ReviewPublished> {
    let mut review = review.clone();
    review.published_at = at;
    review.updated_at = at;
    Envelope::new("marquee/tests", ReviewPublished { review }, at)
}

pub fn screening(
    id: &str,
    venue_id: &str,
    venue: &str,
    title: &str,
    format: &str,
    local: &str,
    review_id: Option<&str>,
) -> Screening {
    let starts_at_local: NaiveDateTime = local.parse().expect("local time");
    Screening {
        id: ScreeningId::parse(id).expect("id"),
        venue: Venue {
            id: venue_id.to_owned(),
            name: venue.to_owned(),
            address: None,
        },
        film: ScreeningFilm {
            title: title.to_owned(),
            year: Some(1968),
            director: None,
            runtime_minutes: None,
        },
        // November: London is on UTC.
        starts_at: Utc.from_utc_datetime(&starts_at_local),
        starts_at_local,
        time_zone: "Europe/London".to_owned(),
        screen: None,
        format: Some(format.to_owned()),
        strand: Some("Sergio Leone season".to_owned()),
        extras: vec!["Q&A".to_owned()],
        accessibility: vec![],
        booking_url: Some(Url::parse("https://venue.example/book").expect("URL")),
        sold_out: false,
        review_id: review_id.map(|id| ReviewId::parse(id).expect("id")),
    }
}

/// The Leone at the Prince Charles, as [`TestApp::seed_content`] lists it.
pub fn leone_screening() -> Screening {
    screening(
        "pcc-leone",
        "prince-charles",
        "Prince Charles Cinema",
        "Once Upon a Time in the West",
        "35mm",
        "2026-11-27T19:30:00",
        None,
    )
}

/// Hamnet at BFI Southbank, linked to its review, as
/// [`TestApp::seed_content`] lists it.
pub fn hamnet_screening() -> Screening {
    screening(
        "bfi-hamnet",
        "bfi-southbank",
        "BFI Southbank",
        "Hamnet",
        "DCP",
        "2026-11-28T18:00:00",
        Some("hamnet"),
    )
}

/// 2001 at BFI Southbank, as [`TestApp::seed_content`] lists it.
pub fn space_odyssey_screening() -> Screening {
    screening(
        "bfi-2001",
        "bfi-southbank",
        "BFI Southbank",
        "2001: A Space Odyssey",
        "70mm",
        "2026-11-29T14:00:00",
        None,
    )
}

pub fn listed(screening: Screening) -> Envelope<ScreeningListed> {
    Envelope::new(
        "marquee/tests",
        ScreeningListed { screening },
        thursday() - chrono::Duration::days(3),
    )
}
