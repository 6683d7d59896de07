use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use marquee_bus::{
    Bus, BusSettings, EmbeddedSettings, Handler, HandlerError, Message, Record, Subscription,
    Transport,
};
use marquee_events::{Envelope, Screening, ScreeningEvent, topics};
use marquee_listings_ingest::{
    Clock, ListingsIngest, PollReport, Settings, SourceKind, SourceSettings, VenueSettings,
};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

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

pub fn source(kind: SourceKind, name: &str, url: url::Url, venue: VenueSettings) -> SourceSettings {
    SourceSettings {
        kind,
        name: name.to_owned(),
        url,
        venue,
        poll_interval_secs: 60,
    }
}

/// Records every message on the screenings topic.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Message>>>);

impl Handler for Recorder {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

pub struct TestApp {
    pub ingest: ListingsIngest,
    pub upstream: Upstream,
    pub bus: Bus,
    now: Arc<Mutex<DateTime<Utc>>>,
    recorder: Recorder,
    drained: usize,
    sentinels: usize,
    stop: CancellationToken,
    _dir: TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestApp {
    /// The service on a SQLite ledger with `sources` built from the upstream.
    pub async fn spawn(sources: impl FnOnce(&Upstream) -> Vec<SourceSettings>) -> Self {
        Self::spawn_on(None, sources).await
    }

    /// The service on the ledger at `database_url` (a fresh SQLite file if none).
    pub async fn spawn_on(
        database_url: Option<String>,
        sources: impl FnOnce(&Upstream) -> Vec<SourceSettings>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let upstream = Upstream::start().await;
        let bus = Bus::connect(&BusSettings {
            transport: Transport::Embedded,
            embedded: EmbeddedSettings {
                path: dir.path().join("bus.sqlite"),
            },
            ..Default::default()
        })
        .await
        .unwrap();
        bus.ensure_marquee_topics(1).await.unwrap();
        let settings = Settings {
            database_url: database_url.unwrap_or_else(|| {
                format!("sqlite://{}", dir.path().join("ingest.sqlite").display())
            }),
            sources: sources(&upstream),
            allow_private_addresses: true,
            fetch_timeout_secs: 5,
            ..Settings::default()
        };
        let now = Arc::new(Mutex::new(
            DateTime::parse_from_rfc3339(NOW).unwrap().to_utc(),
        ));
        let clock = Clock::from_fn({
            let now = now.clone();
            move || *now.lock().unwrap()
        });
        let ingest = ListingsIngest::build_with_clock(settings, bus.clone(), clock)
            .await
            .unwrap();
        let recorder = Recorder::default();
        let stop = CancellationToken::new();
        tokio::spawn({
            let (bus, recorder, stop) = (bus.clone(), recorder.clone(), stop.clone());
            async move {
                let subscription =
                    Subscription::new("listings-ingest-tests", &[topics::SCREENINGS]);
                bus.consume(subscription, recorder, stop).await.unwrap();
            }
        });
        Self {
            ingest,
            upstream,
            bus,
            now,
            recorder,
            drained: 0,
            sentinels: 0,
            stop,
            _dir: dir,
        }
    }

    /// Moves the service's clock to `at` (RFC 3339).
    pub fn set_now(&self, at: &str) {
        *self.now.lock().unwrap() = DateTime::parse_from_rfc3339(at).unwrap().to_utc();
    }

    /// Polls every source once; the reports by source name.
    pub async fn poll(&self) -> HashMap<String, PollReport> {
        self.ingest.poll_once().await.into_iter().collect()
    }

    /// The screening events published since the last call. A sentinel is
    /// published behind them on the same (single) partition, so once it
    /// arrives nothing published before it is still in flight.
    pub async fn events(&mut self) -> Vec<Envelope<ScreeningEvent>> {
        self.sentinels += 1;
        let key = format!("sentinel-{}", self.sentinels);
        self.bus
            .publish(Record {
                topic: topics::SCREENINGS.to_owned(),
                key: key.clone(),
                headers: vec![],
                payload: b"sentinel".to_vec(),
            })
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let messages = self.recorder.0.lock().unwrap().clone();
            if let Some(at) = messages.iter().position(|m| m.key.as_deref() == Some(&key)) {
                let events = messages[self.drained..at]
                    .iter()
                    .filter(|m| {
                        !m.key
                            .as_deref()
                            .unwrap_or_default()
                            .starts_with("sentinel-")
                    })
                    .map(|m| m.decode::<ScreeningEvent>().unwrap())
                    .collect();
                self.drained = at + 1;
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the sentinel never arrived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
