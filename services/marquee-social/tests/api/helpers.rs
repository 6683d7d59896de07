//! Test harness: the real service on port 0 over a fresh database, a pinned
//! clock, events delivered straight to its handler.

use std::net::SocketAddr;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use marquee_bus::{Handler, HandlerError, Message};
use marquee_events::{
    Envelope, EventData, Film, Rating, Review, ReviewId, ReviewPublished, ReviewUpdated,
    ReviewWithdrawn,
};
use marquee_runtime::clock::Clock;
use marquee_social::{
    AccountSettings, BlueskyAccount, Entry, MastodonAccount, PostStatus, Settings, SocialService,
    WebhookAccount, XAccount,
};
use tempfile::TempDir;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate, Times};

pub use marquee_test_support::{Engine, ManualClock, drop_database};

/// A fresh, empty database URL on `engine`.
pub async fn fresh_database(engine: Engine, dir: &Path) -> String {
    marquee_test_support::fresh_database(engine, dir, "social").await
}

/// A fixed instant: 2025-01-10 09:00 UTC plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0).single().unwrap()
        + chrono::Duration::minutes(minutes)
}

pub struct TestApp {
    pub service: SocialService,
    pub clock: ManualClock,
    pub address: SocketAddr,
    pub database_url: String,
    engine: Engine,
    offset: std::sync::atomic::AtomicI64,
    /// Holds the SQLite file; deleted when the test ends.
    _dir: TempDir,
}

impl TestApp {
    /// The service posting for real (not dry-run) to `accounts`, on SQLite.
    pub async fn spawn(accounts: Vec<AccountSettings>) -> Self {
        Self::spawn_with(Engine::Sqlite, |s| s.accounts = accounts).await
    }

    /// Starts the service with test settings that `configure` may adjust;
    /// the clock starts at `at(0)`.
    pub async fn spawn_with(engine: Engine, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_serving(engine, |settings, _| configure(settings)).await
    }

    /// [`TestApp::spawn_with`] where `configure` also learns the address
    /// the service will listen on (its public URL, for the fediverse).
    pub async fn spawn_serving(
        engine: Engine,
        configure: impl FnOnce(&mut Settings, SocketAddr),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let database_url = fresh_database(engine, dir.path()).await;
        let mut settings = Settings {
            database_url: database_url.clone(),
            dry_run: false,
            consumer_group: "social".to_owned(),
            accounts: Vec::new(),
            back_catalogue_max_age_secs: 48 * 3600,
            fediverse: None,
        };
        configure(&mut settings, address);
        let clock = ManualClock::new(at(0));
        let service = SocialService::build_with_clock(settings, clock.shared())
            .await
            .expect("service builds");
        let router = service.router().merge(service.admin_router());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            service,
            clock,
            address,
            database_url,
            engine,
            offset: 0.into(),
            _dir: dir,
        }
    }

    /// Drops the PostgreSQL database, if any.
    pub async fn cleanup(self) {
        if let Engine::Postgres = self.engine {
            drop_database(&self.database_url).await;
        }
    }

    /// Hands `event` to the handler as the bus would deliver it.
    pub async fn deliver<T: EventData>(&self, event: &Envelope<T>) -> Result<(), HandlerError> {
        let offset = self
            .offset
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.service
            .handler()
            .handle(&Message::delivered(event, offset))
            .await
    }

    /// Delivers the publication of `review(id)`, published now by the
    /// test's clock (a new review, not back catalogue); returns the review.
    pub async fn publish(&self, id: &str) -> Review {
        let mut review = review(id);
        review.published_at = self.clock.now();
        review.updated_at = review.published_at;
        self.deliver(&published(&review)).await.unwrap();
        review
    }

    /// Stages a crash after a post was claimed: every row left `pending`,
    /// as if the request may or may not have gone out.
    pub async fn leave_pending(&self) {
        self.execute("UPDATE social_posts SET status = 'pending'")
            .await;
    }

    /// Works through whatever is due now; returns the send attempts.
    pub async fn drain(&self) -> usize {
        self.service.drain_once().await.unwrap()
    }

    /// Asserts that nothing is sent until the clock has moved on by `wait`
    /// (a second before, nothing is), and that one send then posts
    /// `review_id` on `account`.
    pub async fn assert_posted_only_after(
        &self,
        wait: chrono::Duration,
        review_id: &str,
        account: &str,
    ) {
        let second = chrono::Duration::seconds(1);
        self.clock.advance(wait - second);
        assert_eq!(
            self.drain().await,
            0,
            "nothing is sent a second before {wait}"
        );
        self.clock.advance(second);
        assert_eq!(self.drain().await, 1, "one send after {wait}");
        let entry = self.entry(review_id, account).await;
        assert_eq!(entry.status, PostStatus::Posted, "{review_id} on {account}");
    }

    pub async fn entry(&self, review_id: &str, account: &str) -> Entry {
        self.service
            .store()
            .get(&ReviewId::parse(review_id).unwrap(), account)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no ledger row for {review_id} on {account}"))
    }

    /// Runs SQL on the service's database (to stage a crash).
    pub async fn execute(&self, sql: &str) {
        let pool = marquee_runtime::database::connect(&self.database_url)
            .await
            .unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("http://{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("http://{}{path}", self.address))
            .await
            .unwrap()
    }
}

/// A review like the publication's.
pub fn review(id: &str) -> Review {
    Review {
        id: ReviewId::parse(id).unwrap(),
        url: Url::parse(&format!("https://films.example/reviews/{id}")).unwrap(),
        headline: "Hamnet review – a raw, aching portrait of grief".to_owned(),
        film: Film {
            title: "Hamnet".to_owned(),
            year: Some(2025),
            runtime_minutes: None,
        },
        standfirst:
            "Chloé Zhao’s adaptation of Maggie O’Farrell’s novel is tender and overwhelming"
                .to_owned(),
        body_html: "<p>Body.</p>".to_owned(),
        author: Some("Ella Kemp".to_owned()),
        rating: Some(Rating::try_from(4).unwrap()),
        section: "In Cinemas".to_owned(),
        image: None,
        published_at: at(0),
        updated_at: at(0),
    }
}

/// `data` as the ingest service would send it, at `at(0)`.
fn envelope<T: EventData>(data: T) -> Envelope<T> {
    from_source("marquee/tests", data)
}

/// `data` as source `source` would send it, at `at(0)`.
pub fn from_source<T: EventData>(source: &str, data: T) -> Envelope<T> {
    Envelope::new(source, data, at(0))
}

pub fn published(review: &Review) -> Envelope<ReviewPublished> {
    envelope(ReviewPublished {
        review: review.clone(),
    })
}

pub fn updated(review: &Review) -> Envelope<ReviewUpdated> {
    envelope(ReviewUpdated {
        review: review.clone(),
        changed: vec!["headline".to_owned()],
    })
}

pub fn withdrawn(id: &str) -> Envelope<ReviewWithdrawn> {
    envelope(ReviewWithdrawn {
        id: ReviewId::parse(id).unwrap(),
        reason: "withdrawn by CMS webhook".to_owned(),
    })
}

/// A request to `method path`, for a mock to match further.
pub fn request(method_name: &str, at: &str) -> MockBuilder {
    Mock::given(method(method_name)).and(path(at))
}

/// Answers `method path` on `server` with `response`, expecting it `times`
/// times (`..` for any number).
pub async fn answer(
    server: &MockServer,
    method_name: &str,
    at: &str,
    response: ResponseTemplate,
    times: impl Into<Times>,
) {
    request(method_name, at)
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

/// Answers the first request to `method path` on `server` with `response`
/// (then whatever is mounted next).
pub async fn answer_first(
    server: &MockServer,
    method_name: &str,
    at: &str,
    response: ResponseTemplate,
) {
    request(method_name, at)
        .respond_with(response)
        .up_to_n_times(1)
        .mount(server)
        .await;
}

/// A Mastodon account `name` on `server`.
pub fn mastodon(name: &str, server: &MockServer) -> AccountSettings {
    AccountSettings::Mastodon(mastodon_account(name, &server.uri()))
}

/// A Bluesky account `name` on `server`.
pub fn bluesky(name: &str, server: &MockServer) -> AccountSettings {
    AccountSettings::Bluesky(bluesky_account(name, &server.uri()))
}

/// An X account `name` on `server`.
pub fn x(name: &str, server: &MockServer) -> AccountSettings {
    AccountSettings::X(x_account(name, &server.uri()))
}

/// A webhook `name` posting to `server` at `at`.
pub fn webhook(name: &str, server: &MockServer, at: &str) -> AccountSettings {
    AccountSettings::Webhook(webhook_account(name, &format!("{}{at}", server.uri())))
}

/// An account `name` with `hashtags` and no spacing, quiet hours or
/// template, read as the settings file would give it, with the network's
/// own `fields`.
fn account<T: serde::de::DeserializeOwned>(
    name: &str,
    hashtags: &[&str],
    fields: serde_json::Value,
) -> T {
    let mut account = serde_json::json!({"name": name, "hashtags": hashtags});
    account
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    serde_json::from_value(account).unwrap()
}

pub fn mastodon_account(name: &str, base_url: &str) -> MastodonAccount {
    account(
        name,
        &["film"],
        serde_json::json!({"base_url": base_url, "access_token": "mastodon-token",
                           "visibility": "unlisted", "language": "en"}),
    )
}

pub fn bluesky_account(name: &str, base_url: &str) -> BlueskyAccount {
    account(
        name,
        &[],
        serde_json::json!({"base_url": base_url, "identifier": "marquee.films.example",
                           "app_password": "app-pass-word", "language": "en"}),
    )
}

pub fn x_account(name: &str, base_url: &str) -> XAccount {
    account(
        name,
        &["film"],
        serde_json::json!({"base_url": base_url, "user_token": "x-user-token", "user_id": "42"}),
    )
}

pub fn webhook_account(name: &str, url: &str) -> WebhookAccount {
    account(name, &[], serde_json::json!({ "url": url }))
}

/// The requests `server` received at `at`.
async fn received(server: &MockServer, at: &str) -> Vec<wiremock::Request> {
    let mut requests = server.received_requests().await.unwrap();
    requests.retain(|r| r.url.path() == at);
    requests
}

/// The JSON bodies of the requests `server` received at `at`.
pub async fn bodies(server: &MockServer, at: &str) -> Vec<serde_json::Value> {
    received(server, at)
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The values of header `name` on the requests `server` received at `at`.
pub async fn headers(server: &MockServer, at: &str, name: &str) -> Vec<String> {
    received(server, at)
        .await
        .iter()
        .filter_map(|r| Some(r.headers.get(name)?.to_str().ok()?.to_owned()))
        .collect()
}
