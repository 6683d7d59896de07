//! The digest email as a reader gets it, read back by Python's `email`
//! package: editors' picks first, reviews with their image and where they
//! play, the week's screenings with access provisions, the changes since
//! the last digest, plain links, and the same items in both parts.

use chrono::{DateTime, Duration, Utc};
use marquee_events::{
    Accessibility, Envelope, Image, Review, Screening, ScreeningCancelled, ScreeningChanged,
};
use url::Url;

use crate::helpers::{
    Engine, TestApp, hamnet_screening, leone_screening, published, review, space_odyssey_screening,
    thursday,
};

/// The Repertory Rundown, naming one film that plays this week and one
/// that plays nowhere.
pub fn rundown() -> Review {
    let mut rundown = review("rundown-1", "Repertory Rundown", 0);
    rundown.headline = "Repertory Rundown: What to Watch in London This Week".to_owned();
    rundown.section = "Features".to_owned();
    rundown.rating = None;
    rundown.body_html = "<p>Once Upon a Time in the West (1968) – Prince Charles Cinema. \
        Leone's opera of the railroad, on 35mm.</p>\
        <p>Unseen Film (1950) – nowhere this week.</p>\
        <p>As ever, book early (2026 has been a year of sell-outs).</p>"
        .to_owned();
    rundown
}

/// A changed screening's event at `at`.
fn changed(screening: Screening, at: DateTime<Utc>) -> Envelope<ScreeningChanged> {
    let changed = vec!["details".to_owned()];
    Envelope::new("marquee/tests", ScreeningChanged { screening, changed }, at)
}

/// The Rundown (so editors' picks) and Hamnet's review republished with
/// an image.
pub async fn deliver_picks_and_hamnet_image(app: &TestApp) {
    app.deliver(&published(&rundown(), thursday() - Duration::hours(20)))
        .await;
    let mut hamnet = review("hamnet", "Hamnet", 4);
    hamnet.image = Some(Image {
        url: Url::parse("https://films.example/images/hamnet.jpg").unwrap(),
        alt: Some("Jessie Buckley in Hamnet".to_owned()),
    });
    let mut republished = published(&hamnet, thursday() - Duration::days(2));
    republished.time = thursday() - Duration::hours(30);
    app.deliver(&republished).await;
}

/// The seeded week plus the Rundown, an image on Hamnet's review and
/// subtitles at its screening; one reader.
async fn week_with_picks(engine: Engine) -> TestApp {
    let app = TestApp::seeded(engine, ["reader@example.com"]).await;
    deliver_picks_and_hamnet_image(&app).await;
    let mut subtitled = hamnet_screening();
    subtitled.accessibility = vec![Accessibility::Subtitled];
    app.deliver(&changed(subtitled, thursday() - Duration::days(2)))
        .await;
    app
}

/// Where `needle` is in `haystack`, ignoring ASCII case (the text part's
/// headings are capitals); fails the test when it is not.
pub fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
        .unwrap_or_else(|| panic!("`{needle}` missing from:\n{haystack}"))
}

on_both_engines!(
    the_email_leads_with_picks_and_both_parts_carry_the_same_items,
    the_preview_names_the_picks_without_a_screening,
    the_next_digest_tells_what_became_of_last_weeks_screenings,
);

async fn the_email_leads_with_picks_and_both_parts_carry_the_same_items(engine: Engine) {
    let app = week_with_picks(engine).await;
    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.counts.sent, 1, "{report:?}");
    let mail = app.sink.wait_for(1).await.remove(0);
    assert_eq!(mail.content_type, "multipart/alternative");
    assert!(mail.defects.is_empty(), "{:?}", mail.defects);
    assert_eq!(mail.subject, "What to watch: 26 November – 2 December 2026");
    assert_eq!(
        mail.list_unsubscribe_post.as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let web_version = app.url("/digest/archive/weekly/2026-11-26");
    for part in ["text/html", "text/plain"] {
        let body = mail.part(part);
        // Picks lead, then the reviews, then the week's listings (the
        // preheader before them names "new reviews" too).
        let picks = position(body, "Editors' picks");
        let reviews = position(&body[picks..], "New reviews") + picks;
        let week = position(body, "On screen this week");
        assert!(
            picks < reviews && reviews < week,
            "{part}: sections out of order"
        );
        let pick = position(body, "Once Upon a Time in the West (1968)");
        assert!(
            picks < pick && pick < reviews,
            "{part}: the pick is not under the picks"
        );
        assert!(
            !body.contains("Unseen Film"),
            "{part}: an unmatched pick reached a reader"
        );
        assert!(
            body.contains("1 editors&#x27; pick, 3 new reviews and 3 screenings")
                || body.contains("1 editors' pick, 3 new reviews and 3 screenings"),
            "{part}: no preheader"
        );
        // Hamnet's review says where it plays, with the subtitles.
        let hamnet = position(body, "Hamnet review – a headline for hamnet");
        let playing = position(&body[hamnet..], "Where it's playing this week") + hamnet;
        let listed = position(&body[playing..], "Saturday 28 November, 18:00") + playing;
        assert!(
            listed < week,
            "{part}: where Hamnet plays is not under its review"
        );
        assert!(
            body[week..].contains("Subtitled"),
            "{part}: no access provision"
        );
        assert!(
            body.contains("Sergio Leone season") && body.contains("+ Q&"),
            "{part}"
        );
        assert!(body.contains(&web_version), "{part}: no web version link");
        assert!(
            body.contains("/preferences?token="),
            "{part}: no preferences link"
        );
        assert!(
            body.contains("/unsubscribe?token="),
            "{part}: no unsubscribe link"
        );
        assert!(
            !body.contains("Changes since last week"),
            "{part}: a first digest has no changes"
        );
    }
    let html = mail.part("text/html");
    assert!(!html.contains("&#x2f;"), "links are written plain");
    assert!(html.contains(&format!(r#"href="{web_version}""#)), "{html}");
    assert!(
        html.contains(r#"href="https://venue.example/book""#),
        "booking links"
    );
    assert!(
        html.contains(
            r#"<img src="https://films.example/images/hamnet.jpg" alt="Jessie Buckley in Hamnet""#
        ),
        "{html}"
    );
    // The web version is there, and is nobody's.
    let page = app.get("/digest/archive/weekly/2026-11-26").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Once Upon a Time in the West"));
    assert!(
        !page.contains("token="),
        "the web version carries a reader's link"
    );
    app.close().await;
}

async fn the_preview_names_the_picks_without_a_screening(engine: Engine) {
    let app = week_with_picks(engine).await;
    app.clock.set(thursday());
    let preview = app.get("/admin/digest/preview/weekly").await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    let note = position(&html, "Editors' note (preview only)");
    assert!(html[note..].contains("Unseen Film (1950)"), "{html}");
    assert!(
        note < position(&html, "Editors' picks"),
        "the note comes first"
    );
    // A reader's own digest never shows it.
    app.only_run_at(thursday()).await;
    let mail = app.sink.wait_for(1).await.remove(0);
    assert!(!mail.part("text/html").contains("preview only"));
    app.close().await;
}

async fn the_next_digest_tells_what_became_of_last_weeks_screenings(engine: Engine) {
    let app = week_with_picks(engine).await;
    app.only_run_at(thursday()).await;
    let after = thursday() + Duration::days(1);
    let leone = leone_screening();
    let reason = "withdrawn by the venue".to_owned();
    app.deliver(&Envelope::new(
        "marquee/tests",
        ScreeningCancelled {
            screening: leone,
            reason,
        },
        after,
    ))
    .await;
    let mut moved = hamnet_screening();
    moved.starts_at_local = "2026-12-04T20:45:00".parse().unwrap();
    moved.starts_at = moved.starts_at_local.and_utc();
    app.deliver(&changed(moved, after)).await;
    let mut sold_out = space_odyssey_screening();
    sold_out.sold_out = true;
    app.deliver(&changed(sold_out, after)).await;
    let next = app.only_run_at(thursday() + Duration::days(7)).await;
    assert_eq!(next.counts.sent, 1, "{next:?}");
    let mail = app.sink.wait_for(2).await;
    let mail = mail
        .iter()
        .find(|m| m.subject.contains("3–9 December"))
        .expect("the second digest");
    for part in ["text/html", "text/plain"] {
        let body = mail.part(part);
        let changes = position(body, "Changes since last week");
        let block = &body[changes..];
        assert!(block.contains("Cancelled:"), "{part}");
        assert!(block.contains("Once Upon a Time in the West"), "{part}");
        assert!(
            block.contains("Moved from Saturday 28 November 18:00"),
            "{part}"
        );
        assert!(block.contains("Friday 4 December, 20:45"), "{part}");
        assert!(block.contains("Sold out:"), "{part}");
    }
    app.close().await;
}
