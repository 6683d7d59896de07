//! Dry-run: posts are composed into the outbox and never sent.

use marquee_social::{AccountSettings, PostStatus};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Engine, TestApp, bluesky_account, mastodon_account, published, review};

#[tokio::test]
async fn dry_run_writes_the_outbox_and_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let uri = server.uri();
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.dry_run = true;
        settings.accounts = vec![
            AccountSettings::Mastodon(mastodon_account("masto", &uri)),
            AccountSettings::Bluesky(bluesky_account("sky", &uri)),
        ];
    })
    .await;
    let mut hamnet = review("hamnet");
    hamnet.headline = "Hamnet review – <grief> & love".to_owned();
    app.deliver(&published(&hamnet)).await.unwrap();
    app.deliver(&published(&hamnet)).await.unwrap();
    assert_eq!(app.drain().await, 0);

    let entry = app.entry("hamnet", "masto").await;
    assert_eq!(entry.status, PostStatus::DryRun);
    assert_eq!(app.entry("hamnet", "sky").await.status, PostStatus::DryRun);

    let json: serde_json::Value = app.get("/social/outbox.json").await.json().await.unwrap();
    assert_eq!(json["dry_run"], true);
    let posts = json["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2, "one post per account, once");
    assert!(posts.iter().all(|p| p["status"] == "dry_run"));
    assert!(
        posts
            .iter()
            .any(|p| p["post"]["text"] == entry.post.text.as_str())
    );

    let response = app.get("/social/outbox").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("Dry run"));
    assert!(
        page.contains("Hamnet review – &lt;grief&gt; &amp; love"),
        "{page}"
    );
    assert!(!page.contains("<grief>"));
}

#[tokio::test]
async fn the_outbox_page_is_empty_before_any_review() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| s.dry_run = true).await;
    let json: serde_json::Value = app.get("/social/outbox.json").await.json().await.unwrap();
    assert_eq!(json["posts"], serde_json::json!([]));
    assert!(
        app.get("/social/outbox")
            .await
            .text()
            .await
            .unwrap()
            .contains("No posts yet")
    );
    app.service.check().await.unwrap();
}
