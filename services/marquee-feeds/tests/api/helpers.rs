//! Test harness: the real service on port 0 over a fresh database, events
//! delivered straight to its handler.

use std::net::SocketAddr;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use marquee_bus::{Handler, HandlerError, Message};
use marquee_events::{
    Accessibility, Envelope, EventData, Film, Image, Rating, Review, ReviewId, ReviewPublished,
    ReviewUpdated, ReviewWithdrawn, Screening, ScreeningCancelled, ScreeningChanged, ScreeningFilm,
    ScreeningId, ScreeningListed, Venue,
};
use marquee_feeds::{FeedDefinition, FeedSlug, FeedsService, Settings};
use marquee_runtime::clock::{SharedClock, SystemClock};
use marquee_test_support::ManualClock;
use tempfile::TempDir;
use url::Url;

pub use marquee_test_support::{Engine, drop_database};

/// A fresh, empty database URL on `engine`.
pub async fn fresh_database(engine: Engine, dir: &Path) -> String {
    marquee_test_support::fresh_database(engine, dir, "feeds").await
}

pub struct TestApp {
    pub service: FeedsService,
    pub address: SocketAddr,
    pub base_url: Url,
    pub database_url: String,
    pub client: reqwest::Client,
    offset: std::sync::atomic::AtomicI64,
    /// Holds the SQLite file; deleted when the test ends.
    _dir: TempDir,
}

pub fn feed(slug: &str, title: &str, section: Option<&str>) -> FeedDefinition {
    FeedDefinition {
        slug: FeedSlug::parse(slug).expect("valid slug"),
        title: title.to_owned(),
        description: format!("{title}, newest first."),
        section: section.map(str::to_owned),
    }
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(engine, |_| {}).await
    }

    /// Starts the service with test settings that `configure` may adjust.
    pub async fn spawn_with(engine: Engine, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with_clock(engine, SystemClock::shared(), configure).await
    }

    /// Starts the service with "now" pinned to `now`.
    pub async fn spawn_at(engine: Engine, now: DateTime<Utc>) -> Self {
        Self::spawn_with_clock(engine, ManualClock::new(now).shared(), |_| {}).await
    }

    /// Starts the service reading `clock`, with settings `configure` may adjust.
    pub async fn spawn_with_clock(
        engine: Engine,
        clock: SharedClock,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let database_url = fresh_database(engine, dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let base_url = Url::parse(&format!("http://{address}/")).expect("base URL");
        let mut settings = Settings {
            base_url: base_url.clone(),
            database_url: database_url.clone(),
            item_limit: 10,
            feeds: vec![
                feed("all", "Marquee", None),
                feed("in-cinemas", "Marquee: In Cinemas", Some("In Cinemas")),
                feed("features", "Marquee: Features", Some("Features")),
            ],
            websub_hub: None,
            output_dir: None,
            consumer_group: "feeds".to_owned(),
            calendar_refresh_interval_secs: 3600,
        };
        configure(&mut settings);
        let service = FeedsService::build_with_clock(settings, clock)
            .await
            .expect("service builds");
        let router = service.router();
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("server runs");
        });
        let client = reqwest::Client::builder()
            // Compression is under test: see raw bodies and headers.
            .no_gzip()
            .build()
            .expect("HTTP client");
        Self {
            service,
            address,
            base_url,
            database_url,
            client,
            offset: 0.into(),
            _dir: dir,
        }
    }

    /// Hands `event` to the handler as the bus would deliver it, and waits
    /// until what it changed is rendered.
    pub async fn deliver<T: EventData>(&self, event: &Envelope<T>) -> Result<(), HandlerError> {
        let handled = self.service.handler().handle(&self.next(event)).await;
        self.service.published().await;
        handled
    }

    /// Hands a screening event to the screenings handler (it must apply),
    /// and waits until what it changed is rendered.
    pub async fn deliver_screening<T: EventData>(&self, event: &Envelope<T>) {
        self.service
            .screenings_handler()
            .handle(&self.next(event))
            .await
            .expect("the screening event applies");
        self.service.published().await;
    }

    /// `event` as the bus would deliver it, at the next offset.
    pub fn next<T: EventData>(&self, event: &Envelope<T>) -> Message {
        let offset = self
            .offset
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Message::delivered(event, offset)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request succeeds")
    }

    /// `GET path` with request `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request succeeds")
    }

    pub async fn body(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("body")
    }
}

/// A fixed instant: 2025-01-10 09:00 UTC plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0)
        .single()
        .expect("valid date")
        + chrono::Duration::minutes(minutes)
}

/// A review like the publication's, published at `at(minute)`.
pub fn review(id: &str, section: &str, minute: i64) -> Review {
    Review {
        id: ReviewId::parse(id).expect("valid id"),
        url: Url::parse(&format!("https://films.example/reviews/{id}")).expect("URL"),
        headline: format!("Return to Dust review {id} – slow but movingly personal"),
        film: Film {
            title: "Return to Dust".to_owned(),
            year: Some(2022),
            runtime_minutes: None,
        },
        standfirst:
            "A melancholy but loving couple scratch out a living in Ruijun Li's quiet study"
                .to_owned(),
        body_html: format!(
            "<p>Set in writer-director Ruijun Li’s home province of Gansu ({id}).</p>"
        ),
        author: Some("Ella Kemp".to_owned()),
        rating: Some(Rating::try_from(4).expect("rating")),
        section: section.to_owned(),
        image: Some(Image {
            url: Url::parse(&format!("https://films.example/img/{id}.jpg?w=1200&h=630"))
                .expect("URL"),
            alt: Some("Iron and Cao in the fields".to_owned()),
        }),
        published_at: at(minute),
        updated_at: at(minute),
    }
}

/// The screening most cases list: Once Upon a Time in the West at BFI
/// Southbank, 4 December 2026 at 18:30.
pub fn west() -> Screening {
    screening(
        "bfi-west",
        "bfi-southbank",
        "Once Upon a Time in the West",
        "2026-12-04T18:30",
    )
}

/// A screening at `venue_id` (`Europe/London`) starting at `local` (wall
/// clock, `2026-12-04T18:30`; December, so UTC equals local time).
pub fn screening(id: &str, venue_id: &str, title: &str, local: &str) -> Screening {
    let local = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M").expect("local time");
    Screening {
        id: ScreeningId::parse(id).expect("valid id"),
        venue: Venue {
            id: venue_id.to_owned(),
            name: match venue_id {
                "bfi-southbank" => "BFI Southbank".to_owned(),
                other => format!("Venue {other}"),
            },
            address: Some("Belvedere Road, London SE1 8XT".to_owned()),
        },
        film: ScreeningFilm {
            title: title.to_owned(),
            year: Some(1968),
            director: Some("Sergio Leone".to_owned()),
            runtime_minutes: Some(165),
        },
        starts_at: local.and_utc(),
        starts_at_local: local,
        time_zone: "Europe/London".to_owned(),
        screen: Some("NFT1".to_owned()),
        format: Some("35mm".to_owned()),
        strand: Some("Sergio Leone season".to_owned()),
        extras: vec!["Q&A".to_owned()],
        accessibility: vec![Accessibility::AudioDescribed],
        booking_url: Some(
            Url::parse(&format!("https://whatson.bfi.org.uk/book?id={id}&x=2")).expect("URL"),
        ),
        sold_out: false,
        review_id: None,
    }
}

pub fn listed(screening: &Screening, time: DateTime<Utc>) -> Envelope<ScreeningListed> {
    envelope(
        ScreeningListed {
            screening: screening.clone(),
        },
        time,
    )
}

pub fn changed(screening: &Screening, time: DateTime<Utc>) -> Envelope<ScreeningChanged> {
    envelope(
        ScreeningChanged {
            screening: screening.clone(),
            changed: vec!["screen".to_owned()],
        },
        time,
    )
}

pub fn cancelled(screening: &Screening, time: DateTime<Utc>) -> Envelope<ScreeningCancelled> {
    envelope(
        ScreeningCancelled {
            screening: screening.clone(),
            reason: "marked cancelled by source `bfi`".to_owned(),
        },
        time,
    )
}

fn envelope<T: EventData>(data: T, time: DateTime<Utc>) -> Envelope<T> {
    Envelope::new("marquee/tests", data, time)
}

pub fn published(review: &Review, time: DateTime<Utc>) -> Envelope<ReviewPublished> {
    envelope(
        ReviewPublished {
            review: review.clone(),
        },
        time,
    )
}

pub fn updated(review: &Review, time: DateTime<Utc>) -> Envelope<ReviewUpdated> {
    envelope(
        ReviewUpdated {
            review: review.clone(),
            changed: vec!["headline".to_owned()],
        },
        time,
    )
}

pub fn withdrawn(id: &str, time: DateTime<Utc>) -> Envelope<ReviewWithdrawn> {
    envelope(
        ReviewWithdrawn {
            id: ReviewId::parse(id).expect("valid id"),
            reason: "withdrawn by CMS webhook".to_owned(),
        },
        time,
    )
}

/// What Python's `feedparser` made of a feed.
#[derive(Debug, serde::Deserialize)]
pub struct Parsed {
    pub bozo: bool,
    pub bozo_exception: Option<String>,
    pub version: String,
    pub title: String,
    pub entries: Vec<ParsedEntry>,
}

#[derive(Debug, serde::Deserialize)]
pub struct ParsedEntry {
    pub id: String,
    pub title: String,
    pub link: String,
    pub summary: String,
    pub content: Vec<String>,
    pub author: Option<String>,
}

const FEEDPARSER: &str = r#"
import html, json, sys
try:
    import feedparser
except ImportError:
    sys.stderr.write("feedparser is not installed: run `pip install feedparser`\n")
    sys.exit(3)
data = open(sys.argv[1], "rb").read()


def json_feed(data):
    # feedparser 6.0 reads no JSON Feed; check JSON Feed 1.1's required
    # members here and report in feedparser's shape.
    problems = []
    try:
        d = json.loads(data)
    except ValueError as e:
        return {"bozo": True, "bozo_exception": str(e), "version": "", "title": "", "entries": []}
    if d.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append("version is not https://jsonfeed.org/version/1.1")
    for key in ("title",):
        if not isinstance(d.get(key), str) or not d[key]:
            problems.append(f"missing {key}")
    items = d.get("items")
    if not isinstance(items, list):
        problems.append("items is not a list")
        items = []
    entries = []
    for item in items:
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append("an item has no id")
        if "content_html" not in item and "content_text" not in item:
            problems.append("an item has neither content_html nor content_text")
        for key in ("date_published", "date_modified"):
            if key in item and feedparser.datetimes._parse_date(item[key]) is None:
                problems.append(f"{key} is not RFC 3339")
        entries.append({
            "id": item.get("id", ""),
            "title": item.get("title", ""),
            "link": item.get("url", ""),
            "summary": item.get("summary", ""),
            "content": [item["content_html"]] if "content_html" in item else [],
            "author": (item.get("authors") or [{}])[0].get("name"),
        })
    return {
        "bozo": bool(problems),
        "bozo_exception": "; ".join(problems) or None,
        "version": "json11" if d.get("version", "").endswith("/1.1") else "",
        "title": d.get("title", ""),
        "entries": entries,
    }


if data.lstrip().startswith(b"{"):
    print(json.dumps(json_feed(data)))
    sys.exit(0)
d = feedparser.parse(data)
print(json.dumps({
    "bozo": bool(d.bozo),
    "bozo_exception": str(d.get("bozo_exception")) if d.bozo else None,
    "version": d.version,
    "title": d.feed.get("title", ""),
    "entries": [{
        "id": e.get("id", ""),
        "title": e.get("title", ""),
        "link": e.get("link", ""),
        # Summaries come back as HTML; compare their text.
        "summary": html.unescape(e.get("summary", "")),
        "content": [c.value for c in e.get("content", [])],
        "author": e.get("author"),
    } for e in d.entries],
}))
"#;

/// Runs the Python `script` on a file holding `input` and returns what it
/// printed as JSON; `what` says which module failed (with a pip hint).
pub fn python_reads<T: serde::de::DeserializeOwned>(script: &str, input: &[u8], what: &str) -> T {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("input");
    std::fs::write(&path, input).expect("write the input");
    marquee_test_support::python_json(
        script,
        [&path],
        &format!("{what} failed (install it with `pip install {what}`)"),
    )
}

/// Parses `feed` with Python's feedparser (JSON Feed, which feedparser 6.0
/// cannot read, with a checker of its required members); fails the test if
/// feedparser is missing.
pub fn feedparser(feed: &[u8]) -> Parsed {
    python_reads(FEEDPARSER, feed, "feedparser")
}
