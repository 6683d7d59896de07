use marquee_events::{Rating, ReviewEvent};

use crate::helpers::{TestApp, assert_hamnet, feed, fixture, published};

const RSS: &str = "application/rss+xml; charset=utf-8";

async fn rss_app(grace_secs: u64) -> TestApp {
    let app = TestApp::spawn(
        |up| vec![feed("cms", up.url("/feed.rss"))],
        |s| s.withdraw_grace_secs = grace_secs,
    )
    .await;
    app.upstream.serve("/feed.rss", RSS, &fixture("feed.rss"));
    app
}

/// The feed `text` without the item whose title starts with `title`.
fn without_item(text: &str, title: &str) -> String {
    let start = text.find(&format!("<item>\n      <title>{title}")).unwrap();
    let end = start + text[start..].find("</item>").unwrap() + "</item>".len();
    format!("{}{}", &text[..start], &text[end..])
}

/// Serves the feed fixture without the item whose title starts with `title`,
/// polls, and answers how many reviews the poll withdrew.
async fn poll_without(app: &mut TestApp, title: &str) -> usize {
    let text = without_item(&fixture("feed.rss"), title);
    app.upstream.serve("/feed.rss", RSS, &text);
    app.poll().await["cms"].withdrawn
}

/// [`rss_app`] after its first poll, its three reviews published and read.
async fn polled_rss_app(grace_secs: u64) -> TestApp {
    let mut app = rss_app(grace_secs).await;
    app.poll().await;
    assert_eq!(app.events().await.len(), 3);
    app
}

#[tokio::test]
async fn rss_items_are_published_with_their_fields() {
    let mut app = rss_app(3600).await;
    let reports = app.poll().await;
    assert_eq!(reports["cms"].new, 3);
    assert_eq!(reports["cms"].rejected, 0);

    let events = app.events().await;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.source == "marquee/reviews-ingest/cms")
    );
    let reviews = published(&events);
    let base = &app.upstream.base;

    let hamnet = &reviews["cms-1001"];
    assert_eq!(hamnet.url.as_str(), format!("{base}/reviews/hamnet"));
    assert_hamnet(hamnet);
    let image = hamnet.image.as_ref().unwrap();
    assert_eq!(image.url.as_str(), format!("{base}/images/hamnet.jpg"));
    // Hostile markup in content:encoded comes out defused.
    let body = &hamnet.body_html;
    for bad in [
        "<script",
        "alert",
        "onclick",
        "onerror",
        "javascript:",
        "<style",
        "display:none",
        "utm_campaign",
    ] {
        assert!(!body.contains(bad), "{bad} survived in {body}");
    }
    assert!(
        body.contains(&format!(r#"href="{base}/interviews/buckley?page=2""#)),
        "{body}"
    );
    assert!(body.contains(r#"rel="noopener noreferrer""#), "{body}");
    assert!(body.contains("<b>bold</b>"), "{body}");

    let dust = &reviews["cms-1002"];
    assert_eq!(dust.film.title, "Return to Dust");
    assert_eq!(dust.rating, Some(Rating::try_from(3).unwrap()));
    assert_eq!(dust.author.as_deref(), Some("Ben Hart"));
    assert!(dust.standfirst.contains("Ruijun Li's quiet study"));

    let feature = &reviews["cms-1003"];
    assert_eq!(feature.section, "Features");
    assert_eq!(feature.rating, None);
    assert_eq!(
        feature.image.as_ref().unwrap().url.as_str(),
        format!("{base}/images/little-women.jpg")
    );
}

#[tokio::test]
async fn an_unchanged_repoll_publishes_nothing_and_uses_conditional_get() {
    let mut app = polled_rss_app(3600).await;

    let reports = app.poll().await;
    assert_eq!(reports["cms"].new + reports["cms"].changed, 0);
    assert!(app.events().await.is_empty());
    assert_eq!(app.upstream.answers("/feed.rss"), vec![200, 304]);
}

#[tokio::test]
async fn whitespace_and_tracking_parameter_changes_publish_nothing() {
    let mut app = polled_rss_app(3600).await;

    let cosmetic = fixture("feed.rss")
        .replace(
            "utm_source=rss&amp;utm_medium=feed",
            "utm_source=newsletter&amp;fbclid=XYZ",
        )
        .replace(
            "<p>Set in writer-director",
            "\n\n   <p>Set   in writer-director",
        )
        .replace(
            "<dc:creator>Ada Lee</dc:creator>",
            "<dc:creator>Ada Lee</dc:creator><dc:date>2025-06-12T10:00:00Z</dc:date>",
        );
    app.upstream.serve("/feed.rss", RSS, &cosmetic);
    let reports = app.poll().await;
    assert_eq!(reports["cms"].unchanged, 3, "{reports:?}");
    assert!(app.events().await.is_empty());
    assert_eq!(app.upstream.answers("/feed.rss"), vec![200, 200]);
}

#[tokio::test]
async fn an_edit_publishes_updated_under_the_same_id() {
    let mut app = polled_rss_app(3600).await;

    let edited = fixture("feed.rss").replace("a raw, aching portrait", "a raw, luminous portrait");
    app.upstream.serve("/feed.rss", RSS, &edited);
    assert_eq!(app.poll().await["cms"].changed, 1);
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    let ReviewEvent::Updated(update) = &events[0].data else {
        panic!("expected an update, got {:?}", events[0].data);
    };
    assert_eq!(update.review.id.as_str(), "cms-1001");
    assert_eq!(events[0].subject, "cms-1001");
    assert_eq!(
        update.review.headline,
        "Hamnet review – a raw, luminous portrait of grief"
    );
    assert_eq!(update.changed, vec!["headline".to_owned()]);
}

#[tokio::test]
async fn an_item_gone_past_the_grace_period_is_withdrawn() {
    let mut app = polled_rss_app(0).await;

    // cms-1003 (9 June) is removed while an older item (6 June) stays: taken down.
    assert_eq!(poll_without(&mut app, "Repertory Rundown").await, 1);
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    let ReviewEvent::Withdrawn(withdrawn) = &events[0].data else {
        panic!("expected a withdrawal, got {:?}", events[0].data);
    };
    assert_eq!(withdrawn.id.as_str(), "cms-1003");
    assert!(withdrawn.reason.contains("cms"), "{}", withdrawn.reason);

    // Polling again does not withdraw it twice; bringing it back re-publishes it.
    app.poll().await;
    assert!(app.events().await.is_empty());
    app.upstream.serve("/feed.rss", RSS, &fixture("feed.rss"));
    assert_eq!(app.poll().await["cms"].new, 1);
}

#[tokio::test]
async fn an_item_is_not_withdrawn_within_grace_or_when_it_scrolled_off() {
    let mut app = polled_rss_app(3600).await;
    assert_eq!(poll_without(&mut app, "Repertory Rundown").await, 0);
    assert!(app.events().await.is_empty());

    // With no grace, the oldest item (6 June) dropping off the end of the
    // rolling feed is not a withdrawal either.
    let mut app = polled_rss_app(0).await;
    assert_eq!(poll_without(&mut app, "Return to Dust").await, 0);
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn atom_entries_are_published() {
    let mut app = TestApp::spawn(|up| vec![feed("atom", up.url("/feed.atom"))], |_| {}).await;
    app.upstream
        .serve("/feed.atom", "application/atom+xml", &fixture("feed.atom"));
    assert_eq!(app.poll().await["atom"].new, 2);
    let reviews = published(&app.events().await);
    let jeanne = &reviews["urn:marquee:review:2001"];
    assert_eq!(
        jeanne.headline,
        "Everybody Loves Jeanne review – thoroughly modern fable of grief"
    );
    assert_eq!(jeanne.film.title, "Everybody Loves Jeanne");
    assert_eq!(jeanne.rating, Some(Rating::try_from(4).unwrap()));
    assert_eq!(jeanne.section, "In Cinemas");
    assert_eq!(jeanne.author.as_deref(), Some("Cleo Marsh"));
    assert_eq!(jeanne.updated_at.to_rfc3339(), "2025-06-09T10:00:00+00:00");
    assert_eq!(
        jeanne.image.as_ref().unwrap().alt.as_deref(),
        Some("Blanche Gardin as Jeanne")
    );
    assert!(
        !jeanne.body_html.contains("onerror"),
        "{}",
        jeanne.body_html
    );
    let baato = &reviews["urn:marquee:review:2002"];
    assert_eq!(
        baato.url.as_str(),
        format!("{}/reviews/baato", app.upstream.base)
    );
    assert_eq!(baato.published_at, baato.updated_at);
}
