//! The generic webhook: one JSON POST per review.

use marquee_social::PostStatus;
use serde_json::json;
use wiremock::matchers::{header_exists, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, bodies, published, request, review, webhook};

#[tokio::test]
async fn a_webhook_receives_text_url_headline_film_and_rating() {
    let server = MockServer::start().await;
    request("POST", "/hooks/reviews")
        .and(header_exists("idempotency-key"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![webhook("slack", &server, "/hooks/reviews")]).await;
    let hamnet = review("hamnet");
    app.deliver(&published(&hamnet)).await.unwrap();
    app.deliver(&published(&hamnet)).await.unwrap();
    assert_eq!(app.drain().await, 1);

    let entry = app.entry("hamnet", "slack").await;
    assert_eq!(entry.status, PostStatus::Posted);
    assert_eq!(
        bodies(&server, "/hooks/reviews").await,
        vec![json!({
            "text": entry.post.text,
            "url": "https://films.example/reviews/hamnet",
            "headline": hamnet.headline,
            "film": "Hamnet",
            "rating": 4,
        })]
    );
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_gives_up_after_the_last_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(8)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![webhook("flaky", &server, "")]).await;
    app.publish("hamnet").await;
    for _ in 0..8 {
        assert_eq!(app.drain().await, 1);
        app.clock.advance(chrono::Duration::minutes(16));
    }
    assert_eq!(app.drain().await, 0);
    let entry = app.entry("hamnet", "flaky").await;
    assert_eq!(entry.status, PostStatus::Failed);
    assert!(entry.reason.as_deref().unwrap().contains("500"));
}
