//! Test harness: the real service over a fresh database on a pinned clock,
//! a real SMTP server (aiosmtpd) on loopback, events handed to the handler.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use marquee_bus::{Handler, Message, Record};
use marquee_digest::{
    DigestService, EmailAddress, FreshnessSettings, ManualClock, Preferences, ScheduleSettings,
    Settings, SmtpSettings, TlsMode,
};
use marquee_events::{
    Envelope, EventData, Film, Rating, Review, ReviewId, ReviewPublished, Screening, ScreeningFilm,
    ScreeningId, ScreeningListed, Venue,
};
use secrecy::SecretString;
use tempfile::TempDir;
use url::Url;

pub use marquee_test_support::{Engine, drop_database};

/// A fresh, empty database URL on `engine`.
pub async fn fresh_database(engine: Engine, dir: &Path) -> String {
    marquee_test_support::fresh_database(engine, dir, "digest").await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `scripts/smtp-sink.py` on a free loopback port, writing to a folder.
pub struct SmtpSink {
    pub port: u16,
    pub dir: TempDir,
    child: Child,
}

impl SmtpSink {
    /// Starts the sink; fails the test when aiosmtpd is missing.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py");
        let port = free_port();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run the SMTP sink");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the sink's first line");
        if line.trim() != "ready" {
            let output = child.wait_with_output().expect("sink exit");
            panic!(
                "the SMTP sink did not start (install aiosmtpd with `pip install aiosmtpd`): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Self { port, dir, child }
    }

    /// Makes the sink answer 451 until [`SmtpSink::recover`].
    pub fn fail(&self) {
        std::fs::write(self.dir.path().join("fail"), b"").expect("write the fail switch");
    }

    pub fn recover(&self) {
        std::fs::remove_file(self.dir.path().join("fail")).expect("remove the fail switch");
    }

    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("list the sink folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
    }

    /// Waits (polling, with a deadline) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_for_files(n).await;
        self.messages()
    }

    /// [`SmtpSink::wait_for`] without parsing, to react quickly.
    pub async fn wait_for_files(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let count = self.files().len();
            if count >= n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} messages, the sink has {count}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every received message, parsed by Python's `email` package.
    pub fn messages(&self) -> Vec<Received> {
        let files = self.files();
        if files.is_empty() {
            return Vec::new();
        }
        let output = Command::new("python3")
            .arg("-c")
            .arg(PARSE_EMAIL)
            .args(&files)
            .output()
            .expect("python3 parses the messages");
        assert!(
            output.status.success(),
            "parsing messages failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the parser printed JSON")
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message as Python's `email` package reads it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub list_unsubscribe: Option<String>,
    pub list_unsubscribe_post: Option<String>,
    pub content_type: String,
    pub defects: Vec<String>,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Part {
    pub content_type: String,
    pub body: String,
}

impl Received {
    pub fn part(&self, content_type: &str) -> &str {
        &self
            .parts
            .iter()
            .find(|p| p.content_type == content_type)
            .unwrap_or_else(|| panic!("no {content_type} part in {self:?}"))
            .body
    }

    /// The HTTPS link of `List-Unsubscribe`.
    pub fn unsubscribe_url(&self) -> String {
        let header = self.list_unsubscribe.as_deref().expect("List-Unsubscribe");
        header
            .split(',')
            .map(|s| s.trim().trim_start_matches('<').trim_end_matches('>'))
            .find(|s| s.starts_with("http"))
            .expect("an http link")
            .to_owned()
    }
}

const PARSE_EMAIL: &str = r#"
import json, sys
from email import policy
from email.parser import BytesParser
out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        m = BytesParser(policy=policy.default).parse(f)
    parts = []
    for part in m.walk():
        if part.is_multipart():
            continue
        parts.append({"content_type": part.get_content_type(), "body": part.get_content()})
    out.append({
        "to": str(m["To"]),
        "from": str(m["From"]),
        "subject": str(m["Subject"]),
        "message_id": str(m["Message-ID"]),
        "list_unsubscribe": str(m["List-Unsubscribe"]) if m["List-Unsubscribe"] else None,
        "list_unsubscribe_post": str(m["List-Unsubscribe-Post"]) if m["List-Unsubscribe-Post"] else None,
        "content_type": m.get_content_type(),
        "defects": [repr(d) for d in m.defects],
        "parts": parts,
    })
print(json.dumps(out))
"#;

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
        template_dir: None,
        confirm_token_ttl_secs: 48 * 3600,
        unsubscribe_token_ttl_secs: 400 * 24 * 3600,
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
        let service = DigestService::build_with_clock(settings.clone(), Arc::new(clock.clone()))
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

    /// A second service on the same database and sink: a restarted process.
    pub async fn restart(&self) -> DigestService {
        DigestService::build_with_clock(self.settings.clone(), Arc::new(self.clock.clone()))
            .await
            .expect("service rebuilds")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn deliver<T: EventData>(&self, event: &Envelope<T>) {
        self.service
            .handler()
            .handle(&message(event))
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
        self.deliver(&listed(screening(
            "pcc-leone",
            "prince-charles",
            "Prince Charles Cinema",
            "Once Upon a Time in the West",
            "35mm",
            "2026-11-27T19:30:00",
            None,
        )))
        .await;
        self.deliver(&listed(screening(
            "bfi-hamnet",
            "bfi-southbank",
            "BFI Southbank",
            "Hamnet",
            "DCP",
            "2026-11-28T18:00:00",
            Some("hamnet"),
        )))
        .await;
        self.deliver(&listed(screening(
            "bfi-2001",
            "bfi-southbank",
            "BFI Southbank",
            "2001: A Space Odyssey",
            "70mm",
            "2026-11-29T14:00:00",
            None,
        )))
        .await;
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

pub fn email(text: &str) -> EmailAddress {
    EmailAddress::parse(text).expect("valid address")
}

pub fn message<T: EventData>(event: &Envelope<T>) -> Message {
    let record = Record::from_event(event);
    Message {
        topic: record.topic,
        partition: 0,
        offset: 0,
        key: Some(record.key),
        headers: record.headers,
        payload: record.payload,
    }
}

pub fn review(id: &str, title: &str, stars: u8) -> Review {
    Review {
        id: ReviewId::parse(id).expect("id"),
        url: Url::parse(&format!("https://films.example/reviews/{id}")).expect("URL"),
        headline: format!("{title} review – a headline for {id}"),
        film: Film {
            title: title.to_owned(),
            year: Some(2025),
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
    let mut event = Envelope::new("marquee/tests", ReviewPublished { review });
    event.time = at;
    event
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

pub fn listed(screening: Screening) -> Envelope<ScreeningListed> {
    let mut event = Envelope::new("marquee/tests", ScreeningListed { screening });
    event.time = thursday() - chrono::Duration::days(3);
    event
}
