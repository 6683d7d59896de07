//! Mastodon: `POST /api/v1/statuses` with a bearer token and Idempotency-Key.

use marquee_social::PostStatus;
use serde_json::json;
use wiremock::matchers::{body_partial_json, body_string_contains, header, header_exists};
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{
    TestApp, answer, answer_first, bodies, headers, mastodon, published, request, review, updated,
};

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
    request("POST", STATUSES)
        .and(header("authorization", "Bearer mastodon-token"))
        .and(header_exists("idempotency-key"))
        .and(body_partial_json(
            json!({"visibility": "unlisted", "language": "en"}),
        ))
        .respond_with(status("110"))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![mastodon("masto", &server)]).await;
    let hamnet = review("hamnet");

    app.deliver(&published(&hamnet)).await.unwrap();
    assert_eq!(app.drain().await, 1);
    // Redelivery, a replay of the topic, and an edit: none posts again.
    app.deliver(&published(&hamnet)).await.unwrap();
    app.deliver(&updated(&hamnet)).await.unwrap();
    assert_eq!(app.drain().await, 0);

    let entry = app.entry("hamnet", "masto").await;
    assert_eq!(entry.status, PostStatus::Posted);
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
    answer_first(&server, "POST", STATUSES, ResponseTemplate::new(503)).await;
    answer(&server, "POST", STATUSES, status("111"), ..).await;
    let app = TestApp::spawn(vec![mastodon("masto", &server)]).await;

    app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "masto").await;
    assert_eq!(entry.status, PostStatus::Pending);
    assert!(entry.reason.as_deref().unwrap().contains("503"));
    assert_eq!(app.drain().await, 0, "backing off");

    app.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "masto").await;
    assert_eq!(entry.status, PostStatus::Posted);
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
    let limited = ResponseTemplate::new(429)
        .insert_header("retry-after", "120")
        .set_body_json(json!({"error": "Too many requests"}));
    answer_first(&server, "POST", STATUSES, limited).await;
    answer(&server, "POST", STATUSES, status("112"), ..).await;
    let app = TestApp::spawn(vec![mastodon("masto", &server)]).await;

    app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1);
    // Retry-After is not over until 120 s are.
    app.assert_posted_only_after(chrono::Duration::seconds(120), "hamnet", "masto")
        .await;
}

#[tokio::test]
async fn an_exhausted_rate_limit_pauses_the_account_until_reset() {
    let server = MockServer::start().await;
    // Mastodon sends its reset as an ISO 8601 instant: at(0) + 5 minutes.
    let exhausted = status("113")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset", "2025-01-10T09:05:00.000Z");
    answer(&server, "POST", STATUSES, exhausted, ..).await;
    let app = TestApp::spawn(vec![mastodon("masto", &server)]).await;
    app.publish("a").await;
    app.publish("b").await;
    assert_eq!(app.drain().await, 1);
    app.assert_posted_only_after(chrono::Duration::minutes(5), "b", "masto")
        .await;
}

#[tokio::test]
async fn refusals_are_recorded_and_block_nothing_else() {
    let good = MockServer::start().await;
    request("POST", STATUSES)
        .and(body_string_contains("reviews/too-long"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
        ))
        .expect(1)
        .mount(&good)
        .await;
    answer(&good, "POST", STATUSES, status("114"), 1).await;
    let revoked = MockServer::start().await;
    let invalid =
        ResponseTemplate::new(401).set_body_json(json!({"error": "The access token is invalid"}));
    answer(&revoked, "POST", STATUSES, invalid, 2).await;
    let app = TestApp::spawn(vec![mastodon("good", &good), mastodon("revoked", &revoked)]).await;

    app.publish("too-long").await;
    app.publish("fine").await;
    assert_eq!(app.drain().await, 4);
    assert_eq!(app.drain().await, 0, "permanent failures are not retried");

    let refused = app.entry("too-long", "good").await;
    assert_eq!(refused.status, PostStatus::Failed);
    assert!(refused.reason.as_deref().unwrap().contains("422"));
    assert!(
        refused
            .reason
            .as_deref()
            .unwrap()
            .contains("character limit")
    );
    assert_eq!(app.entry("fine", "good").await.status, PostStatus::Posted);
    for id in ["too-long", "fine"] {
        let entry = app.entry(id, "revoked").await;
        assert_eq!(entry.status, PostStatus::Failed);
        assert!(entry.reason.as_deref().unwrap().contains("401"));
    }
}
