use std::collections::HashMap;
use std::path::Path;

use marquee_events::{Envelope, Rating, Review, ReviewEvent, topics};
use marquee_ingest::testing::{TopicRecorder, embedded_bus};
use marquee_reviews_ingest::{PollReport, ReviewsIngest, Settings, SourceSettings};
use marquee_runtime::clock::{SharedClock, SystemClock};
use tempfile::TempDir;

pub const SECRET: &str = "webhook-test-secret";

pub use marquee_test_support::Upstream;

pub fn fixture(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    std::fs::read_to_string(path).unwrap()
}

pub struct TestApp {
    pub ingest: ReviewsIngest,
    pub upstream: Upstream,
    recorder: TopicRecorder,
    _dir: TempDir,
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
        links: None,
    }
}

impl TestApp {
    /// The service with `sources` (built from the upstream), settings tweaked.
    pub async fn spawn(
        sources: impl FnOnce(&Upstream) -> Vec<SourceSettings>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::spawn_with_clock(SystemClock::shared(), sources, tweak).await
    }

    /// [`TestApp::spawn`] reading "now" from `clock`.
    pub async fn spawn_with_clock(
        clock: SharedClock,
        sources: impl FnOnce(&Upstream) -> Vec<SourceSettings>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let upstream = Upstream::start().await;
        let bus = embedded_bus(dir.path()).await.unwrap();
        let mut settings = Settings {
            database_url: format!("sqlite://{}", dir.path().join("ingest.sqlite").display()),
            sources: sources(&upstream),
            webhook_secret: Some(SECRET.to_owned().into()),
            allow_private_addresses: true,
            fetch_timeout_secs: 5,
            ..Settings::default()
        };
        tweak(&mut settings);
        let ingest = ReviewsIngest::build_with_clock(settings, bus.clone(), clock)
            .await
            .unwrap();
        let recorder = TopicRecorder::start(&bus, topics::REVIEWS, "reviews-ingest-tests");
        Self {
            ingest,
            upstream,
            recorder,
            _dir: dir,
        }
    }

    /// Polls every source once; the reports by source name.
    pub async fn poll(&self) -> HashMap<String, PollReport> {
        self.ingest.poll_once().await.into_iter().collect()
    }

    /// The review events published since the last call.
    pub async fn events(&mut self) -> Vec<Envelope<ReviewEvent>> {
        self.recorder.events().await
    }
}

/// The published reviews among `events`, by id.
pub fn published(events: &[Envelope<ReviewEvent>]) -> HashMap<String, Review> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            ReviewEvent::Published(p) => Some((p.review.id.to_string(), p.review.clone())),
            _ => None,
        })
        .collect()
}

/// The fields that every fixture of the Hamnet review (RSS item, JSON-LD
/// page) carries, read the same from each.
pub fn assert_hamnet(hamnet: &Review) {
    assert_eq!(
        hamnet.headline,
        "Hamnet review – a raw, aching portrait of grief"
    );
    assert_eq!(hamnet.film.title, "Hamnet");
    assert_eq!(hamnet.rating, Some(Rating::try_from(4).unwrap()));
    assert_eq!(hamnet.author.as_deref(), Some("Ada Lee"));
    assert_eq!(hamnet.section, "In Cinemas");
    assert_eq!(
        hamnet.standfirst,
        "Chloé Zhao’s adaptation of Maggie O’Farrell’s novel is a devastating study of a marriage"
    );
    assert_eq!(
        hamnet.published_at.to_rfc3339(),
        "2025-06-10T07:00:00+00:00"
    );
    let image = hamnet.image.as_ref().unwrap();
    assert_eq!(image.alt.as_deref(), Some("Jessie Buckley as Agnes"));
}
