use std::collections::HashMap;
use std::path::Path;

use chrono::DateTime;
use marquee_events::{Envelope, Screening, ScreeningEvent, topics};
use marquee_ingest::testing::{TopicRecorder, embedded_bus};
use marquee_listings_ingest::{
    ListingsIngest, PollReport, Settings, SourceSettings, VenueSettings,
};
use marquee_test_support::ManualClock;
use tempfile::TempDir;

/// "Today" in every test, unless a test moves the clock.
pub const NOW: &str = "2026-11-23T12:00:00Z";

pub use marquee_test_support::Upstream;

pub fn fixture(file: &str) -> String {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file),
    )
}

pub fn sample(file: &str) -> String {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(file),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn venue(id: &str, name: &str) -> VenueSettings {
    VenueSettings {
        id: id.to_owned(),
        name: name.to_owned(),
        address: Some("1 Test Street, London".to_owned()),
        time_zone: "Europe/London".to_owned(),
    }
}

/// A source of `kind` (`ics`, `json_ld`, `csv` or `json`).
pub fn source(kind: &str, name: &str, url: url::Url, venue: VenueSettings) -> SourceSettings {
    SourceSettings {
        kind: kind.parse().unwrap(),
        name: name.to_owned(),
        url,
        venue,
        poll_interval_secs: 60,
    }
}

pub struct TestApp {
    pub ingest: ListingsIngest,
    pub upstream: Upstream,
    clock: ManualClock,
    recorder: TopicRecorder,
    _dir: TempDir,
}

impl TestApp {
    /// The service on a SQLite ledger with `sources` built from the upstream.
    pub async fn spawn(sources: impl FnOnce(&Upstream) -> Vec<SourceSettings>) -> Self {
        Self::spawn_on(None, sources).await
    }

    /// The service with one source of `kind`, named `name`, at `path` upstream.
    pub async fn with_source(kind: &str, name: &str, path: &str, venue: VenueSettings) -> Self {
        Self::spawn(|up| vec![source(kind, name, up.url(path), venue)]).await
    }

    /// The service on the ledger at `database_url` (a fresh SQLite file if none).
    pub async fn spawn_on(
        database_url: Option<String>,
        sources: impl FnOnce(&Upstream) -> Vec<SourceSettings>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let upstream = Upstream::start().await;
        let bus = embedded_bus(dir.path()).await.unwrap();
        let settings = Settings {
            database_url: database_url.unwrap_or_else(|| {
                format!("sqlite://{}", dir.path().join("ingest.sqlite").display())
            }),
            sources: sources(&upstream),
            allow_private_addresses: true,
            fetch_timeout_secs: 5,
            ..Settings::default()
        };
        let clock = ManualClock::new(DateTime::parse_from_rfc3339(NOW).unwrap().to_utc());
        let ingest = ListingsIngest::build_with_clock(settings, bus.clone(), clock.shared())
            .await
            .unwrap();
        let recorder = TopicRecorder::start(&bus, topics::SCREENINGS, "listings-ingest-tests");
        Self {
            ingest,
            upstream,
            clock,
            recorder,
            _dir: dir,
        }
    }

    /// Moves the service's clock to `at` (RFC 3339).
    pub fn set_now(&self, at: &str) {
        self.clock
            .set(DateTime::parse_from_rfc3339(at).unwrap().to_utc());
    }

    /// Polls every source once; the reports by source name.
    pub async fn poll(&self) -> HashMap<String, PollReport> {
        self.ingest.poll_once().await.into_iter().collect()
    }

    /// [`TestApp::poll`], asserting that no source rejected anything.
    pub async fn poll_clean(&self) -> HashMap<String, PollReport> {
        let reports = self.poll().await;
        for (name, report) in &reports {
            assert_eq!(report.rejections, Vec::<String>::new(), "{name}");
        }
        reports
    }

    /// The screening events published since the last call.
    pub async fn events(&mut self) -> Vec<Envelope<ScreeningEvent>> {
        self.recorder.events().await
    }
}

/// The listed screenings among `events`, by film title.
pub fn listed(events: &[Envelope<ScreeningEvent>]) -> HashMap<String, Screening> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            ScreeningEvent::Listed(l) => {
                Some((l.screening.film.title.clone(), l.screening.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A one-event calendar.
pub fn ics(events: &[&str]) -> String {
    let mut text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n".to_owned();
    for event in events {
        text.push_str("BEGIN:VEVENT\r\n");
        for line in event.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("END:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}
