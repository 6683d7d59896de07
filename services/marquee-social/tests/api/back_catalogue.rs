//! Back catalogue: what a source already held when first seen, or anything
//! older than the max age on arrival, is recorded as skipped and never
//! posted, unless an operator posts it on purpose.

use marquee_admin::social::{PostStatus, SocialPost};
use marquee_events::ReviewPublished;
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{
    Engine, TestApp, answer, at, from_source, mastodon, review, webhook, withdrawn,
};

on_both_engines!(
    the_first_read_of_a_source_skips_its_back_catalogue,
    a_replay_never_posts_a_skipped_review
);

const FEED: &str = "marquee/reviews-ingest/cms-feed";

/// The publication of `id` by `source`, published `minutes` from `at(0)`.
async fn publish_from(app: &TestApp, source: &str, id: &str, minutes: i64) {
    let mut review = review(id);
    review.published_at = at(minutes);
    review.updated_at = at(minutes);
    app.deliver(&from_source(source, ReviewPublished { review }))
        .await
        .unwrap();
}

/// A Mastodon account and a webhook on `server`, answering `posts` times each.
async fn accounts_answering(server: &MockServer, posts: u64) -> TestApp {
    let posted = ResponseTemplate::new(200).set_body_json(json!({"id": "1", "url": null}));
    answer(server, "POST", "/api/v1/statuses", posted, posts).await;
    answer(server, "POST", "/hook", ResponseTemplate::new(200), posts).await;
    TestApp::spawn(vec![
        mastodon("masto", server),
        webhook("hook", server, "/hook"),
    ])
    .await
}

async fn the_first_read_of_a_source_skips_its_back_catalogue(engine: Engine) {
    let server = MockServer::start().await;
    let posted = ResponseTemplate::new(200).set_body_json(json!({"id": "1", "url": null}));
    answer(&server, "POST", "/api/v1/statuses", posted, 1).await;
    let app = TestApp::spawn_with(engine, |settings| {
        settings.accounts = vec![mastodon("masto", &server)];
    })
    .await;
    // The first read: a year, a week and an hour old, all already in the feed.
    for (id, minutes) in [("old", -525_600), ("week", -10_080), ("hour", -60)] {
        publish_from(&app, FEED, id, minutes).await;
    }
    assert_eq!(app.drain().await, 0, "the back catalogue is not posted");
    for id in ["old", "week", "hour"] {
        let entry = app.entry(id, "masto").await;
        assert_eq!(entry.status, PostStatus::Skipped, "{id}");
        let reason = entry.reason.unwrap();
        assert!(reason.starts_with("back catalogue: "), "{reason}");
    }
    let outbox: serde_json::Value = app.get("/social/outbox.json").await.json().await.unwrap();
    assert!(
        outbox["posts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|post| post["status"] == "skipped"
                && post["reason"]
                    .as_str()
                    .unwrap()
                    .starts_with("back catalogue")),
        "{outbox}"
    );
    let page = app.get("/social/outbox").await.text().await.unwrap();
    assert!(
        page.contains("skipped") && page.contains("back catalogue"),
        "{page}"
    );

    // A review published after the first read, on the next poll.
    app.clock.advance(chrono::Duration::minutes(30));
    publish_from(&app, FEED, "new", 20).await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.entry("new", "masto").await.status, PostStatus::Posted);
    server.verify().await;
    app.cleanup().await;
}

#[tokio::test]
async fn an_item_older_than_the_max_age_at_first_sight_is_skipped() {
    let server = MockServer::start().await;
    let app = accounts_answering(&server, 2).await;
    // The source is seen at at(0) with a new review.
    app.publish("first").await;
    // Five days on, two reviews appear in it that it had not listed before:
    // one published three days ago, the other one day ago.
    app.clock.set(at(5 * 24 * 60));
    publish_from(&app, "marquee/tests", "three-days", 2 * 24 * 60).await;
    publish_from(&app, "marquee/tests", "one-day", 4 * 24 * 60).await;
    assert_eq!(app.drain().await, 4, "first and one-day, on both accounts");
    assert_eq!(app.entry("first", "masto").await.status, PostStatus::Posted);
    assert_eq!(
        app.entry("one-day", "hook").await.status,
        PostStatus::Posted
    );
    for account in ["masto", "hook"] {
        let old = app.entry("three-days", account).await;
        assert_eq!(old.status, PostStatus::Skipped);
        assert!(old.reason.unwrap().contains("more than 48 h"));
    }
    server.verify().await;
}

#[tokio::test]
async fn the_max_age_is_a_setting() {
    let server = MockServer::start().await;
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.dry_run = true;
        settings.back_catalogue_max_age_secs = 3600;
        settings.accounts = vec![mastodon("masto", &server)];
    })
    .await;
    app.publish("first").await;
    app.clock.advance(chrono::Duration::hours(3));
    publish_from(&app, "marquee/tests", "two-hours", 60).await;
    assert_eq!(app.entry("first", "masto").await.status, PostStatus::DryRun);
    assert_eq!(
        app.entry("two-hours", "masto").await.status,
        PostStatus::Skipped
    );
}

async fn a_replay_never_posts_a_skipped_review(engine: Engine) {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200), 0).await;
    let app = TestApp::spawn_with(engine, |settings| {
        settings.accounts = vec![webhook("hook", &server, "/hook")];
    })
    .await;
    publish_from(&app, FEED, "old", -10_080).await;
    assert_eq!(app.entry("old", "hook").await.status, PostStatus::Skipped);
    // Redelivered at once, then the whole topic replayed a month on.
    publish_from(&app, FEED, "old", -10_080).await;
    app.clock.advance(chrono::Duration::days(30));
    publish_from(&app, FEED, "old", -10_080).await;
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.entry("old", "hook").await.status, PostStatus::Skipped);
    assert_eq!(app.service.store().list(None, 10).await.unwrap().len(), 1);
    server.verify().await;
    app.cleanup().await;
}

#[tokio::test]
async fn an_operator_posts_a_skipped_review_once() {
    let server = MockServer::start().await;
    let app = accounts_answering(&server, 1).await;
    publish_from(&app, FEED, "old", -10_080).await;
    publish_from(&app, FEED, "pulled", -10_080).await;
    assert_eq!(app.drain().await, 0);

    let skipped: Vec<SocialPost> = app
        .get("/admin/social/posts?status=skipped")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(skipped.len(), 4, "two reviews on two accounts");

    let response = app.post("/admin/social/posts/old/post").await;
    assert_eq!(response.status(), 200);
    let posts: Vec<SocialPost> = response.json().await.unwrap();
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|post| post.status == PostStatus::Queued));
    assert_eq!(app.drain().await, 2, "posted on both accounts");
    assert_eq!(app.entry("old", "masto").await.status, PostStatus::Posted);

    // Asked again: refused, and nothing more is sent.
    let again = app.post("/admin/social/posts/old/post").await;
    assert_eq!(again.status(), 409);
    let message = again.text().await.unwrap();
    assert!(message.contains("not skipped"), "{message}");
    assert!(message.contains("posted on masto"), "{message}");
    assert_eq!(app.drain().await, 0);

    let unknown = app.post("/admin/social/posts/nobody/post").await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("nobody"));

    // A review withdrawn while skipped can no longer be posted.
    app.deliver(&withdrawn("pulled")).await.unwrap();
    assert_eq!(
        app.post("/admin/social/posts/pulled/post").await.status(),
        409
    );
    assert_eq!(
        app.entry("pulled", "hook").await.status,
        PostStatus::Cancelled
    );
    server.verify().await;
}
