use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use marquee_bus::{
    Bus, BusSettings, EmbeddedSettings, Handler, HandlerError, Message, Record, Subscription,
    Transport,
};
use marquee_events::{Envelope, ReviewEvent, topics};
use marquee_reviews_ingest::{PollReport, ReviewsIngest, Settings, SourceSettings};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "webhook-test-secret";

#[derive(Clone)]
struct Fixture {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A fake upstream site: fixtures by path, ETags, and a log of answers.
#[derive(Clone)]
pub struct Upstream {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Fixture>>>,
    answers: Arc<Mutex<Vec<(String, u16)>>>,
}

async fn answer(State(upstream): State<Upstream>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let fixture = upstream.routes.lock().unwrap().get(&path).cloned();
    let fixture = fixture.unwrap_or(Fixture {
        status: StatusCode::NOT_FOUND,
        headers: vec![],
        body: b"not found".to_vec(),
    });
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&fixture.body)));
    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.to_str().unwrap() == etag);
    let status = if not_modified && fixture.status == StatusCode::OK {
        StatusCode::NOT_MODIFIED
    } else {
        fixture.status
    };
    upstream
        .answers
        .lock()
        .unwrap()
        .push((path, status.as_u16()));
    let mut response = Response::new(if status == StatusCode::NOT_MODIFIED {
        Body::empty()
    } else {
        Body::from(fixture.body)
    });
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
    for (name, value) in fixture.headers {
        response.headers_mut().insert(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

impl Upstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = Self {
            base: format!("http://{}", listener.local_addr().unwrap()),
            routes: Arc::default(),
            answers: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(upstream.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        upstream
    }

    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("{}{path}", self.base)).unwrap()
    }

    pub fn respond(
        &self,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) {
        let fixture = Fixture {
            status: StatusCode::from_u16(status).unwrap(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        };
        self.routes.lock().unwrap().insert(path.to_owned(), fixture);
    }

    /// Serves `text` with `{{BASE}}` replaced by this server's address.
    pub fn serve(&self, path: &str, content_type: &str, text: &str) {
        let body = text.replace("{{BASE}}", &self.base);
        self.respond(path, 200, &[("content-type", content_type)], body);
    }

    pub fn serve_fixture(&self, path: &str, file: &str, content_type: &str) {
        self.serve(path, content_type, &fixture(file));
    }

    /// Statuses answered for `path`, in order.
    pub fn answers(&self, path: &str) -> Vec<u16> {
        self.answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    }
}

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
