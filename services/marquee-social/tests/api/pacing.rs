//! Pacing: minimum spacing per account, quiet hours in a time zone, and the
//! worker loop itself.

use std::time::Duration;

use marquee_social::{AccountSettings, PostStatus};
use marquee_test_support::wait::until_value;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, answer, mastodon, mastodon_account, withdrawn};

async fn mastodon_server() -> MockServer {
    let server = MockServer::start().await;
    let posted =
        ResponseTemplate::new(200).set_body_json(json!({"id": "1", "url": "https://m.example/1"}));
    answer(&server, "POST", "/api/v1/statuses", posted, ..).await;
    server
}

#[tokio::test]
async fn posts_of_one_account_keep_their_minimum_spacing() {
    let server = mastodon_server().await;
    let mut account = mastodon_account("masto", &server.uri());
    account.min_spacing_secs = 600;
    let app = TestApp::spawn(vec![AccountSettings::Mastodon(account)]).await;
    for id in ["a", "b", "c"] {
        app.publish(id).await;
    }
    assert_eq!(app.drain().await, 1);
    // In order of arrival.
    app.assert_posted_only_after(chrono::Duration::seconds(600), "b", "masto")
        .await;
    assert_eq!(app.entry("c", "masto").await.status, PostStatus::Queued);
}

#[tokio::test]
async fn posts_wait_out_quiet_hours_in_their_time_zone() {
    let server = mastodon_server().await;
    let mut account = mastodon_account("masto", &server.uri());
    account.quiet_hours = Some("22:00-07:00 Europe/London".parse().unwrap());
    let app = TestApp::spawn(vec![AccountSettings::Mastodon(account)]).await;
    // at(0) is 09:00 GMT; 14 hours on is 23:00, inside the window.
    app.clock.advance(chrono::Duration::hours(14));
    app.publish("late").await;
    assert_eq!(app.drain().await, 0);
    // 06:59:59 is still quiet; 07:00 is not.
    app.assert_posted_only_after(chrono::Duration::hours(8), "late", "masto")
        .await;
}

#[tokio::test]
async fn the_worker_sends_what_the_handler_queued_and_stops_on_shutdown() {
    let server = mastodon_server().await;
    let app = TestApp::spawn(vec![mastodon("masto", &server)]).await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(app.service.clone().run(shutdown.clone()));
    app.publish("hamnet").await;

    until_value(
        "the worker posted the review",
        Duration::from_secs(10),
        || async { app.entry("hamnet", "masto").await.status },
        |status| *status == PostStatus::Posted,
    )
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("the worker stops on shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_review_withdrawn_while_queued_is_never_posted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut account = mastodon_account("masto", &server.uri());
    account.min_spacing_secs = 3600;
    let app = TestApp::spawn(vec![AccountSettings::Mastodon(account)]).await;
    app.publish("kept").await;
    app.publish("pulled").await;
    assert_eq!(app.drain().await, 1);
    app.deliver(&withdrawn("pulled")).await.unwrap();
    app.deliver(&withdrawn("kept")).await.unwrap();
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.entry("kept", "masto").await.status, PostStatus::Posted);
    let pulled = app.entry("pulled", "masto").await;
    assert_eq!(pulled.status, PostStatus::Cancelled);
    assert!(pulled.reason.unwrap().contains("withdrawn"));
}
