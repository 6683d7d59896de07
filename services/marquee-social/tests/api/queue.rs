//! The operator's hold on the queue: each account's posts by state, a
//! waiting post cancelled, a failed one retried, an account paused and
//! resumed; and the refusals, each saying why.

use marquee_admin::ErrorBody;
use marquee_admin::social::{PostStatus, SocialAccount, SocialPost};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{
    Engine, TestApp, answer, answer_first, at, from_source, mastodon, review, webhook, withdrawn,
};
use marquee_events::ReviewPublished;

on_both_engines!(
    a_paused_account_sends_nothing_until_resumed,
    a_failed_post_is_retried_once_and_a_waiting_one_cancelled
);

/// The refusal at `path`: its status and message.
async fn refused(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.post(path).await;
    let status = response.status().as_u16();
    let body: ErrorBody = response.json().await.unwrap();
    (status, body.error)
}

async fn accounts(app: &TestApp) -> Vec<SocialAccount> {
    app.get("/admin/social/accounts")
        .await
        .json()
        .await
        .unwrap()
}

async fn a_paused_account_sends_nothing_until_resumed(engine: Engine) {
    let server = MockServer::start().await;
    let posted = ResponseTemplate::new(200).set_body_json(json!({"id": "1", "url": null}));
    answer(&server, "POST", "/api/v1/statuses", posted, 2).await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200), 2).await;
    let app = TestApp::spawn_with(engine, |settings| {
        settings.accounts = vec![
            mastodon("masto", &server),
            webhook("hook", &server, "/hook"),
        ];
    })
    .await;

    let response = app.post("/admin/social/accounts/masto/pause").await;
    assert_eq!(response.status(), 200);
    let paused: SocialAccount = response.json().await.unwrap();
    assert_eq!(paused.paused_at, Some(at(0)));
    app.publish("first").await;
    app.publish("second").await;
    assert_eq!(app.drain().await, 2, "only the webhook sends");
    assert_eq!(app.entry("first", "masto").await.status, PostStatus::Queued);
    assert_eq!(app.entry("second", "hook").await.status, PostStatus::Posted);
    // The claim itself holds the pause, whatever the worker read before it.
    let waiting = app.entry("first", "masto").await;
    let lease = at(0) + chrono::Duration::minutes(5);
    let claimed = app.service.store().claim(&waiting, at(0), lease).await;
    assert!(
        !claimed.unwrap(),
        "a paused account's post cannot be claimed"
    );

    let listed = accounts(&app).await;
    let names: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["masto", "hook"], "as configured");
    assert_eq!(listed[0].counts.queued, 2);
    assert_eq!(listed[0].counts.posted, 0);
    assert!(listed[0].paused_at.is_some());
    assert_eq!(listed[1].counts.posted, 2);
    assert_eq!(listed[1].network, "webhook");
    assert_eq!(listed[1].paused_at, None);
    assert_eq!(listed[1].last_posted, Some(at(0)));

    // Paused twice: refused, saying since when.
    let (status, message) = refused(&app, "/admin/social/accounts/masto/pause").await;
    assert_eq!(status, 409);
    assert!(
        message.contains("paused already (since 2025-01-10T09:00:00"),
        "{message}"
    );

    // A restart keeps the pause: it is in the database.
    let rebuilt = marquee_social::SocialService::build_with_clock(
        app.service.settings().clone(),
        app.clock.shared(),
    )
    .await
    .unwrap();
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(rebuilt.drain_once().await.unwrap(), 0);

    let response = app.post("/admin/social/accounts/masto/resume").await;
    assert_eq!(response.status(), 200);
    let resumed: SocialAccount = response.json().await.unwrap();
    assert_eq!(resumed.paused_at, None);
    assert_eq!(resumed.counts.queued, 2);
    assert_eq!(app.drain().await, 2, "what queued meanwhile goes out");
    assert_eq!(app.entry("first", "masto").await.status, PostStatus::Posted);

    let (status, message) = refused(&app, "/admin/social/accounts/masto/resume").await;
    assert_eq!(
        (status, message.as_str()),
        (409, "account `masto` is not paused")
    );
    let (status, message) = refused(&app, "/admin/social/accounts/nobody/pause").await;
    assert_eq!(status, 404);
    assert!(
        message.contains("no social account `nobody` is configured (configured: masto, hook)"),
        "{message}"
    );
    server.verify().await;
    app.cleanup().await;
}

async fn a_failed_post_is_retried_once_and_a_waiting_one_cancelled(engine: Engine) {
    let server = MockServer::start().await;
    // Refused for good the first time, accepted the second.
    answer_first(&server, "POST", "/hook", ResponseTemplate::new(422)).await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200), 1).await;
    let app = TestApp::spawn_with(engine, |settings| {
        settings.accounts = vec![webhook("hook", &server, "/hook")];
    })
    .await;
    app.publish("refused").await;
    assert_eq!(app.drain().await, 1);
    let failed = app.entry("refused", "hook").await;
    assert_eq!(failed.status, PostStatus::Failed);
    let first_reason = failed.reason.unwrap();

    let response = app.post("/admin/social/posts/refused/hook/retry").await;
    assert_eq!(response.status(), 200);
    let retried: SocialPost = response.json().await.unwrap();
    assert_eq!(retried.status, PostStatus::Queued);
    assert_eq!(
        retried.reason.as_deref(),
        Some(format!("retried by an operator; it had failed: {first_reason}").as_str())
    );
    assert_eq!(app.entry("refused", "hook").await.attempts, 0);
    assert_eq!(app.drain().await, 1);
    assert_eq!(
        app.entry("refused", "hook").await.status,
        PostStatus::Posted
    );
    let (status, message) = refused(&app, "/admin/social/posts/refused/hook/retry").await;
    assert_eq!(status, 409);
    assert!(
        message.ends_with("cannot be retried: it was posted already"),
        "{message}"
    );

    // A post waiting behind the account's pause is cancelled, once.
    app.post("/admin/social/accounts/hook/pause").await;
    app.publish("waiting").await;
    let response = app.post("/admin/social/posts/waiting/hook/cancel").await;
    assert_eq!(response.status(), 200);
    let cancelled: SocialPost = response.json().await.unwrap();
    assert_eq!(cancelled.status, PostStatus::Cancelled);
    assert_eq!(
        cancelled.reason.as_deref(),
        Some("cancelled by an operator")
    );
    app.post("/admin/social/accounts/hook/resume").await;
    assert_eq!(app.drain().await, 0, "a cancelled post is never sent");
    let (status, message) = refused(&app, "/admin/social/posts/waiting/hook/cancel").await;
    assert_eq!(
        (status, message.as_str()),
        (
            409,
            "the post of `waiting` on `hook` cannot be cancelled: it is cancelled already"
        )
    );
    let (status, message) = refused(&app, "/admin/social/posts/waiting/hook/retry").await;
    assert_eq!(status, 409);
    assert!(message.contains("was cancelled"), "{message}");

    // A post in flight may already be out: never cancelled.
    app.publish("in-flight").await;
    app.leave_pending().await;
    let (status, message) = refused(&app, "/admin/social/posts/in-flight/hook/cancel").await;
    assert_eq!(status, 409);
    assert!(
        message.contains("may already be on the network"),
        "{message}"
    );

    let (status, message) = refused(&app, "/admin/social/posts/refused/nobody/cancel").await;
    assert_eq!(status, 404);
    assert!(
        message.contains("`refused` has no post on `nobody`"),
        "{message}"
    );
    server.verify().await;
    app.cleanup().await;
}

#[tokio::test]
async fn an_account_lists_its_own_posts_and_a_skipped_one_can_be_cancelled() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200), 0).await;
    let app = TestApp::spawn(vec![
        webhook("hook", &server, "/hook"),
        webhook("other", &server, "/hook"),
    ])
    .await;
    let mut old = review("old");
    old.published_at = at(-10_080);
    old.updated_at = old.published_at;
    app.deliver(&from_source("marquee/cms", ReviewPublished { review: old }))
        .await
        .unwrap();
    app.post("/admin/social/accounts/hook/pause").await;
    app.post("/admin/social/accounts/other/pause").await;
    app.publish("new").await;

    let posts: Vec<SocialPost> = app
        .get("/admin/social/accounts/hook/posts?status=skipped")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        (posts[0].review_id.as_str(), posts[0].account.as_str()),
        ("old", "hook")
    );
    let all: Vec<SocialPost> = app
        .get("/admin/social/accounts/hook/posts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|post| post.account == "hook"));
    assert_eq!(
        app.get("/admin/social/accounts/nobody/posts")
            .await
            .status(),
        404
    );

    // Skipped back catalogue cancelled: no longer postable on purpose.
    let response = app.post("/admin/social/posts/old/hook/cancel").await;
    assert_eq!(response.status(), 200);
    let response = app.post("/admin/social/posts/old/post").await;
    assert_eq!(
        response.status(),
        200,
        "the other account's is still skipped"
    );
    let (status, message) = refused(&app, "/admin/social/posts/old/hook/retry").await;
    assert_eq!(status, 409);
    assert!(message.contains("stays so"), "{message}");

    // A withdrawal cancels (it does not fail) what still waits.
    app.deliver(&withdrawn("new")).await.unwrap();
    let counts = accounts(&app).await[0].counts;
    assert_eq!((counts.cancelled, counts.queued, counts.skipped), (2, 0, 0));
    let pulled = app.entry("new", "hook").await;
    assert!(pulled.reason.unwrap().contains("withdrawn"));
    let (status, message) = refused(&app, "/admin/social/posts/new/hook/retry").await;
    assert_eq!(status, 409);
    assert!(message.contains("its review was withdrawn"), "{message}");
    server.verify().await;
}
