//! What real feeds do that fixtures did not: ids used twice, items that are
//! broken, reviews removed while the source answers 304, dates that come
//! and go. Nothing may flip, stick or be withdrawn for being invalid.

use chrono::Duration;
use marquee_events::ReviewEvent;
use marquee_runtime::clock::Clock as _;
use marquee_test_support::ManualClock;

use crate::helpers::{TestApp, feed, published};

const RSS: &str = "application/rss+xml";

/// An RSS item; `date` is the `pubDate` element's text, if any.
fn item(guid: &str, title: &str, date: Option<&str>) -> String {
    let date = date.map_or(String::new(), |d| format!("<pubDate>{d}</pubDate>"));
    format!(
        "<item><title>{title}</title><link>{{{{BASE}}}}/reviews/{guid}</link>\
         <guid isPermaLink=\"false\">{guid}</guid>{date}<description>About the film</description></item>"
    )
}

fn rss(items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>CMS</title>\
         <link>{{{{BASE}}}}/</link><description>Reviews</description>{}</channel></rss>",
        items.concat()
    )
}

const JUNE_10: Option<&str> = Some("Tue, 10 Jun 2025 08:00:00 +0100");
const JUNE_9: Option<&str> = Some("Mon, 09 Jun 2025 08:00:00 +0100");
const JUNE_8: Option<&str> = Some("Sun, 08 Jun 2025 08:00:00 +0100");

async fn app_at(clock: &ManualClock, grace_secs: u64) -> TestApp {
    TestApp::spawn_with_clock(
        clock.shared(),
        |up| vec![feed("cms", up.url("/feed.rss"))],
        |s| s.withdraw_grace_secs = grace_secs,
    )
    .await
}

fn clock() -> ManualClock {
    ManualClock::new("2026-12-02T12:00:00Z".parse().unwrap())
}

#[tokio::test]
async fn a_review_removed_is_withdrawn_on_time_while_the_source_answers_304() {
    let clock = clock();
    let mut app = app_at(&clock, 3600).await;
    let (a, b) = (
        item("a", "Alpha review", JUNE_10),
        item("b", "Beta review", JUNE_9),
    );
    let c = item("c", "Gamma review", JUNE_8);
    app.upstream
        .serve("/feed.rss", RSS, &rss(&[a.clone(), b.clone(), c.clone()]));
    assert_eq!(app.poll().await["cms"].new, 3);
    app.events().await;

    // Beta goes; the read that sees it missing only notes it.
    app.upstream.serve("/feed.rss", RSS, &rss(&[a, c]));
    assert_eq!(app.poll().await["cms"].withdrawn, 0);
    clock.advance(Duration::minutes(30));
    assert_eq!(
        app.poll().await["cms"].withdrawn,
        0,
        "within the grace period"
    );
    clock.advance(Duration::minutes(31));
    let report = &app.poll().await["cms"];
    assert_eq!(app.upstream.answers("/feed.rss"), [200, 200, 304, 304]);
    assert_eq!(report.withdrawn, 1, "{report:?}");
    let events = app.events().await;
    let [event] = events.as_slice() else {
        panic!("one withdrawal: {events:?}")
    };
    let ReviewEvent::Withdrawn(withdrawn) = &event.data else {
        panic!("{events:?}")
    };
    assert_eq!(withdrawn.id.as_str(), "b");
}

#[tokio::test]
async fn a_broken_item_does_not_stop_the_rest_of_its_source_being_cleaned_up() {
    let clock = clock();
    let mut app = app_at(&clock, 0).await;
    let (a, b) = (
        item("a", "Alpha review", JUNE_10),
        item("b", "Beta review", JUNE_9),
    );
    let c = item("c", "Gamma review", JUNE_8);
    app.upstream
        .serve("/feed.rss", RSS, &rss(&[a.clone(), b, c.clone()]));
    app.poll().await;
    app.events().await;

    // Beta goes, and an item nobody can read arrives.
    let broken = "<item><description>no title, no link, no id</description></item>".to_owned();
    app.upstream.serve("/feed.rss", RSS, &rss(&[a, broken, c]));
    let report = &app.poll().await["cms"];
    assert_eq!((report.rejected, report.withdrawn), (1, 1), "{report:?}");
    assert!(report.swept());
}

#[tokio::test]
async fn a_second_item_with_the_same_id_is_rejected_and_the_feed_never_flips() {
    let clock = clock();
    let mut app = app_at(&clock, 3600).await;
    let first = item("a", "Alpha review", JUNE_10);
    let reuse = item("a", "Impostor review", JUNE_9);
    app.upstream
        .serve("/feed.rss", RSS, &rss(&[first.clone(), reuse.clone()]));
    let report = &app.poll().await["cms"];
    assert_eq!((report.new, report.rejected), (1, 1), "{report:?}");
    assert!(
        report.rejections[0].contains("item a reuses the id of an earlier item"),
        "{:?}",
        report.rejections
    );
    let events = app.events().await;
    assert_eq!(published(&events)["a"].headline, "Alpha review");

    // Read in full again (a new copy: another ETag): nothing flips.
    let again = rss(&[first, reuse]).replace("<title>CMS</title>", "<title>CMS </title>");
    app.upstream.serve("/feed.rss", RSS, &again);
    let report = &app.poll().await["cms"];
    assert_eq!((report.changed, report.unchanged), (0, 1), "{report:?}");
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn an_edit_always_supersedes_the_version_before_it_whatever_its_date() {
    let clock = clock();
    let mut app = app_at(&clock, 3600).await;
    // First seen undated: first seen stands in for its dates.
    app.upstream
        .serve("/feed.rss", RSS, &rss(&[item("a", "Alpha review", None)]));
    app.poll().await;
    let events = app.events().await;
    let first = published(&events)["a"].clone();
    assert_eq!(first.updated_at, clock.now());

    // The CMS then dates it (a year earlier) and edits it: the edit must not
    // claim to be older than the version it replaces, or the feeds keep that.
    clock.advance(Duration::hours(1));
    app.upstream.serve(
        "/feed.rss",
        RSS,
        &rss(&[item("a", "Alpha review, revised", JUNE_10)]),
    );
    assert_eq!(app.poll().await["cms"].changed, 1);
    let events = app.events().await;
    let ReviewEvent::Updated(update) = &events[0].data else {
        panic!("{events:?}")
    };
    assert!(
        update.review.updated_at >= first.updated_at,
        "{} is older than {}",
        update.review.updated_at,
        first.updated_at
    );
}

#[tokio::test]
async fn an_invalid_item_is_present_and_never_withdrawn_for_being_invalid() {
    let clock = clock();
    let mut app = app_at(&clock, 0).await;
    let (a, b) = (
        item("a", "Alpha review", JUNE_10),
        item("b", "Beta review", JUNE_9),
    );
    app.upstream.serve("/feed.rss", RSS, &rss(&[a.clone(), b]));
    app.poll().await;
    app.events().await;

    // Beta loses its headline: rejected, but still listed.
    let untitled = item("b", "", JUNE_9);
    app.upstream.serve("/feed.rss", RSS, &rss(&[a, untitled]));
    let report = &app.poll().await["cms"];
    assert_eq!(report.rejections, ["item b has no headline"]);
    assert_eq!(report.withdrawn, 0);
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn a_date_that_is_not_a_date_is_rejected_alone_and_the_item_keeps_its_date() {
    let clock = clock();
    let mut app = app_at(&clock, 3600).await;
    app.upstream.serve(
        "/feed.rss",
        RSS,
        &rss(&[item("a", "Alpha review", JUNE_10)]),
    );
    app.poll().await;
    app.events().await;

    let garbled = item("a", "Alpha review – revised", Some("the tenth of June"));
    app.upstream.serve("/feed.rss", RSS, &rss(&[garbled]));
    let report = &app.poll().await["cms"];
    assert_eq!(report.changed, 1);
    assert_eq!(report.rejection_kinds, ["invalid_field"]);
    assert!(
        report.rejections[0].contains("the tenth of June"),
        "{:?}",
        report.rejections
    );
    let events = app.events().await;
    let ReviewEvent::Updated(update) = &events[0].data else {
        panic!("{events:?}")
    };
    assert_eq!(
        update.review.published_at.to_rfc3339(),
        "2025-06-10T07:00:00+00:00"
    );
    assert_eq!(update.changed, ["headline"], "the date is not an edit");
}
