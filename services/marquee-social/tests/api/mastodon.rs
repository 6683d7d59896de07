//! Mastodon: `POST /api/v1/statuses` with a bearer token and Idempotency-Key.

use marquee_social::{AccountSettings, Status};
use serde_json::json;
use wiremock::matchers::{
    body_partial_json, body_string_contains, header, header_exists, method, path,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, bodies, headers, mastodon_account, published, review, updated};

const STATUSES: &str = "/api/v1/statuses";

fn status(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": id,
        "url": format!("https://mastodon.example/@marquee/{id}"),
        "content": "<p>…</p>",
        "visibility": "unlisted",
    }))
}

#[tokio::test]
async fn a_new_review_is_posted_once_with_token_and_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .and(header("authorization", "Bearer mastodon-token"))
        .and(header_exists("idempotency-key"))
        .and(body_partial_json(
            json!({"visibility": "unlisted", "language": "en"}),
        ))
        .respond_with(status("110"))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Mastodon(mastodon_account(
        "masto",
        &server.uri(),
    ))])
    .await;
    let hamnet = review("hamnet");

    app.deliver(&published(&hamnet)).await.unwrap();
    assert_eq!(app.drain().await, 1);
    // Redelivery, a replay of the topic, and an edit: none posts again.
    app.deliver(&published(&hamnet)).await.unwrap();
    app.deliver(&updated(&hamnet)).await.unwrap();
    assert_eq!(app.drain().await, 0);

    let entry = app.entry("hamnet", "masto").await;
    assert_eq!(entry.status, Status::Posted);
    assert_eq!(entry.remote_id.as_deref(), Some("110"));
    assert_eq!(
        entry.remote_url.as_deref(),
        Some("https://mastodon.example/@marquee/110")
    );
    let sent = bodies(&server, STATUSES).await;
    let text = sent[0]["status"].as_str().unwrap();
    assert_eq!(text, entry.post.text);
    assert!(
        text.contains("https://films.example/reviews/hamnet"),
        "{text}"
    );
    assert!(text.contains("★★★★☆") && text.ends_with("#film"), "{text}");
    assert_eq!(
        headers(&server, STATUSES, "idempotency-key").await,
        vec![entry.idempotency_key]
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_and_the_same_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .respond_with(status("111"))
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Mastodon(mastodon_account(
        "masto",
        &server.uri(),
    ))])
    .await;

    app.deliver(&published(&review("hamnet"))).await.unwrap();
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "masto").await;
    assert_eq!(entry.status, Status::Pending);
    assert!(entry.reason.as_deref().unwrap().contains("503"));
    assert_eq!(app.drain().await, 0, "backing off");

    app.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "masto").await;
    assert_eq!(entry.status, Status::Posted);
    assert_eq!(entry.attempts, 2);
    let keys = headers(&server, STATUSES, "idempotency-key").await;
    assert_eq!(
        keys,
        vec![entry.idempotency_key.clone(), entry.idempotency_key]
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "120")
                .set_body_json(json!({"error": "Too many requests"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .respond_with(status("112"))
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Mastodon(mastodon_account(
        "masto",
        &server.uri(),
    ))])
    .await;

    app.deliver(&published(&review("hamnet"))).await.unwrap();
    assert_eq!(app.drain().await, 1);
    app.clock.advance(chrono::Duration::seconds(119));
    assert_eq!(app.drain().await, 0, "Retry-After not over yet");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.entry("hamnet", "masto").await.status, Status::Posted);
}

#[tokio::test]
async fn an_exhausted_rate_limit_pauses_the_account_until_reset() {
    let server = MockServer::start().await;
    // Mastodon sends its reset as an ISO 8601 instant: at(0) + 5 minutes.
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .respond_with(
            status("113")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "2025-01-10T09:05:00.000Z"),
        )
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Mastodon(mastodon_account(
        "masto",
        &server.uri(),
    ))])
    .await;
    app.deliver(&published(&review("a"))).await.unwrap();
    app.deliver(&published(&review("b"))).await.unwrap();
    assert_eq!(app.drain().await, 1);
    app.clock.advance(chrono::Duration::minutes(4));
    assert_eq!(app.drain().await, 0);
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.entry("b", "masto").await.status, Status::Posted);
}

#[tokio::test]
async fn refusals_are_recorded_and_block_nothing_else() {
    let good = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .and(body_string_contains("reviews/too-long"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
        ))
        .expect(1)
        .mount(&good)
        .await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .respond_with(status("114"))
        .expect(1)
        .mount(&good)
        .await;
    let revoked = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"})),
        )
        .expect(2)
        .mount(&revoked)
        .await;
    let app = TestApp::spawn(vec![
        AccountSettings::Mastodon(mastodon_account("good", &good.uri())),
        AccountSettings::Mastodon(mastodon_account("revoked", &revoked.uri())),
    ])
    .await;

    app.deliver(&published(&review("too-long"))).await.unwrap();
    app.deliver(&published(&review("fine"))).await.unwrap();
    assert_eq!(app.drain().await, 4);
    assert_eq!(app.drain().await, 0, "permanent failures are not retried");

    let refused = app.entry("too-long", "good").await;
    assert_eq!(refused.status, Status::Failed);
    assert!(refused.reason.as_deref().unwrap().contains("422"));
    assert!(
        refused
            .reason
            .as_deref()
            .unwrap()
            .contains("character limit")
    );
    assert_eq!(app.entry("fine", "good").await.status, Status::Posted);
    for id in ["too-long", "fine"] {
        let entry = app.entry(id, "revoked").await;
        assert_eq!(entry.status, Status::Failed);
        assert!(entry.reason.as_deref().unwrap().contains("401"));
    }
}
