//! The ledger on SQLite and PostgreSQL: once per review and account.

use marquee_events::ReviewId;
use marquee_social::{ComposedPost, Network, NewPost, PostStatus};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{Engine, TestApp, answer, at, mastodon, published, review, updated, webhook};

on_both_engines!(
    records_once_and_tracks_status,
    one_post_per_review_per_account
);

fn post(review_id: &str) -> NewPost {
    NewPost {
        review_id: ReviewId::parse(review_id).unwrap(),
        account: "masto".to_owned(),
        network: Network::Mastodon,
        idempotency_key: format!("key-{review_id}"),
        post: ComposedPost {
            text: "Hamnet review ★★★★☆".to_owned(),
            url: "https://films.example/reviews/hamnet".to_owned(),
            headline: "Hamnet review".to_owned(),
            standfirst: "Tender".to_owned(),
            film: "Hamnet".to_owned(),
            rating: Some(4),
            image: None,
        },
    }
}

async fn records_once_and_tracks_status(engine: Engine) {
    let app = TestApp::spawn_with(engine, |_| {}).await;
    let ledger = app.service.store();
    assert!(
        ledger
            .record(&post("hamnet"), PostStatus::Queued, at(0))
            .await
            .unwrap()
    );
    assert!(
        !ledger
            .record(&post("hamnet"), PostStatus::Queued, at(1))
            .await
            .unwrap()
    );

    let entry = ledger.next_due("masto", at(0)).await.unwrap().unwrap();
    assert_eq!(entry.status, PostStatus::Queued);
    assert_eq!(entry.post, post("hamnet").post);
    assert!(ledger.claim(&entry, at(0), at(5)).await.unwrap());
    assert!(
        !ledger.claim(&entry, at(0), at(5)).await.unwrap(),
        "claimed once"
    );
    assert!(
        ledger.next_due("masto", at(1)).await.unwrap().is_none(),
        "leased"
    );
    assert_eq!(ledger.next_wake("masto").await.unwrap(), Some(at(5)));

    ledger
        .mark_posted(&entry, Some("110"), Some("https://m.example/110"), at(1))
        .await
        .unwrap();
    let stored = ledger
        .get(&ReviewId::parse("hamnet").unwrap(), "masto")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, PostStatus::Posted);
    assert_eq!(stored.attempts, 1);
    assert_eq!(stored.remote_id.as_deref(), Some("110"));
    assert_eq!(ledger.last_posted("masto").await.unwrap(), Some(at(1)));
    assert!(ledger.next_due("masto", at(10)).await.unwrap().is_none());
    assert_eq!(ledger.list(None, 10).await.unwrap().len(), 1);
    assert!(
        ledger
            .list(Some(PostStatus::DryRun), 10)
            .await
            .unwrap()
            .is_empty()
    );
    app.cleanup().await;
}

async fn one_post_per_review_per_account(engine: Engine) {
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
    for id in ["a", "b"] {
        app.deliver(&published(&review(id))).await.unwrap();
        app.deliver(&updated(&review(id))).await.unwrap();
    }
    assert_eq!(app.drain().await, 4);
    // A replay of the whole topic.
    for id in ["a", "b"] {
        app.deliver(&published(&review(id))).await.unwrap();
        app.deliver(&updated(&review(id))).await.unwrap();
    }
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.service.store().list(None, 10).await.unwrap().len(), 4);
    server.verify().await;
    app.cleanup().await;
}

#[tokio::test]
async fn the_ledger_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("social.sqlite").display());
    let ledger = marquee_social::Store::open(&url).await.unwrap();
    assert!(
        ledger
            .record(&post("hamnet"), PostStatus::DryRun, at(0))
            .await
            .unwrap()
    );
    drop(ledger);
    let reopened = marquee_social::Store::open(&url).await.unwrap();
    assert!(
        !reopened
            .record(&post("hamnet"), PostStatus::Queued, at(1))
            .await
            .unwrap()
    );
    assert_eq!(
        reopened
            .list(Some(PostStatus::DryRun), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
