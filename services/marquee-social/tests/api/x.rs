//! X: API v2 `POST /2/tweets` with a user token; a pending post is looked up
//! in the account's recent posts before a resend.

use marquee_social::{PostStatus, X_LIMIT, x_weighted_length};
use serde_json::json;
use wiremock::matchers::{body_json, header, query_param};
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{TestApp, answer, published, request, review, x};

/// The service posting to one X account on a fresh fake.
async fn posting_to_x() -> (MockServer, TestApp) {
    let server = MockServer::start().await;
    let app = TestApp::spawn(vec![x("x", &server)]).await;
    (server, app)
}

/// X's answer to a created post.
fn created(id: &str, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"data": {"id": id, "text": text}}))
}

const TWEETS: &str = "/2/tweets";
const TIMELINE: &str = "/2/users/42/tweets";

#[tokio::test]
async fn a_post_goes_out_with_the_user_token_within_280_weighted() {
    let (server, app_probe) = posting_to_x().await;
    let mut long = review("long");
    long.standfirst = "映画の批評。".repeat(60);
    app_probe.deliver(&published(&long)).await.unwrap();
    let text = app_probe.entry("long", "x").await.post.text;
    assert!(x_weighted_length(&text) <= X_LIMIT, "{text}");
    assert!(text.contains('…') && text.contains("https://films.example/reviews/long"));

    request("POST", TWEETS)
        .and(header("authorization", "Bearer x-user-token"))
        .and(body_json(json!({"text": text})))
        .respond_with(created("1879000000000000001", &text))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(app_probe.drain().await, 1);
    let entry = app_probe.entry("long", "x").await;
    assert_eq!(entry.status, PostStatus::Posted);
    assert_eq!(
        entry.remote_url.as_deref(),
        Some("https://x.com/i/web/status/1879000000000000001")
    );
}

#[tokio::test]
async fn a_pending_post_found_in_the_timeline_is_not_sent_again() {
    let (server, app) = posting_to_x().await;
    request("GET", TIMELINE)
        .and(header("authorization", "Bearer x-user-token"))
        .and(query_param("tweet.fields", "entities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "1", "text": "Something else https://t.co/zzz",
                 "entities": {"urls": [{"url": "https://t.co/zzz", "expanded_url": "https://films.example/reviews/other"}]}},
                {"id": "2", "text": "Hamnet review https://t.co/abc",
                 "entities": {"urls": [{"url": "https://t.co/abc", "expanded_url": "https://films.example/reviews/hamnet"}]}},
            ],
            "meta": {"result_count": 2},
        })))
        .expect(1)
        .mount(&server)
        .await;
    answer(&server, "POST", TWEETS, ResponseTemplate::new(201), 0).await;
    app.publish("hamnet").await;
    // The process died after X accepted the post, before it was recorded.
    app.leave_pending().await;
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "x").await;
    assert_eq!(entry.status, PostStatus::Posted);
    assert_eq!(entry.remote_id.as_deref(), Some("2"));
}

#[tokio::test]
async fn a_pending_post_missing_from_the_timeline_is_sent() {
    let (server, app) = posting_to_x().await;
    let empty = ResponseTemplate::new(200).set_body_json(json!({"meta": {"result_count": 0}}));
    answer(&server, "GET", TIMELINE, empty, 1).await;
    answer(&server, "POST", TWEETS, created("7", "…"), 1).await;
    app.publish("hamnet").await;
    app.leave_pending().await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(
        app.entry("hamnet", "x").await.remote_id.as_deref(),
        Some("7")
    );
}
