//! Consuming review events: versions, tombstones, idempotency, errors.
//! Every scenario runs on SQLite and on PostgreSQL.

use marquee_bus::HandlerError;
use marquee_feeds::review_guid;

use crate::helpers::{
    Engine, TestApp, at, drop_database, feedparser, published, review, updated, withdrawn,
};

on_both_engines!(
    an_edit_updates_the_item_in_place_under_the_same_guid,
    a_withdrawn_item_leaves_the_feeds_and_a_late_publication_does_not_resurrect_it,
    redelivered_and_out_of_order_events_are_idempotent,
    section_feeds_carry_only_their_section_and_follow_moves,
    items_are_newest_first_and_capped_at_the_limit,
    items_survive_a_restart,
);

async fn an_edit_updates_the_item_in_place_under_the_same_guid(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let original = review("hamnet", "In Cinemas", 0);
    app.deliver(&published(&original, at(1))).await.unwrap();
    let before = feedparser(app.body("/feeds/all.rss").await.as_bytes());

    let mut edited = original.clone();
    edited.headline = "Hamnet review – a raw, aching portrait of grief".to_owned();
    edited.updated_at = at(30);
    app.deliver(&updated(&edited, at(31))).await.unwrap();

    for format in ["rss", "atom", "json"] {
        let after = feedparser(app.body(&format!("/feeds/all.{format}")).await.as_bytes());
        assert_eq!(
            after.entries.len(),
            1,
            "{format}: edited in place, not added"
        );
        assert_eq!(after.entries[0].title, edited.headline, "{format}");
        assert_eq!(after.entries[0].id, review_guid(&original.id), "{format}");
    }
    assert_eq!(before.entries[0].id, review_guid(&original.id));
}

async fn a_withdrawn_item_leaves_the_feeds_and_a_late_publication_does_not_resurrect_it(
    engine: Engine,
) {
    let app = TestApp::spawn(engine).await;
    let kept = review("kept", "In Cinemas", 0);
    let gone = review("gone", "In Cinemas", 5);
    app.deliver(&published(&kept, at(1))).await.unwrap();
    let first = published(&gone, at(6));
    app.deliver(&first).await.unwrap();
    app.deliver(&withdrawn("gone", at(10))).await.unwrap();

    for path in [
        "/feeds/all.atom",
        "/feeds/in-cinemas.rss",
        "/feeds/all.json",
    ] {
        let body = app.body(path).await;
        assert!(
            !body.contains("films.example/reviews/gone"),
            "{path} still carries it"
        );
        assert!(body.contains("films.example/reviews/kept"), "{path}");
    }
    assert!(!app.service.store().is_live(&gone.id).await.unwrap());

    // A copy of the publication produced before the withdrawal, arriving late.
    app.deliver(&published(&gone, at(9))).await.unwrap();
    assert!(!app.body("/feeds/all.rss").await.contains("reviews/gone"));

    // Reinstated by the CMS after the withdrawal: it comes back.
    app.deliver(&published(&gone, at(20))).await.unwrap();
    assert!(app.body("/feeds/all.rss").await.contains("reviews/gone"));

    // A withdrawal of a review never seen keeps its later publication out.
    app.deliver(&withdrawn("never-seen", at(40))).await.unwrap();
    app.deliver(&published(&review("never-seen", "Features", 30), at(35)))
        .await
        .unwrap();
    assert!(
        !app.body("/feeds/all.rss")
            .await
            .contains("reviews/never-seen")
    );
}

async fn redelivered_and_out_of_order_events_are_idempotent(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let v1 = review("leone", "In Cinemas", 0);
    let mut v2 = v1.clone();
    v2.headline = "Once Upon a Time in the West review – second thoughts".to_owned();
    v2.updated_at = at(60);
    let first = published(&v1, at(1));
    let second = updated(&v2, at(61));

    app.deliver(&first).await.unwrap();
    app.deliver(&second).await.unwrap();
    let settled = app.body("/feeds/all.atom").await;

    // Redelivery of both, in the wrong order, and the old version again
    // under a new event id: nothing moves.
    app.deliver(&second).await.unwrap();
    app.deliver(&first).await.unwrap();
    app.deliver(&published(&v1, at(2))).await.unwrap();
    assert_eq!(app.body("/feeds/all.atom").await, settled);
    assert!(settled.contains("second thoughts"));

    // Same updated_at, later event time: the later event wins the tie.
    let mut v3 = v2.clone();
    v3.standfirst = "Tie broken by the event time".to_owned();
    app.deliver(&updated(&v3, at(62))).await.unwrap();
    let mut stale = v2.clone();
    stale.standfirst = "Must lose the tie".to_owned();
    app.deliver(&updated(&stale, at(61))).await.unwrap();
    let body = app.body("/feeds/all.json").await;
    assert!(body.contains("Tie broken by the event time"));
    assert!(!body.contains("Must lose the tie"));
}

async fn section_feeds_carry_only_their_section_and_follow_moves(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let film = review("film", "In Cinemas", 0);
    let feature = review("rundown", "Features", 1);
    app.deliver(&published(&film, at(1))).await.unwrap();
    app.deliver(&published(&feature, at(2))).await.unwrap();

    let cinemas = feedparser(app.body("/feeds/in-cinemas.rss").await.as_bytes());
    let features = feedparser(app.body("/feeds/features.rss").await.as_bytes());
    let all = feedparser(app.body("/feeds/all.rss").await.as_bytes());
    assert_eq!(cinemas.entries.len(), 1);
    assert_eq!(cinemas.entries[0].link, film.url.as_str());
    assert_eq!(features.entries.len(), 1);
    assert_eq!(features.entries[0].link, feature.url.as_str());
    assert_eq!(all.entries.len(), 2);

    let mut moved = film.clone();
    moved.section = "Features".to_owned();
    moved.updated_at = at(10);
    app.deliver(&updated(&moved, at(11))).await.unwrap();
    let cinemas = feedparser(app.body("/feeds/in-cinemas.json").await.as_bytes());
    let features = feedparser(app.body("/feeds/features.json").await.as_bytes());
    assert!(cinemas.entries.is_empty());
    assert_eq!(features.entries.len(), 2);
}

async fn items_are_newest_first_and_capped_at_the_limit(engine: Engine) {
    let app = TestApp::spawn_with(engine, |s| s.item_limit = 3).await;
    for i in 0..5 {
        let item = review(&format!("r{i}"), "In Cinemas", i * 10);
        app.deliver(&published(&item, at(i * 10 + 1)))
            .await
            .unwrap();
    }
    let parsed = feedparser(app.body("/feeds/all.atom").await.as_bytes());
    let links: Vec<_> = parsed.entries.iter().map(|e| e.link.as_str()).collect();
    assert_eq!(
        links,
        [
            "https://films.example/reviews/r4",
            "https://films.example/reviews/r3",
            "https://films.example/reviews/r2",
        ]
    );
}

async fn items_survive_a_restart(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let item = review("durable", "Features", 0);
    app.deliver(&published(&item, at(1))).await.unwrap();
    let settings = app.service.settings().clone();
    let restarted = marquee_feeds::FeedsService::build(settings).await.unwrap();
    let store = restarted.store();
    assert!(store.is_live(&item.id).await.unwrap());
    let items = store.feed_items(Some("Features"), 10).await.unwrap();
    assert_eq!(items.items, vec![item.clone()]);
    assert_eq!(items.modified_at, Some(item.updated_at));
}

#[tokio::test]
async fn an_undecodable_message_is_poison() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut message =
        marquee_bus::Message::delivered(&published(&review("x", "Features", 0), at(1)), 0);
    message.payload = b"{\"schema_version\": 1, \"data\": {\"review\": 42}}".to_vec();
    let outcome = marquee_bus::Handler::handle(&app.service.handler(), &message).await;
    assert!(
        matches!(outcome, Err(HandlerError::Poison(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_database_failure_is_transient() {
    let app = TestApp::spawn(Engine::Postgres).await;
    drop_database(&app.database_url).await;
    let outcome = app
        .deliver(&published(&review("x", "Features", 0), at(1)))
        .await;
    assert!(
        matches!(outcome, Err(HandlerError::Transient(_))),
        "{outcome:?}"
    );
}
