use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use marquee_bus::{
    Bus, BusSettings, EmbeddedSettings, Handler, HandlerError, Message, Record, Subscription,
    Transport,
};
use marquee_events::{Envelope, ReviewEvent, topics};
use marquee_reviews_ingest::{PollReport, ReviewsIngest, Settings, SourceSettings};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "webhook-test-secret";

pub use marquee_test_support::Upstream;

pub fn fixture(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    std::fs::read_to_string(path).unwrap()
}

/// Records every message on the reviews topic.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Message>>>);

impl Handler for Recorder {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

pub struct TestApp {
    pub ingest: ReviewsIngest,
    pub upstream: Upstream,
    pub bus: Bus,
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

pub fn feed(name: &str, url: url::Url) -> SourceSettings {
    SourceSettings::Feed {
        name: name.to_owned(),
        url,
        poll_interval_secs: 60,
    }
}

pub fn pages(name: &str, index_url: url::Url) -> SourceSettings {
    SourceSettings::Pages {
        name: name.to_owned(),
        index_url,
        poll_interval_secs: 60,
    }
}

impl TestApp {
    /// The service with `sources` (built from the upstream), settings tweaked.
    pub async fn spawn(
        sources: impl FnOnce(&Upstream) -> Vec<SourceSettings>,
        tweak: impl FnOnce(&mut Settings),
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
        let mut settings = Settings {
            database_url: format!("sqlite://{}", dir.path().join("ingest.sqlite").display()),
            sources: sources(&upstream),
            webhook_secret: Some(SECRET.to_owned().into()),
            allow_private_addresses: true,
            fetch_timeout_secs: 5,
            ..Settings::default()
        };
        tweak(&mut settings);
        let ingest = ReviewsIngest::build(settings, bus.clone()).await.unwrap();
        let recorder = Recorder::default();
        let stop = CancellationToken::new();
        tokio::spawn({
            let (bus, recorder, stop) = (bus.clone(), recorder.clone(), stop.clone());
            async move {
                let subscription = Subscription::new("reviews-ingest-tests", &[topics::REVIEWS]);
                bus.consume(subscription, recorder, stop).await.unwrap();
            }
        });
        Self {
            ingest,
            upstream,
            bus,
            recorder,
            drained: 0,
            sentinels: 0,
            stop,
            _dir: dir,
        }
    }

    /// Polls every source once; the reports by source name.
    pub async fn poll(&self) -> HashMap<String, PollReport> {
        self.ingest.poll_once().await.into_iter().collect()
    }

    /// The review events published since the last call. A sentinel is
    /// published behind them on the same (single) partition, so once it
    /// arrives nothing published before it is still in flight.
    pub async fn events(&mut self) -> Vec<Envelope<ReviewEvent>> {
        self.sentinels += 1;
        let key = format!("sentinel-{}", self.sentinels);
        self.bus
            .publish(Record {
                topic: topics::REVIEWS.to_owned(),
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
                    .map(|m| m.decode::<ReviewEvent>().unwrap())
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

/// The published reviews among `events`, by id.
pub fn published(events: &[Envelope<ReviewEvent>]) -> HashMap<String, marquee_events::Review> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            ReviewEvent::Published(p) => Some((p.review.id.to_string(), p.review.clone())),
            _ => None,
        })
        .collect()
}
